//! Reading what `doctor` checks: the files, the environment, and two probes (a Secret Service
//! read of an entry that does not exist, a connection to the app's socket). Nothing is
//! written; no secret is read.

use super::{KubeconfigSeen, Observed};
use crate::app::channel::{self, AppLink, Reach};
use crate::context::Context;
use crate::kube::kubeconfig;
use crate::sso::browser;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The keychain entry the probe asks for: never written, so the answer is "none" wherever a
/// Secret Service answers.
const PROBE_ENTRY: &str = "doctor-probe";

/// Reads everything [`super::check`] looks at. `kubeconfig_path`: the kubeconfig to look at
/// (default: `$KUBECONFIG`'s first file, else `~/.kube/config`); `ssobar`: the program new exec
/// hooks and `credential_process` lines run.
pub async fn observe(ctx: &Context, kubeconfig_path: Option<PathBuf>, ssobar: &str) -> Observed {
    let kubeconfig = kubeconfig_path
        .or_else(|| kubeconfig::default_path(&ctx.env))
        .filter(|path| path.exists())
        .map(|path| KubeconfigSeen {
            document: kubeconfig::read(&path)
                .map(|doc| doc.unwrap_or(Value::Null))
                .map_err(|e| e.to_string()),
            path,
        });
    let missing_commands = kubeconfig
        .as_ref()
        .and_then(|k| k.document.as_ref().ok())
        .map(missing_commands)
        .unwrap_or_default();
    let app_running = matches!(
        AppLink::connect(&channel::socket_path(&ctx.paths)).await,
        Reach::App(_)
    );
    let mut loose_files = ctx.registrations.trust_warnings();
    loose_files.extend(crate::settings::untrusted_settings(
        &ctx.paths.settings_file,
    ));
    Observed {
        config: ctx.load_config(),
        kubeconfig,
        missing_commands,
        ssobar: ssobar.to_owned(),
        env: ctx.env.clone(),
        ca_bundle_exists: ctx
            .env
            .get("AWS_CA_BUNDLE")
            .map(|path| Path::new(path).is_file()),
        keychain: ctx
            .secrets
            .get(PROBE_ENTRY)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        token_store: ctx.settings.token_store,
        browser: browser::can_open_browser(ctx, None),
        app_running,
        loose_files,
    }
}

/// The absolute exec commands of the kubeconfig's users that do not exist.
fn missing_commands(doc: &Value) -> BTreeSet<String> {
    doc.get("users")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|user| user.get("user")?.get("exec")?.get("command")?.as_str())
        .filter(|command| Path::new(command).is_absolute() && !Path::new(command).exists())
        .map(str::to_owned)
        .collect()
}
