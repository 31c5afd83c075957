//! Everything an operation needs from its surroundings: environment, paths, settings, the token
//! store and the clock. Binaries build one from the process; tests build one from a temp HOME
//! and a fixed clock.

use crate::config::AwsConfig;
use crate::env::Env;
use crate::paths::{NoHomeDir, Paths};
use crate::settings::Settings;
use crate::token_cache::{TokenCache, TokenStore};
use jiff::Timestamp;
use std::sync::Arc;

/// The time, injectable.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The surroundings of one operation.
#[derive(Clone)]
pub struct Context {
    /// The environment.
    pub env: Env,
    /// Where things live.
    pub paths: Paths,
    /// ssobar's settings (file plus `SSOBAR_*`).
    pub settings: Settings,
    /// What was wrong with the settings, if anything (reported, never fatal).
    pub settings_warnings: Vec<String>,
    /// Where SSO tokens are kept (the AWS CLI cache unless the settings say keychain).
    pub tokens: Arc<dyn TokenStore>,
    /// The AWS CLI cache folder, where client registrations always live.
    pub registrations: TokenCache,
    clock: Arc<dyn Clock>,
}

impl Context {
    /// A context for this environment, with settings loaded and the system clock.
    pub fn from_env(env: Env) -> Result<Self, NoHomeDir> {
        let paths = Paths::from_env(&env)?;
        let (settings, settings_warnings) = Settings::load(&paths.settings_file, &env);
        let cache = TokenCache::from_paths(&paths);
        Ok(Self {
            tokens: Arc::new(cache.clone()),
            registrations: cache,
            env,
            paths,
            settings,
            settings_warnings,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same context with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the context's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The AWS config as it is on disk right now.
    pub fn load_config(&self) -> AwsConfig {
        AwsConfig::load(&self.paths)
    }
}
