//! Sign-in requests from helpers (`ssobar eks-token` run by kubectl, `credential-process` run
//! by the AWS CLI, ...) over the local channel (`ssobar_core::app::channel`): one notification per
//! session however many wait (or the browser at once, as `on_sign_in_request` says), and every
//! waiter answered when the session's sign-in ends, is cancelled, or lands from elsewhere.

use crate::actions;
use crate::notices::ApprovalQuestion;
use crate::state::AppState;
use crate::waiters::{Waiter, Withdrawal};
use ssobar_core::app::agent::{Approver, CredentialAgent, Wanted};
use ssobar_core::app::channel::server::{CredentialsRequest, RequestDesk, Server, Ticket};
use ssobar_core::app::channel::{Caller, Failure, Prompt, Reply, Start, socket_path};
use ssobar_core::app::monitor::sign_in_request_notice;
use ssobar_core::config::SessionId;
use ssobar_core::settings::{Approve, OnSignInRequest, RemoteRequests};
use ssobar_core::status::Status;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tauri::{AppHandle, Manager};
use tokio::sync::oneshot;

/// What the app does for a new request, decided under the lock and done after it.
enum Then {
    Nothing,
    StartSignIn,
    Notify(Vec<Caller>, Withdrawal),
}

struct Desk {
    app: AppHandle,
    next_ticket: AtomicU64,
}

impl RequestDesk for Desk {
    fn request(&self, caller: Caller, session: &str, start: Start) -> Ticket {
        let state = self.app.state::<AppState>();
        let unknown = Ticket::at_once(Reply::Failed {
            why: Failure::UnknownSession,
            detail: None,
        });
        let Some(id) = SessionId::from_key(session) else {
            return unknown;
        };
        if state.session(&id).is_err() {
            return unknown;
        }
        let ctx = state.ctx();
        if caller.remote.is_some() && ctx.settings.remote_requests == RemoteRequests::Refuse {
            return Ticket::at_once(Reply::Failed {
                why: Failure::RemoteRefused,
                detail: None,
            });
        }
        // Signed in between the helper's look and its request: it reads the token again.
        if ctx.valid_access_token(&id).is_ok() {
            return Ticket::at_once(Reply::SignedIn);
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (reply, outcome) = oneshot::channel();
        let caller_is_local = caller.remote.is_none();
        let (prompt, then) = {
            let mut inner = state.shared();
            let waiter = Waiter {
                session: id.clone(),
                caller,
                reply,
            };
            inner.change_waiters(|waiters| waiters.add(ticket, waiter));
            // A remote shell's sign-in waits for a click on the notification that names its
            // host: that click is the person's approval of the host (`signed_in_for`).
            let browser_now = caller_is_local
                && (start == Start::Now
                    || ctx.settings.on_sign_in_request == OnSignInRequest::Browser);
            if inner.sign_ins.contains_key(&id) {
                (Prompt::SigningIn, Then::Nothing)
            } else if browser_now {
                (Prompt::SigningIn, Then::StartSignIn)
            } else if let Some(withdrawal) = inner.waiters.notify(&id) {
                let callers = inner.activity.waiting.get(&id).cloned().unwrap_or_default();
                (Prompt::Notification, Then::Notify(callers, withdrawal))
            } else {
                (Prompt::Notification, Then::Nothing)
            }
        };
        match then {
            Then::Nothing => {}
            Then::StartSignIn => actions::start_sign_in(&self.app, id, None),
            Then::Notify(callers, withdrawal) => {
                let notice = sign_in_request_notice(&id, &callers);
                crate::notices::show_until_withdrawn(&self.app, notice, withdrawal);
            }
        }
        state.poke.notify_one();
        Ticket {
            reply: Reply::Waiting { prompt },
            outcome: Some((ticket, outcome)),
        }
    }

    fn credentials(
        &self,
        caller: Caller,
        request: CredentialsRequest,
    ) -> std::pin::Pin<Box<dyn Future<Output = Reply> + Send>> {
        let app = self.app.clone();
        Box::pin(async move {
            let state = app.state::<AppState>();
            let ctx = state.ctx();
            let wanted = Wanted {
                profile: &request.profile,
                role_arn: request.role_arn.as_deref(),
                config_file: request.config_file.as_deref(),
                valid_for_seconds: request.valid_for,
            };
            let question = ApprovalQuestion {
                wait: ctx.settings.sign_in_wait(),
                home: ctx.env.home(),
            };
            let approver = Approver::Ask(&question);
            let answer = state
                .agent
                .credentials(&ctx, &wanted, &caller, approver)
                .await;
            if ctx.settings.approve(&request.profile) != Approve::Never {
                // An approval may have been given: the tray lists it.
                state.poke.notify_one();
            }
            match answer {
                Ok(handed) => Reply::credentials(&handed),
                Err(why) => {
                    let session = why
                        .needs_sign_in()
                        .then(|| CredentialAgent::session_of(&ctx, &request.profile))
                        .flatten();
                    Reply::not_handed(&why, session.map(|id| id.key()))
                }
            }
        })
    }

    fn hang_up(&self, ticket: u64) {
        let state = self.app.state::<AppState>();
        state
            .shared()
            .change_waiters(|waiters| waiters.hang_up(ticket));
        state.poke.notify_one();
    }
}

/// The sessions helpers wait for now.
fn waiting_sessions(app: &AppHandle) -> Vec<SessionId> {
    let state = app.state::<AppState>();
    let inner = state.shared();
    inner.activity.waiting.keys().cloned().collect()
}

/// Answers the waiters of sessions that are signed in now (from a terminal, or `aws sso
/// login`): the status the background loop just computed says so.
pub fn answer_signed_in(app: &AppHandle, status: &Status) {
    for id in waiting_sessions(app) {
        let signed_in = status
            .sessions
            .iter()
            .any(|s| s.id == id && s.state.is_signed_in());
        if signed_in {
            app.state::<AppState>().answer(&id, &Reply::SignedIn);
        }
    }
}

fn answer_all_quit(app: &AppHandle) {
    let reply = Reply::Failed {
        why: Failure::AppQuit,
        detail: None,
    };
    for id in waiting_sessions(app) {
        app.state::<AppState>().answer(&id, &reply);
    }
}

/// Serves the channel from start-up. A socket left by an app that died is replaced; when it
/// cannot be served the app runs on without it and says so (helpers then sign in from their
/// terminal, or fail with the command to run).
pub fn serve(app: &AppHandle) {
    let path = socket_path(&app.state::<AppState>().ctx().paths);
    let server = match Server::bind(&path) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "ssobar-app: cannot serve sign-in requests at {} ({e}); kubectl and the AWS CLI will ask for \"ssobar login\" instead",
                path.display()
            );
            return;
        }
    };
    *app.state::<AppState>()
        .channel
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(path);
    let desk = Arc::new(Desk {
        app: app.clone(),
        next_ticket: AtomicU64::new(0),
    });
    tauri::async_runtime::spawn(async move {
        if let Err(e) = server.serve(desk).await {
            eprintln!("ssobar-app: sign-in requests are no longer served: {e}");
        }
    });
}

/// Fails every waiter and deletes the socket this app bound, as the app quits, so helpers
/// find no app at once.
pub fn stop_serving(app: &AppHandle) {
    answer_all_quit(app);
    let bound = app
        .state::<AppState>()
        .channel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(path) = bound {
        let _ = std::fs::remove_file(path);
    }
}
