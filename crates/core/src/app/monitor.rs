//! What a long-running watcher of sessions decides, as pure functions of the status and the
//! clock: which notifications are due (each at most once per session and expiry), which
//! sessions to refresh silently, when to look again, and the status as the window shows it.

use crate::app::channel::{Caller, waiting_line};
use crate::app::tray::Activity;
use crate::config::{ProfileKind, SessionId};
use crate::settings::Settings;
use crate::status::{SessionState, Status};
use crate::util::time::{add_seconds, format_duration, format_timestamp};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    /// The session enters its warning window and will not be renewed by itself.
    ExpiresSoon,
    /// The session expired while the app watched it.
    Expired,
    /// A helper asked the app for a sign-in and waits for it.
    SignInRequested,
}

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The session it is about (its "Sign in" action signs in to it).
    pub session: SessionId,
    /// Which notification.
    pub kind: NoticeKind,
    /// The title.
    pub title: String,
    /// The body.
    pub body: String,
}

/// The notification for helpers waiting on `session`: its "Sign in" action signs in.
pub fn sign_in_request_notice(session: &SessionId, callers: &[Caller]) -> Notice {
    let label = session.label();
    Notice {
        session: session.clone(),
        kind: NoticeKind::SignInRequested,
        title: capitalized(&waiting_line(callers, &label)),
        body: format!("Sign in to {label} and it goes on by itself."),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Remembers what was announced, so each notice is shown once per session and expiry.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    /// (session, expiry) pairs seen valid or expiring: only those can "expire" in front of us.
    alive: BTreeSet<(SessionId, i64)>,
    sent: BTreeSet<(SessionId, NoticeKind, i64)>,
}

impl Notifier {
    /// The notices due now. Sessions that renew themselves (refreshable, with silent refresh
    /// on) get no warning; a session already expired when the app started gets no "expired"
    /// notice (the tray shows it), only one that expires while the app is watching.
    pub fn due(
        &mut self,
        status: &Status,
        activity: &Activity,
        now: Timestamp,
        settings: &Settings,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        for session in &status.sessions {
            let Some(expires_at) = session.expires_at else {
                continue;
            };
            let key = (session.id.clone(), expires_at.as_second());
            let renews_itself = session.refreshable
                && settings.silent_refresh
                && !activity.refresh_failed.contains_key(&session.id);
            let label = session.id.label();
            match session.state {
                SessionState::Valid => {
                    self.alive.insert(key);
                }
                SessionState::Expiring => {
                    self.alive.insert(key.clone());
                    if !renews_itself
                        && self
                            .sent
                            .insert((key.0.clone(), NoticeKind::ExpiresSoon, key.1))
                    {
                        let left = format_duration(expires_at.as_second() - now.as_second());
                        notices.push(Notice {
                            session: session.id.clone(),
                            kind: NoticeKind::ExpiresSoon,
                            title: format!("SSO session {label} expires in {left}"),
                            body: format!(
                                "Sign in again to keep using its {} profile(s).",
                                session.profiles.len()
                            ),
                        });
                    }
                }
                SessionState::Expired
                    if self.alive.contains(&key)
                        && self
                            .sent
                            .insert((key.0.clone(), NoticeKind::Expired, key.1)) =>
                {
                    notices.push(Notice {
                        session: session.id.clone(),
                        kind: NoticeKind::Expired,
                        title: format!("SSO session {label} expired"),
                        body: "Sign in to use its profiles again.".into(),
                    });
                }
                _ => {}
            }
        }
        notices
    }
}

/// The shortest gap between two silent refreshes of one session. A refresh that fails for a
/// passing reason (offline, throttled), or gives a token that is still inside the refresh
/// window, is tried again after this: never in a loop.
pub const REFRESH_RETRY_SECONDS: i64 = 60;

/// Sessions to refresh without a browser now: refreshable, inside the refresh window, not
/// busy, not refused for this token, and not tried in the last [`REFRESH_RETRY_SECONDS`].
/// Notes them as tried at `now`.
pub fn due_refreshes(
    status: &Status,
    activity: &mut Activity,
    now: Timestamp,
    settings: &Settings,
) -> Vec<SessionId> {
    if !settings.silent_refresh {
        return Vec::new();
    }
    let window = i64::from(settings.refresh_minutes) * 60;
    let due: Vec<SessionId> = status
        .sessions
        .iter()
        .filter(|s| s.refreshable)
        .filter(|s| !activity.busy.contains(&s.id) && !activity.refresh_failed.contains_key(&s.id))
        .filter(|s| {
            activity
                .refresh_tried
                .get(&s.id)
                .is_none_or(|tried| now >= add_seconds(*tried, REFRESH_RETRY_SECONDS))
        })
        .filter(|s| {
            s.expires_at
                .is_some_and(|at| at <= add_seconds(now, window))
        })
        .map(|s| s.id.clone())
        .collect();
    for id in &due {
        activity.refresh_tried.insert(id.clone(), now);
    }
    due
}

/// Ends the refusals of sessions whose token changed since (signed in from a terminal, say).
pub fn forget_renewed_refusals(activity: &mut Activity, status: &Status) {
    activity.refresh_failed.retain(|id, refusal| {
        status.session(id).map(|s| s.expires_at) == Some(refusal.token_expires_at)
    });
}

/// When to look again: the next minute boundary (the menu shows minutes), or sooner when a
/// session expires, enters its warning window or its refresh window before that.
pub fn next_wake(status: &Status, now: Timestamp, settings: &Settings) -> Timestamp {
    let next_minute = add_seconds(now, 60 - now.as_second().rem_euclid(60));
    let warn = i64::from(settings.warning_minutes) * 60;
    let refresh = i64::from(settings.refresh_minutes) * 60;
    status
        .sessions
        .iter()
        .filter_map(|s| s.expires_at)
        .flat_map(|at| [at, add_seconds(at, -warn), add_seconds(at, -refresh)])
        .filter(|t| *t > now)
        .fold(next_minute, Timestamp::min)
}

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
    /// `valid`, `expiring`, `expired`, `missing`, `invalid`.
    pub state: String,
    /// RFC 3339 UTC.
    pub expires_at: Option<String>,
    /// Can be renewed without a browser.
    pub refreshable: bool,
    /// A sentence for a person.
    pub detail: Option<String>,
    /// A sign-in or refresh is running.
    pub busy: bool,
    /// Why the silent refresh failed.
    pub refresh_failed: Option<String>,
    /// Who waits for its sign-in, oldest first: "kubectl (pid 4242)".
    pub waiting: Vec<String>,
    /// "kubectl is waiting for corp", when any wait.
    pub waiting_line: Option<String>,
    /// Its profiles.
    pub profiles: Vec<ProfileView>,
}

/// A profile of a session, as the window shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    /// Name.
    pub name: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Account name, when the portal told it.
    pub account_name: Option<String>,
    /// Role.
    pub role_name: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Kind (`sso-session`, `role-chain`, ...).
    pub kind: ProfileKind,
    /// When its stored role credentials expire, when known.
    pub credentials_expire_at: Option<String>,
}

/// A profile outside any session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherProfileView {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProfileKind,
    /// `n/a` or `misconfigured`.
    pub state: String,
    /// Why.
    pub detail: Option<String>,
}

/// Everything the window shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The app's clock, for countdowns.
    pub now: String,
    /// The app runs against its built-in fake AWS.
    pub demo: bool,
    /// Sessions.
    pub sessions: Vec<SessionView>,
    /// Profiles that belong to no session.
    pub other_profiles: Vec<OtherProfileView>,
    /// Config problems.
    pub warnings: Vec<String>,
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
            state: s.state.as_str().to_owned(),
            expires_at: s.expires_at.map(format_timestamp),
            refreshable: s.refreshable,
            detail: s.detail.clone(),
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
                        .as_ref()
                        .and_then(|id| activity.account_names.get(id).cloned()),
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
            state: p.state.as_str().to_owned(),
            detail: p.detail.clone(),
        })
        .collect();
    StatusView {
        now: format_timestamp(now),
        demo,
        sessions,
        other_profiles,
        warnings: status.warnings.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tray::RefreshRefusal;
    use crate::app::tray::tests::{now, status, status_with};

    #[test]
    fn each_notice_once_per_session_and_expiry() {
        let mut n = Notifier::default();
        let a = Activity::default();
        let settings = Settings::default();
        let first = n.due(&status(), &a, now(), &settings);
        let titles: Vec<&str> = first.iter().map(|x| x.title.as_str()).collect();
        assert_eq!(
            titles,
            ["SSO session lab expires in 5m"],
            "old was already expired at start"
        );
        assert!(
            n.due(&status(), &a, now(), &settings).is_empty(),
            "not twice"
        );

        // lab expires while watched: one "expired" notice, once.
        let later = add_seconds(now(), 6 * 60);
        let expired = status_with("2024-05-01T12:05:00Z");
        let mut expired = expired;
        for s in &mut expired.sessions {
            if s.id == SessionId::Named("lab".into()) {
                s.state = SessionState::Expired;
            }
        }
        let notices = n.due(&expired, &a, later, &settings);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, NoticeKind::Expired);
        assert_eq!(notices[0].title, "SSO session lab expired");
        assert!(n.due(&expired, &a, later, &settings).is_empty());

        // A new sign-in (a new expiry) can be announced again.
        let renewed = status_with("2024-05-01T12:14:00Z");
        assert_eq!(n.due(&renewed, &a, now(), &settings).len(), 1);
    }

    #[test]
    fn self_renewing_sessions_are_not_announced() {
        let mut s = status();
        for x in &mut s.sessions {
            if x.id == SessionId::Named("lab".into()) {
                x.refreshable = true;
            }
        }
        let mut n = Notifier::default();
        assert!(
            n.due(&s, &Activity::default(), now(), &Settings::default())
                .is_empty()
        );
        let off = Settings {
            silent_refresh: false,
            ..Settings::default()
        };
        assert_eq!(n.due(&s, &Activity::default(), now(), &off).len(), 1);
    }

    #[test]
    fn silent_refresh_picks_refreshable_sessions_in_their_window() {
        let s = status();
        let mut a = Activity::default();
        let settings = Settings::default();
        assert!(
            due_refreshes(&s, &mut a, now(), &settings).is_empty(),
            "corp has 2h left"
        );
        let later = "2024-05-01T14:00:00Z".parse().unwrap();
        assert_eq!(
            due_refreshes(&s, &mut a, later, &settings),
            [SessionId::Named("corp".into())]
        );
        let mut failed = Activity {
            refresh_failed: [(SessionId::Named("corp".into()), refusal())].into(),
            ..Activity::default()
        };
        assert!(
            due_refreshes(&s, &mut failed, later, &settings).is_empty(),
            "no retry loop"
        );
        let off = Settings {
            silent_refresh: false,
            ..Settings::default()
        };
        assert!(due_refreshes(&s, &mut Activity::default(), later, &off).is_empty());
    }

    #[test]
    fn a_refresh_that_did_not_renew_is_tried_again_a_minute_later() {
        let s = status();
        let mut a = Activity::default();
        let settings = Settings::default();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let corp = [SessionId::Named("corp".into())];
        assert_eq!(
            due_refreshes(&s, &mut a, at("2024-05-01T14:00:00Z"), &settings),
            corp
        );
        // Offline: the refresh failed for a passing reason and the token is unchanged.
        assert!(
            due_refreshes(&s, &mut a, at("2024-05-01T14:00:59Z"), &settings).is_empty(),
            "not again within the minute"
        );
        assert_eq!(
            due_refreshes(&s, &mut a, at("2024-05-01T14:01:00Z"), &settings),
            corp
        );
    }

    fn refusal() -> RefreshRefusal {
        RefreshRefusal::new("no", None)
    }

    #[test]
    fn a_new_token_ends_a_refusal() {
        let s = status();
        let corp = SessionId::Named("corp".into());
        let expires = s.session(&corp).unwrap().expires_at;
        let mut a = Activity {
            refresh_failed: [(corp.clone(), RefreshRefusal::new("no", expires))].into(),
            ..Activity::default()
        };
        forget_renewed_refusals(&mut a, &s);
        assert!(
            a.refresh_failed.contains_key(&corp),
            "same token: still refused"
        );
        let mut renewed = s.clone();
        for x in &mut renewed.sessions {
            x.expires_at = x.expires_at.map(|t| add_seconds(t, 3600));
        }
        forget_renewed_refusals(&mut a, &renewed);
        assert!(a.refresh_failed.is_empty(), "a new token: refusal over");
    }

    #[test]
    fn wakes_at_the_next_minute_or_the_next_event() {
        let settings = Settings::default();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        assert_eq!(
            next_wake(&status(), at("2024-05-01T12:00:20Z"), &settings),
            at("2024-05-01T12:01:00Z")
        );
        // lab expires at 12:05:00; at 12:04:30 the next event is its expiry, before 12:05:00.
        assert_eq!(
            next_wake(
                &status_with("2024-05-01T12:04:45Z"),
                at("2024-05-01T12:04:30Z"),
                &settings
            ),
            at("2024-05-01T12:04:45Z")
        );
    }

    #[test]
    fn the_view_carries_what_the_window_shows() {
        let activity = Activity {
            busy: [SessionId::Named("old".into())].into(),
            account_names: [("111111111111".to_owned(), "acme-dev".to_owned())].into(),
            ..Activity::default()
        };
        let creds = [("dev".to_owned(), "2024-05-01T13:00:00Z".parse().unwrap())].into();
        let v = status_view(&status(), &activity, &creds, now(), true);
        assert_eq!(v.now, "2024-05-01T12:00:00Z");
        assert!(v.demo);
        let corp = &v.sessions[0];
        assert_eq!(corp.id, "s:corp");
        assert_eq!(corp.state, "valid");
        assert_eq!(corp.profiles[0].account_name.as_deref(), Some("acme-dev"));
        assert_eq!(
            corp.profiles[0].credentials_expire_at.as_deref(),
            Some("2024-05-01T13:00:00Z")
        );
        assert!(v.sessions.iter().any(|s| s.label == "old" && s.busy));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["sessions"][0]["profiles"][0]["kind"], "sso-session");
    }
}
