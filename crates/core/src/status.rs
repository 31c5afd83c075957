//! Session status: a pure function of (config, cached tokens, now, settings).
//!
//! The tray menu, the window and `ssobar status` all render the one [`Status`] value computed
//! here, so they can never disagree, and every rule is tested without a clock or a disk.

use crate::config::{
    AwsConfig, Handover, NoSession, Profile, ProfileKind, Resolution, SessionId, SsoProfile,
    SsoSessionConfig,
};
use crate::config::{login_command, refresh_command};
use crate::settings::Settings;
use crate::sso::token_cache::{CachedToken, SsoToken, TokenStore};
use crate::util::time::format_duration;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// How usable a session (or a profile through its session) is right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SessionState {
    /// Signed in, and not expiring soon.
    #[serde(rename = "valid")]
    Valid,
    /// Signed in, but within the warning window.
    #[serde(rename = "expiring")]
    Expiring,
    /// The token has expired.
    #[serde(rename = "expired")]
    Expired,
    /// No token: never signed in, or signed out.
    #[serde(rename = "missing")]
    Missing,
    /// The token file cannot be used.
    #[serde(rename = "invalid")]
    Invalid,
    /// The profile's configuration is wrong.
    #[serde(rename = "misconfigured")]
    Misconfigured,
    /// Not an SSO profile: there is no session to speak of.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl SessionState {
    /// The name used in `--json` and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Misconfigured => "misconfigured",
            Self::NotApplicable => "n/a",
        }
    }

    /// True when a sign-in would make the session usable again (`--check` fails on these).
    pub fn needs_sign_in(self) -> bool {
        matches!(self, Self::Expired | Self::Missing | Self::Invalid)
    }

    /// True when credentials can be had without signing in.
    pub fn is_signed_in(self) -> bool {
        matches!(self, Self::Valid | Self::Expiring)
    }
}

/// One profile's line of `ssobar status --json`. The field names are a public contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileStatus {
    /// The profile's name in the AWS config.
    pub profile: String,
    /// How it gets credentials.
    pub kind: ProfileKind,
    /// The sso-session it signs in with (for role chains: the chain's root's).
    pub sso_session: Option<String>,
    /// The access portal URL.
    pub start_url: Option<String>,
    /// The IAM Identity Center region.
    pub sso_region: Option<String>,
    /// The AWS account its credentials are for.
    pub account_id: Option<String>,
    /// The role (permission set) its credentials are for.
    pub role_name: Option<String>,
    /// The profile's default region for API calls.
    pub region: Option<String>,
    /// See [`SessionState`].
    pub state: SessionState,
    /// When the session's token expires.
    #[serde(serialize_with = "crate::util::time::serde_optional_timestamp::serialize")]
    pub expires_at: Option<Timestamp>,
    /// The session can be refreshed without a browser.
    pub refreshable: bool,
    /// A sentence for a person, or null.
    pub detail: Option<String>,
    /// The session behind the profile, for grouping; not part of the JSON contract.
    #[serde(skip)]
    pub session_id: Option<SessionId>,
}

/// One session (an `[sso-session]` or a legacy start URL) and the profiles that use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    /// The session the token belongs to (its cache file is named after it).
    pub id: SessionId,
    /// The access portal URL.
    pub start_url: String,
    /// The IAM Identity Center region.
    pub region: String,
    /// See [`SessionState`].
    pub state: SessionState,
    /// When the token expires.
    pub expires_at: Option<Timestamp>,
    /// The token can be refreshed without a browser.
    pub refreshable: bool,
    /// A sentence for a person, or None.
    pub detail: Option<String>,
    /// Profiles signing in through this session (directly or through a chain), by name.
    pub profiles: Vec<String>,
}

/// Everything there is to show: per session, per profile, and config-level warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Sessions in name order.
    pub sessions: Vec<SessionStatus>,
    /// Profiles in name order.
    pub profiles: Vec<ProfileStatus>,
    /// Problems that belong to no profile.
    pub warnings: Vec<String>,
}

impl Status {
    /// The session with this id.
    pub fn session(&self, id: &SessionId) -> Option<&SessionStatus> {
        self.sessions.iter().find(|s| &s.id == id)
    }

    /// The profile with this name.
    pub fn profile(&self, name: &str) -> Option<&ProfileStatus> {
        self.profiles.iter().find(|p| p.profile == name)
    }
}

/// The cached tokens that a status is computed from, by session.
pub type TokenSnapshot = BTreeMap<SessionId, CachedToken>;

/// Every session the config refers to, through the profiles and `[sso-session]` sections.
pub fn referenced_sessions(config: &AwsConfig) -> Vec<SessionId> {
    let mut ids: Vec<SessionId> = config
        .sessions()
        .map(|s| SessionId::Named(s.name.clone()))
        .chain(
            config
                .profiles()
                .filter(|p| p.kind() == ProfileKind::SsoLegacy)
                .filter_map(|p| config.sso_profile(p).ok())
                .map(|p| p.session.id),
        )
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Reads the cached token of every session the config refers to.
pub fn read_tokens(config: &AwsConfig, store: &dyn TokenStore) -> TokenSnapshot {
    referenced_sessions(config)
        .into_iter()
        .map(|id| {
            let token = store.load(&id);
            (id, token)
        })
        .collect()
}

/// Computes the status of every session and profile.
pub fn compute(
    config: &AwsConfig,
    tokens: &TokenSnapshot,
    now: Timestamp,
    settings: &Settings,
) -> Status {
    let warn_seconds = i64::from(settings.warning_minutes) * 60;
    let sessions_in_use: Vec<(SessionId, SsoSessionConfig, SessionCommands)> =
        referenced_sessions(config)
            .into_iter()
            .filter_map(|id| {
                let (session, profile) = config.session_config(&id).ok()?;
                let commands = SessionCommands {
                    login: login_command(&session, profile.as_deref()),
                    refresh: refresh_command(&session, profile.as_deref()),
                };
                Some((id, session, commands))
            })
            .collect();
    let fallback = SessionCommands {
        login: "ssobar login".to_owned(),
        refresh: "ssobar refresh".to_owned(),
    };
    let judge = |id: &SessionId, start_url: &str| {
        let commands = sessions_in_use
            .iter()
            .find(|(known, ..)| known == id)
            .map_or(&fallback, |(.., commands)| commands);
        judge_token(
            tokens.get(id).unwrap_or(&CachedToken::Missing),
            start_url,
            commands,
            now,
            warn_seconds,
        )
    };

    let profiles: Vec<ProfileStatus> = config
        .profiles()
        .map(|p| profile_status(config, p, &judge))
        .collect();

    let mut sessions: Vec<SessionStatus> = Vec::new();
    for (id, session, _) in &sessions_in_use {
        let verdict = judge(id, &session.start_url);
        let id = id.clone();
        sessions.push(SessionStatus {
            profiles: profiles
                .iter()
                .filter(|p| p.session_id.as_ref() == Some(&id))
                .map(|p| p.profile.clone())
                .collect(),
            id,
            start_url: session.start_url.clone(),
            region: session.region.clone(),
            state: verdict.state,
            expires_at: verdict.expires_at,
            refreshable: verdict.refreshable,
            detail: verdict.detail,
        });
    }

    Status {
        sessions,
        profiles,
        warnings: config.warnings.clone(),
    }
}

/// What to tell a person to run for a session.
struct SessionCommands {
    login: String,
    refresh: String,
}

struct Verdict {
    state: SessionState,
    expires_at: Option<Timestamp>,
    refreshable: bool,
    detail: Option<String>,
}

fn judge_token(
    cached: &CachedToken,
    start_url: &str,
    commands: &SessionCommands,
    now: Timestamp,
    warn_seconds: i64,
) -> Verdict {
    let login = format!("run \"{}\"", commands.login);
    let refresh = format!("run \"{}\"", commands.refresh);
    let token: &SsoToken = match cached {
        CachedToken::Missing => {
            return Verdict {
                state: SessionState::Missing,
                expires_at: None,
                refreshable: false,
                detail: Some(format!("not signed in: {login}")),
            };
        }
        CachedToken::Invalid { path, reason } => {
            return Verdict {
                state: SessionState::Invalid,
                expires_at: None,
                refreshable: false,
                detail: Some(format!("{}: {reason}; {login}", path.display())),
            };
        }
        CachedToken::Present(token) => token,
    };
    let refreshable = token.is_refreshable(now);
    if let Some(cached_url) = &token.start_url
        && cached_url.trim_end_matches('/') != start_url.trim_end_matches('/')
    {
        return Verdict {
            state: SessionState::Invalid,
            expires_at: Some(token.expires_at),
            refreshable: false,
            detail: Some(format!(
                "the cached token is for {cached_url}, but the config says {start_url}; {login}"
            )),
        };
    }
    let left = token.expires_at.as_second() - now.as_second();
    let (state, detail) = if left <= 0 {
        let ago = format_duration(-left);
        let detail = if refreshable {
            format!("expired {ago} ago; renew it without a browser: {refresh}")
        } else {
            format!("expired {ago} ago: {login}")
        };
        (SessionState::Expired, Some(detail))
    } else if left <= warn_seconds {
        let within = format_duration(left);
        let detail = if refreshable {
            format!("expires in {within}; renew it without a browser: {refresh}")
        } else {
            format!("expires in {within} and cannot be refreshed: {login}")
        };
        (SessionState::Expiring, Some(detail))
    } else {
        (SessionState::Valid, None)
    };
    Verdict {
        state,
        expires_at: Some(token.expires_at),
        refreshable,
        detail,
    }
}

fn profile_status(
    config: &AwsConfig,
    profile: &Profile,
    judge: &dyn Fn(&SessionId, &str) -> Verdict,
) -> ProfileStatus {
    let resolution = config.resolve(profile);
    // The role the credentials are for: the first one assumed on the way, else the SSO one.
    let (account_id, role_name) = match resolution
        .links
        .iter()
        .find_map(|link| link.profile.get("role_arn"))
    {
        Some(arn) => split_role_arn(arn),
        None => resolution.session.as_ref().map_or((None, None), |root| {
            (root.sso.account_id.clone(), root.sso.role_name.clone())
        }),
    };
    let status = ProfileStatus {
        profile: profile.name.clone(),
        kind: profile.kind(),
        sso_session: None,
        start_url: None,
        sso_region: None,
        account_id,
        role_name,
        region: own_region(&resolution),
        state: SessionState::NotApplicable,
        expires_at: None,
        refreshable: false,
        detail: None,
        session_id: None,
    };
    let status = match &resolution.session {
        Ok(root) => with_session(status, &root.sso, judge),
        Err(NoSession::NotSso { root, kind, .. }) => ProfileStatus {
            detail: not_sso_detail(&resolution, root, *kind),
            ..status
        },
        Err(reason) => misconfigured(status, reason.to_string()),
    };
    // A malformed line outranks whatever the rest of the section says, but the rest is
    // still shown: it tells the person which profile this is.
    match profile.problems.first() {
        Some(problem) => misconfigured(status, problem.clone()),
        None => status,
    }
}

/// The profile's own `region`, else that of the profile a doorway on the way opens onto: a
/// doorway stands for that profile, its role chain's sources do not.
fn own_region(resolution: &Resolution<'_>) -> Option<String> {
    let mut behind_doorway = true;
    for link in &resolution.links {
        if behind_doorway && let Some(region) = link.profile.get("region") {
            return Some(region.to_owned());
        }
        behind_doorway = link.handover == Handover::Doorway;
    }
    None
}

/// For a profile that assumes a role with credentials from outside IAM Identity Center, whose
/// they are; other profiles without a session need no explaining.
fn not_sso_detail(resolution: &Resolution<'_>, root: &str, kind: ProfileKind) -> Option<String> {
    let assumes = resolution
        .links
        .iter()
        .any(|link| link.profile.get("role_arn").is_some());
    let root_assumes = resolution
        .links
        .last()
        .is_some_and(|link| link.profile.get("role_arn").is_some());
    assumes.then(|| {
        format!(
            "assumes its role with the credentials of {root} ({})",
            if root_assumes {
                "its own keys".to_owned()
            } else {
                kind.to_string()
            }
        )
    })
}

fn with_session(
    mut status: ProfileStatus,
    sso: &SsoProfile,
    judge: &dyn Fn(&SessionId, &str) -> Verdict,
) -> ProfileStatus {
    let verdict = judge(&sso.session.id, &sso.session.start_url);
    status.sso_session = sso.session.id.session_name().map(str::to_owned);
    status.start_url = Some(sso.session.start_url.clone());
    status.sso_region = Some(sso.session.region.clone());
    status.session_id = Some(sso.session.id.clone());
    status.state = verdict.state;
    status.expires_at = verdict.expires_at;
    status.refreshable = verdict.refreshable;
    status.detail = verdict.detail;
    status
}

fn misconfigured(mut status: ProfileStatus, detail: String) -> ProfileStatus {
    status.state = SessionState::Misconfigured;
    status.detail = Some(detail);
    status
}

/// `arn:aws:iam::ACCOUNT:role/path/NAME` → (ACCOUNT, NAME).
fn split_role_arn(arn: &str) -> (Option<String>, Option<String>) {
    let mut parts = arn.splitn(6, ':');
    let account = parts.nth(4).filter(|a| !a.is_empty()).map(str::to_owned);
    let role = parts
        .next()
        .and_then(|resource| resource.strip_prefix("role/"))
        .and_then(|path| path.rsplit('/').next())
        .map(str::to_owned);
    (account, role)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{ConfigText, FileKind};
    use std::path::PathBuf;

    const CONFIG: &str = "\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[sso-session lab]
sso_start_url = https://lab.awsapps.com/start
sso_region = eu-west-1

[sso-session gone]
sso_start_url = https://gone.awsapps.com/start
sso_region = eu-west-1

[sso-session broken]
sso_start_url = https://broken.awsapps.com/start
sso_region = eu-west-1

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
region = eu-west-1

[profile lab]
sso_session = lab
sso_account_id = 222222222222
sso_role_name = ReadOnly

[profile gone]
sso_session = gone
sso_account_id = 333333333333
sso_role_name = ReadOnly

[profile broken]
sso_session = broken
sso_account_id = 444444444444
sso_role_name = ReadOnly

[profile old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-west-2
sso_account_id = 555555555555
sso_role_name = Legacy

[profile deploy]
role_arn = arn:aws:iam::666666666666:role/ci/Deploy
source_profile = dev

[profile via-ssobar]
credential_process = ssobar credential-process --profile lab

[profile keys]
aws_access_key_id = AKIAEXAMPLE

[profile nowhere]
sso_session = missing-session
sso_account_id = 1
sso_role_name = R
";

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    /// A cached token for `url` expiring at `expires`, refreshable or not.
    pub(crate) fn token(url: &str, expires: &str, refresh: bool) -> CachedToken {
        CachedToken::Present(SsoToken {
            start_url: Some(url.into()),
            region: Some("us-east-1".into()),
            access_token: "t".into(),
            expires_at: expires.parse().unwrap(),
            client_id: refresh.then(|| "c".into()),
            client_secret: refresh.then(|| "s".into()),
            registration_expires_at: refresh.then(|| "2024-08-01T00:00:00Z".parse().unwrap()),
            refresh_token: refresh.then(|| "r".into()),
            extra: Default::default(),
        })
    }

    fn status() -> Status {
        let config = AwsConfig::parse(&[ConfigText {
            path: "/h/.aws/config".into(),
            kind: FileKind::Config,
            text: CONFIG.into(),
        }]);
        let tokens: TokenSnapshot = [
            (
                SessionId::Named("corp".into()),
                token(
                    "https://corp.awsapps.com/start",
                    "2024-05-01T20:00:00Z",
                    true,
                ),
            ),
            (
                SessionId::Named("lab".into()),
                token(
                    "https://lab.awsapps.com/start",
                    "2024-05-01T12:10:00Z",
                    false,
                ),
            ),
            (
                SessionId::Named("broken".into()),
                CachedToken::Invalid {
                    path: PathBuf::from("/h/.aws/sso/cache/x.json"),
                    reason: "not valid JSON".into(),
                },
            ),
            (
                SessionId::Legacy("https://old.awsapps.com/start".into()),
                token(
                    "https://old.awsapps.com/start",
                    "2024-05-01T11:00:00Z",
                    false,
                ),
            ),
        ]
        .into_iter()
        .collect();
        compute(&config, &tokens, now(), &Settings::default())
    }

    fn state_of(status: &Status, profile: &str) -> (SessionState, Option<String>) {
        let p = status.profile(profile).unwrap();
        (p.state, p.detail.clone())
    }

    #[test]
    fn each_profile_gets_its_sessions_state() {
        let s = status();
        let states: Vec<(&str, &str, &str)> = s
            .profiles
            .iter()
            .map(|p| (p.profile.as_str(), p.kind.as_str(), p.state.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("broken", "sso-session", "invalid"),
                ("deploy", "role-chain", "valid"),
                ("dev", "sso-session", "valid"),
                ("gone", "sso-session", "missing"),
                ("keys", "static", "n/a"),
                ("lab", "sso-session", "expiring"),
                ("nowhere", "sso-session", "misconfigured"),
                ("old", "sso-legacy", "expired"),
                ("via-ssobar", "credential-process", "expiring"),
            ]
        );
    }

    #[test]
    fn role_chains_take_the_root_session_and_their_own_role() {
        let s = status();
        let deploy = s.profile("deploy").unwrap();
        assert_eq!(deploy.sso_session.as_deref(), Some("corp"));
        assert_eq!(deploy.account_id.as_deref(), Some("666666666666"));
        assert_eq!(deploy.role_name.as_deref(), Some("Deploy"));
        assert!(deploy.refreshable);
        assert_eq!(
            deploy.expires_at,
            Some("2024-05-01T20:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn details_name_the_command_to_run() {
        let s = status();
        assert_eq!(
            state_of(&s, "gone").1.unwrap(),
            "not signed in: run \"ssobar login --sso-session gone\""
        );
        assert!(state_of(&s, "broken").1.unwrap().starts_with(
            "/h/.aws/sso/cache/x.json: not valid JSON; run \"ssobar login --sso-session broken\""
        ));
        assert!(
            state_of(&s, "nowhere")
                .1
                .unwrap()
                .contains("missing-session, which is not defined")
        );
        assert_eq!(
            state_of(&s, "old").1.unwrap(),
            "expired 1h 0m ago: run \"ssobar login --profile old\""
        );
        assert_eq!(
            state_of(&s, "lab").1.unwrap(),
            "expires in 10m and cannot be refreshed: run \"ssobar login --sso-session lab\""
        );
    }

    #[test]
    fn the_warning_window_is_a_setting() {
        let config = AwsConfig::parse(&[ConfigText {
            path: "c".into(),
            kind: FileKind::Config,
            text: CONFIG.into(),
        }]);
        let tokens: TokenSnapshot = [(
            SessionId::Named("corp".into()),
            token(
                "https://corp.awsapps.com/start",
                "2024-05-01T12:20:00Z",
                true,
            ),
        )]
        .into_iter()
        .collect();
        let narrow = compute(&config, &tokens, now(), &Settings::default());
        assert_eq!(narrow.profile("dev").unwrap().state, SessionState::Valid);
        let wide = Settings {
            warning_minutes: 30,
            ..Settings::default()
        };
        let wide = compute(&config, &tokens, now(), &wide);
        assert_eq!(wide.profile("dev").unwrap().state, SessionState::Expiring);
    }

    #[test]
    fn sessions_list_their_profiles() {
        let s = status();
        let corp = s.session(&SessionId::Named("corp".into())).unwrap();
        assert_eq!(corp.profiles, ["deploy", "dev"]);
        assert_eq!(corp.state, SessionState::Valid);
        let old = s
            .session(&SessionId::Legacy("https://old.awsapps.com/start".into()))
            .unwrap();
        assert_eq!(old.profiles, ["old"]);
        assert_eq!(s.sessions.len(), 5);
    }

    #[test]
    fn a_token_for_another_portal_is_invalid() {
        let config = AwsConfig::parse(&[ConfigText {
            path: "c".into(),
            kind: FileKind::Config,
            text: CONFIG.into(),
        }]);
        let tokens: TokenSnapshot = [(
            SessionId::Named("corp".into()),
            token("https://elsewhere/start", "2024-05-01T20:00:00Z", true),
        )]
        .into_iter()
        .collect();
        let s = compute(&config, &tokens, now(), &Settings::default());
        assert_eq!(s.profile("dev").unwrap().state, SessionState::Invalid);
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let s = status();
        let json = serde_json::to_value(s.profile("dev").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "profile": "dev", "kind": "sso-session", "sso_session": "corp",
                "start_url": "https://corp.awsapps.com/start", "sso_region": "us-east-1",
                "account_id": "111111111111", "role_name": "Admin", "region": "eu-west-1",
                "state": "valid", "expires_at": "2024-05-01T20:00:00Z", "refreshable": true,
                "detail": null
            })
        );
        let keys = serde_json::to_value(s.profile("keys").unwrap()).unwrap();
        assert_eq!(keys["state"], "n/a");
        assert_eq!(keys["expires_at"], serde_json::Value::Null);
    }

    #[test]
    fn status_and_credentials_follow_the_same_way() {
        let text = format!(
            "{CONFIG}\n[profile on-door]\nrole_arn = arn:aws:iam::777777777777:role/OnDoor\n\
             source_profile = via-ssobar\n\
             [profile self-door]\ncredential_process = ssobar credential-process --profile self-door\n\
             [profile on-keys]\nrole_arn = arn:aws:iam::888888888888:role/OnKeys\nsource_profile = keys\n"
        );
        let config = AwsConfig::parse(&[ConfigText {
            path: "c".into(),
            kind: FileKind::Config,
            text,
        }]);
        let s = compute(&config, &TokenSnapshot::new(), now(), &Settings::default());
        // A role on a doorway signs in with the session behind the doorway, as its credentials do.
        let on_door = s.profile("on-door").unwrap();
        assert_eq!(on_door.sso_session.as_deref(), Some("lab"));
        assert_eq!(on_door.account_id.as_deref(), Some("777777777777"));
        assert_eq!(on_door.state, SessionState::Missing);
        let plan_error = crate::creds::plan(&config, "self-door")
            .unwrap_err()
            .to_string();
        assert_eq!(
            state_of(&s, "self-door"),
            (SessionState::Misconfigured, Some(plan_error))
        );
        assert_eq!(
            state_of(&s, "on-keys"),
            (
                SessionState::NotApplicable,
                Some("assumes its role with the credentials of keys (static)".to_owned())
            )
        );
    }

    #[test]
    fn role_arns_split_into_account_and_name() {
        assert_eq!(
            split_role_arn(
                "arn:aws:iam::123:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_A_1"
            ),
            (Some("123".into()), Some("AWSReservedSSO_A_1".into()))
        );
        assert_eq!(split_role_arn("garbage"), (None, None));
    }
}
