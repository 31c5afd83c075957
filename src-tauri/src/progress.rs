//! The `sign-in` events the window follows: one per step of a sign-in started by the app.

use serde::Serialize;
use ssobar_core::config::SessionId;

/// Where a sign-in is; the window keys its dialog on these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignInPhase {
    /// Another process holds the session's sign-in; this one waits for its token.
    WaitingForOther,
    /// The person is asked to open a URL (opened for them where that worked).
    OpenUrl,
    /// The person is asked to confirm a code on any device.
    DeviceCode,
    /// Waiting for the browser to come back.
    Waiting,
    /// Signed in: the token is in the store.
    Done,
    /// The sign-in ended without a token.
    Failed,
    /// The person cancelled it.
    Cancelled,
}

impl SignInPhase {
    /// True while the sign-in may still produce events: the window offers Cancel then.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::WaitingForOther | Self::OpenUrl | Self::DeviceCode | Self::Waiting
        )
    }
}

/// The `sign-in` event the window follows.
#[derive(Clone, Debug, Serialize)]
pub struct SignInProgress {
    session: String,
    phase: SignInPhase,
    /// Repeats `phase.is_active()`, so the window keeps no list of phases of its own.
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opened: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl SignInProgress {
    /// An event of `session` entering `phase`, with nothing more to say.
    pub fn new(session: &SessionId, phase: SignInPhase) -> Self {
        Self {
            session: session.key(),
            phase,
            active: phase.is_active(),
            url: None,
            opened: None,
            user_code: None,
            verification_uri: None,
            message: None,
        }
    }

    /// The person is asked to open `url`; `opened` says whether it was opened for them.
    pub fn open_url(session: &SessionId, url: String, opened: bool) -> Self {
        Self {
            url: Some(url),
            opened: Some(opened),
            ..Self::new(session, SignInPhase::OpenUrl)
        }
    }

    /// The person is asked to confirm `user_code` at `verification_uri` (or at `url`, which
    /// carries the code).
    pub fn device_code(
        session: &SessionId,
        user_code: String,
        verification_uri: String,
        url: Option<String>,
    ) -> Self {
        Self {
            url,
            user_code: Some(user_code),
            verification_uri: Some(verification_uri),
            ..Self::new(session, SignInPhase::DeviceCode)
        }
    }

    /// The same event with a sentence for the person.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The URL this event asked the person to open, if it is such an event.
    pub fn opened_url(&self) -> Option<&str> {
        match self.phase {
            SignInPhase::OpenUrl => self.url.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_the_names_the_window_knows() {
        let id = SessionId::Named("corp".into());
        let event = SignInProgress::open_url(&id, "https://example.com/device".into(), true);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["phase"], "open-url");
        assert_eq!(json["active"], true);
        assert_eq!(json["session"], "s:corp");
        assert_eq!(event.opened_url(), Some("https://example.com/device"));
        let done = SignInProgress::new(&id, SignInPhase::WaitingForOther);
        assert_eq!(
            serde_json::to_value(&done).unwrap()["phase"],
            "waiting-for-other"
        );
        let failed = SignInProgress::new(&id, SignInPhase::Failed);
        assert_eq!(serde_json::to_value(&failed).unwrap()["active"], false);
        assert_eq!(failed.opened_url(), None);
    }
}
