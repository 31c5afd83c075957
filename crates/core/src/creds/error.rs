//! Why credentials could not be had.

use crate::aws::CallError;
use crate::config::{ConfigError, NoSession};
use crate::creds::keychain::KeychainError;
use crate::util::lock::LockError;

/// Why credentials could not be had; each message is one line saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The profile is unknown or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The profile does not lead to an SSO session.
    #[error(transparent)]
    Profile(#[from] NoSession),
    /// The profile asks for something ssobar does not do (MFA on a role).
    #[error("{0}")]
    Unsupported(String),
    /// The SSO session has expired (or was never signed in to).
    #[error("SSO session \"{session}\" {state}: run \"{command}\"")]
    SignInNeeded {
        /// The session's name (or start URL).
        session: String,
        /// "expired at 14:02", "is not signed in", ...
        state: String,
        /// The command that fixes it.
        command: String,
    },
    /// The keychain cannot be used.
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// An AWS call failed.
    #[error("{what}: {error}")]
    Call {
        /// Which call, for whom.
        what: String,
        /// What went wrong.
        error: CallError,
    },
    /// Another process held the entry for the whole wait, or its lock could not be used.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Something local went wrong.
    #[error("{0}")]
    Local(String),
}

impl CredentialsError {
    /// Whether running the same command again may well work (see [`CallError::is_transient`]).
    pub fn worth_running_again(&self) -> bool {
        match self {
            Self::Call { error, .. } => error.is_transient(),
            Self::Lock(e) => e.worth_running_again(),
            _ => false,
        }
    }
}
