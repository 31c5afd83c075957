//! The processes waiting for an SSO session's sign-in through the local channel, as the app
//! keeps them between a request and its answer.

use ssobar_core::app::channel::{Caller, Reply};
use ssobar_core::config::SessionId;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// A helper waiting for a session's sign-in.
pub struct Waiter {
    /// The session it waits for.
    pub session: SessionId,
    /// Who it is.
    pub caller: Caller,
    /// Where its answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// Every waiting helper, by ticket.
#[derive(Default)]
pub struct Waiters {
    /// The waiters, by the ticket the channel gave them.
    pub by_ticket: BTreeMap<u64, Waiter>,
    /// Sessions whose notification is out: one per session while anyone waits.
    pub notified: std::collections::BTreeSet<SessionId>,
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

    /// Forgets a waiter that hung up; once nobody waits for its session any more, a new
    /// request gets a new notification.
    pub fn hang_up(&mut self, ticket: u64) {
        if let Some(gone) = self.by_ticket.remove(&ticket)
            && !self.by_ticket.values().any(|w| w.session == gone.session)
        {
            self.notified.remove(&gone.session);
        }
    }

    /// Removes and returns the waiters of `session`.
    pub fn take(&mut self, session: &SessionId) -> Vec<Waiter> {
        let tickets: Vec<u64> = self
            .by_ticket
            .iter()
            .filter(|(_, w)| &w.session == session)
            .map(|(t, _)| *t)
            .collect();
        self.notified.remove(session);
        tickets
            .into_iter()
            .filter_map(|t| self.by_ticket.remove(&t))
            .collect()
    }
}
