//! Waking up with the machine: after a suspend the wall clock has moved on while the loop's
//! timer (monotonic) stood still, so a session that expired during the sleep would still
//! show as valid until the next minute. On Linux logind announces the wake-up with
//! `PrepareForSleep(false)` on the system bus; the loop re-checks at once.

use tauri::AppHandle;

/// Listens for the system's wake-ups in a thread of its own, for as long as the app runs.
#[cfg(target_os = "linux")]
pub fn start(app: &AppHandle) {
    use crate::state::AppState;
    use dbus::blocking::Connection;
    use dbus::message::MatchRule;
    use std::time::Duration;
    use tauri::Manager;

    let poke = app.state::<AppState>().poke.clone();
    let listening = std::thread::Builder::new()
        .name("resume".into())
        .spawn(move || {
            let bus = match Connection::new_system() {
                Ok(bus) => bus,
                Err(e) => {
                    eprintln!(
                        "ssobar-app: no system bus ({e}); after a suspend the tray catches up within a minute"
                    );
                    return;
                }
            };
            // Any sender: a forged signal can only make the app look at its files again.
            let rule = MatchRule::new_signal("org.freedesktop.login1.Manager", "PrepareForSleep");
            let added = bus.add_match(rule, move |(going_to_sleep,): (bool,), _, _| {
                if !going_to_sleep {
                    poke.notify_one();
                }
                true
            });
            if let Err(e) = added {
                eprintln!("ssobar-app: cannot follow suspend and resume ({e})");
                return;
            }
            while bus.process(Duration::from_secs(3600)).is_ok() {}
        });
    if let Err(e) = listening {
        eprintln!("ssobar-app: cannot follow suspend and resume ({e})");
    }
}

/// Elsewhere the tray catches up at the loop's next minute.
#[cfg(not(target_os = "linux"))]
pub fn start(_app: &AppHandle) {}
