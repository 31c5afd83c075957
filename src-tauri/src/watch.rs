//! The background loop: recompute the status when a file changes or the clock says so (the
//! next minute, expiry or warning), then show what changed. No polling in between.

use crate::state::AppState;
use crate::{actions, notices, tray};
use notify::{RecursiveMode, Watcher};
use ssobar_core::app::directory;
use ssobar_core::app::monitor::{
    StatusView, directories_due, due_refreshes, forget_renewed_refusals, next_wake, status_view,
};
use ssobar_core::creds::{Vault, plan};
use ssobar_core::settings::Settings;
use ssobar_core::sso::signin::RefreshWhen;
use std::collections::BTreeMap;
use std::time::Duration;
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt;

/// Starts watching the AWS files and the clock.
pub fn start(app: AppHandle) {
    watch_files(&app);
    tauri::async_runtime::spawn(async move {
        loop {
            rewatch(&app);
            let next = update(&app);
            let state = app.state::<AppState>();
            let now = state.ctx().now();
            let wait = Duration::from_secs(
                u64::try_from((next.as_second() - now.as_second()).max(1)).unwrap_or(60),
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = state.poke.notified() => {
                    // Let a burst of file events settle into one update.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            }
        }
    });
}

/// Watches the folders of `~/.aws/config` and the SSO token cache, each on its own: a change
/// made by `aws sso login` in a terminal shows in the tray at once, and a change anywhere
/// else wakes nothing.
fn watch_files(app: &AppHandle) {
    let state = app.state::<AppState>();
    let poke = state.poke.clone();
    let paths = state.ctx().paths;
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && event.paths.iter().any(|p| paths.affects_status(p))
        {
            poke.notify_one();
        }
    });
    match watcher {
        Ok(watcher) => {
            *state.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some((watcher, Vec::new()));
            rewatch(app);
        }
        Err(e) => eprintln!("ssobar-app: cannot watch files ({e}); changes show within a minute"),
    }
}

/// Watches the folders [`Paths::watch_folders`] names now: a folder that appeared (the SSO
/// cache, at the first sign-in) replaces the ancestor watched in its place. Called by the
/// loop, never by the watcher's own callback, which would wait on itself.
///
/// [`Paths::watch_folders`]: ssobar_core::paths::Paths::watch_folders
fn rewatch(app: &AppHandle) {
    let state = app.state::<AppState>();
    let wanted = state.ctx().paths.watch_folders(std::path::Path::exists);
    let mut slot = state.watcher.lock().unwrap_or_else(|p| p.into_inner());
    let Some((watcher, watched)) = slot.as_mut() else {
        return;
    };
    if *watched == wanted {
        return;
    }
    for gone in watched.iter().filter(|f| !wanted.contains(f)) {
        let _ = watcher.unwatch(gone);
    }
    for folder in wanted.iter().filter(|f| !watched.contains(f)) {
        if let Err(e) = watcher.watch(folder, RecursiveMode::NonRecursive) {
            eprintln!("ssobar-app: cannot watch {} ({e})", folder.display());
        }
    }
    *watched = wanted;
}

/// Recomputes the status and shows what changed; returns when to look again. The tray and
/// the window are both given this one status.
fn update(app: &AppHandle) -> jiff::Timestamp {
    let state = app.state::<AppState>();
    let (ctx, config, status) = state.compute_status();
    // A token that changed (signed out, in again, refreshed) retires what the agent holds.
    state.agent.forget_retired(&ctx);
    let now = ctx.now();
    let (notices, refreshes, listings, search_changed) = {
        let mut inner = state.shared();
        forget_renewed_refusals(&mut inner.activity, &status);
        let inner = &mut *inner;
        let notices = inner
            .notifier
            .due(&status, &inner.activity, now, &ctx.settings);
        let refreshes = due_refreshes(&status, &mut inner.activity, now, &ctx.settings);
        // Marked here, under the lock, so that the next wake does not start them again.
        let listings = directories_due(&status, &inner.activity, now);
        inner.activity.listing.extend(listings.iter().cloned());
        inner.status = status.clone();
        inner.config = config;
        inner.activity.approvals = state.agent.approvals(now);
        let search = directory::search_view(&inner.status, &inner.activity);
        let search_changed = search != inner.search_shown;
        inner.search_shown = search;
        (notices, refreshes, listings, search_changed)
    };
    crate::requests::answer_signed_in(app, &status);
    for notice in notices {
        notices::show(app, notice);
    }
    for id in refreshes {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            // A refusal is recorded as "sign-in needed" by refresh itself, and a passing
            // failure waits for due_refreshes' next turn: no retry loop either way.
            let _ = actions::refresh(&app, id, RefreshWhen::Due).await;
        });
    }
    for id in listings {
        let app = app.clone();
        tauri::async_runtime::spawn(async move { actions::list_accounts(&app, &id).await });
    }
    tray::render(app, now);
    if search_changed {
        crate::emit_to_window(app, "accounts-changed", ());
    }
    if crate::shown_window(app).is_some() {
        let app = app.clone();
        tauri::async_runtime::spawn_blocking(move || {
            let state = app.state::<AppState>();
            let _turn = state.view_turn.lock().unwrap_or_else(|p| p.into_inner());
            let view = view(&app);
            crate::emit_to_window(&app, "status-changed", view);
        });
    }
    next_wake(&status, now, &ctx.settings)
}

/// The window's view of the status the last wake computed (the one the tray shows), with the
/// stored credentials' expiry of each SSO profile read from the keychain, which is why it
/// runs off the main thread.
pub fn view(app: &AppHandle) -> StatusView {
    let state = app.state::<AppState>();
    let ctx = state.ctx();
    let (status, config) = {
        let inner = state.shared();
        (inner.status.clone(), inner.config.clone())
    };
    let vault = Vault::new(&ctx);
    let credentials: BTreeMap<String, jiff::Timestamp> = status
        .profiles
        .iter()
        .filter(|p| p.session_id.is_some())
        .filter_map(|p| {
            let steps = plan(&config, &p.profile).ok()?;
            let creds = vault.cached(&steps).ok()??;
            Some((p.profile.clone(), creds.expiration))
        })
        .collect();
    // The activity is read after the keychain, so a sign-in that ended meanwhile shows.
    let inner = state.shared();
    status_view(
        &status,
        &inner.activity,
        &credentials,
        ctx.now(),
        state.demo.is_some(),
    )
}

/// Saves new settings and applies them: tokens follow a change of store, and start at login
/// is turned on or off.
pub fn apply_settings(app: &AppHandle, settings: Settings) -> Result<Settings, String> {
    let state = app.state::<AppState>();
    let before = state.ctx();
    settings
        .save(&before.paths.settings_file)
        .map_err(|e| format!("cannot save {}: {e}", before.paths.settings_file.display()))?;
    // When the token store changes, each token moves to the new one on its first read
    // (`SwitchableStore`), which the status computed right after this does.
    let after = state.reload().map_err(|e| e.to_string())?;
    apply_start_at_login(app, after.settings.start_at_login).map_err(|e| {
        format!("the setting is saved, but start at login could not be changed: {e}")
    })?;
    state.poke.notify_one();
    Ok(after.settings)
}

/// Registers the app to start at login, or not, as the setting says, however it was set (the
/// window, the settings file, `SSOBAR_START_AT_LOGIN`). Not in demo mode: the demo's settings
/// are throwaway, and the login items are the person's own.
pub fn apply_start_at_login(app: &AppHandle, wanted: bool) -> Result<(), String> {
    if app.state::<AppState>().demo.is_some() {
        return Ok(());
    }
    let autostart = app.autolaunch();
    if autostart.is_enabled().map_err(|e| e.to_string())? == wanted {
        return Ok(());
    }
    let changed = if wanted {
        autostart.enable()
    } else {
        autostart.disable()
    };
    changed.map_err(|e| e.to_string())
}
