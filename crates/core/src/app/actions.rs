//! The one rule for what a person can do with a session (sign in, refresh, sign out), from its
//! status and what the app is doing. The tray menu, the window and the "Sign in to all
//! expired" count all come from here, so they can never offer different things.

use crate::app::activity::Activity;
use crate::config::SessionId;
use crate::status::{SessionState, SessionStatus, Status};
use serde::Serialize;

/// Why a session wants a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignInNeed {
    /// Never signed in, or signed out: a sign-in is offered but not urged, since many configs
    /// name sessions their owner rarely uses.
    NotSignedIn,
    /// Still usable but inside its warning window with no way to refresh (no refresh token, or
    /// the refresh was refused): only a sign-in keeps it going.
    Expiring,
    /// Expired, unusable, or refused a refresh: nothing works until a sign-in.
    Ended,
}

impl SignInNeed {
    /// True for a session the person was told about and "Sign in to all expired" signs in to:
    /// everything but a session that was never used.
    pub fn is_urgent(self) -> bool {
        matches!(self, Self::Expiring | Self::Ended)
    }
}

/// Something a person can do with a session; the names are the window's button hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionAction {
    /// Sign in through the browser or a device code.
    SignIn,
    /// Renew the token with its refresh token, without a browser.
    Refresh,
    /// Log out at the portal and drop the token and stored credentials.
    SignOut,
}

/// True when a refresh can renew the session: it is signed in, has a refresh token, and the
/// service has not refused a refresh of this token.
fn can_refresh(session: &SessionStatus, activity: &Activity) -> bool {
    session.state.is_signed_in()
        && session.refreshable
        && !activity.refresh_failed.contains_key(&session.id)
}

/// Whether, and why, `session` wants a sign-in.
pub fn sign_in_need(session: &SessionStatus, activity: &Activity) -> Option<SignInNeed> {
    match session.state {
        SessionState::Missing => Some(SignInNeed::NotSignedIn),
        state if state.needs_sign_in() => Some(SignInNeed::Ended),
        _ if activity.refresh_failed.contains_key(&session.id) => Some(SignInNeed::Ended),
        SessionState::Expiring if !can_refresh(session, activity) => Some(SignInNeed::Expiring),
        _ => None,
    }
}

/// What a person can do with `session`, in the order the tray and the window show it: "Sign
/// in" when it wants one, "Refresh now" only where a refresh can work, "Sign out" wherever a
/// token exists (even an expired or unusable one, which signing out removes). A busy session
/// keeps its actions; the tray and the window grey them out.
pub fn session_actions(session: &SessionStatus, activity: &Activity) -> Vec<SessionAction> {
    let mut actions = Vec::new();
    if sign_in_need(session, activity).is_some() {
        actions.push(SessionAction::SignIn);
    }
    if can_refresh(session, activity) {
        actions.push(SessionAction::Refresh);
    }
    if session.state != SessionState::Missing {
        actions.push(SessionAction::SignOut);
    }
    actions
}

/// The sessions "Sign in to all expired" signs in to: those whose need is urgent and that
/// nothing is working on already.
pub fn expired_sessions(status: &Status, activity: &Activity) -> Vec<SessionId> {
    status
        .sessions
        .iter()
        .filter(|s| sign_in_need(s, activity).is_some_and(SignInNeed::is_urgent))
        .filter(|s| !activity.busy.contains(&s.id))
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::activity::RefreshRefusal;
    use crate::app::tray::tests::status;
    use SessionAction::{Refresh, SignIn, SignOut};

    fn session(name: &str) -> SessionStatus {
        status()
            .session(&SessionId::Named(name.into()))
            .cloned()
            .expect("the test status has this session")
    }

    fn refused(name: &str) -> Activity {
        Activity {
            refresh_failed: [(
                SessionId::Named(name.into()),
                RefreshRefusal::new("refused", None),
            )]
            .into(),
            ..Activity::default()
        }
    }

    #[test]
    fn a_valid_refreshable_session_refreshes_and_signs_out() {
        let corp = session("corp");
        assert_eq!(
            session_actions(&corp, &Activity::default()),
            [Refresh, SignOut]
        );
        assert_eq!(sign_in_need(&corp, &Activity::default()), None);
    }

    #[test]
    fn a_valid_session_without_a_refresh_token_offers_no_refresh() {
        let mut corp = session("corp");
        corp.refreshable = false;
        assert_eq!(session_actions(&corp, &Activity::default()), [SignOut]);
    }

    #[test]
    fn an_expiring_session_with_no_way_to_refresh_offers_a_sign_in() {
        let lab = session("lab");
        assert_eq!(lab.state, SessionState::Expiring);
        assert_eq!(
            session_actions(&lab, &Activity::default()),
            [SignIn, SignOut]
        );
        assert_eq!(
            sign_in_need(&lab, &Activity::default()),
            Some(SignInNeed::Expiring)
        );
        let mut renewable = lab;
        renewable.refreshable = true;
        assert_eq!(
            session_actions(&renewable, &Activity::default()),
            [Refresh, SignOut],
            "it renews itself: no sign-in urged"
        );
    }

    #[test]
    fn a_refused_refresh_offers_a_sign_in_and_no_refresh() {
        let corp = session("corp");
        assert_eq!(session_actions(&corp, &refused("corp")), [SignIn, SignOut]);
        assert_eq!(
            sign_in_need(&corp, &refused("corp")),
            Some(SignInNeed::Ended)
        );
    }

    #[test]
    fn an_expired_session_signs_in_or_out_and_a_missing_one_only_in() {
        assert_eq!(
            session_actions(&session("old"), &Activity::default()),
            [SignIn, SignOut]
        );
        let unused = session("unused");
        assert_eq!(session_actions(&unused, &Activity::default()), [SignIn]);
        assert_eq!(
            sign_in_need(&unused, &Activity::default()),
            Some(SignInNeed::NotSignedIn)
        );
    }

    #[test]
    fn sign_in_to_all_expired_takes_the_urgent_sessions_that_are_not_busy() {
        let lab = SessionId::Named("lab".into());
        let old = SessionId::Named("old".into());
        assert_eq!(
            expired_sessions(&status(), &Activity::default()),
            [lab.clone(), old.clone()],
            "not corp (renews itself), not unused (never signed in)"
        );
        let busy = Activity {
            busy: [old].into(),
            ..Activity::default()
        };
        assert_eq!(expired_sessions(&status(), &busy), [lab]);
    }
}
