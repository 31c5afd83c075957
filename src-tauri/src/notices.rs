//! Desktop notifications (notify-rust). With no notification daemon the failure is logged and
//! the app carries on: the tray still shows everything.

use crate::actions;
use crate::waiters::Withdrawal;
use ssobar_core::app::agent::AskPerson;
use ssobar_core::app::approvals::question;
use ssobar_core::app::channel::Caller;
use ssobar_core::app::monitor::Notice;
use ssobar_core::app::notices::{BodyMarkup, NotificationText, notification_text};
use ssobar_core::util::text::printable;
use tauri::AppHandle;

/// Whether this desktop's notification server renders markup in bodies; asked each time, as
/// the server may have been replaced since.
fn body_markup() -> BodyMarkup {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        BodyMarkup::of_server(notify_rust::get_capabilities().ok().as_deref())
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        BodyMarkup::Plain
    }
}

/// A notification with `summary` and `body` as [`notification_text`] has them for this
/// desktop.
fn notification(summary: &str, body: &str) -> notify_rust::Notification {
    let NotificationText { summary, body } = notification_text(summary, body, body_markup());
    let mut notification = notify_rust::Notification::new();
    notification.appname("ssobar").summary(&summary).body(&body);
    notification
}

/// Shows a notice; its "Sign in" action (or a click, where actions are not offered) signs in.
pub fn show(app: &AppHandle, notice: Notice) {
    show_and_listen(app, notice, None);
}

/// [`show`], and takes the notification off the screen when `withdrawal` says so: a
/// notification that commands wait for a sign-in goes once none waits any more.
pub fn show_until_withdrawn(app: &AppHandle, notice: Notice, withdrawal: Withdrawal) {
    show_and_listen(app, notice, Some(withdrawal));
}

fn show_and_listen(app: &AppHandle, notice: Notice, withdrawal: Option<Withdrawal>) {
    let app = app.clone();
    // Waiting for the person's click blocks, so each notification gets its own thread.
    std::thread::spawn(move || {
        let notification = notification(&notice.title, &notice.body);
        #[cfg(all(unix, not(target_os = "macos")))]
        let notification = {
            let mut notification = notification;
            notification
                .action("default", "Sign in")
                .action("sign-in", "Sign in");
            notification
        };
        match notification.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => listen(&app, &notice, handle, withdrawal),
            // No way to withdraw a notification here: it stays as the system keeps it.
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => drop((app, withdrawal)),
            Err(e) => eprintln!(
                "ssobar-app: cannot show the notification \"{}\" ({e}); is a notification daemon running?",
                printable(&notice.title)
            ),
        }
    });
}

/// Signs in when the notification is clicked; takes it off the screen (CloseNotification)
/// when `withdrawal` says so, before or after a click: some daemons (dunst) keep a clicked
/// notification on screen, and it must go once the sign-in it started lands.
#[cfg(all(unix, not(target_os = "macos")))]
fn listen(
    app: &AppHandle,
    notice: &Notice,
    handle: notify_rust::NotificationHandle,
    withdrawal: Option<Withdrawal>,
) {
    use notify_rust::NotificationResponse;
    let until_withdrawn = || async {
        match &withdrawal {
            Some(withdrawal) => withdrawal.withdrawn().await,
            None => std::future::pending().await,
        }
    };
    let mut response = None;
    let mut withdrawn = tauri::async_runtime::block_on(async {
        tokio::select! {
            () = handle.wait_for_action_async(|r| response = Some(r.clone())) => false,
            () = until_withdrawn() => true,
        }
    });
    let clicked = match &response {
        Some(NotificationResponse::Default) => true,
        Some(NotificationResponse::Action(action)) => action == "sign-in",
        _ => false,
    };
    if clicked {
        actions::start_sign_in(app, notice.session.clone(), None);
        if withdrawal.is_some() {
            tauri::async_runtime::block_on(until_withdrawn());
            withdrawn = true;
        }
    }
    if withdrawn {
        handle.close();
    }
}

/// Asks the person, in a notification with Allow and Deny, whether a program may have a
/// profile's credentials (the agent's approvals). A click on the notification allows, as its
/// default action; Deny, dismissing it or no answer within `wait` denies.
pub struct ApprovalQuestion {
    /// How long the question stays open (the `sign_in_wait` setting).
    pub wait: std::time::Duration,
    /// HOME, for writing the program's folder with `~`.
    pub home: Option<std::path::PathBuf>,
}

impl AskPerson for ApprovalQuestion {
    fn ask(
        &self,
        caller: &Caller,
        profile: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> {
        let (title, body) = question(caller, profile, self.home.as_deref());
        let wait = self.wait;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Waiting for the click blocks: the question gets its own thread.
        std::thread::spawn(move || {
            let _ = tx.send(ask_and_wait(&title, &body, wait));
        });
        Box::pin(async move { rx.await.unwrap_or(false) })
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn ask_and_wait(title: &str, body: &str, wait: std::time::Duration) -> bool {
    use notify_rust::NotificationResponse;
    let mut notification = notification(title, body);
    notification
        .action("default", "Allow")
        .action("allow", "Allow")
        .action("deny", "Deny")
        .timeout(notify_rust::Timeout::Never);
    let handle = match notification.show() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!(
                "ssobar-app: cannot ask \"{}\" ({e}); is a notification daemon running? Denied.",
                printable(title)
            );
            return false;
        }
    };
    let mut response = None;
    let answered = tauri::async_runtime::block_on(async {
        tokio::time::timeout(
            wait,
            handle.wait_for_action_async(|r| response = Some(r.clone())),
        )
        .await
        .is_ok()
    });
    let allowed = matches!(&response, Some(NotificationResponse::Default))
        || matches!(&response, Some(NotificationResponse::Action(a)) if a == "allow");
    if !answered {
        handle.close();
    }
    allowed
}

/// Without notification actions nobody can answer: denied, and said why.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn ask_and_wait(title: &str, _body: &str, _wait: std::time::Duration) -> bool {
    eprintln!(
        "ssobar-app: \"{}\" denied: approvals need notification actions, which this platform's notifications lack",
        printable(title)
    );
    false
}

/// Tells the person that something they asked for from the tray failed.
pub fn problem(title: &str, message: &str) {
    eprintln!("ssobar-app: {}", printable(&format!("{title}: {message}")));
    let title = title.to_owned();
    let message = message.to_owned();
    std::thread::spawn(move || {
        let _ = notification(&title, &message).show();
    });
}

/// Tells the person that something they asked for from the tray was done: the menu closes
/// at the click, so nothing else would say so.
pub fn done(message: &str) {
    let message = message.to_owned();
    std::thread::spawn(move || {
        let _ = notification(&message, "").show();
    });
}
