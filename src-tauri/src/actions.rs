//! What the tray menu, notifications and the window can ask for: each a call into
//! ssobar-core, with the app's bookkeeping (busy sessions, progress events) around it.

use crate::state::{AppState, SignInTask};
use crate::{WINDOW, open_window};
use serde::Serialize;
use ssobar_core::app::channel::{Failure, Reply};
use ssobar_core::app::tray::{MenuAction, RefreshRefusal, expired_sessions};
use ssobar_core::aws::portal::PortalClient;
use ssobar_core::config::SessionId;
use ssobar_core::creds::credential_env::{self, Shell};
use ssobar_core::creds::{Vault, plan};
use ssobar_core::sso::signin::{self, SignInEvent, SignInFlow, SignInOptions};
use ssobar_core::sso::token_cache::CachedToken;
use ssobar_core::util::time::format_local;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_clipboard_manager::ClipboardExt;

/// The `sign-in` event the window follows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SignInProgress {
    session: String,
    phase: &'static str,
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
    fn new(session: &SessionId, phase: &'static str) -> Self {
        Self {
            session: session.key(),
            phase,
            ..Self::default()
        }
    }

    fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The URL this event asked the person to open, if it is such an event.
    pub fn opened_url(&self) -> Option<&str> {
        if self.phase == "open-url" {
            self.url.as_deref()
        } else {
            None
        }
    }
}

fn emit(app: &AppHandle, progress: SignInProgress) {
    let _ = app.emit_to(WINDOW, "sign-in", progress);
}

/// Sends the progress of every running sign-in again, for a window that has just loaded.
pub fn replay_sign_ins(app: &AppHandle) {
    let events: Vec<SignInProgress> = app
        .state::<AppState>()
        .shared()
        .sign_ins
        .values()
        .flat_map(|task| task.events.clone())
        .collect();
    for event in events {
        emit(app, event);
    }
}

/// Runs a tray menu item.
pub fn menu(app: &AppHandle, id: &str) {
    match MenuAction::from_id(id) {
        Some(MenuAction::SignIn(session)) => start_sign_in(app, session, None),
        Some(MenuAction::Refresh(session)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = refresh(&app, session, true).await {
                    crate::notices::problem("Refresh failed", &e);
                }
            });
        }
        Some(MenuAction::SignOut(session)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = sign_out(&app, session).await {
                    crate::notices::problem("Sign-out failed", &e);
                }
            });
        }
        Some(MenuAction::CopyExports(profile)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = copy_export_lines(&app, &profile).await {
                    crate::notices::problem(&format!("Cannot copy {profile}'s credentials"), &e);
                }
            });
        }
        Some(MenuAction::SignInAllExpired) => {
            let state = app.state::<AppState>();
            let expired = {
                let inner = state.shared();
                expired_sessions(&inner.status, &inner.activity)
            };
            for session in expired {
                start_sign_in(app, session, None);
            }
        }
        Some(MenuAction::Open) => open_window(app),
        Some(MenuAction::Quit) => app.exit(0),
        None => eprintln!("ssobar-app: unknown menu item {id}"),
    }
}

/// Starts signing in to `id` (PKCE, or the device code as configured); progress goes to the
/// window as `sign-in` events. A second request for the same session joins the first.
pub fn start_sign_in(app: &AppHandle, id: SessionId, flow: Option<SignInFlow>) {
    let state = app.state::<AppState>();
    if state.shared().sign_ins.contains_key(&id) {
        open_window(app);
        return;
    }
    let (session, command) = match state.session(&id) {
        Ok(found) => found,
        Err(e) => {
            emit(app, SignInProgress::new(&id, "failed").with_message(e));
            return;
        }
    };
    state.set_busy(&id, true);
    // Held until the task is registered, so a quick task cannot finish before that.
    let mut inner = state.shared();
    let task_app = app.clone();
    let task_id = id.clone();
    let task = tauri::async_runtime::spawn(async move {
        let state = task_app.state::<AppState>();
        let ctx = state.ctx();
        // Asked for explicitly: sign in even if the token is valid but expiring.
        let options = SignInOptions {
            flow,
            force: true,
            ..SignInOptions::default()
        };
        let on_event = |event: SignInEvent| on_sign_in_event(&task_app, &task_id, event);
        let result = signin::sign_in(&ctx, &session, &options, &command, &on_event).await;
        state.shared().sign_ins.remove(&task_id);
        state.set_busy(&task_id, false);
        match &result {
            Ok(_) => crate::requests::answer(&task_app, &task_id, &Reply::SignedIn),
            Err(e) => crate::requests::answer(
                &task_app,
                &task_id,
                &Reply::Failed {
                    why: Failure::SignInFailed,
                    detail: Some(e.to_string()),
                },
            ),
        }
        match result {
            Ok(outcome) => {
                let expires = outcome.token().expires_at;
                let message = format!(
                    "Signed in until {}",
                    format_local(expires, ctx.now(), &ctx.tz)
                );
                emit(
                    &task_app,
                    SignInProgress::new(&task_id, "done").with_message(message),
                );
                learn_account_names(&task_app, &task_id).await;
            }
            Err(e) => emit(
                &task_app,
                SignInProgress::new(&task_id, "failed").with_message(e.to_string()),
            ),
        }
    });
    inner.sign_ins.insert(
        id,
        SignInTask {
            abort: task.inner().abort_handle(),
            events: Vec::new(),
        },
    );
}

fn on_sign_in_event(app: &AppHandle, id: &SessionId, event: SignInEvent) {
    let device_code = matches!(event, SignInEvent::DeviceCode { .. });
    let progress = match event {
        SignInEvent::WaitingForOtherSignIn => SignInProgress::new(id, "waiting-for-other"),
        SignInEvent::OpenUrl { url, opened } => SignInProgress {
            url: Some(url),
            opened: Some(opened.is_ok()),
            ..SignInProgress::new(id, "open-url")
        },
        SignInEvent::DeviceCode {
            user_code,
            verification_uri,
            verification_uri_complete,
        } => SignInProgress {
            url: verification_uri_complete,
            user_code: Some(user_code),
            verification_uri: Some(verification_uri),
            ..SignInProgress::new(id, "device-code")
        },
        SignInEvent::Waiting => SignInProgress::new(id, "waiting"),
    };
    if let Some(task) = app.state::<AppState>().shared().sign_ins.get_mut(id) {
        task.events.push(progress.clone());
    }
    emit(app, progress);
    if device_code {
        // The person has to read the code: show the window (a new one gets the progress
        // replayed when it loads).
        open_window(app);
    }
}

/// Cancels a running sign-in, and fails every helper waiting for one at once.
pub fn cancel_sign_in(app: &AppHandle, id: &SessionId) {
    let state = app.state::<AppState>();
    let task = state.shared().sign_ins.remove(id);
    if let Some(task) = task {
        task.abort.abort();
        state.set_busy(id, false);
        emit(app, SignInProgress::new(id, "cancelled"));
    }
    let cancelled = Reply::Failed {
        why: Failure::Cancelled,
        detail: None,
    };
    crate::requests::answer(app, id, &cancelled);
}

/// Opens the running sign-in's URL again.
pub fn open_browser_again(app: &AppHandle, id: &SessionId) -> Result<(), String> {
    let state = app.state::<AppState>();
    let url = state.shared().sign_ins.get(id).and_then(SignInTask::url);
    let url = url.ok_or_else(|| "no sign-in is waiting for the browser".to_owned())?;
    ssobar_core::sso::browser::open_url(&state.ctx().env, &url).map(|_| ())
}

/// Refreshes a session; `force` refreshes even outside the refresh window.
pub async fn refresh(app: &AppHandle, id: SessionId, force: bool) -> Result<(), String> {
    let state = app.state::<AppState>();
    let (session, command) = state.session(&id)?;
    state.set_busy(&id, true);
    let ctx = state.ctx();
    let result = signin::refresh(&ctx, &session, force, &command).await;
    {
        let mut inner = state.shared();
        inner.activity.busy.remove(&id);
        match &result {
            Err(signin::SignInError::SignInNeeded { reason, .. }) => {
                let expires = match ctx.tokens.load(&id) {
                    CachedToken::Present(t) => Some(t.expires_at),
                    _ => None,
                };
                inner
                    .activity
                    .refresh_failed
                    .insert(id.clone(), RefreshRefusal::new(reason.clone(), expires));
            }
            _ => {
                inner.activity.refresh_failed.remove(&id);
            }
        }
    }
    state.poke.notify_one();
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Signs out of a session (portal, token, stored credentials).
pub async fn sign_out(app: &AppHandle, id: SessionId) -> Result<(), String> {
    let state = app.state::<AppState>();
    let (session, _) = state.session(&id)?;
    state.set_busy(&id, true);
    let ctx = state.ctx();
    let config = ctx.load_config();
    let result = signin::sign_out(&ctx, &config, &session).await;
    state.set_busy(&id, false);
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// A profile's credentials as `export` lines, as `ssobar env` prints them (fetched into the
/// keychain if need be).
async fn export_lines(app: &AppHandle, profile: &str) -> Result<String, String> {
    let ctx = app.state::<AppState>().ctx();
    let config = ctx.load_config();
    let steps = plan(&config, profile).map_err(|e| e.to_string())?;
    let creds = Vault::new(&ctx)
        .credentials(&steps)
        .await
        .map_err(|e| e.to_string())?;
    Ok(credential_env::export_script(
        Shell::Sh,
        profile,
        &creds,
        config.profile_region(profile),
    ))
}

/// Copies a profile's export lines to the clipboard, and takes them off it again after the
/// `clipboard_clear_seconds` setting, unless something else was copied since: credentials
/// must not linger where every program can read them.
pub async fn copy_export_lines(app: &AppHandle, profile: &str) -> Result<(), String> {
    let lines = export_lines(app, profile).await?;
    app.clipboard()
        .write_text(lines.clone())
        .map_err(|e| e.to_string())?;
    let after = app
        .state::<AppState>()
        .ctx()
        .settings
        .clipboard_clear_seconds;
    if after > 0 {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(after))).await;
            let clipboard = app.clipboard();
            if clipboard.read_text().is_ok_and(|now| now == lines) {
                let _ = clipboard.clear();
            }
        });
    }
    Ok(())
}

/// Learns the account names of a session from the portal, for the menu (best effort).
pub async fn learn_account_names(app: &AppHandle, id: &SessionId) {
    let state = app.state::<AppState>();
    let ctx = state.ctx();
    let Ok((session, _)) = state.session(id) else {
        return;
    };
    let CachedToken::Present(token) = ctx.tokens.load(id) else {
        return;
    };
    if token.expires_at <= ctx.now() {
        return;
    }
    if let Ok(portal) = PortalClient::new(&ctx.env, &session.region)
        && let Ok(accounts) = portal.accounts(&token.access_token).await
    {
        let mut inner = state.shared();
        for account in accounts {
            if let Some(name) = account.account_name {
                inner
                    .activity
                    .account_names
                    .insert(account.account_id, name);
            }
        }
        drop(inner);
        state.poke.notify_one();
    }
}
