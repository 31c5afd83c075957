//! `ssobar login`, `ssobar refresh`, `ssobar logout`: thin layers over `ssobar_core::sso::signin`.

use crate::app_link::{AppAnswer, ask_app};
use crate::args::{WaitArg, profile_or_default};
use crate::{Outcome, runtime};
use anyhow::{Result, bail};
use ssobar_core::app::channel::Start;
use ssobar_core::config::{AwsConfig, SsoSessionConfig, login_command};
use ssobar_core::context::Context;
use ssobar_core::settings::OnExpired;
use ssobar_core::sso::browser::Delivered;
use ssobar_core::sso::signin::{
    self, DeviceCodeReason, RefreshOutcome, RefreshWhen, SignInError, SignInEvent, SignInFlow,
    SignInOptions, SignInOutcome,
};
use ssobar_core::sso::token_cache::{CachedToken, SsoToken};
use ssobar_core::status::referenced_sessions;
use ssobar_core::util::time::{format_duration, format_local};

/// Which session a command is about.
#[derive(clap::Args)]
pub struct SessionSelector {
    /// The profile whose session to use (default: $AWS_PROFILE, else "default").
    #[arg(long, short = 'p', conflicts_with = "sso_session")]
    profile: Option<String>,
    /// The [sso-session] to use.
    #[arg(long)]
    sso_session: Option<String>,
}

/// Arguments of `ssobar login`.
#[derive(clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    select: SessionSelector,
    /// Use the device code flow (for SSH, WSL and machines without a browser).
    #[arg(long)]
    device_code: bool,
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Sign in even if the session is still valid.
    #[arg(long)]
    force: bool,
    /// Listen for the browser on this port of 127.0.0.1, so that a browser on another machine
    /// can come back through `ssh -L PORT:127.0.0.1:PORT` (default: `callback_port` in
    /// settings.toml, else a free port).
    #[arg(long, value_name = "PORT", conflicts_with = "device_code")]
    callback_port: Option<u16>,
    #[command(flatten)]
    wait: WaitArg,
}

/// Arguments of `ssobar refresh`.
#[derive(clap::Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    select: SessionSelector,
    /// Every signed-in session in the AWS config.
    #[arg(long, conflicts_with_all = ["profile", "sso_session"])]
    all: bool,
    /// Refresh even if the token is not within the refresh window.
    #[arg(long)]
    force: bool,
}

/// Arguments of `ssobar logout`.
#[derive(clap::Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    select: SessionSelector,
    /// Every session in the AWS config.
    #[arg(long, conflicts_with_all = ["profile", "sso_session"])]
    all: bool,
}

/// A session and how to tell a person to sign in to it.
pub(crate) struct Target {
    /// The session.
    pub(crate) session: SsoSessionConfig,
    /// The command that signs in to it, naming the profile it was chosen by.
    pub(crate) login: String,
}

/// The session `select` names: `--sso-session`, else the profile's.
pub(crate) fn select_one(
    ctx: &Context,
    config: &AwsConfig,
    select: &SessionSelector,
) -> Result<Target> {
    if let Some(name) = &select.sso_session {
        let session = config.sso_session(name)?;
        let login = login_command(&session, None);
        return Ok(Target { session, login });
    }
    let profile = profile_or_default(ctx, select.profile.as_deref());
    let session = config.session_for_profile(&profile)?;
    let login = login_command(&session, Some(&profile));
    Ok(Target { session, login })
}

fn select_all(ctx: &Context, config: &AwsConfig) -> Vec<Target> {
    // Each session once, through the first profile that uses it (legacy sessions are signed
    // in to through a profile), in session order.
    let mut by_session = std::collections::BTreeMap::new();
    for profile in config.profiles() {
        if let Ok(session) = config.session_for_profile(&profile.name) {
            by_session
                .entry(session.id.clone())
                .or_insert_with(|| (session, profile.name.clone()));
        }
    }
    referenced_sessions(config)
        .into_iter()
        .filter(|id| matches!(ctx.tokens.load(id), CachedToken::Present(_)))
        .filter_map(|id| {
            let (session, profile) = by_session.remove(&id)?;
            let login = login_command(&session, Some(&profile));
            Some(Target { session, login })
        })
        .collect()
}

/// Every signed-in session with `--all`, else the one selected.
fn select_many(
    ctx: &Context,
    config: &AwsConfig,
    all: bool,
    select: &SessionSelector,
) -> Result<Vec<Target>> {
    if all {
        Ok(select_all(ctx, config))
    } else {
        Ok(vec![select_one(ctx, config, select)?])
    }
}

/// "until 14:02 (2h 13m left)".
pub(crate) fn until(ctx: &Context, token: &SsoToken) -> String {
    let now = ctx.now();
    format!(
        "until {} ({} left)",
        format_local(token.expires_at, now, ctx.tz()),
        format_duration(token.expires_at.as_second() - now.as_second())
    )
}

/// Signs in to `session` from this terminal, saying on stderr what to do; Ctrl-C cancels
/// without changing anything.
pub(crate) fn sign_in_here(
    ctx: &Context,
    session: &SsoSessionConfig,
    options: &SignInOptions,
    login: &str,
) -> Result<SignInOutcome> {
    let name = session.id.to_string();
    runtime()?.block_on(async {
        tokio::select! {
            r = signin::sign_in(ctx, session, options, login, &print_event) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => bail!("sign-in to {name} cancelled; nothing was changed (run \"{login}\" to start again)"),
        }
    })
}

fn print_event(event: SignInEvent) {
    match event {
        SignInEvent::WaitingForOtherSignIn => {
            errln!("Another ssobar is signing in to this session; waiting for it...");
        }
        SignInEvent::OpenUrl { url, opened } => match opened {
            Ok(Delivered::Opened(_)) => errln!(
                "Opened the sign-in page in your browser. If it did not open, visit:\n\n    {url}\n"
            ),
            Ok(Delivered::Copied(_)) => errln!(
                "Copied the sign-in link to the clipboard; open it in a browser to sign in:\n\n    {url}\n"
            ),
            Ok(Delivered::Printed) | Err(_) => {
                errln!("Open this URL in a browser to sign in:\n\n    {url}\n");
            }
        },
        SignInEvent::NoRedirectYet {
            listener,
            device_code_command,
        } => errln!(
            "ssobar: no redirect reached {listener} yet; if the browser runs outside WSL or on another machine, press Ctrl-C and run \"{device_code_command}\""
        ),
        SignInEvent::DeviceCodeChosen(DeviceCodeReason::NoBrowser) => errln!(
            "No browser can be opened here (no display, no $BROWSER, no browser setting), so this sign-in uses a device code. To sign in with the browser of another machine instead, forward a port to it with ssh -L and give it as --callback-port (see \"ssobar login --help\")."
        ),
        SignInEvent::DeviceCodeChosen(DeviceCodeReason::LegacySession) => errln!(
            "This session is written the legacy way (sso_start_url on the profile), which signs in only with a device code and cannot refresh; \"ssobar doctor --fix\" moves it to an [sso-session]."
        ),
        SignInEvent::DeviceCode { user_code, .. } => {
            errln!("Confirm this code in the browser: {user_code}");
        }
        SignInEvent::Waiting => errln!("Waiting for the browser... (Ctrl-C to cancel)"),
    }
}

/// How a session stands after [`ensure_signed_in`].
pub(crate) enum SignedIn {
    /// Its token was valid already; nothing was done.
    Already(SsoToken),
    /// It was signed in now.
    Now(SsoToken),
}

/// Signs in to `target` unless its token is valid (or `options.force`): through the running
/// tray app when there is one (so the tray shows it and every waiting helper gets it), else
/// here.
pub(crate) fn ensure_signed_in(
    ctx: &Context,
    target: &Target,
    options: &SignInOptions,
    wait: WaitArg,
) -> Result<SignedIn> {
    let name = target.session.id.to_string();
    let valid = match ctx.tokens.load(&target.session.id) {
        CachedToken::Present(token) => (token.expires_at > ctx.now()).then_some(token),
        _ => None,
    };
    if let Some(token) = valid.filter(|_| !options.force) {
        return Ok(SignedIn::Already(token));
    }
    // The terminal's own ways (a device code, a URL to copy) stay in the terminal, and so
    // does a forced sign-in: the app answers "signed in" for a session that still is.
    let through_app = ctx.settings.on_expired == OnExpired::App
        && options.flow != Some(SignInFlow::DeviceCode)
        && options.open_browser
        && !options.force
        && matches!(
            ask_app(ctx, &target.session, &target.login, wait, Start::Now)?,
            AppAnswer::SignedIn
        );
    if !through_app {
        sign_in_here(ctx, &target.session, options, &target.login)?;
    }
    match ctx.tokens.load(&target.session.id) {
        CachedToken::Present(token) => Ok(SignedIn::Now(token)),
        _ => bail!(
            "the sign-in to {name} left no token; run \"{}\" again",
            target.login
        ),
    }
}

/// Runs `ssobar login`.
pub fn login(args: &LoginArgs, ctx: &Context) -> Result<Outcome> {
    let config = ctx.load_config();
    let target = select_one(ctx, &config, &args.select)?;
    let flow = if args.device_code {
        Some(SignInFlow::DeviceCode)
    } else {
        // A fixed port is for a browser elsewhere: a browser sign-in even without an opener.
        args.callback_port.map(|_| SignInFlow::Browser)
    };
    let options = SignInOptions {
        flow,
        open_browser: !args.no_browser,
        force: args.force,
        callback_port: args.callback_port,
        ..SignInOptions::default()
    };
    let name = target.session.id.to_string();
    match ensure_signed_in(ctx, &target, &options, args.wait)? {
        SignedIn::Already(token) => outln!(
            "Already signed in to {name} {}; use --force to sign in again.",
            until(ctx, &token)
        )?,
        SignedIn::Now(token) => outln!("Signed in to {name} {}.", until(ctx, &token))?,
    }
    Ok(Outcome::Success)
}

/// Runs `ssobar refresh`.
pub fn refresh(args: &RefreshArgs, ctx: &Context) -> Result<Outcome> {
    let config = ctx.load_config();
    let targets = select_many(ctx, &config, args.all, &args.select)?;
    let runtime = runtime()?;
    let when = if args.force {
        RefreshWhen::Now
    } else {
        RefreshWhen::Due
    };
    let mut failed = false;
    for target in &targets {
        let name = target.session.id.to_string();
        match runtime.block_on(signin::refresh(ctx, &target.session, when, &target.login)) {
            Ok(RefreshOutcome::Refreshed(token)) => {
                outln!("Refreshed {name}: signed in {}.", until(ctx, &token))?;
            }
            Ok(RefreshOutcome::NotNeeded(token)) => outln!(
                "{name} is signed in {}; not due for a refresh yet (--force refreshes now).",
                until(ctx, &token)
            )?,
            Err(e @ SignInError::SignInNeeded { .. }) if args.all => {
                errln!("ssobar: {e}");
                failed = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if targets.is_empty() {
        outln!("No signed-in sessions to refresh.")?;
    }
    if failed {
        bail!("some sessions need a browser sign-in (see above)");
    }
    Ok(Outcome::Success)
}

/// Runs `ssobar logout`.
pub fn logout(args: &LogoutArgs, ctx: &Context) -> Result<Outcome> {
    let config = ctx.load_config();
    let targets = select_many(ctx, &config, args.all, &args.select)?;
    let runtime = runtime()?;
    for target in &targets {
        let name = target.session.id.to_string();
        let outcome = runtime.block_on(signin::sign_out(ctx, &config, &target.session))?;
        if let Some(why) = outcome.portal_error {
            errln!(
                "ssobar: warning: the portal did not confirm the sign-out of {name} ({why}); the local token is deleted anyway"
            );
        }
        if let Some(why) = outcome.keychain_error {
            errln!("ssobar: warning: stored role credentials of {name} were not deleted: {why}");
        }
        if outcome.removed {
            outln!("Signed out of {name}.")?;
        } else {
            outln!("{name} was not signed in.")?;
        }
    }
    if targets.is_empty() {
        outln!("No signed-in sessions.")?;
    }
    Ok(Outcome::Success)
}
