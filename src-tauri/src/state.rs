//! What the app holds between events: the context, the last status, and what it is doing.

use crate::demo::Demo;
use crate::progress::SignInProgress;
use crate::waiters::Waiters;
use ssobar_core::app::activity::Activity;
use ssobar_core::app::agent::CredentialAgent;
use ssobar_core::app::channel::Reply;
use ssobar_core::app::directory::SearchView;
use ssobar_core::app::monitor::Notifier;
use ssobar_core::app::tray::{MenuEntry, TrayState};
use ssobar_core::config::{AwsConfig, SessionId, SsoSessionConfig};
use ssobar_core::context::Context;
use ssobar_core::creds::keychain::Keychain;
use ssobar_core::env::Env;
use ssobar_core::status::{self, Status};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::Notify;

/// A running sign-in.
pub struct SignInTask {
    /// Cancels it (dropping the listener; nothing is half-written).
    pub abort: tokio::task::AbortHandle,
    /// Its progress so far, replayed to a window that opens mid-way (a device code, say).
    pub events: Vec<SignInProgress>,
}

impl SignInTask {
    /// The last URL it asked the person to open ("Open browser again").
    pub fn url(&self) -> Option<String> {
        self.events
            .iter()
            .rev()
            .find_map(|event| event.opened_url())
            .map(str::to_owned)
    }
}

/// What the app's loop, actions and window share and change, behind one lock.
#[derive(Default)]
pub struct Inner {
    /// The status computed at the last wake: the tray and the window both show this one.
    pub status: Status,
    /// The config it was computed from (the window plans each profile's credentials with it).
    pub config: AwsConfig,
    /// Busy sessions, refresh failures, each session's accounts.
    pub activity: Activity,
    /// Notifications already shown.
    pub notifier: Notifier,
    /// Running sign-ins.
    pub sign_ins: HashMap<SessionId, SignInTask>,
    /// Helpers waiting for a sign-in (their callers are also in `activity.waiting`).
    pub waiters: Waiters,
    /// What the window's accounts view was last told of, to tell it only of a change.
    pub search_shown: SearchView,
    /// What the tray shows now, to change it only when it changes.
    pub rendered: Option<(Vec<MenuEntry>, TrayState, String)>,
}

impl Inner {
    /// Changes the waiters and keeps `activity.waiting`, what the tray and the window show of
    /// them, in step.
    pub fn change_waiters<T>(&mut self, change: impl FnOnce(&mut Waiters) -> T) -> T {
        let out = change(&mut self.waiters);
        self.activity.waiting = self.waiters.callers();
        out
    }
}

/// The app's state, shared by the tray, the background loop and the window's commands.
pub struct AppState {
    env: Env,
    keychain: Keychain,
    ctx: RwLock<Context>,
    inner: Mutex<Inner>,
    /// Wakes the background loop: a file changed, or an action finished.
    pub poke: Arc<Notify>,
    /// The built-in fake AWS and its throwaway HOME, in demo mode.
    pub demo: Option<Demo>,
    /// Keeps the file watcher alive, with the folders it watches.
    pub watcher: Mutex<Option<(notify::RecommendedWatcher, Vec<std::path::PathBuf>)>>,
    /// Held while a view is computed and sent to the window, so that views reach it in the
    /// order they were computed and a slow, older one never overwrites a newer one.
    pub view_turn: Mutex<()>,
    /// The socket this app serves sign-in requests on, once bound.
    pub channel: Mutex<Option<std::path::PathBuf>>,
    /// Role credentials held for helpers (the app as a credential agent).
    pub agent: CredentialAgent,
    /// Whether the window is on show, kept here as it opens and closes: asking the window
    /// itself is a round trip to the main thread, which the background loop must not wait on.
    pub window_shown: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// The state for this environment.
    pub fn new(env: Env, demo: Option<Demo>) -> Result<Self, ssobar_core::paths::NoHomeDir> {
        let keychain = if demo.is_some() {
            crate::demo::KEYCHAIN
        } else {
            Keychain::default()
        };
        let ctx = Context::from_env_with_keychain(env.clone(), keychain)?;
        let trust_warnings = ctx.registrations.trust_warnings();
        for warning in ctx.settings_warnings.iter().chain(&trust_warnings) {
            eprintln!("ssobar-app: warning: {warning}");
        }
        Ok(Self {
            env,
            keychain,
            ctx: RwLock::new(ctx),
            inner: Mutex::new(Inner::default()),
            poke: Arc::new(Notify::new()),
            demo,
            watcher: Mutex::new(None),
            view_turn: Mutex::new(()),
            channel: Mutex::new(None),
            agent: CredentialAgent::default(),
            window_shown: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The current context (cheap: it is reference-counted inside).
    pub fn ctx(&self) -> Context {
        match self.ctx.read() {
            Ok(ctx) => ctx.clone(),
            // A panic while holding the lock left a usable value behind.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Builds the context again (after the settings changed).
    pub fn reload(&self) -> Result<Context, ssobar_core::paths::NoHomeDir> {
        let ctx = Context::from_env_with_keychain(self.env.clone(), self.keychain)?;
        match self.ctx.write() {
            Ok(mut slot) => *slot = ctx.clone(),
            Err(poisoned) => *poisoned.into_inner() = ctx.clone(),
        }
        Ok(ctx)
    }

    /// The shared state, locked (a panic while it was held leaves it usable).
    pub fn shared(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The status as the files say it is now.
    pub fn compute_status(&self) -> (Context, AwsConfig, Status) {
        let ctx = self.ctx();
        let config = ctx.load_config();
        let tokens = status::read_tokens(&config, ctx.tokens.as_ref());
        let status = status::compute(&config, &tokens, ctx.now(), &ctx.settings);
        (ctx, config, status)
    }

    /// The context for a session's AWS calls: the network keys of the AWS config that apply
    /// to it ([`Context::for_session`]).
    pub fn session_ctx(&self, id: &SessionId) -> Context {
        let ctx = self.ctx();
        let config = ctx.load_config();
        ctx.for_session(&config, id)
    }

    /// The sign-in settings of a session, from the config as it is now.
    pub fn session(&self, id: &SessionId) -> Result<(SsoSessionConfig, String), String> {
        let (session, profile) = self
            .ctx()
            .load_config()
            .session_config(id)
            .map_err(|e| e.to_string())?;
        let command = ssobar_core::config::login_command(&session, profile.as_deref());
        Ok((session, command))
    }

    /// Marks a session busy (a sign-in, refresh or sign-out started) and wakes the loop to
    /// show it.
    pub fn mark_busy(&self, id: &SessionId) {
        self.shared().activity.busy.insert(id.clone());
        self.poke.notify_one();
    }

    /// Marks a session no longer busy and wakes the loop to show it.
    pub fn mark_idle(&self, id: &SessionId) {
        self.shared().activity.busy.remove(id);
        self.poke.notify_one();
    }

    /// Answers `session`'s waiters after a sign-in this app ran: one that a remote shell asked
    /// for was started from the notification naming its host (a remote request never opens
    /// the browser at once), so the host is approved for the session's profiles
    /// ([`ssobar_core::app::agent::CredentialAgent::signed_in_for`]). A sign-in done elsewhere
    /// approves nothing.
    pub fn answer_signed_in_here(&self, session: &SessionId) {
        let remote: Vec<_> = self
            .shared()
            .waiters
            .by_ticket
            .values()
            .filter(|waiter| &waiter.session == session && waiter.caller.remote.is_some())
            .map(|waiter| waiter.caller.clone())
            .collect();
        if !remote.is_empty() {
            let ctx = self.ctx();
            for caller in &remote {
                self.agent.signed_in_for(&ctx, caller, session);
            }
        }
        self.answer(session, &Reply::SignedIn);
    }

    /// Answers every process waiting for `session`'s sign-in.
    pub fn answer(&self, session: &SessionId, reply: &Reply) {
        let waiters = {
            self.shared()
                .change_waiters(|waiters| waiters.take(session))
        };
        if waiters.is_empty() {
            return;
        }
        for waiter in waiters {
            // A process that hung up meanwhile has nobody to read this.
            let _ = waiter.reply.send(reply.clone());
        }
        self.poke.notify_one();
    }

    /// Ends running sign-ins and, in demo mode, the demo (its credentials, its folder).
    pub fn shut_down(&self) {
        for (_, task) in self.shared().sign_ins.drain() {
            task.abort.abort();
        }
        if let Some(demo) = &self.demo {
            demo.end(&self.ctx());
        }
    }
}
