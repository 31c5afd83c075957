//! The app as a credential agent: role credentials held in the app's memory and handed to the
//! helpers of the same user over the channel, as ssh-agent hands out signatures, so that a
//! warm `credential_process` is a socket round trip instead of a keychain read.
//!
//! Rules:
//! - Role credentials only, never an SSO access or refresh token: the agent hands out nothing
//!   the keychain would not hand the same user's helper, and nothing that could sign in again.
//! - An entry is used only for the same steps (profile edits change them), under the sign-in
//!   it was fetched with, and while it lasts longer than the asker needs. A sign-out, a new
//!   sign-in or a refresh changes the session's token and so retires it; the app's loop calls
//!   [`CredentialAgent::forget_retired`] on every look at the files, and sign-out
//!   [`CredentialAgent::forget_session`], so retired credentials do not stay in memory.
//! - The AWS config is read again only when its files change ([`ConfigCache`]): a request
//!   costs a `stat`, not the parse of a config of a thousand profiles.
//! - Filled through the keychain [`Vault`], one fetch per entry at a time: from the keychain
//!   when it holds good ones, else from the portal (and then kept in the keychain too, for
//!   helpers that run without the app).

use crate::app::approvals::{Approvals, Asker, Gate, rule_for};
use crate::app::channel::Caller;
use crate::aws::credentials::AwsCredentials;
use crate::config::cached::ConfigCache;
use crate::config::{AwsConfig, SessionId};
use crate::context::Context;
use crate::creds::access_log::{AnsweredBy, Outcome, Request, record};
use crate::creds::{CredentialsError, Step, Vault, plan, plan_assuming};
use crate::settings::RemoteRequests;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What a helper asks the agent for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The profile.
    pub profile: &'a str,
    /// A role to assume with the profile's credentials first (`eks-token --role-arn`).
    pub role_arn: Option<&'a str>,
    /// The AWS config file the helper reads; `None` when it does not say (a remote helper).
    pub config_file: Option<&'a Path>,
    /// How long the credentials must still be good for.
    pub valid_for_seconds: i64,
}

/// Role credentials handed out, with the profile's region for the helper's environment.
#[derive(Clone, Debug)]
pub struct Handed {
    /// The credentials.
    pub credentials: AwsCredentials,
    /// The profile's `region`, when it has one.
    pub region: Option<String>,
}

/// Why the agent did not hand out credentials; the helper then goes its own way.
#[derive(Debug, thiserror::Error)]
pub enum NotHanded {
    /// The helper reads another AWS config file than the app: the same profile name may be
    /// another role there.
    #[error("ssobar-app reads another AWS config file ({0})")]
    OtherConfig(String),
    /// The person denied the request (or let the question go unanswered); the text says so.
    #[error("{0}")]
    Denied(String),
    /// The profile or fetching its credentials failed; the error says why.
    #[error(transparent)]
    Failed(#[from] CredentialsError),
}

impl NotHanded {
    /// Whether the session must be signed in first (the helper recovers as it would alone).
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, Self::Failed(CredentialsError::SignInNeeded { .. }))
    }
}

/// One entry of the agent's memory.
struct Held {
    steps: Vec<Step>,
    /// The sign-in of the root session they were fetched under (see [`Vault::sign_in_of`]).
    sign_in: Option<String>,
    handed: Handed,
}

impl Held {
    fn root_session(&self) -> Option<&SessionId> {
        match self.steps.first()? {
            Step::Sso { session, .. } => Some(&session.id),
            Step::Assume { .. } => None,
        }
    }
}

/// The agent's memory: role credentials by profile, and the approvals given.
#[derive(Default)]
pub struct CredentialAgent {
    held: Mutex<HashMap<String, Held>>,
    /// One fetch per entry at a time: later askers wait for the first and use what it got.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    approvals: Mutex<Approvals>,
    /// The questions open, each with the requests waiting for its answer.
    questions: Mutex<HashMap<Asker, Vec<tokio::sync::oneshot::Sender<bool>>>>,
    /// The AWS config as last read: each request costs a `stat`, not a parse.
    config: ConfigCache,
}

/// Who approves a request, when its profile wants approval.
pub enum Approver<'a> {
    /// The person asked for it in the app itself (a click): nothing to ask.
    Person,
    /// A program asked: the person is asked through this, as `approve` says.
    Ask(&'a dyn AskPerson),
}

/// How the app puts a question to the person: `true` when they allow the request. No answer
/// within the wait is `false`.
pub trait AskPerson: Send + Sync {
    /// Asks whether `caller` may have `profile`'s credentials.
    fn ask(
        &self,
        caller: &Caller,
        profile: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>>;
}

impl CredentialAgent {
    /// Credentials for `wanted`, asked by `caller`: once the person allowed it where the
    /// profile's `approve` setting says so, from memory while they are good for the asker,
    /// else fetched through the vault (the keychain, else the portal) and held. Every request
    /// it answers goes to the access log.
    pub async fn credentials(
        &self,
        ctx: &Context,
        wanted: &Wanted<'_>,
        caller: &Caller,
        approver: Approver<'_>,
    ) -> Result<Handed, NotHanded> {
        if let Some(theirs) = wanted.config_file
            && theirs != ctx.paths.config_file
        {
            // Not answered here: the helper reads its own keychain, and logs that itself.
            return Err(NotHanded::OtherConfig(theirs.display().to_string()));
        }
        let config = self.config.load(&ctx.paths);
        let planned = match wanted.role_arn {
            Some(arn) => plan_assuming(&config, wanted.profile, arn),
            None => plan(&config, wanted.profile),
        };
        let answer = match &planned {
            Ok(steps) => match remote_sign_in_first(ctx, caller, steps) {
                Some(needed) => Err(needed),
                None => match self.approved(ctx, wanted.profile, caller, approver).await {
                    Ok(()) => self.held_or_fetched(ctx, &config, wanted, steps).await,
                    Err(denied) => Err(denied),
                },
            },
            Err(e) => Err(NotHanded::Failed(CredentialsError::Local(e.to_string()))),
        };
        let (outcome, detail) = match &answer {
            Ok(_) => (Outcome::HandedOut, None),
            Err(NotHanded::Denied(why)) => (Outcome::Denied, Some(why.clone())),
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        };
        let request = Request {
            profile: wanted.profile,
            steps: planned.as_deref().ok(),
            program: &caller.program(),
            by: AnsweredBy::App,
        };
        if let Some(warning) = record(ctx, &request, outcome, detail) {
            tracing::warn!("{warning}");
        }
        answer
    }

    /// Whether the request may go on: no approval needed, one still good, or the person's
    /// answer to the question (shared by every request of the same program and profile
    /// while it is open).
    async fn approved(
        &self,
        ctx: &Context,
        profile: &str,
        caller: &Caller,
        approver: Approver<'_>,
    ) -> Result<(), NotHanded> {
        let Approver::Ask(person) = approver else {
            return Ok(());
        };
        if caller.remote.is_some() && ctx.settings.remote_requests == RemoteRequests::Refuse {
            return Err(NotHanded::Denied(
                "ssobar-app takes no requests from remote shells (remote_requests = \"refuse\": change it in the window's Settings)".to_owned(),
            ));
        }
        let approve = rule_for(ctx.settings.approve(profile), caller);
        let asker = Asker::of(caller, profile);
        if lock(&self.approvals).gate(approve, &asker, ctx.now()) == Gate::Open {
            return Ok(());
        }
        let (answer, first) = {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let mut questions = lock(&self.questions);
            let waiting = questions.entry(asker.clone()).or_default();
            waiting.push(tx);
            (rx, waiting.len() == 1)
        };
        if first {
            let allowed = person.ask(caller, profile).await;
            if allowed {
                lock(&self.approvals).allowed(approve, asker.clone(), ctx.now());
            }
            let waiting = lock(&self.questions).remove(&asker).unwrap_or_default();
            for tx in waiting {
                let _ = tx.send(allowed);
            }
        }
        match answer.await {
            Ok(true) => Ok(()),
            _ => Err(NotHanded::Denied(format!(
                "the request for profile {profile} was denied in ssobar-app (or not answered in time)"
            ))),
        }
    }

    /// A remote shell's sign-in, asked for by `caller` and done: the person saw the host named
    /// in the sign-in's notification and signed in for it, so every profile of `session` is
    /// approved for that host as an answered question would approve it (for an hour, except a
    /// profile that asks each time).
    pub fn signed_in_for(&self, ctx: &Context, caller: &Caller, session: &SessionId) {
        if caller.remote.is_none() {
            return;
        }
        let config = ctx.load_config();
        let now = ctx.now();
        let mut approvals = lock(&self.approvals);
        for profile in config.profiles() {
            if config
                .session_for_profile(&profile.name)
                .is_ok_and(|s| &s.id == session)
            {
                let rule = rule_for(ctx.settings.approve(&profile.name), caller);
                approvals.allowed(rule, Asker::of(caller, &profile.name), now);
            }
        }
    }

    /// The SSO session `profile`'s credentials come from (its key), for a helper told that it
    /// needs a sign-in.
    pub fn session_of(ctx: &Context, profile: &str) -> Option<SessionId> {
        match plan(&ctx.load_config(), profile).ok()?.first()? {
            Step::Sso { session, .. } => Some(session.id.clone()),
            Step::Assume { .. } => None,
        }
    }

    /// The approvals still good, and until when.
    pub fn approvals(&self, now: jiff::Timestamp) -> Vec<(Asker, jiff::Timestamp)> {
        lock(&self.approvals).current(now)
    }

    /// Takes back an approval.
    pub fn revoke(&self, asker: &Asker) {
        lock(&self.approvals).revoke(asker);
    }

    async fn held_or_fetched(
        &self,
        ctx: &Context,
        config: &AwsConfig,
        wanted: &Wanted<'_>,
        steps: &[Step],
    ) -> Result<Handed, NotHanded> {
        if let Some(handed) = self.usable(ctx, wanted, steps) {
            return Ok(handed);
        }
        let key = held_key(wanted);
        let turn = {
            let mut fetching = lock(&self.fetching);
            fetching.entry(key.clone()).or_default().clone()
        };
        let _turn = turn.lock().await;
        if let Some(handed) = self.usable(ctx, wanted, steps) {
            return Ok(handed);
        }
        // With the profile's own network keys (ca_bundle, FIPS, dual-stack), and a vault
        // margin at least as long as the asker needs, since it keeps what it fetches until then.
        let mut asked = ctx.for_profile(config, wanted.profile);
        let needed_minutes = u32::try_from((wanted.valid_for_seconds + 59) / 60).unwrap_or(0);
        asked.settings.credential_margin_minutes =
            asked.settings.credential_margin_minutes.max(needed_minutes);
        let sign_in = Vault::new(ctx).sign_in_of(steps);
        let credentials = Vault::new(&asked).credentials(steps).await?;
        let handed = Handed {
            credentials,
            region: config.profile_region(wanted.profile).map(str::to_owned),
        };
        lock(&self.held).insert(
            key,
            Held {
                steps: steps.to_vec(),
                sign_in,
                handed: handed.clone(),
            },
        );
        Ok(handed)
    }

    /// What memory holds for `wanted` when it was fetched for the same `steps`, under the
    /// session's current sign-in, and lasts as long as the asker needs.
    fn usable(&self, ctx: &Context, wanted: &Wanted<'_>, steps: &[Step]) -> Option<Handed> {
        // Read before the lock: the token file is I/O.
        let sign_in = Vault::new(ctx).sign_in_of(steps)?;
        let good_until = ctx.now().as_second() + wanted.valid_for_seconds;
        let held = lock(&self.held);
        let entry = held.get(&held_key(wanted))?;
        (entry.steps == steps
            && entry.handed.credentials.expiration.as_second() > good_until
            && entry.sign_in.as_deref() == Some(sign_in.as_str()))
        .then(|| entry.handed.clone())
    }

    /// Drops every entry whose session's sign-in is not the one it was fetched under: the
    /// session was signed out, signed in again or refreshed. One token read per session held.
    pub fn forget_retired(&self, ctx: &Context) {
        let vault = Vault::new(ctx);
        lock(&self.held).retain(|_, held| held.sign_in == vault.sign_in_of(&held.steps));
    }

    /// Drops every entry of `session` (it is being signed out).
    pub fn forget_session(&self, session: &SessionId) {
        lock(&self.held).retain(|_, held| held.root_session() != Some(session));
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        lock(&self.held).len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// For a remote shell whose session is not signed in: the sign-in it must ask for first,
/// before any question. Its notification names the host, and its click approves the host
/// ([`CredentialAgent::signed_in_for`]): one notification, not a question and then a sign-in.
fn remote_sign_in_first(ctx: &Context, caller: &Caller, steps: &[Step]) -> Option<NotHanded> {
    caller.remote.as_ref()?;
    let Some(Step::Sso {
        session, profile, ..
    }) = steps.first()
    else {
        return None;
    };
    let state = ctx.valid_access_token(&session.id).err()?;
    Some(NotHanded::Failed(CredentialsError::SignInNeeded {
        session: session.id.to_string(),
        state,
        command: crate::config::login_command(session, Some(profile)),
    }))
}

/// Where a request's credentials are held: by profile (and role to assume), since the region
/// handed out with them is the profile's.
fn held_key(wanted: &Wanted<'_>) -> String {
    format!(
        "{}\n{}",
        wanted.profile,
        wanted.role_arn.unwrap_or_default()
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the map leaves a map, not a broken invariant: keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creds::keychain::memory::MemoryStore;
    use crate::creds::plan::tests::CHAIN;
    use crate::creds::vault::tests::{keep_at, sign_in, vault_fixture};

    const NOW: &str = "2024-05-01T12:00:00Z";

    fn creds(key: &str, until: &str) -> AwsCredentials {
        AwsCredentials {
            access_key_id: key.into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: until.parse().unwrap(),
        }
    }

    /// A HOME with the chain config, signed in, and `dev`'s credentials in the keychain.
    fn fixture() -> (tempfile::TempDir, Context) {
        let (home, ctx) = vault_fixture(NOW);
        crate::util::fsutil::write_private(&ctx.paths.config_file, CHAIN.as_bytes()).unwrap();
        let steps = plan(&ctx.load_config(), "dev").unwrap();
        keep_at(
            &Vault::new(&ctx),
            &steps,
            0,
            &creds("ASIA1", "2024-05-01T14:00:00Z"),
        );
        (home, ctx)
    }

    fn wanted(valid_for_seconds: i64) -> Wanted<'static> {
        Wanted {
            profile: "dev",
            role_arn: None,
            config_file: None,
            valid_for_seconds,
        }
    }

    fn caller() -> Caller {
        Caller {
            command: "terraform".into(),
            pid: Some(4242),
            command_line: "terraform apply".into(),
            cwd: Some("/home/me/infra".into()),
            exe: Some("/usr/bin/terraform".into()),
            remote: None,
        }
    }

    /// A person who answers `allow` after a moment, counting the questions.
    struct Person {
        allow: bool,
        asked: std::sync::atomic::AtomicUsize,
    }

    impl AskPerson for Person {
        fn ask(
            &self,
            _caller: &Caller,
            _profile: &str,
        ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let allow = self.allow;
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                allow
            })
        }
    }

    #[test]
    fn concurrent_requests_of_one_program_are_one_question_and_a_denial_hands_out_nothing() {
        let (_home, mut ctx) = fixture();
        ctx.settings.profiles.insert(
            "dev".into(),
            crate::settings::ProfileSettings {
                approve: crate::settings::Approve::Hour,
            },
        );
        let agent = CredentialAgent::default();
        let person = Person {
            allow: false,
            asked: Default::default(),
        };
        let (wanted, caller) = (wanted(600), caller());
        let asked = || agent.credentials(&ctx, &wanted, &caller, Approver::Ask(&person));
        let answers = block_on(async { tokio::join!(asked(), asked(), asked(), asked(), asked()) });
        assert_eq!(person.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        for answer in [answers.0, answers.1, answers.2, answers.3, answers.4] {
            assert!(matches!(answer, Err(NotHanded::Denied(_))), "{answer:?}");
        }
        let log = crate::creds::access_log::AccessLog::at(&ctx.paths.access_log);
        let records = log.read(jiff::Timestamp::UNIX_EPOCH, ctx.now());
        assert_eq!(records.len(), 5);
        assert!(records.iter().all(|r| r.outcome == Outcome::Denied));

        // Allowed for an hour: the next request of the same program asks nothing.
        let person = Person {
            allow: true,
            asked: Default::default(),
        };
        let ask = Approver::Ask(&person);
        block_on(agent.credentials(&ctx, &wanted, &caller, ask)).unwrap();
        let ask = Approver::Ask(&person);
        block_on(agent.credentials(&ctx, &wanted, &caller, ask)).unwrap();
        assert_eq!(person.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(agent.approvals(ctx.now()).len(), 1);
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn held_credentials_are_handed_out_without_the_keychain() {
        let (_home, ctx) = fixture();
        let agent = CredentialAgent::default();
        let first =
            block_on(agent.credentials(&ctx, &wanted(600), &caller(), Approver::Person)).unwrap();
        assert_eq!(first.credentials.access_key_id, "ASIA1");
        assert_eq!(agent.len(), 1);

        // The keychain emptied behind the agent's back: memory still answers.
        let empty = ctx.clone().with_secrets(std::sync::Arc::new(MemoryStore {
            limit: 2_560,
            ..MemoryStore::default()
        }));
        let again =
            block_on(agent.credentials(&empty, &wanted(600), &caller(), Approver::Person)).unwrap();
        assert_eq!(again.credentials.access_key_id, "ASIA1");

        // Both requests are in the access log, with the program and the role, and no secret.
        let log = crate::creds::access_log::AccessLog::at(&ctx.paths.access_log);
        let records = log.read(jiff::Timestamp::UNIX_EPOCH, ctx.now());
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[0].program, "terraform apply");
        assert_eq!(records[0].outcome, Outcome::HandedOut);
        assert_eq!(records[0].role.as_deref(), Some("Admin"));
        assert_eq!(records[0].by, AnsweredBy::App);
        let text = std::fs::read_to_string(&ctx.paths.access_log).unwrap();
        assert!(
            !text.contains("ASIA1") && !text.contains("first-access-token"),
            "{text}"
        );
    }

    #[test]
    fn credentials_that_do_not_last_as_long_as_asked_are_not_handed_from_memory() {
        let (_home, ctx) = fixture();
        let agent = CredentialAgent::default();
        block_on(agent.credentials(&ctx, &wanted(600), &caller(), Approver::Person)).unwrap();
        let steps = plan(&ctx.load_config(), "dev").unwrap();
        // Asked for three hours, memory's two do not do: it goes to the vault, which fetches
        // (and here, with no network, fails) instead of handing out short ones.
        assert!(agent.usable(&ctx, &wanted(3 * 3600), &steps).is_none());
        assert!(agent.usable(&ctx, &wanted(600), &steps).is_some());
    }

    #[test]
    fn a_changed_token_retires_what_is_held() {
        let (_home, ctx) = fixture();
        let agent = CredentialAgent::default();
        block_on(agent.credentials(&ctx, &wanted(600), &caller(), Approver::Person)).unwrap();
        agent.forget_retired(&ctx);
        assert_eq!(agent.len(), 1, "the same sign-in keeps it");
        sign_in(&ctx, "second-access-token");
        agent.forget_retired(&ctx);
        assert!(agent.is_empty());
    }

    #[test]
    fn a_sign_out_forgets_the_session_s_credentials() {
        let (_home, ctx) = fixture();
        let agent = CredentialAgent::default();
        block_on(agent.credentials(&ctx, &wanted(600), &caller(), Approver::Person)).unwrap();
        agent.forget_session(&SessionId::Named("other".into()));
        assert_eq!(agent.len(), 1);
        agent.forget_session(&SessionId::Named("corp".into()));
        assert!(agent.is_empty());
    }

    #[test]
    fn a_helper_reading_another_config_file_is_not_answered() {
        let (_home, ctx) = fixture();
        let agent = CredentialAgent::default();
        let other = std::path::PathBuf::from("/elsewhere/config");
        let asked = Wanted {
            config_file: Some(&other),
            ..wanted(600)
        };
        let refused =
            block_on(agent.credentials(&ctx, &asked, &caller(), Approver::Person)).unwrap_err();
        assert!(matches!(refused, NotHanded::OtherConfig(_)), "{refused}");
        let same = Wanted {
            config_file: Some(&ctx.paths.config_file),
            ..wanted(600)
        };
        assert!(block_on(agent.credentials(&ctx, &same, &caller(), Approver::Person)).is_ok());
    }
}
