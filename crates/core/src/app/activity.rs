//! What the app is doing and has learnt beside the status files: busy sessions, refusals,
//! each session's accounts and clusters, the helpers waiting. Every rule of the app reads it; only the app
//! changes it.

use crate::app::channel::Caller;
use crate::config::SessionId;
use crate::kube::discovery::FoundCluster;
use crate::sso::accounts::Directory;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// What the app is doing and has learnt, beside the status files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Sessions being signed in to or refreshed.
    pub busy: BTreeSet<SessionId>,
    /// Sessions whose silent refresh was refused: only a sign-in brings them back.
    pub refresh_failed: BTreeMap<SessionId, RefreshRefusal>,
    /// When each session's last silent refresh started (see `monitor::due_refreshes`).
    pub refresh_tried: BTreeMap<SessionId, Timestamp>,
    /// Each signed-in session's accounts and roles (`sso::accounts`), as last listed.
    pub directories: BTreeMap<SessionId, Directory>,
    /// Each signed-in session's EKS clusters, as its last whole search found them.
    pub clusters: BTreeMap<SessionId, Vec<FoundCluster>>,
    /// Sessions whose clusters are being searched for.
    pub searching: BTreeSet<SessionId>,
    /// Sessions whose accounts are being listed.
    pub listing: BTreeSet<SessionId>,
    /// When a session's listing last failed (see `directory::directories_due`).
    pub listing_failed: BTreeMap<SessionId, Timestamp>,
    /// Helpers waiting for a session's sign-in (`ssobar eks-token` for kubectl, say).
    pub waiting: BTreeMap<SessionId, Vec<Caller>>,
}

impl Activity {
    /// An account's name, from any session's directory.
    pub fn account_name(&self, account_id: &str) -> Option<&str> {
        self.directories
            .values()
            .flat_map(|d| &d.accounts)
            .find(|a| a.account_id == account_id)
            .and_then(|a| a.account_name.as_deref())
    }
}

/// A silent refresh the service refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRefusal {
    /// Why, in the service's words.
    pub reason: String,
    /// The expiry of the token it was refused for: a different token (a sign-in elsewhere)
    /// ends the refusal.
    pub token_expires_at: Option<Timestamp>,
}

impl RefreshRefusal {
    /// A refusal of the token that expires at `token_expires_at`.
    pub fn new(reason: impl Into<String>, token_expires_at: Option<Timestamp>) -> Self {
        Self {
            reason: reason.into(),
            token_expires_at,
        }
    }
}
