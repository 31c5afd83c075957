//! ssobar-app: the tray app. A thin shell over ssobar-core: it renders core's status as a
//! tray icon, tooltip and menu, shows core's notifications, and runs core's sign-in, refresh
//! and sign-out when asked; the window (`ui/`) calls the same actions through commands.

// No console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod actions;
mod commands;
mod demo;
mod first_run;
mod notices;
mod progress;
mod requests;
mod resume;
mod state;
mod tray;
mod waiters;
mod watch;

use clap::Parser;
use ssobar_core::env::Env;
use state::AppState;
use std::sync::atomic::Ordering;
use tauri::{Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

/// ssobar's tray app: your AWS SSO sessions in the menu bar.
#[derive(Parser)]
#[command(name = "ssobar-app", version = ssobar_version::VERSION, about)]
struct Args {
    /// Run against a built-in fake AWS with three demo sessions (no AWS account needed).
    #[arg(long)]
    demo: bool,
    /// Open the window at start (it opens from the tray menu otherwise).
    #[arg(long)]
    window: bool,
}

/// The window's label.
pub const WINDOW: &str = "main";

/// Shows the window, building it the first time. A closed window holds no web process: on
/// Linux it is kept hidden without one (`keep_window_on_close`), so showing it again loads the
/// page afresh; elsewhere it was destroyed. All of it is one turn of the main thread: a close
/// that arrives meanwhile is handled before or after the opening, never between its steps
/// (a focus after the close's hide would show the window again, with no page in it).
pub fn open_window(app: &tauri::AppHandle) {
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || open_window_now(&handle)) {
        eprintln!("ssobar-app: cannot open the window: {e}");
    }
}

fn open_window_now(app: &tauri::AppHandle) {
    let was_shown = app
        .state::<AppState>()
        .window_shown
        .swap(true, Ordering::Relaxed);
    if let Some(window) = app.get_webview_window(WINDOW) {
        if !was_shown {
            let _ = window.reload();
        }
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App("index.html".into()))
        .title("ssobar")
        .inner_size(780.0, 660.0)
        .min_inner_size(420.0, 360.0)
        .build();
    match built {
        #[cfg(target_os = "linux")]
        Ok(window) => keep_window_on_close(&window),
        #[cfg(not(target_os = "linux"))]
        Ok(_) => {}
        Err(e) => {
            app.state::<AppState>()
                .window_shown
                .store(false, Ordering::Relaxed);
            eprintln!("ssobar-app: cannot open the window: {e}");
        }
    }
}

/// The window while the person can see it; a closed one is hidden, with no page loaded.
pub fn shown_window(app: &tauri::AppHandle) -> Option<tauri::WebviewWindow> {
    let shown = app.state::<AppState>().window_shown.load(Ordering::Relaxed);
    app.get_webview_window(WINDOW).filter(|_| shown)
}

/// Sends `event` to the window while it is on show. A closed window has no page to hear it (on
/// Linux its web process was ended, and a script sent to it would start a new one); the page
/// loads what it shows afresh when the window opens.
pub fn emit_to_window<S: serde::Serialize + Clone>(
    app: &tauri::AppHandle,
    event: &str,
    payload: S,
) {
    if shown_window(app).is_some() {
        let _ = app.emit_to(WINDOW, event, payload);
    }
}

/// On Linux, closing the window hides it and ends its web process instead of destroying it.
/// WebKitGTK keeps a shared-memory descriptor in this process for every web view destroyed
/// (docs/reliability.md, "Soak"), so a tray that built a new view for each opening would gain
/// one descriptor per window for as long as it runs; one view, reloaded when shown, holds the
/// same few. Ending the web process gives its memory back, as destroying the view did.
#[cfg(target_os = "linux")]
fn keep_window_on_close(window: &tauri::WebviewWindow) {
    let closing = window.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::CloseRequested { api, .. } = event {
            api.prevent_close();
            closing
                .state::<AppState>()
                .window_shown
                .store(false, Ordering::Relaxed);
            let _ = closing.hide();
            let _ = closing.with_webview(|view| {
                use webkit2gtk::WebViewExt;
                view.inner().terminate_web_process();
            });
        }
    });
}

/// Set in the environment of a launch that replaces an instance which quit during handover.
const STARTED_AGAIN: &str = "SSOBAR_APP_STARTED_AGAIN";

/// What tauri-plugin-single-instance says when the running instance did not take this
/// launch's arguments. The plugin reports it only as text (a `String` inside the setup error,
/// no error type of its own), so the text is all there is to recognise it by.
const HANDOVER_FAILED: &str = "failed to forward arguments to the running instance";

/// True when another instance held the single-instance name but quit before it took this
/// launch's arguments, as happens when the app is launched while the previous one exits.
fn handover_failed(error: &tauri::Error) -> bool {
    error.to_string().contains(HANDOVER_FAILED)
}

/// Replaces this process with a fresh launch of the same command, which finds the name free
/// and becomes the running instance. Once only: a second failure is reported instead.
fn start_again() {
    #[cfg(unix)]
    if std::env::var_os(STARTED_AGAIN).is_none()
        && let Ok(program) = std::env::current_exe()
    {
        use std::os::unix::process::CommandExt;
        // exec returns only on failure; the caller then reports the original error.
        let _ = std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(STARTED_AGAIN, "1")
            .exec();
    }
}

/// Logs to stderr what `RUST_LOG` asks for, redacted as `ssobar`'s log is (see
/// `ssobar_core::util::secret::redact_log`); without the variable nothing is installed.
fn install_log_subscriber() {
    if std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    // The only failure is a subscriber already installed, which cannot be: main calls this
    // first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(|| ssobar_core::util::secret::RedactingWriter::new(std::io::stderr()))
        .try_init();
}

/// Raises this process's soft limit on open descriptors to its hard limit. WebKit keeps one
/// small shared-memory descriptor for every window opened and closed (docs/reliability.md,
/// "Soak"), so a tray app that runs for months at the usual soft limit of 1,024 could run
/// out; the hard limit is what the system allows a user anyway. A limit that cannot be
/// raised (macOS refuses "unlimited") stays as it was.
#[cfg(unix)]
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    // `None` is "unlimited", which Linux never reports for descriptors and macOS refuses to
    // set; only a finite hard limit above the soft one is taken.
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
        && soft < hard
    {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

fn main() {
    install_log_subscriber();
    #[cfg(unix)]
    raise_descriptor_limit();
    let args = Args::parse();
    let (env, demo) = if args.demo {
        match demo::start() {
            Ok((demo, env)) => (env, Some(demo)),
            Err(e) => {
                eprintln!("ssobar-app: cannot start the demo: {e}");
                std::process::exit(1);
            }
        }
    } else {
        (Env::from_process(), None)
    };
    let state = match AppState::new(env, demo) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("ssobar-app: {e}");
            std::process::exit(1);
        }
    };
    // A newcomer, with no SSO session yet, is shown the first run rather than a tray icon.
    let open_at_start = args.window
        || ssobar_core::app::first_run::opens_window_at_start(&state.compute_status().2);

    let demo = state.demo.is_some();
    let mut builder = tauri::Builder::default();
    // One app per desktop session, but a demo runs beside it: it must neither hand its launch
    // over to the real app nor take real launches from it.
    if !demo {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            // A second launch (from the desktop menu, say) opens this instance's window.
            open_window(app);
        }));
    }
    let app = builder
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::activity,
            commands::approval_settings,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::open_browser_again,
            commands::refresh,
            commands::sign_out,
            commands::copy_export_lines,
            commands::accounts,
            commands::role_action,
            commands::find_clusters,
            commands::cluster_action,
            commands::setup_start,
            commands::setup_step,
            commands::get_settings,
            commands::network,
            commands::save_settings,
            commands::version,
        ])
        .setup(move |app| {
            tray::create(app.handle())?;
            let start_at_login = app.state::<AppState>().ctx().settings.start_at_login;
            if let Err(e) = watch::apply_start_at_login(app.handle(), start_at_login) {
                eprintln!("ssobar-app: cannot change start at login: {e}");
            }
            requests::serve(app.handle());
            watch::start(app.handle().clone());
            resume::start(app.handle());
            if open_at_start {
                open_window(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            if handover_failed(&e) {
                start_again();
                eprintln!(
                    "ssobar-app: another ssobar-app holds the tray but does not answer ({e}); \
                     quit it with `pkill -x ssobar-app` and start ssobar-app again"
                );
                std::process::exit(1);
            }
            eprintln!("ssobar-app: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        match event {
            // Closing the last window leaves the tray running; only "Quit" ends the app.
            RunEvent::ExitRequested {
                api, code: None, ..
            } => api.prevent_exit(),
            RunEvent::Exit => {
                requests::stop_serving(app);
                app.state::<AppState>().shut_down();
            }
            _ => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_one() {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut lowered = getrlimit(Resource::Nofile);
        let hard = lowered.maximum;
        lowered.current = hard.map(|h| h.min(256));
        setrlimit(Resource::Nofile, lowered).unwrap();
        raise_descriptor_limit();
        let raised = getrlimit(Resource::Nofile);
        // Linux reports a finite hard limit for descriptors (at most fs.nr_open).
        assert!(hard.is_some());
        assert_eq!(raised.current, hard);
    }

    #[test]
    fn a_failed_handover_is_told_from_other_start_up_errors() {
        let handover = tauri::Error::PluginInitialization(
            "single-instance".into(),
            format!("{HANDOVER_FAILED}: org.freedesktop.DBus.Error.ServiceUnknown"),
        );
        assert!(handover_failed(&handover), "{handover}");
        let other = tauri::Error::PluginInitialization(
            "single-instance".into(),
            "cannot connect to the session bus".into(),
        );
        assert!(!handover_failed(&other));
    }
}
