//! The status as the window shows it: one serialisable value per wake, with each session's
//! actions decided in core so the window's JavaScript decides nothing.

use crate::app::actions::{SessionAction, session_actions};
use crate::app::activity::Activity;
use crate::app::channel::{Caller, waiting_line};
use crate::app::first_run::{self, SetupView};
use crate::config::ProfileKind;
use crate::status::{SessionState, Status};
use crate::util::time::format_timestamp;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// A session as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The key window commands use.
    pub id: String,
    /// How people call it.
    pub label: String,
    /// The access portal.
    pub start_url: String,
    /// The IAM Identity Center region.
    pub region: String,
    /// `valid`, `expiring`, `expired`, `missing`, `invalid` (the names `status --json` uses).
    pub state: SessionState,
    /// RFC 3339 UTC.
    pub expires_at: Option<String>,
    /// Can be renewed without a browser.
    pub refreshable: bool,
    /// A sentence for a person.
    pub detail: Option<String>,
    /// What the window offers, in order ([`session_actions`]); greyed out while `busy`.
    pub actions: Vec<SessionAction>,
    /// A sign-in or refresh is running.
    pub busy: bool,
    /// Why the silent refresh failed.
    pub refresh_failed: Option<String>,
    /// Who waits for its sign-in, oldest first: "kubectl (pid 4242)".
    pub waiting: Vec<String>,
    /// "kubectl is waiting for corp", when any wait.
    pub waiting_line: Option<String>,
    /// The profiles that sign in through it, by name.
    pub profiles: Vec<ProfileView>,
}

/// A profile of a session, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    /// The profile's name in the AWS config.
    pub name: String,
    /// The account its credentials are for (a role chain: its `role_arn`'s).
    pub account_id: Option<String>,
    /// Account name, when the portal told it.
    pub account_name: Option<String>,
    /// The role (permission set, or the chain's role).
    pub role_name: Option<String>,
    /// The profile's `region`, for commands run with it.
    pub region: Option<String>,
    /// Kind (`sso-session`, `role-chain`, ...).
    pub kind: ProfileKind,
    /// When its stored role credentials expire, when known.
    pub credentials_expire_at: Option<String>,
}

/// A profile outside any session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherProfileView {
    /// The profile's name in the AWS config.
    pub name: String,
    /// How it gets credentials, since it is not through a session.
    pub kind: ProfileKind,
    /// `n/a` or `misconfigured`.
    pub state: SessionState,
    /// Why it has no session, or what is wrong with it.
    pub detail: Option<String>,
}

/// Everything the window shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The app's clock, for countdowns.
    pub now: String,
    /// The app runs against its built-in fake AWS.
    pub demo: bool,
    /// Every session the config names, in the status's order.
    pub sessions: Vec<SessionView>,
    /// Profiles that belong to no session.
    pub other_profiles: Vec<OtherProfileView>,
    /// Problems in the AWS config, each naming its file and line.
    pub warnings: Vec<String>,
    /// The first-run view, shown instead of the sessions while there is one
    /// ([`first_run::setup_view`]).
    pub setup: Option<SetupView>,
}

/// The window's view of the status. `credentials` maps profile names to the expiry of their
/// stored role credentials, where the caller looked them up.
pub fn status_view(
    status: &Status,
    activity: &Activity,
    credentials: &BTreeMap<String, Timestamp>,
    now: Timestamp,
    demo: bool,
) -> StatusView {
    let sessions = status
        .sessions
        .iter()
        .map(|s| SessionView {
            id: s.id.key(),
            label: s.id.label(),
            start_url: s.start_url.clone(),
            region: s.region.clone(),
            state: s.state,
            expires_at: s.expires_at.map(format_timestamp),
            refreshable: s.refreshable,
            detail: s.detail.clone(),
            actions: session_actions(s, activity),
            busy: activity.busy.contains(&s.id),
            refresh_failed: activity
                .refresh_failed
                .get(&s.id)
                .map(|refusal| refusal.reason.clone()),
            waiting: activity
                .waiting
                .get(&s.id)
                .map(|callers| callers.iter().map(Caller::describe).collect())
                .unwrap_or_default(),
            waiting_line: activity
                .waiting
                .get(&s.id)
                .map(|callers| waiting_line(callers, &s.id.label())),
            profiles: s
                .profiles
                .iter()
                .filter_map(|name| status.profile(name))
                .map(|p| ProfileView {
                    name: p.profile.clone(),
                    account_name: p
                        .account_id
                        .as_deref()
                        .and_then(|id| activity.account_name(id))
                        .map(str::to_owned),
                    account_id: p.account_id.clone(),
                    role_name: p.role_name.clone(),
                    region: p.region.clone(),
                    kind: p.kind,
                    credentials_expire_at: credentials
                        .get(&p.profile)
                        .map(|t| format_timestamp(*t)),
                })
                .collect(),
        })
        .collect();
    let other_profiles = status
        .profiles
        .iter()
        .filter(|p| p.session_id.is_none())
        .map(|p| OtherProfileView {
            name: p.profile.clone(),
            kind: p.kind,
            state: p.state,
            detail: p.detail.clone(),
        })
        .collect();
    StatusView {
        now: format_timestamp(now),
        demo,
        sessions,
        other_profiles,
        warnings: status.warnings.clone(),
        setup: first_run::setup_view(status, activity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tray::tests::{directory_of, now, status};
    use crate::config::SessionId;

    #[test]
    fn the_view_carries_what_the_window_shows() {
        let activity = Activity {
            busy: [SessionId::Named("old".into())].into(),
            directories: [(
                SessionId::Named("corp".into()),
                directory_of(&[("111111111111", Some("acme-dev"), &["Admin"])]),
            )]
            .into(),
            ..Activity::default()
        };
        let creds = [("dev".to_owned(), "2024-05-01T13:00:00Z".parse().unwrap())].into();
        let v = status_view(&status(), &activity, &creds, now(), true);
        assert_eq!(v.now, "2024-05-01T12:00:00Z");
        assert!(v.demo);
        let corp = &v.sessions[0];
        assert_eq!(corp.id, "s:corp");
        assert_eq!(corp.state, SessionState::Valid);
        assert_eq!(corp.profiles[0].account_name.as_deref(), Some("acme-dev"));
        assert_eq!(
            corp.profiles[0].credentials_expire_at.as_deref(),
            Some("2024-05-01T13:00:00Z")
        );
        assert!(v.sessions.iter().any(|s| s.label == "old" && s.busy));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["sessions"][0]["profiles"][0]["kind"], "sso-session");
        assert_eq!(json["sessions"][0]["state"], "valid");
        assert_eq!(
            json["sessions"][0]["actions"],
            serde_json::json!(["refresh", "sign-out"])
        );
        assert_eq!(
            json["sessions"][1]["actions"],
            serde_json::json!(["sign-in", "sign-out"]),
            "lab expires in 5m with no refresh token"
        );
    }
}
