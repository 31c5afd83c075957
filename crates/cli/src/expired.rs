//! What a helper does when a session needs a sign-in: a silent refresh where the session
//! allows one; then, as the `on_expired` setting says, the running tray app (which signs in
//! once however many helpers ask, and tells each when it is done), or a sign-in from this
//! terminal; else the one-line error naming `ssobar login`. The original command then goes on.

use crate::runtime;
use anyhow::{Result, anyhow, bail};
use ssobar_core::app::channel::{
    self, AppLink, Attended, Failure, LinkError, Prompt, Reach, Recovery, Reply, Request, Start,
    recovery_order,
};
use ssobar_core::config::SsoSessionConfig;
use ssobar_core::config::login_command;
use ssobar_core::context::Context;
use ssobar_core::creds::{AwsCredentials, CredentialsError, Step};
use ssobar_core::kube::eks::ExecApi;
use ssobar_core::sso::signin::{self, RefreshOutcome, RefreshWhen, SignInError};
use ssobar_core::sso::token_cache::CachedToken;
use ssobar_core::util::text::printable;
use ssobar_core::util::time::spoken_duration;
use std::io::IsTerminal;
use std::time::Duration;

/// How long to wait for a sign-in in the tray app.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct WaitArg {
    /// Wait this many seconds for a sign-in in the tray app (default: the sign_in_wait
    /// setting, 120).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u32>,
}

impl WaitArg {
    fn duration(self, ctx: &Context) -> Duration {
        self.wait
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or_else(|| ctx.settings.sign_in_wait())
    }
}

/// Whether stderr is a terminal, where the sign-in's prompts would be read.
pub(crate) fn attended_on_stderr() -> Attended {
    if std::io::stderr().is_terminal() {
        Attended::ByPerson
    } else {
        Attended::Unattended
    }
}

/// A terminal on stderr, or kubectl's word (`spec.interactive`) that it passed its own.
pub(crate) fn attended_for_kubectl(api: &ExecApi) -> Attended {
    if api.interactive {
        Attended::ByPerson
    } else {
        attended_on_stderr()
    }
}

/// Credentials for the steps; when their session needs a sign-in, one is had as `on_expired`
/// says and they are fetched again (once).
pub(crate) fn fetch(
    ctx: &Context,
    steps: &[Step],
    wait: WaitArg,
    attended: Attended,
) -> Result<AwsCredentials> {
    let first = crate::credentials::fetch(ctx, steps);
    let error = match first {
        Err(e) if needs_sign_in(&e) => e,
        other => return other,
    };
    let Some(Step::Sso {
        session, profile, ..
    }) = steps.first()
    else {
        return Err(error);
    };
    let login = login_command(session, Some(profile));
    recover(ctx, session, &login, wait, attended, error)?;
    crate::credentials::fetch(ctx, steps)
}

/// Credentials for a request to the credential server, which cannot wait for a person (the
/// SDKs give up on it after a few seconds): when their session needs a sign-in, a silent
/// refresh where the session allows one, else the one-line error naming `ssobar login`; the
/// next request tries again.
pub(crate) fn fetch_without_waiting(ctx: &Context, steps: &[Step]) -> Result<AwsCredentials> {
    let error = match crate::credentials::fetch(ctx, steps) {
        Err(e) if needs_sign_in(&e) => e,
        other => return other,
    };
    let Some(Step::Sso {
        session, profile, ..
    }) = steps.first()
    else {
        return Err(error);
    };
    if silently_refreshed(ctx, session, &login_command(session, Some(profile)))? {
        return crate::credentials::fetch(ctx, steps);
    }
    Err(error)
}

/// Whether a credentials error is "the session needs a sign-in".
pub(crate) fn needs_sign_in(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<CredentialsError>(),
        Some(CredentialsError::SignInNeeded { .. })
    )
}

/// Gets `session` signed in, or fails with `original` (or why the way tried failed); `login`
/// is the command an error names. Whoever needs a session signed in calls this, then retries
/// once.
pub(crate) fn recover(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    wait: WaitArg,
    attended: Attended,
    original: anyhow::Error,
) -> Result<()> {
    if silently_refreshed(ctx, session, login)? {
        return Ok(());
    }
    for way in recovery_order(ctx.settings.on_expired, attended) {
        match way {
            Recovery::AskApp => match ask_app(ctx, session, login, wait, Start::AsConfigured)? {
                AppAnswer::SignedIn => return Ok(()),
                AppAnswer::NoApp => {}
            },
            Recovery::Terminal => {
                crate::signin::sign_in_here(ctx, session, &Default::default(), login)?;
                return Ok(());
            }
        }
    }
    Err(original)
}

/// Renews the token with its refresh token when it has a usable one; `false` when it has
/// none or the service refused (a browser sign-in is needed).
fn silently_refreshed(ctx: &Context, session: &SsoSessionConfig, login: &str) -> Result<bool> {
    let refreshable = match ctx.tokens.load(&session.id) {
        CachedToken::Present(token) => token.is_refreshable(ctx.now()),
        _ => false,
    };
    if !refreshable {
        return Ok(false);
    }
    match runtime()?.block_on(signin::refresh(ctx, session, RefreshWhen::Due, login)) {
        Ok(RefreshOutcome::Refreshed(_) | RefreshOutcome::NotNeeded(_)) => Ok(true),
        Err(SignInError::SignInNeeded { .. }) => Ok(false),
        Err(e) => Err(e.into()),
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
                errln!("ssobar: not asking ssobar-app to sign in: {why}");
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
