//! Demo mode: ssobar-fake-aws inside the app, serving a throwaway HOME with three sessions
//! (valid for hours, expiring in three minutes, expired), so a newcomer sees everything work
//! without an AWS account.

use ssobar_core::config::SessionId;
use ssobar_core::context::Context;
use ssobar_core::credentials::Vault;
use ssobar_core::env::Env;
use ssobar_fake_aws::{FakeAws, FakeConfig, demo};

/// The running demo; dropping it stops the fake and deletes the HOME.
pub struct Demo {
    /// Serves while the app runs; dropped, it stops.
    _fake: FakeAws,
    /// Deleted when dropped.
    _home: tempfile::TempDir,
    sessions: Vec<String>,
}

/// Starts the fake, seeds the HOME, and returns the environment the app runs in.
pub fn start() -> std::io::Result<(Demo, Env)> {
    let fake = FakeAws::start(FakeConfig::default())?;
    let home = tempfile::Builder::new().prefix("ssobar-demo.").tempdir()?;
    let world = demo::seed(home.path(), &fake)?;
    let mut env = Env::from_process();
    let at = |p: &str| home.path().join(p).display().to_string();
    env.set("HOME", at(""));
    env.set("XDG_CONFIG_HOME", at(".config"));
    env.set("XDG_RUNTIME_DIR", at(".run"));
    env.set("AWS_CONFIG_FILE", world.config_file.display().to_string());
    for key in [
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        env.remove(key);
    }
    for (key, value) in fake.endpoint_env() {
        env.set(key, value);
    }
    eprintln!(
        "ssobar-app: demo mode, AWS is {} and HOME is {}",
        fake.url(),
        home.path().display()
    );
    let sessions = world.sessions.iter().map(|s| s.name.clone()).collect();
    Ok((
        Demo {
            _fake: fake,
            _home: home,
            sessions,
        },
        env,
    ))
}

impl Demo {
    /// Deletes the demo's role credentials from the keychain: they are fake, and it is the
    /// person's real keychain.
    pub fn forget_credentials(&self, ctx: &Context) {
        let config = ctx.load_config();
        let vault = Vault::new(ctx);
        for name in &self.sessions {
            let _ = vault.forget_session(&config, &SessionId::Named(name.clone()));
        }
    }
}
