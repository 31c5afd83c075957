//! Renders core's tray model (icon, tooltip, menu) with Tauri's tray and menu types.

use crate::actions;
use crate::state::AppState;
use ssobar_core::app::tray::{self as model, MenuEntry, TrayState};
use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

/// The tray icon's id (the XEmbed window of the icon is named after it on Linux).
pub const TRAY_ID: &str = "ssobar";

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match state {
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
            action: model::MenuAction::Quit,
            label: "Quit".into(),
            enabled: true,
        }],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayState::Ok)?)
        .tooltip("ssobar")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| actions::menu(app, event.id().as_ref()))
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
