//! What the app is doing and has learnt beside the status files: busy sessions, refusals,
//! each session's accounts and clusters, the helpers waiting. Every rule of the app reads it; only the app
//! changes it.

use crate::app::channel::Caller;
use crate::config::SessionId;
use crate::kube::discovery::FoundCluster;
use crate::setup::{SetupError, SetupPlan, SetupStep};
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
    /// How far the window's first run has gone.
    pub setup: SetupProgress,
    /// The agent's approvals still good, and until when (for the tray's "Approved" submenu).
    pub approvals: Vec<(crate::app::approvals::Asker, Timestamp)>,
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

/// How far the window's first run has gone (`app::first_run`): what the app records as each
/// step ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupProgress {
    /// The plan written ([`write_session`](crate::setup::write_session)); `None` until the start URL is taken.
    pub plan: Option<SetupPlan>,
    /// The last start URL given, to show again in the form.
    pub start_url: String,
    /// The URL does not give the region: the form asks for it.
    pub region_needed: bool,
    /// The last step's error, one line.
    pub error: Option<String>,
    /// The steps done, in order, each with what it did in a sentence.
    pub done: Vec<(SetupStep, String)>,
    /// The step running now (besides the sign-in, which the activity shows).
    pub running: Option<SetupStep>,
    /// The clusters the setup's search found: what its kubeconfig step writes.
    pub found: Vec<FoundCluster>,
    /// The person closed the setup ("Done").
    pub closed: bool,
}

impl SetupProgress {
    /// Records the outcome of taking a start URL: the plan written, or the error, the region
    /// field shown when the error is that the region is needed.
    pub fn took_start_url(&mut self, start_url: &str, written: Result<SetupPlan, SetupError>) {
        self.start_url = start_url.trim().to_owned();
        match written {
            Ok(plan) => {
                self.error = None;
                self.region_needed = false;
                self.done = vec![(
                    SetupStep::WriteSession,
                    format!(
                        "[sso-session {}] signs in to {} ({})",
                        plan.session.name(),
                        plan.start_url,
                        plan.region
                    ),
                )];
                self.plan = Some(plan);
            }
            Err(error) => {
                // The form asks for the region: the line says to give it there.
                if matches!(error, SetupError::RegionNeeded { .. }) {
                    self.region_needed = true;
                    self.error = Some(format!("{error}: give the region (like us-east-1)"));
                } else {
                    self.error = Some(error.to_string());
                }
            }
        }
    }

    /// Records a step's end: done with what it did, or its error.
    pub fn finished(&mut self, step: SetupStep, outcome: Result<String, String>) {
        if self.running == Some(step) {
            self.running = None;
        }
        match outcome {
            Ok(said) => {
                self.error = None;
                self.done.retain(|(s, _)| *s != step);
                self.done.push((step, said));
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// The session the plan wrote.
    pub fn session(&self) -> Option<SessionId> {
        self.plan
            .as_ref()
            .map(|plan| SessionId::Named(plan.session.name().to_owned()))
    }

    /// Whether `step` is done.
    pub fn is_done(&self, step: SetupStep) -> bool {
        self.done.iter().any(|(s, _)| *s == step)
    }
}
