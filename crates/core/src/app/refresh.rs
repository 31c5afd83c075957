//! The silent refresh schedule: which sessions to refresh without a browser now, when a
//! refusal ends, and when to look at the sessions again.

use crate::app::activity::Activity;
use crate::config::SessionId;
use crate::settings::Settings;
use crate::status::Status;
use crate::util::time::add_seconds;
use jiff::Timestamp;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::activity::RefreshRefusal;
    use crate::app::tray::tests::{now, status, status_with};

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
}
