//! The helper's side of the channel to the running tray app: asking it to sign in to a
//! session and waiting for the outcome, saying on stderr what the person has to do.

use crate::args::WaitArg;
use crate::runtime;
use anyhow::{Result, anyhow, bail};
use ssobar_core::app::agent::Handed;
use ssobar_core::app::channel::{
    self, AgentAnswer, AppLink, Caller, Deadlines, Failure, LinkError, NotHandedWhy, Prompt, Reach,
    Reply, Request, Start,
};
use ssobar_core::config::{SessionId, SsoSessionConfig};
use ssobar_core::context::Context;
use ssobar_core::util::fsutil::NotPrivate;
use ssobar_core::util::text::printable;
use ssobar_core::util::time::spoken_duration;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the app answered a credentials request.
pub(crate) enum FromApp {
    /// The credentials.
    Handed(Handed),
    /// The person denied the request (or did not answer): the app's words.
    Denied(String),
    /// The profile's session needs a sign-in (the session's key, when the app said).
    SignInNeeded(Option<String>),
    /// A remote shell's request failed in the laptop's app: its words.
    Failed(String),
    /// No app, one that did not answer in time, one that reads another config file, or one
    /// whose fetch failed: the command goes its own way.
    NoAnswer,
}

/// The app's answer for `profile`'s credentials (a role to assume first with `role_arn`),
/// when an app of this user runs, reads the same AWS config and answers within the channel's
/// deadlines. On a remote shell (`SSOBAR_AGENT`) the app is the laptop's, reached through
/// `ssh -R`: the request names no config file (the laptop's profiles answer) but the program
/// that asks, and waits as long as a person may take to answer.
pub(crate) fn credentials_from_app(
    ctx: &Context,
    profile: &str,
    role_arn: Option<&str>,
) -> FromApp {
    let remote = ctx.paths.agent_socket.is_some();
    let request = Request::Credentials {
        profile: profile.to_owned(),
        role_arn: role_arn.map(str::to_owned),
        config_file: (!remote).then(|| ctx.paths.config_file.clone()),
        valid_for: i64::from(ctx.settings.credential_margin_minutes) * 60,
        program: remote_program(ctx),
    };
    let within = if remote {
        Deadlines::remote(ctx.settings.sign_in_wait())
    } else {
        Deadlines::LOCAL
    };
    match channel::ask_for_credentials(&channel::helper_socket(&ctx.paths), &request, within) {
        AgentAnswer::Handed(handed) => FromApp::Handed(handed),
        AgentAnswer::NotHanded {
            why: NotHandedWhy::Denied,
            detail,
            ..
        } => FromApp::Denied(printable(&detail)),
        AgentAnswer::NotHanded {
            why: NotHandedWhy::SignInNeeded,
            session,
            ..
        } => FromApp::SignInNeeded(session),
        AgentAnswer::NotHanded {
            why: NotHandedWhy::Failed,
            detail,
            ..
        } if remote => FromApp::Failed(printable(&detail)),
        AgentAnswer::Refused(why) => {
            say_not_private(&why);
            FromApp::NoAnswer
        }
        AgentAnswer::NotHanded { .. } | AgentAnswer::NoApp => FromApp::NoAnswer,
    }
}

/// On a remote shell, the program that runs this helper, as the laptop's app names it
/// ("kubectl on devbox"); nothing on this machine's own channel, where the app reads it.
fn remote_program(ctx: &Context) -> Option<String> {
    ctx.paths
        .agent_socket
        .as_ref()
        .map(|_| Caller::of_this_helper().command)
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
    ask_app_for(ctx, &session.id, &format!("run \"{login}\""), wait, start)
}

/// [`ask_app`] by the session's id alone, for a remote shell, which knows only what the
/// laptop's app told it; `next` is what its errors tell the person to do.
pub(crate) fn ask_app_for(
    ctx: &Context,
    session: &SessionId,
    next: &str,
    wait: WaitArg,
    start: Start,
) -> Result<AppAnswer> {
    let path = channel::helper_socket(&ctx.paths);
    let label = session.label();
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
            session: session.key(),
            start,
            program: remote_program(ctx),
        };
        let talk = async {
            link.send(&request).await?;
            loop {
                match link.reply().await? {
                    Reply::Waiting { prompt } => errln!("{}", waiting_message(&label, prompt)),
                    Reply::SignedIn => return Ok(AppAnswer::SignedIn),
                    Reply::Failed { why, detail } => {
                        bail!("{}", failure_message(&label, why, detail.as_deref(), next))
                    }
                    Reply::Error { message } => bail!(
                        "ssobar-app refused the sign-in request ({}); {next}",
                        printable(&message)
                    ),
                    Reply::Working | Reply::Credentials { .. } | Reply::NotHanded { .. } => bail!(
                        "ssobar-app answered the sign-in request with credentials' words; update ssobar and ssobar-app together, or {next}"
                    ),
                }
            }
        };
        match tokio::time::timeout(wait, talk).await {
            Ok(answer) => answer.map_err(|e| match e.downcast::<LinkError>() {
                Ok(LinkError::Closed) => anyhow!(
                    "ssobar-app stopped before the sign-in to \"{label}\" finished; {next}"
                ),
                Ok(other) => anyhow!("{other}; {next}"),
                Err(e) => e,
            }),
            Err(_) => bail!(
                "no sign-in to \"{label}\" within {}; {next} (or wait longer with --wait SECONDS)",
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

fn failure_message(label: &str, why: Failure, detail: Option<&str>, next: &str) -> String {
    match why {
        Failure::Cancelled => {
            format!("the sign-in to \"{label}\" was cancelled in ssobar-app; {next}")
        }
        Failure::SignInFailed => format!(
            "ssobar-app could not sign in to \"{label}\" ({}); {next}",
            printable(detail.unwrap_or("no reason given"))
        ),
        Failure::UnknownSession => format!(
            "ssobar-app does not know the session \"{label}\" (does it read the same AWS config?); {next}"
        ),
        Failure::AppQuit => {
            format!("ssobar-app quit before the sign-in to \"{label}\" finished; {next}")
        }
        Failure::RemoteRefused => format!(
            "ssobar-app takes no requests from remote shells (remote_requests = \"refuse\" in its settings); {next}"
        ),
    }
}
