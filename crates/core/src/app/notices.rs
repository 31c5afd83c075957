//! Which notifications are due: each at most once per session and expiry, none for a session
//! that renews itself; and the one for commands waiting on a sign-in.

use crate::app::activity::Activity;
use crate::app::channel::{Caller, waiting_line};
use crate::config::SessionId;
use crate::settings::Settings;
use crate::status::{SessionState, Status};
use crate::util::text::printable;
use crate::util::time::format_duration;
use jiff::Timestamp;
use std::collections::BTreeSet;

/// Why a notification is shown (each is shown at most once per session and expiry).
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
    /// Why it is shown.
    pub kind: NoticeKind,
    /// The summary line, which names the session.
    pub title: String,
    /// What to do about it, in a sentence.
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
                                "Sign in again to keep using its {}.",
                                counted(session.profiles.len(), "profile", "profiles")
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

/// Whether the desktop's notification server renders markup in a notification's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMarkup {
    /// It does (a freedesktop server listing `body-markup`: dunst, GNOME Shell, Plasma, mako):
    /// `<b>` in a body is bold and `&amp;` is `&`.
    Rendered,
    /// It shows bodies as they are sent (macOS, Windows, a freedesktop server without
    /// `body-markup`).
    Plain,
}

impl BodyMarkup {
    /// What a freedesktop server does, from the capabilities it lists (`None`: it could not
    /// be asked, and most servers render markup).
    pub fn of_server(capabilities: Option<&[String]>) -> Self {
        match capabilities {
            Some(listed) if !listed.iter().any(|c| c == "body-markup") => Self::Plain,
            _ => Self::Rendered,
        }
    }
}

/// A notification's two lines as they are handed to the desktop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationText {
    /// The summary: plain text to every server.
    pub summary: String,
    /// The body, escaped for `markup`.
    pub body: String,
}

/// **The** text of every notification the app shows: both lines [printable] (a service's
/// message or a name from the network may be in them), and in a body that is rendered as
/// markup `&`, `<` and `>` written as `&amp;`, `&lt;` and `&gt;`, so that a `<b>` or `&lt;`
/// in a message is shown as it was written, not taken for markup.
pub fn notification_text(summary: &str, body: &str, markup: BodyMarkup) -> NotificationText {
    let body = printable(body);
    NotificationText {
        summary: printable(summary),
        body: match markup {
            BodyMarkup::Plain => body,
            BodyMarkup::Rendered => markup_escaped(&body),
        },
    }
}

/// `text` with the three characters freedesktop notification markup reads escaped.
fn markup_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// "1 profile", "2 profiles": a count with its noun, for text a person reads.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tray::tests::{now, status, status_with};
    use crate::util::time::add_seconds;

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
    fn a_body_is_escaped_for_the_markup_the_server_renders_and_a_summary_never() {
        let message = "refused: <b>no</b> & \x1b[2Jnot &lt;yours&gt;\nagain";
        assert_eq!(
            notification_text("Refresh of a&b <c> failed", message, BodyMarkup::Rendered),
            NotificationText {
                summary: "Refresh of a&b <c> failed".to_owned(),
                body: "refused: &lt;b&gt;no&lt;/b&gt; &amp; not &amp;lt;yours&amp;gt; again"
                    .to_owned(),
            }
        );
        assert_eq!(
            notification_text("\x1b]0;t\x07Title", message, BodyMarkup::Plain),
            NotificationText {
                summary: "Title".to_owned(),
                body: "refused: <b>no</b> & not &lt;yours&gt; again".to_owned(),
            }
        );
    }

    #[test]
    fn a_server_renders_body_markup_unless_it_says_otherwise() {
        let listed = |caps: &[&str]| caps.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            BodyMarkup::of_server(Some(&listed(&["actions", "body", "body-markup"]))),
            BodyMarkup::Rendered
        );
        assert_eq!(
            BodyMarkup::of_server(Some(&listed(&["actions", "body"]))),
            BodyMarkup::Plain
        );
        assert_eq!(BodyMarkup::of_server(None), BodyMarkup::Rendered);
    }

    #[test]
    fn the_warning_counts_profiles_in_words() {
        let mut n = Notifier::default();
        let notices = n.due(&status(), &Activity::default(), now(), &Settings::default());
        assert_eq!(
            notices[0].body,
            "Sign in again to keep using its 1 profile."
        );
        assert_eq!(counted(2, "profile", "profiles"), "2 profiles");
        assert_eq!(counted(0, "profile", "profiles"), "0 profiles");
    }
}
