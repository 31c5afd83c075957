//! Desktop notifications (notify-rust). With no notification daemon the failure is logged and
//! the app carries on: the tray still shows everything.

use crate::actions;
use ssobar_core::app::monitor::Notice;
use tauri::AppHandle;

/// Shows a notice; its "Sign in" action (or a click, where actions are not offered) signs in.
pub fn show(app: &AppHandle, notice: Notice) {
    let app = app.clone();
    // Waiting for the person's click blocks, so each notification gets its own thread.
    std::thread::spawn(move || {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("ssobar")
            .summary(&notice.title)
            .body(&notice.body);
        #[cfg(all(unix, not(target_os = "macos")))]
        notification
            .action("default", "Sign in")
            .action("sign-in", "Sign in");
        match notification.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "sign-in" || action == "default" {
                    actions::start_sign_in(&app, notice.session.clone(), None);
                }
            }),
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => drop(app),
            Err(e) => eprintln!(
                "ssobar-app: cannot show the notification \"{}\" ({e}); is a notification daemon running?",
                notice.title
            ),
        }
    });
}

/// Tells the person that something they asked for from the tray failed.
pub fn problem(title: &str, message: &str) {
    eprintln!("ssobar-app: {title}: {message}");
    let title = title.to_owned();
    let message = message.to_owned();
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new()
            .appname("ssobar")
            .summary(&title)
            .body(&message)
            .show();
    });
}

/// Tells the person that something they asked for from the tray was done: the menu closes
/// at the click, so nothing else would say so.
pub fn done(message: &str) {
    let message = message.to_owned();
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new()
            .appname("ssobar")
            .summary(&message)
            .show();
    });
}
