//! The processes waiting for an SSO session's sign-in through the local channel, as the app
//! keeps them between a request and its answer.

use ssobar_core::app::channel::{Caller, Reply};
use ssobar_core::config::SessionId;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{Notify, oneshot};

/// A helper waiting for a session's sign-in.
pub struct Waiter {
    /// The session it waits for.
    pub session: SessionId,
    /// Who it is.
    pub caller: Caller,
    /// Where its answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// Takes a session's "waiting for sign-in" notification off the screen once nobody waits for
/// the session any more, however that came about. The thread that showed the notification
/// listens; a withdrawal that comes before the notification is on screen is kept until it is.
#[derive(Clone, Default)]
pub struct Withdrawal(Arc<Notify>);

impl Withdrawal {
    /// Asks for the notification to go.
    pub fn withdraw(&self) {
        // A stored permit: a listener that has not started yet still hears it.
        self.0.notify_one();
    }

    /// Resolves once the notification is to go (where notifications can be withdrawn).
    #[cfg(all(unix, not(target_os = "macos")))]
    pub async fn withdrawn(&self) {
        self.0.notified().await;
    }
}

/// Every waiting helper, by ticket.
#[derive(Default)]
pub struct Waiters {
    /// The waiters, by the ticket the channel gave them.
    pub by_ticket: BTreeMap<u64, Waiter>,
    /// Sessions whose notification is out, each with what withdraws it: one per session while
    /// anyone waits.
    notified: BTreeMap<SessionId, Withdrawal>,
}

impl Waiters {
    /// Who waits for what, oldest first, as the tray and the window show it.
    pub fn callers(&self) -> BTreeMap<SessionId, Vec<Caller>> {
        let mut by_session: BTreeMap<SessionId, Vec<Caller>> = BTreeMap::new();
        for waiter in self.by_ticket.values() {
            by_session
                .entry(waiter.session.clone())
                .or_default()
                .push(waiter.caller.clone());
        }
        by_session
    }

    /// Adds a waiter under its ticket.
    pub fn add(&mut self, ticket: u64, waiter: Waiter) {
        self.by_ticket.insert(ticket, waiter);
    }

    /// Adds a notification for `session`'s waiters, unless one is out: what withdraws the new
    /// one, which the caller shows.
    pub fn notify(&mut self, session: &SessionId) -> Option<Withdrawal> {
        if self.notified.contains_key(session) {
            return None;
        }
        let withdrawal = Withdrawal::default();
        self.notified.insert(session.clone(), withdrawal.clone());
        Some(withdrawal)
    }

    /// Forgets a waiter that hung up; once nobody waits for its session any more, its
    /// notification is withdrawn and a new request gets a new one.
    pub fn hang_up(&mut self, ticket: u64) {
        if let Some(gone) = self.by_ticket.remove(&ticket)
            && !self.by_ticket.values().any(|w| w.session == gone.session)
        {
            self.withdraw(&gone.session);
        }
    }

    /// Removes and returns the waiters of `session` (to be answered), and withdraws their
    /// notification.
    pub fn take(&mut self, session: &SessionId) -> Vec<Waiter> {
        let tickets: Vec<u64> = self
            .by_ticket
            .iter()
            .filter(|(_, w)| &w.session == session)
            .map(|(t, _)| *t)
            .collect();
        self.withdraw(session);
        tickets
            .into_iter()
            .filter_map(|t| self.by_ticket.remove(&t))
            .collect()
    }

    fn withdraw(&mut self, session: &SessionId) {
        if let Some(withdrawal) = self.notified.remove(session) {
            withdrawal.withdraw();
        }
    }
}
