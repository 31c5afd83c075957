//! Demo mode: ssobar-fake-aws inside the app, serving a throwaway HOME with three sessions
//! (valid for hours, expiring in three minutes, expired), so a newcomer sees everything work
//! without an AWS account.
//!
//! The demo is sealed off from the person's real setup: nothing of the environment can point
//! it at real AWS or at real stores, its keychain entries live under a service name of their
//! own, and it runs beside a real instance instead of handing over to it. A build without
//! the `demo` feature has no fake AWS in it at all.

use ssobar_core::creds::keychain::Keychain;

/// Where the demo keeps its (fake) role credentials: never among the person's real ones.
pub const KEYCHAIN: Keychain = Keychain::named("ssobar-demo");

/// Whether a variable of the person's environment must not reach the demo: every AWS and
/// ssobar setting could point it at real AWS (`AWS_ENDPOINT_URL*`,
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, `AWS_PROFILE`) or at real stores
/// (`SSOBAR_TOKEN_STORE`, `AWS_SHARED_CREDENTIALS_FILE`).
#[cfg(feature = "demo")]
pub fn is_sealed_off(variable: &str) -> bool {
    variable.starts_with("AWS_") || variable.starts_with("SSOBAR_")
}

#[cfg(feature = "demo")]
pub use with_fake::{Demo, start};

#[cfg(feature = "demo")]
mod with_fake {
    use super::is_sealed_off;
    use ssobar_core::config::SessionId;
    use ssobar_core::context::Context;
    use ssobar_core::creds::Vault;
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
        env.remove_where(is_sealed_off);
        let at = |p: &str| home.path().join(p).display().to_string();
        env.set("HOME", at(""));
        env.set("XDG_CONFIG_HOME", at(".config"));
        env.set("XDG_RUNTIME_DIR", at(".run"));
        env.set("AWS_CONFIG_FILE", world.config_file.display().to_string());
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
        /// Deletes the demo's role credentials from the keychain: they are fake, and it is
        /// the person's keychain (under the demo's own service name, so a real session of
        /// the same name is never touched).
        pub fn forget_credentials(&self, ctx: &Context) {
            let config = ctx.load_config();
            let vault = Vault::new(ctx);
            for name in &self.sessions {
                let _ = vault.forget_session(&config, &SessionId::Named(name.clone()));
            }
        }
    }
}

#[cfg(not(feature = "demo"))]
pub use without_fake::{Demo, start};

#[cfg(not(feature = "demo"))]
mod without_fake {
    use ssobar_core::context::Context;
    use ssobar_core::env::Env;

    /// Never made: this build has no demo.
    pub enum Demo {}

    /// Says that this build has no demo.
    pub fn start() -> std::io::Result<(Demo, Env)> {
        Err(std::io::Error::other(
            "this ssobar-app was built without its demo (the `demo` feature)",
        ))
    }

    impl Demo {
        /// Nothing to forget.
        pub fn forget_credentials(&self, _ctx: &Context) {
            match *self {}
        }
    }
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::*;

    #[test]
    fn every_aws_and_ssobar_setting_is_kept_from_the_demo() {
        for variable in [
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_ENDPOINT_URL_SSO",
            "AWS_PROFILE",
            "SSOBAR_TOKEN_STORE",
            "SSOBAR_LOCK_WAIT_SECONDS",
        ] {
            assert!(is_sealed_off(variable), "{variable}");
        }
        for variable in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "PATH", "BROWSER"] {
            assert!(!is_sealed_off(variable), "{variable}");
        }
    }
}
