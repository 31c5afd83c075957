//! How many calls to a service are in flight at once: a window that grows while the calls
//! succeed and halves when the service throttles (additive increase, multiplicative decrease,
//! as TCP does), so that a search of hundreds of accounts runs as wide as the service lets it
//! and no wider.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Calls in flight when a burst starts: what a portal answers at once without throttling.
pub const START: usize = 16;

/// The most calls in flight at once, however well the service answers: each is a connection
/// and a task, and beyond this the service's latency no longer dominates.
pub const MAX: usize = 128;

/// Tries of a call the service still throttled after the SDK's own retries, each after a
/// longer pause ([`backoff`]); the window has halved in between.
pub const THROTTLED_TRIES: u32 = 6;

/// A congestion window over calls: [`Window::acquire`] waits for room, and each call's
/// [`Permit`] says how it went.
#[derive(Debug)]
pub struct Window {
    /// One permit per call that may start now; the window's size is what is lent out plus
    /// what is here, less the debt.
    room: Semaphore,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Calls allowed at once (fractional, so the additive increase is one call per window).
    limit: f64,
    /// The whole calls the semaphore stands for: `limit` rounded down, within 1..=max.
    allowed: usize,
    /// Permits to swallow as calls end, after a cut that found them lent out.
    debt: usize,
    max: usize,
    /// Until the first throttling the window grows by a call per success, doubling each round
    /// trip; after it, by one call per round trip.
    slow_start: bool,
    /// Bumped at each cut: calls started before a cut do not cut again for the same burst.
    generation: u64,
}

impl Window {
    /// A window of `start` calls that may grow to `max` (both at least 1).
    pub fn new(start: usize, max: usize) -> Self {
        let max = max.max(1);
        let start = start.clamp(1, max);
        Self {
            room: Semaphore::new(start),
            state: Mutex::new(State {
                limit: start as f64,
                allowed: start,
                debt: 0,
                max,
                slow_start: true,
                generation: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding it leaves plain numbers behind, still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The calls allowed at once now.
    pub fn limit(&self) -> usize {
        self.state().allowed
    }

    /// Waits until one more call fits in the window.
    pub async fn acquire(&self) -> Permit<'_> {
        // The semaphore is never closed; permits are handed back by hand (see `release`).
        if let Ok(permit) = self.room.acquire().await {
            permit.forget();
        }
        let generation = self.state().generation;
        Permit {
            window: self,
            generation,
            done: false,
        }
    }

    /// Sets the whole calls allowed from `state.limit`, lending or calling back permits.
    fn resize(&self, state: &mut State) {
        let allowed = (state.limit as usize).clamp(1, state.max);
        if allowed > state.allowed {
            let mut more = allowed - state.allowed;
            let forgiven = more.min(state.debt);
            state.debt -= forgiven;
            more -= forgiven;
            self.room.add_permits(more);
        } else if allowed < state.allowed {
            let mut fewer = state.allowed - allowed;
            // Permits not lent out go at once; the rest as their calls end.
            while fewer > 0 {
                match self.room.try_acquire() {
                    Ok(permit) => {
                        permit.forget();
                        fewer -= 1;
                    }
                    Err(_) => break,
                }
            }
            state.debt += fewer;
        }
        state.allowed = allowed;
    }

    fn release(&self, state: &mut State) {
        if state.debt > 0 {
            state.debt -= 1;
        } else {
            self.room.add_permits(1);
        }
    }
}

/// Room for one call; dropped without a verdict, the call neither grows nor cuts the window.
#[derive(Debug)]
pub struct Permit<'a> {
    window: &'a Window,
    generation: u64,
    done: bool,
}

impl Permit<'_> {
    /// The call was answered (whatever the answer, short of throttling): the window grows.
    pub fn succeeded(mut self) {
        let window = self.window;
        let mut state = window.state();
        // One call per round trip: a whole window's successes add one.
        let step = if state.slow_start {
            1.0
        } else {
            1.0 / state.allowed as f64
        };
        state.limit = (state.limit + step).min(state.max as f64);
        window.resize(&mut state);
        self.done = true;
        window.release(&mut state);
    }

    /// The service throttled the call: the window halves, once per burst.
    pub fn throttled(mut self) {
        let window = self.window;
        let mut state = window.state();
        if state.generation == self.generation {
            state.limit = (state.limit / 2.0).max(1.0);
            state.slow_start = false;
            state.generation += 1;
            window.resize(&mut state);
        }
        self.done = true;
        window.release(&mut state);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            let window = self.window;
            window.release(&mut window.state());
        }
    }
}

/// Runs `call` within `window`: a call the service still throttles after the SDK's retries
/// cuts the window and is made again after a pause, up to [`THROTTLED_TRIES`] times; any
/// other answer grows it.
pub async fn call<T, F, Fut>(window: &Window, call: F) -> Result<T, super::CallError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, super::CallError>>,
{
    let mut tried = 0;
    loop {
        let permit = window.acquire().await;
        let answered = call().await;
        tried += 1;
        match answered {
            Err(super::CallError::Throttled { .. }) if tried < THROTTLED_TRIES => {
                permit.throttled();
                tokio::time::sleep(backoff(tried - 1)).await;
            }
            Err(e @ super::CallError::Throttled { .. }) => {
                permit.throttled();
                return Err(e);
            }
            answered => {
                permit.succeeded();
                return answered;
            }
        }
    }
}

/// The pause before try `tried + 1` of a throttled call: 100 ms doubled each time, up to 3.2 s,
/// with up to half of it again at random so that the calls cut together do not come back
/// together.
pub fn backoff(tried: u32) -> Duration {
    let base = 100u64 << tried.min(5);
    let jitter = rand::random_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::ready::block_on_ready;

    #[test]
    fn the_window_grows_while_calls_succeed_and_halves_when_throttled() {
        let window = Window::new(4, 64);
        for _ in 0..4 {
            block_on_ready(window.acquire()).succeeded();
        }
        assert_eq!(window.limit(), 8, "doubles in a round trip at first");
        let burst: Vec<_> = (0..8).map(|_| block_on_ready(window.acquire())).collect();
        for permit in burst {
            permit.throttled();
        }
        assert_eq!(window.limit(), 4, "one burst halves it once");
        block_on_ready(window.acquire()).throttled();
        assert_eq!(window.limit(), 2);
        for _ in 0..2 {
            block_on_ready(window.acquire()).succeeded();
        }
        assert_eq!(window.limit(), 3, "then one more call per round trip");
        for _ in 0..20 {
            block_on_ready(window.acquire()).throttled();
        }
        assert_eq!(window.limit(), 1, "never below one call");
        for _ in 0..10_000 {
            block_on_ready(window.acquire()).succeeded();
        }
        assert_eq!(window.limit(), 64, "never above its maximum");
    }

    #[test]
    fn a_cut_while_calls_are_out_takes_effect_as_they_end() {
        let window = Window::new(4, 4);
        let out: Vec<_> = (0..4).map(|_| block_on_ready(window.acquire())).collect();
        let mut out = out.into_iter();
        out.next().unwrap().throttled();
        assert_eq!(window.limit(), 2);
        // Three calls still out against a window of two: one more must end first.
        drop(out.next());
        assert_eq!(window.room.available_permits(), 0);
        drop(out.next());
        assert_eq!(window.room.available_permits(), 1);
    }

    #[tokio::test]
    async fn no_more_calls_than_the_window_are_in_flight() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let window = Arc::new(Window::new(3, 3));
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..30 {
            let (window, now, peak) = (window.clone(), now.clone(), peak.clone());
            calls.spawn(async move {
                let permit = window.acquire().await;
                let at = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(at, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                permit.succeeded();
            });
        }
        while calls.join_next().await.is_some() {}
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
