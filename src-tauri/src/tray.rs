//! Renders core's tray model (icon, tooltip, menu) with Tauri's tray and menu types.

use crate::state::AppState;
use crate::{actions, notices, open_window};
use ssobar_core::app::actions::expired_sessions;
use ssobar_core::app::tray::{self as model, MenuAction, MenuEntry, TrayState};
use ssobar_core::sso::signin::RefreshWhen;
use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

/// The tray icon's id (the XEmbed window of the icon is named after it on Linux).
pub const TRAY_ID: &str = "ssobar";

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::Neutral => include_bytes!("../../icons/tray/neutral.png"),
        TrayState::Ok => include_bytes!("../../icons/tray/ok.png"),
        TrayState::Expiring => include_bytes!("../../icons/tray/expiring.png"),
        TrayState::Expired => include_bytes!("../../icons/tray/expired.png"),
        TrayState::Busy => include_bytes!("../../icons/tray/busy.png"),
    };
    Image::from_bytes(bytes)
}

/// Creates the tray icon with an initial menu; the background loop keeps it current.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let menu = build_menu(
        app,
        &[MenuEntry::Item {
            action: MenuAction::Quit,
            label: "Quit".into(),
            enabled: true,
        }],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayState::Neutral)?)
        .tooltip("ssobar")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| run_menu_item(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Shows the current status in the tray, touching only what changed.
pub fn render(app: &AppHandle, now: jiff::Timestamp) {
    let state = app.state::<AppState>();
    let (entries, icon_state, tooltip, title) = {
        let inner = state.shared();
        (
            model::menu(&inner.status, &inner.activity, now),
            model::tray_state(&inner.status, &inner.activity),
            model::tooltip(&inner.status, &inner.activity, now),
            model::shortest_left(&inner.status, now),
        )
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let previous = state.shared().rendered.take();
    let (old_entries, old_icon, old_tooltip) = match previous {
        Some((e, i, t)) => (Some(e), Some(i), Some(t)),
        None => (None, None, None),
    };
    let mut result = Ok(());
    if old_entries.as_ref() != Some(&entries) {
        result = build_menu(app, &entries).and_then(|menu| tray.set_menu(Some(menu)));
    }
    if old_icon != Some(icon_state) {
        result = result.and_then(|()| tray.set_icon(Some(icon(icon_state)?)));
    }
    if old_tooltip.as_ref() != Some(&tooltip) {
        result = result.and_then(|()| tray.set_tooltip(Some(&tooltip)));
    }
    if cfg!(target_os = "macos") {
        result = result.and_then(|()| tray.set_title(title.as_deref()));
    }
    match result {
        Ok(()) => state.shared().rendered = Some((entries, icon_state, tooltip)),
        Err(e) => eprintln!("ssobar-app: cannot update the tray: {e}"),
    }
}

/// Runs a tray menu item.
pub fn run_menu_item(app: &AppHandle, id: &str) {
    match MenuAction::from_id(id) {
        Some(MenuAction::SignIn(session)) => actions::start_sign_in(app, session, None),
        Some(MenuAction::Refresh(session)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = actions::refresh(&app, session, RefreshWhen::Now).await {
                    notices::problem("Refresh failed", &e);
                }
            });
        }
        Some(MenuAction::SignOut(session)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = actions::sign_out(&app, session).await {
                    notices::problem("Sign-out failed", &e);
                }
            });
        }
        Some(MenuAction::CopyExports(profile)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = actions::copy_export_lines(&app, &profile).await {
                    notices::problem(&format!("Cannot copy {profile}'s credentials"), &e);
                }
            });
        }
        Some(MenuAction::Role(action, role)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                match actions::run_role_action(&app, action, &role).await {
                    Ok(done) => notices::done(&done),
                    Err(e) => notices::problem(&format!("{} failed", action.label()), &e),
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
                actions::start_sign_in(app, session, None);
            }
        }
        Some(MenuAction::SetUp) => {
            // Opened again after it was closed: the first-run view shows once more.
            let state = app.state::<AppState>();
            state.shared().activity.setup.closed = false;
            state.poke.notify_one();
            open_window(app);
        }
        Some(MenuAction::Revoke(asker)) => {
            let state = app.state::<AppState>();
            state.agent.revoke(&asker);
            state.poke.notify_one();
        }
        Some(MenuAction::Open) => open_window(app),
        Some(MenuAction::Quit) => app.exit(0),
        None => eprintln!("ssobar-app: unknown menu item {id}"),
    }
}

fn build_menu(app: &AppHandle, entries: &[MenuEntry]) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    for entry in entries {
        append(app, entry, &|item| menu.append(item))?;
    }
    Ok(menu)
}

fn append(
    app: &AppHandle,
    entry: &MenuEntry,
    add: &dyn Fn(&dyn IsMenuItem<Wry>) -> tauri::Result<()>,
) -> tauri::Result<()> {
    match entry {
        MenuEntry::Label(text) => add(&MenuItem::new(app, text, false, None::<&str>)?),
        MenuEntry::Item {
            action,
            label,
            enabled,
        } => add(&MenuItem::with_id(
            app,
            action.id(),
            label,
            *enabled,
            None::<&str>,
        )?),
        MenuEntry::Separator => add(&PredefinedMenuItem::separator(app)?),
        MenuEntry::Submenu { label, entries } => {
            let submenu = Submenu::new(app, label, true)?;
            for inner in entries {
                append(app, inner, &|item| submenu.append(item))?;
            }
            add(&submenu)
        }
    }
}
