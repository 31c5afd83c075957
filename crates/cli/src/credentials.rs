//! `ssobar credential-process`, `ssobar exec`, `ssobar env`: role credentials out of the
//! keychain (or fetched into it) for the AWS CLI, SDKs, scripts and shells.

use crate::Outcome;
use crate::args::{ProfileArg, Shell, WaitArg, attended_on_stderr, shell_of};
use crate::role_credentials::{Patience, Wanted, role_credentials};
use anyhow::{Context as _, Result, bail};
use ssobar_core::app::agent::Handed;
use ssobar_core::context::Context;
use ssobar_core::creds::credential_env::{self, MARKER, removed, variables};

/// Arguments of `ssobar credential-process`.
#[derive(clap::Args)]
pub struct CredentialProcessArgs {
    #[command(flatten)]
    profile: ProfileArg,
    #[command(flatten)]
    wait: WaitArg,
}

/// Arguments of `ssobar exec`.
#[derive(clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub(crate) profile: ProfileArg,
    #[command(flatten)]
    pub(crate) wait: WaitArg,
    /// Run even inside another `ssobar exec`.
    #[arg(long)]
    force: bool,
    /// Give the command no keys but a credential server on 127.0.0.1 to ask (as `ssobar
    /// serve`), which hands it fresh credentials for as long as it runs.
    #[arg(long)]
    server: bool,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// Arguments of `ssobar env`.
#[derive(clap::Args)]
pub struct EnvArgs {
    #[command(flatten)]
    profile: ProfileArg,
    #[command(flatten)]
    wait: WaitArg,
    /// The shell syntax (default: from $SHELL, else sh).
    #[arg(long, value_enum)]
    shell: Option<Shell>,
}

/// Credentials for `profile` and its region, as every command gets them, waiting for a
/// sign-in as the command's `--wait` says.
fn credentials(ctx: &Context, profile: &str, wait: WaitArg) -> Result<Handed> {
    let wanted = Wanted {
        profile,
        role_arn: None,
    };
    let patience = Patience::Recover {
        wait,
        attended: attended_on_stderr(),
    };
    role_credentials(ctx, wanted, patience)
}

/// Runs `ssobar credential-process`.
pub fn credential_process(args: &CredentialProcessArgs, ctx: &Context) -> Result<Outcome> {
    let handed = credentials(ctx, &args.profile.name(ctx), args.wait)?;
    let mut out = handed.credentials.credential_process_json();
    out.push('\n');
    crate::out::write_stdout(out)?;
    Ok(Outcome::Success)
}

/// Runs `ssobar exec`: replaces this process with the command (on Unix), so its exit status
/// and signals are the command's own.
pub fn exec(args: &ExecArgs, ctx: &Context) -> Result<Outcome> {
    if let Some(outer) = ctx.env.get(MARKER)
        && !args.force
    {
        bail!(
            "already inside \"ssobar exec\" for profile {outer} ({MARKER} is set); add --force to run one inside another"
        );
    }
    if args.server {
        return crate::serve::exec(args.profile.name(ctx), args.wait, &args.command, ctx);
    }
    let profile = args.profile.name(ctx);
    let Handed {
        credentials: creds,
        region,
    } = credentials(ctx, &profile, args.wait)?;
    let (program, rest) = args.command.split_first().context("no command to run")?;
    let mut command = std::process::Command::new(program);
    command.args(rest);
    let set = variables(&profile, &creds, region.as_deref());
    for name in removed(&set) {
        command.env_remove(name);
    }
    for (name, value) in set {
        command.env(name, value);
    }
    run_replacing(command, program)
}

#[cfg(unix)]
fn run_replacing(mut command: std::process::Command, program: &str) -> Result<Outcome> {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    bail!("cannot run {program}: {error}")
}

#[cfg(not(unix))]
fn run_replacing(mut command: std::process::Command, program: &str) -> Result<Outcome> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// Runs `ssobar env`.
pub fn env(args: &EnvArgs, ctx: &Context) -> Result<Outcome> {
    let profile = args.profile.name(ctx);
    let Handed {
        credentials: creds,
        region,
    } = credentials(ctx, &profile, args.wait)?;
    let shell = shell_of(args.shell, ctx);
    let out = credential_env::export_script(shell, &profile, &creds, region.as_deref());
    crate::out::write_stdout(out)?;
    Ok(Outcome::Success)
}
