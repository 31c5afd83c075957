//! What a long-running watcher of sessions decides, as pure functions of the status and the
//! clock: the notices due ([`notices`](crate::app::notices)), the silent refresh schedule
//! ([`refresh`](crate::app::refresh)), the window's view ([`view`](crate::app::view)), and
//! the app's own bookkeeping rules below, so the app only does the I/O.

pub use crate::app::directory::directories_due;
pub use crate::app::notices::{Notice, NoticeKind, Notifier, sign_in_request_notice};
pub use crate::app::refresh::{
    REFRESH_RETRY_SECONDS, due_refreshes, forget_renewed_refusals, next_wake,
};
pub use crate::app::view::{OtherProfileView, ProfileView, SessionView, StatusView, status_view};

use crate::app::activity::{Activity, RefreshRefusal};
use crate::config::SessionId;
use crate::sso::signin::{RefreshOutcome, SignInError};
use jiff::Timestamp;

/// Notes the end of a refresh of `id`: the session is no longer busy, and a refusal (the
/// service wants a sign-in) is kept against the token it was refused for, which
/// `token_expires_at` reads; any other end clears an earlier refusal. A passing failure is
/// not a refusal: the schedule tries again a minute later.
pub fn record_refresh(
    activity: &mut Activity,
    id: &SessionId,
    result: &Result<RefreshOutcome, SignInError>,
    token_expires_at: impl FnOnce() -> Option<Timestamp>,
) {
    activity.busy.remove(id);
    match result {
        Err(SignInError::SignInNeeded { reason, .. }) => {
            activity.refresh_failed.insert(
                id.clone(),
                RefreshRefusal::new(reason.clone(), token_expires_at()),
            );
        }
        _ => {
            activity.refresh_failed.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_refresh_is_kept_against_its_token_and_any_other_end_clears_it() {
        let corp = SessionId::Named("corp".into());
        let at: Timestamp = "2024-05-01T14:13:00Z".parse().unwrap();
        let mut activity = Activity {
            busy: [corp.clone()].into(),
            ..Activity::default()
        };
        let refused = Err(SignInError::SignInNeeded {
            session: "corp".into(),
            reason: "the refresh was refused".into(),
            command: "ssobar login --sso-session corp".into(),
        });
        record_refresh(&mut activity, &corp, &refused, || Some(at));
        assert!(activity.busy.is_empty());
        assert_eq!(
            activity.refresh_failed.get(&corp),
            Some(&RefreshRefusal::new("the refresh was refused", Some(at)))
        );

        let offline = Err(SignInError::Local("offline".into()));
        record_refresh(&mut activity, &corp, &offline, || {
            unreachable!("only a refusal reads the token")
        });
        assert!(activity.refresh_failed.is_empty());
    }
}
