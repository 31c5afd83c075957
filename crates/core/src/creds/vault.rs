//! The keychain vault: role credentials kept in the OS keychain and nowhere else, reused until
//! shortly before they expire and only under the sign-in they were fetched with, fetched again
//! under a per-entry lock so that one fetch runs at a time across every process.

use crate::aws::credentials::AwsCredentials;
use crate::aws::portal::PortalClient;
use crate::aws::sts::StsClient;
use crate::config::{AwsConfig, SessionId, SsoSessionConfig, login_command};
use crate::context::Context;
use crate::creds::error::CredentialsError;
use crate::creds::keychain::{self, SecretStore};
use crate::creds::plan::{Step, plan};
use crate::sso::token_cache::CachedToken;
use crate::util::lock::{KeyLock, LockRequest};
use crate::util::secret::Secret;
use crate::util::time::{add_seconds, format_timestamp, parse_timestamp};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a keychain entry holds: the credentials and what they were made from.
#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: Secret,
    #[serde(
        rename = "SessionToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    session_token: Option<Secret>,
    #[serde(rename = "Expiration")]
    expiration: String,
    /// Changes when the profile settings that made them change, so edits are never ignored.
    #[serde(rename = "Source")]
    source: String,
    /// The sign-in they were fetched under (see [`Vault::sign_in_of`]): a sign-out done
    /// elsewhere (`aws sso logout`, a deleted token file) or a new sign-in retires them.
    #[serde(rename = "SignIn", default)]
    sign_in: Option<String>,
}

/// The file naming the access key id of the credentials last used from a keychain entry.
///
/// EKS tokens cached in the runtime folder remember the id they were signed with; a token is
/// reused only while the marker still names it. Storing new credentials or signing out deletes
/// the marker, which retires every token made from the old ones without reading the keychain.
pub fn marker_path(runtime_dir: &std::path::Path, step: &Step) -> std::path::PathBuf {
    entry_marker_path(runtime_dir, &step.entry_name())
}

fn entry_marker_path(runtime_dir: &std::path::Path, entry_name: &str) -> std::path::PathBuf {
    runtime_dir
        .join("creds")
        .join(format!("{}.id", short_digest(entry_name)))
}

/// The file holding the token of the SSO session at the root of `steps`, when tokens are kept
/// in files.
pub fn session_token_file(ctx: &Context, steps: &[Step]) -> Option<std::path::PathBuf> {
    match steps.first()? {
        Step::Sso { session, .. } => ctx.tokens.file(&session.id),
        Step::Assume { .. } => None,
    }
}

/// Records that `creds` are the current credentials of `step` (see [`marker_path`]).
pub fn mark_current(
    runtime_dir: &std::path::Path,
    step: &Step,
    creds: &AwsCredentials,
) -> std::io::Result<std::path::PathBuf> {
    let path = marker_path(runtime_dir, step);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(creds.access_key_id.as_str()) {
        crate::util::fsutil::write_private(&path, creds.access_key_id.as_bytes())?;
    }
    Ok(path)
}

/// The credential store: keychain entries and the rules for reusing and refetching them.
pub struct Vault<'a> {
    ctx: &'a Context,
    store: &'a dyn SecretStore,
}

impl<'a> Vault<'a> {
    /// The vault of `ctx`, keeping entries in its secret store (the OS keychain).
    pub fn new(ctx: &'a Context) -> Self {
        Self {
            ctx,
            store: ctx.secrets.as_ref(),
        }
    }

    fn margin_seconds(&self) -> i64 {
        i64::from(self.ctx.settings.credential_margin_minutes) * 60
    }

    /// The sign-in the credentials of `steps` come from: a digest of their root session's
    /// current access token, `None` when it has none. One small read of the token store.
    pub fn sign_in_of(&self, steps: &[Step]) -> Option<String> {
        let Some(Step::Sso { session, .. }) = steps.first() else {
            return None;
        };
        match self.ctx.tokens.load(&session.id) {
            CachedToken::Present(token) => Some(sign_in_digest(&token.access_token)),
            _ => None,
        }
    }

    /// Stored credentials for `step` that are good for longer than the margin and were
    /// fetched under the session's current sign-in.
    fn stored(
        &self,
        step: &Step,
        below: Option<&Step>,
        sign_in: Option<&str>,
    ) -> Result<Option<AwsCredentials>, CredentialsError> {
        let Some(bytes) = keychain::read_value(self.store, &step.entry_name())? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_slice::<StoredCredentials>(&bytes) else {
            return Ok(None);
        };
        let Ok(expiration) = parse_timestamp(&stored.expiration) else {
            return Ok(None);
        };
        let fresh = expiration > add_seconds(self.ctx.now(), self.margin_seconds());
        let same_sign_in = sign_in.is_some() && stored.sign_in.as_deref() == sign_in;
        Ok(
            (fresh && same_sign_in && stored.source == step.source(below)).then_some(
                AwsCredentials {
                    access_key_id: stored.access_key_id,
                    secret_access_key: stored.secret_access_key,
                    session_token: stored.session_token,
                    expiration,
                },
            ),
        )
    }

    fn keep(
        &self,
        step: &Step,
        below: Option<&Step>,
        creds: &AwsCredentials,
        sign_in: &str,
    ) -> Result<(), CredentialsError> {
        let stored = StoredCredentials {
            access_key_id: creds.access_key_id.clone(),
            secret_access_key: creds.secret_access_key.clone(),
            session_token: creds.session_token.clone(),
            expiration: format_timestamp(creds.expiration),
            source: step.source(below),
            sign_in: Some(sign_in.to_owned()),
        };
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| CredentialsError::Local(format!("cannot encode credentials: {e}")))?;
        keychain::write_value(self.store, &step.entry_name(), &bytes)?;
        self.retire_marker(&step.entry_name());
        self.remember(step)
    }

    /// Deletes an entry's marker, so tokens made from its old credentials are not reused.
    fn retire_marker(&self, entry_name: &str) {
        // Best effort: a marker that cannot be deleted names an access key id that no longer
        // matches, so the cached token is not reused anyway.
        let _ = crate::util::fsutil::remove_if_exists(&entry_marker_path(
            &self.ctx.paths.runtime_dir,
            entry_name,
        ));
    }

    /// The entries stored for a session, as its index entry lists them.
    fn indexed(&self, session_key: &str) -> Result<Vec<String>, CredentialsError> {
        let bytes = keychain::read_value(self.store, &index_name(session_key))?.unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// Adds the step's entry to its session's index, so that signing out finds it even when
    /// no profile names it (`eks-token --role-arn`).
    fn remember(&self, step: &Step) -> Result<(), CredentialsError> {
        let session_key = step.session_key();
        let name = step.entry_name();
        let path = KeyLock::in_folder(
            &self.ctx.paths.sso_cache_dir,
            &format!("index-{}", short_digest(&session_key)),
        );
        // The index is read, changed and written back: one writer at a time. Threads of this
        // process take turns here first: waiting on the file lock is polling, and threads
        // that polled each other's turns away made 300 fetches seconds slower.
        static THIS_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = THIS_PROCESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let what = format!("the keychain index of {session_key}");
        let _lock = KeyLock::acquire_blocking(&LockRequest {
            path: &path,
            what: &what,
            wait: self.ctx.settings.lock_wait(),
        })?;
        let mut names = self.indexed(&session_key)?;
        if !names.contains(&name) {
            names.push(name);
            keychain::write_value(
                self.store,
                &index_name(&session_key),
                names.join("\n").as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Stored credentials for the last step, without any network call or lock: the fast path
    /// of `credential_process` and kubectl's exec hook.
    pub fn cached(&self, steps: &[Step]) -> Result<Option<AwsCredentials>, CredentialsError> {
        let sign_in = self.sign_in_of(steps);
        match steps {
            [] => Ok(None),
            [.., below, top] => self.stored(top, Some(below), sign_in.as_deref()),
            [top] => self.stored(top, None, sign_in.as_deref()),
        }
    }

    /// Credentials for the last step: from the keychain while they last, else fetched (and
    /// the steps below them too, as far as needed), under a lock per entry so that concurrent
    /// callers make one call.
    pub async fn credentials(&self, steps: &[Step]) -> Result<AwsCredentials, CredentialsError> {
        let below = |i: usize| i.checked_sub(1).map(|b| &steps[b]);
        let sign_in = self.sign_in_of(steps);
        // The highest step with usable stored credentials; everything above it is fetched.
        let found = (0..steps.len()).rev().find_map(|i| {
            let creds = self
                .stored(&steps[i], below(i), sign_in.as_deref())
                .ok()
                .flatten()?;
            Some((i, creds))
        });
        let (mut base, first) = match found {
            Some((i, creds)) => (Some(creds), i + 1),
            None => (None, 0),
        };
        for (i, step) in steps.iter().enumerate().skip(first) {
            base = Some(
                self.obtain(step, below(i), base.as_ref(), sign_in.as_deref())
                    .await?,
            );
        }
        base.ok_or_else(|| CredentialsError::Local("no steps to credentials".into()))
    }

    /// Credentials for the one SSO step `step`, fetched from the portal and kept nowhere: for a
    /// caller that uses them once (a session-wide cluster search, which would otherwise write
    /// and lock an entry for every role it looks through). No keychain call, no lock.
    pub async fn fetch_unkept(
        &self,
        step: &Step,
        window: &crate::aws::window::Window,
    ) -> Result<AwsCredentials, CredentialsError> {
        let Step::Sso {
            session, profile, ..
        } = step
        else {
            return Err(CredentialsError::Local(
                "only an SSO role's credentials are fetched without keeping them".into(),
            ));
        };
        let token = self.session_token(session, profile)?;
        self.portal_credentials(step, &token, Some(window)).await
    }

    /// GetRoleCredentials for the SSO step `step` with the session's `token`, within `window`
    /// when the caller makes a burst of calls; a token the portal no longer takes is "sign in
    /// again", naming the command.
    async fn portal_credentials(
        &self,
        step: &Step,
        token: &Secret,
        window: Option<&crate::aws::window::Window>,
    ) -> Result<AwsCredentials, CredentialsError> {
        let Step::Sso {
            session,
            profile,
            account_id,
            role_name,
        } = step
        else {
            return Err(CredentialsError::Local(
                "GetRoleCredentials is asked for an SSO role only".into(),
            ));
        };
        let failed = |error: crate::aws::CallError| match error.code() {
            Some("UnauthorizedException") => {
                self.sign_in_needed(session, profile, "was signed out or has ended".into())
            }
            _ => CredentialsError::Call {
                what: format!("GetRoleCredentials for {role_name} in {account_id}"),
                error,
            },
        };
        let portal = PortalClient::new(&self.ctx.env, &session.region).map_err(&failed)?;
        let call = || portal.role_credentials(token, account_id, role_name);
        let role = match window {
            Some(window) => crate::aws::window::call(window, call).await,
            None => call().await,
        }
        .map_err(failed)?;
        Ok(AwsCredentials {
            access_key_id: role.access_key_id,
            secret_access_key: role.secret_access_key,
            session_token: Some(role.session_token),
            // The portal counts in milliseconds.
            expiration: Timestamp::from_second(role.expiration_ms.div_euclid(1000))
                .unwrap_or_else(|_| self.ctx.now()),
        })
    }

    /// Fetches and keeps the step's credentials, unless another process did while this one
    /// waited for the lock. The caller has just found none stored.
    async fn obtain(
        &self,
        step: &Step,
        below: Option<&Step>,
        base: Option<&AwsCredentials>,
        sign_in: Option<&str>,
    ) -> Result<AwsCredentials, CredentialsError> {
        let key = short_digest(&step.entry_name());
        // A keychain entry is no file: its lock lies with the SSO sessions' own, found from
        // HOME alone.
        let path = KeyLock::in_folder(&self.ctx.paths.sso_cache_dir, &format!("creds-{key}"));
        let what = format!("the keychain entry {}", step.entry_name());
        let request = LockRequest {
            path: &path,
            what: &what,
            wait: self.ctx.settings.lock_wait(),
        };
        let _lock = KeyLock::acquire(&request, || {}).await?;
        if let Some(creds) = self.stored(step, below, sign_in)? {
            return Ok(creds);
        }
        let mut fetched_under = sign_in.map(str::to_owned);
        let creds = match step {
            Step::Sso {
                session, profile, ..
            } => {
                let token = self.session_token(session, profile)?;
                fetched_under = Some(sign_in_digest(&token));
                self.portal_credentials(step, &token, None).await?
            }
            Step::Assume {
                request, region, ..
            } => {
                let base = base.ok_or_else(|| {
                    CredentialsError::Local("a role chain step without credentials below it".into())
                })?;
                let sts = async {
                    StsClient::new(&self.ctx.env, region, base)?
                        .assume_role(request)
                        .await
                };
                sts.await.map_err(|error| CredentialsError::Call {
                    what: format!("AssumeRole {}", request.role_arn),
                    error,
                })?
            }
        };
        // A chain step is fetched under the sign-in its base was: the root's, looked at above.
        let sign_in = fetched_under.ok_or_else(|| {
            CredentialsError::Local("a role chain with no SSO session at its root".into())
        })?;
        self.keep(step, below, &creds, &sign_in)?;
        Ok(creds)
    }

    fn session_token(
        &self,
        session: &SsoSessionConfig,
        profile: &str,
    ) -> Result<Secret, CredentialsError> {
        self.ctx
            .valid_access_token(&session.id)
            .map_err(|state| self.sign_in_needed(session, profile, state))
    }

    fn sign_in_needed(
        &self,
        session: &SsoSessionConfig,
        profile: &str,
        state: String,
    ) -> CredentialsError {
        CredentialsError::SignInNeeded {
            session: session.id.to_string(),
            state,
            command: login_command(session, Some(profile)),
        }
    }

    /// Deletes the stored credentials of every profile that signs in through `session`, and
    /// of the roles assumed on top of them (`eks-token --role-arn`).
    pub fn forget_session(
        &self,
        config: &AwsConfig,
        session: &SessionId,
    ) -> Result<usize, CredentialsError> {
        let session_key = session.to_string();
        let mut names: Vec<String> = config
            .profiles()
            .filter_map(|p| plan(config, &p.name).ok())
            .filter(|steps| matches!(steps.first(), Some(Step::Sso { session: s, .. }) if &s.id == session))
            .flatten()
            .map(|step| step.entry_name())
            .chain(self.indexed(&session_key)?)
            .collect();
        names.sort();
        names.dedup();
        let mut removed = 0;
        for name in names {
            self.retire_marker(&name);
            if keychain::delete_value(self.store, &name)? {
                removed += 1;
            }
        }
        keychain::delete_value(self.store, &index_name(&session_key))?;
        Ok(removed)
    }
}

/// The keychain entry that lists the entries stored for a session.
fn index_name(session_key: &str) -> String {
    format!("index/{session_key}")
}

/// Names a sign-in by its access token without keeping the token itself.
fn sign_in_digest(access_token: &Secret) -> String {
    short_digest(access_token.expose())
}

/// A short hex digest of `text`, for file names.
fn short_digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..10])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::creds::plan::plan;
    use crate::creds::plan::tests::{CHAIN, config};

    pub(crate) fn vault_fixture(now: &str) -> (tempfile::TempDir, Context) {
        use crate::context::FixedClock;
        use crate::creds::keychain::memory::MemoryStore;
        use crate::env::Env;
        use std::sync::Arc;
        let home = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("HOME", home.path().display().to_string())]);
        let ctx = Context::from_env(env)
            .unwrap()
            .with_clock(Arc::new(FixedClock(now.parse().unwrap())))
            .with_secrets(Arc::new(MemoryStore {
                limit: 2_560,
                ..MemoryStore::default()
            }));
        sign_in(&ctx, "first-access-token");
        (home, ctx)
    }

    /// Leaves a token for the `corp` session, as a sign-in would.
    pub(crate) fn sign_in(ctx: &Context, access_token: &str) {
        let token = crate::sso::token_cache::SsoToken {
            start_url: Some("https://corp.awsapps.com/start".into()),
            region: Some("us-east-1".into()),
            access_token: access_token.into(),
            expires_at: "2024-05-01T20:00:00Z".parse().unwrap(),
            client_id: None,
            client_secret: None,
            registration_expires_at: None,
            refresh_token: None,
            extra: Default::default(),
        };
        ctx.tokens
            .store(&SessionId::Named("corp".into()), &token)
            .unwrap();
    }

    /// Keeps `creds` for `steps[i]` under the session's current sign-in.
    pub(crate) fn keep_at(vault: &Vault<'_>, steps: &[Step], i: usize, creds: &AwsCredentials) {
        let sign_in = vault.sign_in_of(steps).expect("signed in");
        let below = i.checked_sub(1).map(|b| &steps[b]);
        vault.keep(&steps[i], below, creds, &sign_in).unwrap();
    }

    #[test]
    fn credentials_of_a_sign_in_that_ended_elsewhere_are_not_reused() {
        let (_home, ctx) = vault_fixture("2024-05-01T12:00:00Z");
        let steps = plan(&config(CHAIN), "deploy").unwrap();
        let vault = Vault::new(&ctx);
        let creds = AwsCredentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: "2024-05-01T14:00:00Z".parse().unwrap(),
        };
        keep_at(&vault, &steps, 1, &creds);
        assert_eq!(vault.cached(&steps).unwrap(), Some(creds.clone()));

        // `aws sso logout`, or the token file deleted by hand.
        ctx.tokens.remove(&SessionId::Named("corp".into())).unwrap();
        assert_eq!(vault.cached(&steps).unwrap(), None, "signed out");

        // Signed in again, maybe as someone else: the old credentials are not theirs.
        sign_in(&ctx, "second-access-token");
        assert_eq!(vault.cached(&steps).unwrap(), None, "another sign-in");
    }

    #[test]
    fn stored_credentials_are_reused_until_the_margin() {
        let (_home, ctx) = vault_fixture("2024-05-01T12:00:00Z");
        let c = config(CHAIN);
        let steps = plan(&c, "deploy").unwrap();
        let vault = Vault::new(&ctx);
        assert_eq!(vault.cached(&steps).unwrap(), None);
        let creds = AwsCredentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".repeat(1500).into()),
            expiration: "2024-05-01T12:06:00Z".parse().unwrap(),
        };
        keep_at(&vault, &steps, 1, &creds);
        assert_eq!(vault.cached(&steps).unwrap(), Some(creds.clone()));

        let later = ctx
            .clone()
            .with_clock(std::sync::Arc::new(crate::context::FixedClock(
                "2024-05-01T12:01:01Z".parse().unwrap(),
            )));
        assert_eq!(
            Vault::new(&later).cached(&steps).unwrap(),
            None,
            "within 5 minutes of expiry: fetch new ones"
        );
    }

    #[test]
    fn edited_chains_do_not_reuse_old_credentials() {
        let (_home, ctx) = vault_fixture("2024-05-01T12:00:00Z");
        let steps = plan(&config(CHAIN), "deeper").unwrap();
        let creds = AwsCredentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: "2024-05-01T14:00:00Z".parse().unwrap(),
        };
        let vault = Vault::new(&ctx);
        keep_at(&vault, &steps, 2, &creds);
        assert!(vault.cached(&steps).unwrap().is_some());
        let edited = plan(
            &config(&CHAIN.replace("external_id = xyz", "external_id = abc")),
            "deeper",
        )
        .unwrap();
        assert_eq!(vault.cached(&edited).unwrap(), None);
    }

    #[test]
    fn signing_out_forgets_every_profile_of_the_session() {
        let (_home, ctx) = vault_fixture("2024-05-01T12:00:00Z");
        let c = config(CHAIN);
        let vault = Vault::new(&ctx);
        let creds = AwsCredentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: "2024-05-01T14:00:00Z".parse().unwrap(),
        };
        let steps = plan(&c, "deeper").unwrap();
        keep_at(&vault, &steps, 0, &creds);
        keep_at(&vault, &steps, 1, &creds);
        keep_at(&vault, &steps, 2, &creds);
        let removed = vault
            .forget_session(&c, &SessionId::Named("corp".into()))
            .unwrap();
        assert_eq!(removed, 3);
        assert_eq!(vault.cached(&steps).unwrap(), None);
    }
}
