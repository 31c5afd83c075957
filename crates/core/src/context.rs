//! Everything an operation needs from its surroundings: environment, paths, settings, the token
//! store and the clock. Binaries build one from the process; tests build one from a temp HOME
//! and a fixed clock.

use crate::aws::network::{self, Network, Origins};
use crate::config::{AwsConfig, SessionId};
use crate::creds::keychain::{Keychain, KeychainTokenStore, SecretStore};
use crate::env::Env;
use crate::paths::{NoHomeDir, Paths};
use crate::settings::Settings;
use crate::settings::TokenStoreKind;
use crate::sso::token_cache::{CachedToken, SwitchableStore, TokenCache, TokenStore};
use crate::util::secret::Secret;
use crate::util::time::format_local;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::{Arc, OnceLock};

/// The time, injectable.
pub trait Clock: Send + Sync {
    /// The current time (a fixed one in tests).
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

/// The token store a setting names, with the other store behind it for tokens left there
/// from before the setting changed (see [`SwitchableStore`]).
pub fn token_store(
    kind: TokenStoreKind,
    cache: &TokenCache,
    keychain: Keychain,
    paths: &Paths,
) -> Arc<dyn TokenStore> {
    let cache: Arc<dyn TokenStore> = Arc::new(cache.clone());
    let keychain: Arc<dyn TokenStore> = Arc::new(KeychainTokenStore::new(keychain));
    let marker = paths.keychain_tokens_marker();
    match kind {
        TokenStoreKind::AwsCli => {
            let other = marker.exists().then_some(keychain);
            Arc::new(SwitchableStore::new(cache, other))
        }
        TokenStoreKind::Keychain => {
            if !marker.exists() {
                // Best effort: without it, a later switch back would not look for tokens left
                // in the keychain (which at least is not a plain file).
                let _ = crate::util::fsutil::write_private(&marker, b"");
            }
            Arc::new(SwitchableStore::new(keychain, Some(cache)))
        }
    }
}

/// A clock that always says the same time.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The surroundings of one operation.
#[derive(Clone)]
pub struct Context {
    /// The process environment, captured once (library code never reads the real one).
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
    /// Where role credentials are kept: the OS keychain.
    pub secrets: Arc<dyn SecretStore>,
    /// The local time zone, read on first use by [`Self::tz`]: finding it walks the zoneinfo
    /// folder, and most commands (every `credential_process` call) show no local time.
    tz: OnceLock<TimeZone>,
    clock: Arc<dyn Clock>,
    /// Which network variables of `env` the settings or a profile's keys set.
    network: Origins,
}

impl Context {
    /// The access token of `session` while it is valid; else how the session stands, in the
    /// words every "sign-in needed" message uses ("expired at 14:02", "is not signed in",
    /// "has an unusable token (PATH: why)").
    pub fn valid_access_token(&self, session: &SessionId) -> Result<Secret, String> {
        let now = self.now();
        match self.tokens.load(session) {
            CachedToken::Present(token) if token.expires_at > now => Ok(token.access_token),
            CachedToken::Present(token) => Err(format!(
                "expired at {}",
                format_local(token.expires_at, now, self.tz())
            )),
            CachedToken::Missing => Err("is not signed in".to_owned()),
            CachedToken::Invalid { path, reason } => Err(format!(
                "has an unusable token ({}: {reason})",
                path.display()
            )),
        }
    }

    /// The local time zone, for times shown to people (UTC when the system names none).
    pub fn tz(&self) -> &TimeZone {
        self.tz
            .get_or_init(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
    }

    /// A context for this environment, with settings loaded, ssobar's keychain entries and
    /// the system clock.
    pub fn from_env(env: Env) -> Result<Self, NoHomeDir> {
        Self::from_env_with_keychain(env, Keychain::default())
    }

    /// [`Self::from_env`] with the keychain entries under another service name.
    pub fn from_env_with_keychain(mut env: Env, keychain: Keychain) -> Result<Self, NoHomeDir> {
        let paths = Paths::from_env(&env)?;
        let (settings, settings_warnings) = Settings::load(&paths.settings_file, &env);
        let network = Origins::fill_from_settings(&mut env, &settings);
        let cache = TokenCache::from_paths(&paths);
        Ok(Self {
            tokens: token_store(settings.token_store, &cache, keychain, &paths),
            registrations: cache,
            secrets: Arc::new(keychain),
            tz: OnceLock::new(),
            env,
            paths,
            settings,
            settings_warnings,
            clock: Arc::new(SystemClock),
            network,
        })
    }

    /// The same context with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same context keeping secrets elsewhere (an in-memory store in unit tests).
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Now, by the context's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// This context for the AWS calls of a command run as `profile`: its `ca_bundle`,
    /// `use_fips_endpoint` and `use_dualstack_endpoint` where the environment has not set
    /// their variables, before the settings' values ([`network`]).
    pub fn for_profile(&self, config: &AwsConfig, profile: &str) -> Self {
        let keys = config
            .profile(profile)
            .map(network::profile_keys)
            .unwrap_or_default();
        self.with_keys(keys)
    }

    /// This context for the AWS calls of `session` when no profile was named (a sign-in to
    /// an sso-session, its accounts): the keys of the active profile, else those its profiles
    /// agree on ([`network::session_keys`]); a legacy session's, those of the profile that
    /// holds it.
    pub fn for_session(&self, config: &AwsConfig, session: &SessionId) -> Self {
        match session {
            SessionId::Named(name) => {
                self.with_keys(network::session_keys(config, &self.env, name))
            }
            SessionId::Legacy(_) => match config.session_config(session) {
                Ok((_, Some(profile))) => self.for_profile(config, &profile),
                _ => self.clone(),
            },
        }
    }

    fn with_keys(&self, keys: Vec<network::ProfileKey>) -> Self {
        let mut scoped = self.clone();
        network::apply(&mut scoped.env, &mut scoped.network, keys);
        scoped
    }

    /// The proxy and CA bundle this context's AWS calls go with, and where each comes from.
    pub fn network(&self) -> Network {
        network::in_effect(&self.env, &self.network)
    }

    /// The AWS config as it is on disk right now.
    pub fn load_config(&self) -> AwsConfig {
        AwsConfig::load(&self.paths)
    }
}
