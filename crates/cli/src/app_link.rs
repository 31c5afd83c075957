//! The helper's side of the channel to the running tray app: asking it to sign in to a
//! session and waiting for the outcome, saying on stderr what the person has to do.

use crate::args::WaitArg;
use crate::runtime;
use anyhow::{Result, anyhow, bail};
use ssobar_core::app::agent::Handed;
use ssobar_core::app::channel::{
    self, AgentAnswer, AppLink, Failure, LinkError, Prompt, Reach, Reply, Request, Start,
};
use ssobar_core::config::SsoSessionConfig;
use ssobar_core::context::Context;
use ssobar_core::util::fsutil::NotPrivate;
use ssobar_core::util::text::printable;
use ssobar_core::util::time::spoken_duration;
use std::sync::atomic::{AtomicBool, Ordering};

/// The app's credentials for `profile` (a role to assume first with `role_arn`), when an app
/// of this user runs, reads the same AWS config and hands them out within the channel's
/// deadlines; `None` sends the command its own way (the keychain).
pub(crate) fn credentials_from_app(
    ctx: &Context,
    profile: &str,
    role_arn: Option<&str>,
) -> Option<Handed> {
    let request = Request::Credentials {
        profile: profile.to_owned(),
        role_arn: role_arn.map(str::to_owned),
        config_file: Some(ctx.paths.config_file.clone()),
        valid_for: i64::from(ctx.settings.credential_margin_minutes) * 60,
    };
    match channel::ask_for_credentials(&channel::socket_path(&ctx.paths), &request) {
        AgentAnswer::Handed(handed) => Some(handed),
        AgentAnswer::Refused(why) => {
            say_not_private(&why);
            None
        }
        AgentAnswer::NotHanded { .. } | AgentAnswer::NoApp => None,
    }
}

/// Says why the app's folder is not used, once per process: a command may ask the app for
/// credentials and then for a sign-in.
fn say_not_private(why: &NotPrivate) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        errln!("ssobar: not using ssobar-app: {why}");
    }
}

/// What the app said, when one answered.
pub(crate) enum AppAnswer {
    /// The session is signed in now.
    SignedIn,
    /// No app runs (or none of this user's), or its folder is not private to this user.
    NoApp,
}

/// Asks the running app to sign in to `session` and waits up to `wait` for it, saying on
/// stderr what the person has to do. Errors name `login`.
pub(crate) fn ask_app(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    wait: WaitArg,
    start: Start,
) -> Result<AppAnswer> {
    let path = channel::socket_path(&ctx.paths);
    let label = session.id.label();
    let wait = wait.duration(ctx);
    runtime()?.block_on(async {
        let mut link = match AppLink::connect(&path).await {
            Reach::App(link) => link,
            Reach::NoApp => return Ok(AppAnswer::NoApp),
            Reach::Refused(why) => {
                say_not_private(&why);
                return Ok(AppAnswer::NoApp);
            }
        };
        let request = Request::SignIn {
            session: session.id.key(),
            start,
        };
        let talk = async {
            link.send(&request).await?;
            loop {
                match link.reply().await? {
                    Reply::Waiting { prompt } => errln!("{}", waiting_message(&label, prompt)),
                    Reply::SignedIn => return Ok(AppAnswer::SignedIn),
                    Reply::Failed { why, detail } => {
                        bail!("{}", failure_message(&label, why, detail.as_deref(), login))
                    }
                    Reply::Error { message } => bail!(
                        "ssobar-app refused the sign-in request ({}); run \"{login}\"",
                        printable(&message)
                    ),
                    Reply::Working | Reply::Credentials { .. } | Reply::NotHanded { .. } => bail!(
                        "ssobar-app answered the sign-in request with credentials' words; update ssobar and ssobar-app together, or run \"{login}\""
                    ),
                }
            }
        };
        match tokio::time::timeout(wait, talk).await {
            Ok(answer) => answer.map_err(|e| match e.downcast::<LinkError>() {
                Ok(LinkError::Closed) => anyhow!(
                    "ssobar-app stopped before the sign-in to \"{label}\" finished; run \"{login}\""
                ),
                Ok(other) => anyhow!("{other}; run \"{login}\""),
                Err(e) => e,
            }),
            Err(_) => bail!(
                "no sign-in to \"{label}\" within {}; run \"{login}\" (or wait longer with --wait SECONDS)",
                spoken_duration(wait)
            ),
        }
    })
}

/// The one line a waiting helper prints.
fn waiting_message(label: &str, prompt: Prompt) -> String {
    match prompt {
        Prompt::Notification => format!(
            "ssobar: waiting for sign-in to \"{label}\" (click Sign in in the notification, or the tray)..."
        ),
        Prompt::SigningIn => format!(
            "ssobar: waiting for sign-in to \"{label}\" (finish it in the browser ssobar-app opened)..."
        ),
    }
}

fn failure_message(label: &str, why: Failure, detail: Option<&str>, login: &str) -> String {
    match why {
        Failure::Cancelled => {
            format!("the sign-in to \"{label}\" was cancelled in ssobar-app; run \"{login}\"")
        }
        Failure::SignInFailed => format!(
            "ssobar-app could not sign in to \"{label}\" ({}); run \"{login}\"",
            printable(detail.unwrap_or("no reason given"))
        ),
        Failure::UnknownSession => format!(
            "ssobar-app does not know the session \"{label}\" (does it read the same AWS config?); run \"{login}\""
        ),
        Failure::AppQuit => {
            format!("ssobar-app quit before the sign-in to \"{label}\" finished; run \"{login}\"")
        }
    }
}
