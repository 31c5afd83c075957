//! `ssobar doctor`: the person's whole setup looked at, one finding a line, each with what to
//! run, and the fixes that are safe.
//!
//! [`observe`] reads what there is (the AWS config, the kubeconfig, the environment, a probe
//! of the Secret Service and of the app's socket, the modes of the token cache and settings);
//! [`check`] is pure over it: each check a function of what was read, giving [`Finding`]s with a
//! [`Severity`]. [`fix()`] applies what can be applied without changing what any profile or
//! kubeconfig user stands for: one `[sso-session]` per start URL for legacy profiles, the
//! refresh scope for sessions without it, `credential_process` lines that run aws-vault,
//! granted or aws-sso pointed at ssobar, and kubeconfig users that run the seed's chain
//! (aws-vault, aws-iam-authenticator, `aws eks get-token`) or a moved ssobar rewritten to
//! `ssobar eks-token`. Every config fix is checked before it is written: each profile resolves
//! to the same account and role as before, or that fix is left.

pub mod commands;
pub mod fix;
mod observe;

pub use fix::{Fixed, Left, fix};
pub use observe::observe;

use crate::config::resolve::Resolution;
use crate::config::start_url;
use crate::config::{AwsConfig, ProfileKind};
use crate::env::Env;
use crate::kube::kubeconfig::{ExecApi, ExecPlugin, eks_token_exec};
use crate::settings::TokenStoreKind;
use crate::setup::has_refresh_scope;
use crate::util::text::printable;
use commands::{TokenCommand, TokenExec, Tool, ToolTarget, credential_tool, token_exec};
use serde::Serialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The command that applies the safe fixes.
pub const FIX_COMMAND: &str = "ssobar doctor --fix";

/// What was read.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Both AWS files, as the SDKs read them.
    pub config: AwsConfig,
    /// The kubeconfig, when there is one.
    pub kubeconfig: Option<KubeconfigSeen>,
    /// The absolute exec commands of the kubeconfig's users that do not exist.
    pub missing_commands: BTreeSet<String>,
    /// The ssobar the kubeconfig's exec hooks and `credential_process` lines should run.
    pub ssobar: String,
    /// The environment (only the AWS and proxy variables are looked at).
    pub env: Env,
    /// Whether `AWS_CA_BUNDLE` names a file that exists.
    pub ca_bundle_exists: Option<bool>,
    /// The Secret Service: reachable, or why not.
    pub keychain: Result<(), String>,
    /// Where SSO tokens are kept.
    pub token_store: TokenStoreKind,
    /// Whether a browser can be opened here.
    pub browser: bool,
    /// Whether the app answers on its socket.
    pub app_running: bool,
    /// Files others may write: one line each, with the `chmod` to run.
    pub loose_files: Vec<String>,
}

/// The kubeconfig read.
#[derive(Clone, Debug)]
pub struct KubeconfigSeen {
    /// Its path.
    pub path: PathBuf,
    /// The document, or why it cannot be read.
    pub document: Result<Value, String>,
}

/// Whether a finding asks for something to be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something to do: `doctor` exits 1 while one is left.
    NeedsDoing,
    /// What is there, for the record.
    Info,
}

/// What becomes of a kubeconfig user that runs another tool for its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMove {
    /// It can run this `ssobar eks-token` instead, with the same profile and cluster.
    To(ExecPlugin),
    /// It is left: why, and whether it is broken as it is (a profile the AWS config lacks).
    Left {
        /// Why, in words.
        why: String,
        /// Whether the user cannot work as it is.
        broken: bool,
    },
}

/// One thing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Profiles that sign in with a start URL of their own: no refresh token, a sign-in every 8
    /// hours.
    LegacyProfiles {
        /// The start URL they share, as the first of them writes it.
        start_url: String,
        /// The profiles, by name.
        profiles: Vec<String>,
    },
    /// An `[sso-session]` without `sso:account:access`: no refresh token either.
    SessionWithoutRefreshScope {
        /// The session.
        session: String,
    },
    /// A kubeconfig user whose exec runs the seed's chain, `aws eks get-token`, or a moved
    /// ssobar.
    KubeconfigUser {
        /// The user's name.
        user: String,
        /// Its exec, read.
        exec: TokenExec,
        /// What becomes of it.
        change: UserMove,
    },
    /// A profile whose `credential_process` runs another credentials tool.
    ToolCredentialProcess {
        /// The profile.
        profile: String,
        /// The tool.
        tool: Tool,
        /// The SSO profile ssobar can serve in its place, or why there is none.
        replacement: Result<String, String>,
        /// The line that would replace it.
        line: Option<String>,
    },
    /// The kubeconfig cannot be read.
    UnreadableKubeconfig {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// No Secret Service answers: role credentials cannot be kept.
    NoSecretService {
        /// Why, as the keychain says it.
        why: String,
        /// Whether `token_store = keychain` keeps the SSO tokens there too.
        tokens_in_keychain: bool,
    },
    /// No browser can be opened here.
    NoBrowser,
    /// `AWS_CA_BUNDLE` is set.
    CaBundle {
        /// Its value.
        path: String,
        /// Whether that file exists.
        exists: bool,
    },
    /// A proxy variable is set.
    Proxy {
        /// The variable.
        variable: String,
        /// Its value, any password in it hidden.
        value: String,
    },
    /// Whether the app runs.
    App {
        /// It answers on its socket.
        running: bool,
    },
    /// A token cache or settings file others may write.
    LooseFile {
        /// The line the trust check gives, with its `chmod`.
        line: String,
    },
}

impl Finding {
    /// The check's name, as `--json` gives it.
    pub fn check(&self) -> &'static str {
        match self {
            Self::LegacyProfiles { .. } => "legacy-profiles",
            Self::SessionWithoutRefreshScope { .. } => "session-without-refresh-scope",
            Self::KubeconfigUser { .. } => "kubeconfig-user",
            Self::ToolCredentialProcess { .. } => "credential-process",
            Self::UnreadableKubeconfig { .. } => "kubeconfig",
            Self::NoSecretService { .. } => "secret-service",
            Self::NoBrowser => "browser",
            Self::CaBundle { .. } => "ca-bundle",
            Self::Proxy { .. } => "proxy",
            Self::App { .. } => "app",
            Self::LooseFile { .. } => "file-permissions",
        }
    }

    /// Whether it asks for something to be done.
    pub fn severity(&self) -> Severity {
        let needs = |yes: bool| {
            if yes {
                Severity::NeedsDoing
            } else {
                Severity::Info
            }
        };
        match self {
            Self::LegacyProfiles { .. }
            | Self::SessionWithoutRefreshScope { .. }
            | Self::UnreadableKubeconfig { .. }
            | Self::NoSecretService { .. }
            | Self::LooseFile { .. } => Severity::NeedsDoing,
            Self::KubeconfigUser { change, .. } => needs(match change {
                UserMove::To(_) => true,
                UserMove::Left { broken, .. } => *broken,
            }),
            Self::ToolCredentialProcess { replacement, .. } => needs(replacement.is_ok()),
            Self::CaBundle { exists, .. } => needs(!exists),
            Self::NoBrowser | Self::Proxy { .. } | Self::App { .. } => Severity::Info,
        }
    }

    /// Whether [`fix()`] can apply it.
    pub fn fixable(&self) -> bool {
        match self {
            Self::LegacyProfiles { .. } | Self::SessionWithoutRefreshScope { .. } => true,
            Self::KubeconfigUser { change, .. } => matches!(change, UserMove::To(_)),
            Self::ToolCredentialProcess { replacement, .. } => replacement.is_ok(),
            _ => false,
        }
    }

    /// What it is, in one line.
    pub fn message(&self) -> String {
        match self {
            Self::LegacyProfiles {
                start_url,
                profiles,
            } => {
                let (who, own) = match profiles.as_slice() {
                    [one] => (format!("profile {one} signs"), "its"),
                    many => (
                        format!("{} profiles ({}) sign", many.len(), many.join(", ")),
                        "their",
                    ),
                };
                format!(
                    "{who} in to {start_url} with an sso_start_url of {own} own (no sso-session): no refresh token, a sign-in every 8 hours"
                )
            }
            Self::SessionWithoutRefreshScope { session } => format!(
                "[sso-session {session}] lacks sso:account:access in sso_registration_scopes: no refresh token, a sign-in every 8 hours"
            ),
            Self::KubeconfigUser { user, exec, change } => {
                let runs = runs(exec);
                match change {
                    UserMove::To(_) => format!(
                        "kubeconfig user {user} gets its token from {runs}{}; ssobar eks-token can, with no other tool",
                        subject(exec)
                    ),
                    UserMove::Left { why, .. } => {
                        format!("kubeconfig user {user} gets its token from {runs}; left as it is: {why}")
                    }
                }
            }
            Self::ToolCredentialProcess {
                profile,
                tool,
                replacement,
                line,
            } => match (replacement, line) {
                (Ok(_), Some(line)) => format!(
                    "profile {profile} gets credentials from {}; ssobar can serve the same role: {line}",
                    tool.name()
                ),
                (Err(why), _) | (Ok(why), None) => format!(
                    "profile {profile} gets credentials from {}; left as it is: {why}",
                    tool.name()
                ),
            },
            Self::UnreadableKubeconfig { path, why } => {
                format!("the kubeconfig {path} cannot be read: {why}")
            }
            Self::NoSecretService {
                why,
                tokens_in_keychain,
            } => {
                let tokens = if *tokens_in_keychain {
                    "; token_store = keychain keeps SSO tokens there too (token_store = \"aws-cli\" keeps them where the AWS CLI does)"
                } else {
                    ""
                };
                format!("{why}{tokens}")
            }
            Self::NoBrowser => "no browser can be opened here (no display, no $BROWSER): sign-ins use a device code you confirm on any device".to_owned(),
            Self::CaBundle { path, exists: true } => {
                format!("AWS_CA_BUNDLE is set to {path}: the AWS tools trust the certificates in it")
            }
            Self::CaBundle { path, exists: false } => {
                format!("AWS_CA_BUNDLE is set to {path}, which is not a file")
            }
            Self::Proxy { variable, value } => format!("{variable} is set to {value}"),
            Self::App { running: true } => {
                "the ssobar app is running: helpers that need a sign-in ask it".to_owned()
            }
            Self::App { running: false } => {
                "the ssobar app is not running: helpers that need a sign-in sign in from the terminal".to_owned()
            }
            Self::LooseFile { line } => line.clone(),
        }
    }

    /// The command to run about it, when there is one.
    pub fn command(&self) -> Option<String> {
        match self {
            Self::LegacyProfiles { .. } | Self::SessionWithoutRefreshScope { .. } => {
                Some(FIX_COMMAND.to_owned())
            }
            Self::KubeconfigUser { change, .. } => match change {
                UserMove::To(_) => Some(FIX_COMMAND.to_owned()),
                UserMove::Left { broken: true, .. } => {
                    Some("ssobar setup --start-url URL".to_owned())
                }
                UserMove::Left { .. } => None,
            },
            Self::ToolCredentialProcess { replacement, .. } => {
                replacement.is_ok().then(|| FIX_COMMAND.to_owned())
            }
            Self::NoBrowser => Some("ssobar login --device-code".to_owned()),
            Self::CaBundle { exists: false, .. } => Some("unset AWS_CA_BUNDLE".to_owned()),
            Self::App { running: false } => Some("ssobar-app".to_owned()),
            Self::NoSecretService { .. }
            | Self::UnreadableKubeconfig { .. }
            | Self::CaBundle { .. }
            | Self::Proxy { .. }
            | Self::App { .. }
            | Self::LooseFile { .. } => None,
        }
    }

    /// What `--json` gives for it.
    pub fn view(&self) -> FindingView {
        FindingView {
            check: self.check(),
            severity: self.severity(),
            message: self.message(),
            command: self.command(),
            fixable: self.fixable(),
        }
    }
}

/// A finding as `--json` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingView {
    /// The check's name.
    pub check: &'static str,
    /// Whether it asks for something to be done.
    pub severity: Severity,
    /// The line.
    pub message: String,
    /// What to run, when there is something.
    pub command: Option<String>,
    /// Whether `ssobar doctor --fix` applies it.
    pub fixable: bool,
}

/// "aws-vault and aws-iam-authenticator", "aws eks get-token", "/old/ssobar, which no longer
/// exists".
fn runs(exec: &TokenExec) -> String {
    let tool = match &exec.runs {
        TokenCommand::IamAuthenticator => "aws-iam-authenticator".to_owned(),
        TokenCommand::AwsEksGetToken => "aws eks get-token".to_owned(),
        TokenCommand::MovedSsobar { path } => {
            return format!("{}, which no longer exists", printable(path));
        }
    };
    if exec.through_aws_vault {
        format!("aws-vault and {tool}")
    } else {
        tool
    }
}

/// " (profile dev, cluster prod)".
fn subject(exec: &TokenExec) -> String {
    match (&exec.profile, &exec.cluster) {
        (Some(profile), Some(cluster)) => format!(" (profile {profile}, cluster {cluster})"),
        _ => String::new(),
    }
}

/// Every finding, in the order of the checks below.
pub fn check(observed: &Observed) -> Vec<Finding> {
    let mut findings = legacy_profiles(&observed.config);
    findings.extend(sessions_without_refresh_scope(&observed.config));
    findings.extend(tool_credential_processes(
        &observed.config,
        &observed.ssobar,
    ));
    if let Some(kube) = &observed.kubeconfig {
        match &kube.document {
            Ok(doc) => findings.extend(kubeconfig_users(
                doc,
                &observed.config,
                &|path| observed.missing_commands.contains(path),
                &observed.ssobar,
            )),
            Err(why) => findings.push(Finding::UnreadableKubeconfig {
                path: kube.path.display().to_string(),
                why: why.clone(),
            }),
        }
    }
    findings.extend(machine(observed));
    findings
}

/// Legacy SSO profiles, one finding per start URL.
pub fn legacy_profiles(config: &AwsConfig) -> Vec<Finding> {
    let mut by_url: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for profile in config.profiles() {
        if profile.kind() != ProfileKind::SsoLegacy {
            continue;
        }
        let Some(url) = profile.get("sso_start_url") else {
            continue;
        };
        by_url
            .entry(start_url::canonical(url))
            .or_insert_with(|| (url.to_owned(), Vec::new()))
            .1
            .push(profile.name.clone());
    }
    by_url
        .into_values()
        .map(|(start_url, profiles)| Finding::LegacyProfiles {
            start_url,
            profiles,
        })
        .collect()
}

/// Sessions whose scopes leave out `sso:account:access`.
pub fn sessions_without_refresh_scope(config: &AwsConfig) -> Vec<Finding> {
    config
        .sessions()
        .filter(|s| !has_refresh_scope(s.get("sso_registration_scopes")))
        .map(|s| Finding::SessionWithoutRefreshScope {
            session: s.name.clone(),
        })
        .collect()
}

/// The account, role and assumed roles a resolution ends in: what "the same account and role"
/// compares.
pub fn role_of(resolution: &Resolution<'_>) -> Option<(String, String, Vec<String>)> {
    let root = resolution.session.as_ref().ok()?;
    Some((
        root.sso.account_id.clone()?,
        root.sso.role_name.clone()?,
        resolution
            .roles_from_root()
            .filter_map(|p| p.get("role_arn").map(str::to_owned))
            .collect(),
    ))
}

/// The `credential_process` line that hands profile `to` to ssobar.
pub fn doorway_line(ssobar: &str, to: &str) -> String {
    // The SDKs split the command as a shell would, and ssobar's own resolver on whitespace: a
    // path with a space in it is left to the PATH.
    let program = if ssobar.chars().any(char::is_whitespace) {
        "ssobar"
    } else {
        ssobar
    };
    format!("credential_process = {program} credential-process --profile {to}")
}

/// The SSO profile ssobar can serve in place of what a tool is asked for by profile `own`.
pub fn tool_replacement(
    config: &AwsConfig,
    own: &str,
    target: &ToolTarget,
) -> Result<String, String> {
    match target {
        ToolTarget::Profile(name) if name == own => {
            Err(format!("it names itself ({name})"))
        }
        ToolTarget::Profile(name) => {
            let profile = config
                .profile(name)
                .ok_or_else(|| format!("the AWS config has no profile {name}"))?;
            match config.resolve(profile).session {
                Ok(_) => Ok(name.clone()),
                Err(why) => Err(why.to_string()),
            }
        }
        ToolTarget::Role {
            account_id,
            role_name,
        } => config
            .profiles()
            .filter(|p| p.name != own)
            .filter_map(|p| {
                let resolution = config.resolve(p);
                let (account, role, chain) = role_of(&resolution)?;
                (account == *account_id && role == *role_name && chain.is_empty())
                    .then(|| (resolution.links.len(), p.name.clone()))
            })
            .min()
            .map(|(_, name)| name)
            .ok_or_else(|| {
                format!(
                    "no profile of the AWS config signs in to account {account_id} as {role_name} (ssobar setup writes one for every role)"
                )
            }),
    }
}

/// Profiles whose `credential_process` runs aws-vault, granted or aws-sso.
pub fn tool_credential_processes(config: &AwsConfig, ssobar: &str) -> Vec<Finding> {
    config
        .profiles()
        .filter_map(|profile| {
            let process = credential_tool(profile.get("credential_process")?)?;
            let replacement = tool_replacement(config, &profile.name, &process.target);
            Some(Finding::ToolCredentialProcess {
                profile: profile.name.clone(),
                tool: process.tool,
                line: replacement.as_ref().ok().map(|to| doorway_line(ssobar, to)),
                replacement,
            })
        })
        .collect()
}

/// A user's exec as the kubeconfig has it.
struct ExecParts {
    command: String,
    args: Vec<String>,
    /// `env[]`'s names and values.
    env: Vec<(String, String)>,
}

/// A user's exec block read: its command, args and env.
fn exec_parts(exec: &Value) -> Option<ExecParts> {
    let command = exec.get("command")?.as_str()?.to_owned();
    let args = exec
        .get("args")
        .and_then(Value::as_sequence)
        .map(|args| {
            args.iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let env = exec
        .get("env")
        .and_then(Value::as_sequence)
        .map(|env| {
            env.iter()
                .filter_map(|e| {
                    Some((
                        e.get("name")?.as_str()?.to_owned(),
                        e.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ExecParts { command, args, env })
}

/// Kubeconfig users whose exec runs the seed's chain, `aws eks get-token`, or a moved ssobar,
/// and what each can become. `gone` says whether an absolute command no longer exists.
pub fn kubeconfig_users(
    doc: &Value,
    config: &AwsConfig,
    gone: &dyn Fn(&str) -> bool,
    ssobar: &str,
) -> Vec<Finding> {
    let Some(users) = doc.get("users").and_then(Value::as_sequence) else {
        return Vec::new();
    };
    users
        .iter()
        .filter_map(|item| {
            let user = item.get("name")?.as_str()?.to_owned();
            let exec_block = item.get("user")?.get("exec")?;
            let ExecParts { command, args, env } = exec_parts(exec_block)?;
            let exec = token_exec(&command, &args, &env, gone)?;
            let api = match exec_block.get("apiVersion").and_then(Value::as_str) {
                Some(v) if v == ExecApi::V1.as_str() => ExecApi::V1,
                _ => ExecApi::V1beta1,
            };
            let change = user_move(&exec, &args, api, config, ssobar);
            Some(Finding::KubeconfigUser { user, exec, change })
        })
        .collect()
}

/// What a user's exec can become.
fn user_move(
    exec: &TokenExec,
    args: &[String],
    api: ExecApi,
    config: &AwsConfig,
    ssobar: &str,
) -> UserMove {
    let left = |why: String, broken: bool| UserMove::Left { why, broken };
    if let TokenCommand::MovedSsobar { .. } = exec.runs {
        return UserMove::To(ExecPlugin {
            api_version: api.as_str().to_owned(),
            command: ssobar.to_owned(),
            args: args.to_vec(),
        });
    }
    let Some(profile) = &exec.profile else {
        return left(
            "it names no profile (neither aws-vault's, --profile nor AWS_PROFILE)".to_owned(),
            false,
        );
    };
    let Some(cluster) = &exec.cluster else {
        return left("it names no cluster".to_owned(), false);
    };
    let Some(found) = config.profile(profile) else {
        return left(format!("the AWS config has no profile {profile}"), true);
    };
    if let Err(why) = config.resolve(found).session {
        return left(why.to_string(), false);
    }
    let mut plugin = eks_token_exec(api, ssobar, profile, cluster, exec.region.as_deref());
    if let Some(role) = &exec.role_arn {
        plugin.args.extend(["--role-arn".to_owned(), role.clone()]);
    }
    UserMove::To(plugin)
}

/// The proxy variables looked at.
const PROXY_VARIABLES: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A proxy URL with any password in it hidden.
fn without_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password fails only on URLs that cannot have one, and this one has one.
            let _ = url.set_password(Some("***"));
            printable(url.as_str())
        }
        _ => printable(value),
    }
}

/// The machine's checks.
pub fn machine(observed: &Observed) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Err(why) = &observed.keychain {
        findings.push(Finding::NoSecretService {
            why: why.clone(),
            tokens_in_keychain: observed.token_store == TokenStoreKind::Keychain,
        });
    }
    if !observed.browser {
        findings.push(Finding::NoBrowser);
    }
    if let Some(path) = observed.env.get("AWS_CA_BUNDLE") {
        findings.push(Finding::CaBundle {
            path: printable(path),
            exists: observed.ca_bundle_exists.unwrap_or(false),
        });
    }
    for variable in PROXY_VARIABLES {
        if let Some(value) = observed.env.get(variable) {
            findings.push(Finding::Proxy {
                variable: variable.to_owned(),
                value: without_password(value),
            });
        }
    }
    findings.push(Finding::App {
        running: observed.app_running,
    });
    findings.extend(
        observed
            .loose_files
            .iter()
            .map(|line| Finding::LooseFile { line: line.clone() }),
    );
    findings
}

#[cfg(test)]
mod tests;
