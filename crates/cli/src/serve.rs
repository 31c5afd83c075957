//! `ssobar serve` and `ssobar exec --server`: a container credentials endpoint on 127.0.0.1
//! that hands out a profile's role credentials from the keychain vault on every request, so
//! that a program that runs for hours gets fresh ones across expiries and sign-ins.

use crate::Outcome;
use crate::app_link::{AppAnswer, ask_app};
use crate::args::{ProfileArg, Shell, WaitArg, attended_on_stderr, shell_of};
use crate::expired::needs_sign_in;
use crate::role_credentials::{Patience, Wanted, role_credentials};
use anyhow::{Context as _, Result, anyhow};
use ssobar_core::app::channel::Start;
use ssobar_core::config::login_command;
use ssobar_core::context::Context;
use ssobar_core::creds::container::{
    CredentialServer, CredentialSource, Unavailable, server_margin_minutes,
};
use ssobar_core::creds::credential_env::{self, removed, server_variables};
use ssobar_core::creds::{AwsCredentials, Step, plan};
use ssobar_core::settings::OnExpired;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `ssobar serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    profile: ProfileArg,
    #[command(flatten)]
    wait: WaitArg,
    /// Listen on this port of 127.0.0.1 (default: one the OS chooses).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 0,
        hide_default_value = true
    )]
    port: u16,
    /// The shell syntax of the lines printed (default: from $SHELL, else sh).
    #[arg(long, value_enum)]
    shell: Option<Shell>,
}

/// A profile ready to be served: its region, and the source of its credentials, whose vault
/// margin covers the SDKs' refresh window.
struct Served {
    profile: String,
    region: Option<String>,
    source: VaultSource,
}

/// Reads the profile and gets its credentials once, with a sign-in as every helper gets one
/// when the session needs it: a server that starts is a server that can answer.
fn prepare(ctx: &Context, profile: String, wait: WaitArg) -> Result<Served> {
    let mut ctx = ctx.clone();
    ctx.settings.credential_margin_minutes =
        server_margin_minutes(ctx.settings.credential_margin_minutes);
    let wanted = Wanted {
        profile: &profile,
        role_arn: None,
    };
    let patience = Patience::Recover {
        wait,
        attended: attended_on_stderr(),
    };
    let region = role_credentials(&ctx, wanted, patience)?.region;
    Ok(Served {
        source: VaultSource {
            ctx,
            profile: profile.clone(),
            wait,
            asking: Arc::new(AtomicBool::new(false)),
        },
        profile,
        region,
    })
}

/// The vault, asked for each request.
struct VaultSource {
    ctx: Context,
    profile: String,
    /// How long a sign-in asked of the tray app is waited for.
    wait: WaitArg,
    /// A sign-in has been asked of the tray app and not answered yet.
    asking: Arc<AtomicBool>,
}

impl VaultSource {
    /// The profile is read again for each request, so an edit to it is served from then on,
    /// as the vault never serves credentials made under settings that changed.
    fn fetch(&self) -> Result<AwsCredentials> {
        let wanted = Wanted {
            profile: &self.profile,
            role_arn: None,
        };
        let fetched = role_credentials(&self.ctx, wanted, Patience::RefreshOnly);
        if let Err(e) = &fetched
            && needs_sign_in(e)
        {
            let steps = plan(&self.ctx.load_config(), &self.profile)?;
            self.ask_app_in_background(&steps);
        }
        Ok(fetched?.credentials)
    }

    /// A request cannot wait for a person (the SDKs give up after seconds), but the person
    /// can be asked: as every helper does with `on_expired = "app"`, the tray app is asked to
    /// sign in, once at a time, while requests are answered "unavailable"; the first request
    /// after the sign-in is served.
    fn ask_app_in_background(&self, steps: &[Step]) {
        let Some(Step::Sso {
            session, profile, ..
        }) = steps.first()
        else {
            return;
        };
        if self.ctx.settings.on_expired != OnExpired::App
            || self.asking.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let (ctx, session, wait, asking) = (
            self.ctx.clone(),
            session.clone(),
            self.wait,
            self.asking.clone(),
        );
        let login = login_command(&session, Some(profile));
        std::thread::spawn(move || {
            match ask_app(&ctx, &session, &login, wait, Start::AsConfigured) {
                Ok(AppAnswer::SignedIn | AppAnswer::NoApp) => {}
                Err(e) => errln!("ssobar: {e:#}"),
            }
            asking.store(false, Ordering::SeqCst);
        });
    }
}

impl CredentialSource for VaultSource {
    fn credentials(&self) -> Result<AwsCredentials, Unavailable> {
        self.fetch().map_err(|e| {
            let message = format!("{e:#}");
            // The server's one line per failure; the program asking sees the same words.
            errln!(
                "ssobar: cannot serve credentials for profile {}: {message}",
                self.profile
            );
            Unavailable(message)
        })
    }
}

async fn bind(port: u16) -> Result<CredentialServer> {
    CredentialServer::bind(port)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))
}

/// Runs `ssobar serve`: prints the lines that point a shell at the server, then serves until
/// SIGINT, SIGTERM or SIGHUP.
pub fn serve(args: &ServeArgs, ctx: &Context) -> Result<Outcome> {
    let served = prepare(ctx, args.profile.name(ctx), args.wait)?;
    let shell = shell_of(args.shell, ctx);
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        // Listening for the signals before the lines are out: whoever read them may stop the
        // server at once.
        let stop = stop_signal()?;
        let server = bind(args.port).await?;
        let uri = server.uri();
        let lines = credential_env::server_export_script(
            shell,
            &served.profile,
            &uri,
            server.token().expose(),
            served.region.as_deref(),
        );
        crate::out::write_stdout(lines)?;
        errln!(
            "ssobar: serving credentials for profile {} on {uri} (Ctrl-C to stop)",
            served.profile
        );
        tokio::select! {
            () = server.serve(served.source) => {}
            () = stop => {}
        }
        Ok(Outcome::Success)
    });
    // A credentials call still running when the server stops has no one to answer.
    runtime.shutdown_background();
    result
}

/// A future that ends at SIGINT, SIGTERM or SIGHUP (Ctrl-C elsewhere); the signals are caught
/// from the moment this returns.
#[cfg(unix)]
fn stop_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> Result<impl Future<Output = ()>> {
    Ok(async {
        // Without a console to catch Ctrl-C on, the server runs until it is killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// Runs `ssobar exec --server`: the command runs as a child, with the server's URI and token in
/// its environment and no key, while this process serves it; the exit status is the child's
/// (128 + the signal's number when a signal ended it).
pub(crate) fn exec(
    profile: String,
    wait: WaitArg,
    command: &[String],
    ctx: &Context,
) -> Result<Outcome> {
    let served = prepare(ctx, profile, wait)?;
    let (program, rest) = command.split_first().context("no command to run")?;
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        let server = bind(0).await?;
        let set = server_variables(
            &served.profile,
            &server.uri(),
            server.token().expose(),
            served.region.as_deref(),
        );
        // Caught before the child starts: a signal sent as soon as it runs is passed on, not
        // taken by this process's default action.
        let signals = ForwardedSignals::catch()?;
        let mut command = tokio::process::Command::new(program);
        command.args(rest);
        for name in removed(&set) {
            command.env_remove(name);
        }
        command.envs(set);
        let child = command
            .spawn()
            .with_context(|| format!("cannot run {program}"))?;
        tokio::select! {
            () = server.serve(served.source) => Err(anyhow!("the credential server stopped")),
            status = wait_forwarding_signals(child, signals) => Ok(Outcome::Exit(exit_status(status?))),
        }
    });
    runtime.shutdown_background();
    result
}

/// The signals `exec --server` passes on to its command (SIGTERM, SIGHUP), and SIGINT, which
/// it ignores; each caught from [`ForwardedSignals::catch`] on.
#[cfg(unix)]
struct ForwardedSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ForwardedSignals {
    fn catch() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

/// Elsewhere nothing is passed on.
#[cfg(not(unix))]
struct ForwardedSignals;

#[cfg(not(unix))]
impl ForwardedSignals {
    fn catch() -> Result<Self> {
        Ok(Self)
    }
}

/// Waits for the child, passing SIGTERM and SIGHUP sent to this process on to it. SIGINT is
/// not passed on: Ctrl-C in a terminal reaches the child itself (it is in the same process
/// group), and a second one would read as pressing it twice; this process keeps serving
/// until the child has ended.
#[cfg(unix)]
async fn wait_forwarding_signals(
    mut child: tokio::process::Child,
    signals: ForwardedSignals,
) -> Result<std::process::ExitStatus> {
    use rustix::process::{Pid, Signal, kill_process};
    let ForwardedSignals {
        mut interrupt,
        mut terminate,
        mut hangup,
    } = signals;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    let forward = |signal: Signal| {
        if let Some(pid) = pid {
            // The child may have ended a moment ago; its status is read next either way.
            let _ = kill_process(pid, signal);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = terminate.recv() => forward(Signal::TERM),
            _ = hangup.recv() => forward(Signal::HUP),
            _ = interrupt.recv() => {}
        }
    }
}

#[cfg(not(unix))]
async fn wait_forwarding_signals(
    mut child: tokio::process::Child,
    _signals: ForwardedSignals,
) -> Result<std::process::ExitStatus> {
    Ok(child.wait().await?)
}

/// A child's exit status as this process's: its code, or 128 + the signal that ended it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(1)
}
