//! `ssobar credential-process`, `ssobar exec`, `ssobar env`: role credentials out of the
//! keychain (or fetched into it) for the AWS CLI, SDKs, scripts and shells.

use crate::Outcome;
use crate::expired::{self, WaitArg, attended_on_stderr};
use anyhow::{Context as _, Result, bail};
use ssobar_core::context::Context;
use ssobar_core::creds::credential_env::{self, MARKER, removed, variables};
use ssobar_core::creds::{AwsCredentials, Step, Vault, plan};

/// Which profile's credentials.
#[derive(clap::Args)]
pub struct ProfileArg {
    /// The profile (default: $AWS_PROFILE, else "default").
    #[arg(long, short = 'p')]
    profile: Option<String>,
}

impl ProfileArg {
    pub(crate) fn name(&self, ctx: &Context) -> String {
        profile_or_default(ctx, self.profile.as_deref())
    }
}

/// The profile given, else `$AWS_PROFILE`, else "default": the AWS CLI's rule.
pub(crate) fn profile_or_default(ctx: &Context, given: Option<&str>) -> String {
    given
        .or_else(|| ctx.env.get("AWS_PROFILE"))
        .unwrap_or("default")
        .to_owned()
}

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

/// The shells `ssobar env` writes for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    /// POSIX sh, bash, zsh.
    Sh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
}

impl From<Shell> for credential_env::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Sh => Self::Sh,
            Shell::Fish => Self::Fish,
            Shell::Powershell => Self::Powershell,
        }
    }
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

/// Credentials for `profile`: from the keychain without a network call while they last, else
/// fetched (and kept) with one call however many processes ask at once; a session that needs
/// a sign-in gets one first (see `expired`).
fn credentials(
    ctx: &Context,
    profile: &str,
    wait: WaitArg,
) -> Result<(AwsCredentials, Option<String>)> {
    let config = ctx.load_config();
    let steps = plan(&config, profile)?;
    let region = config.profile_region(profile).map(str::to_owned);
    let creds = expired::fetch(ctx, &steps, wait, attended_on_stderr())?;
    Ok((creds, region))
}

/// Credentials for the steps: the keychain's while they last, else fetched (and kept).
pub(crate) fn fetch(ctx: &Context, steps: &[Step]) -> Result<AwsCredentials> {
    let vault = Vault::new(ctx);
    if let Some(creds) = vault.cached(steps)? {
        return Ok(creds);
    }
    Ok(crate::runtime()?.block_on(vault.credentials(steps))?)
}

/// Runs `ssobar credential-process`.
pub fn credential_process(args: &CredentialProcessArgs, ctx: &Context) -> Result<Outcome> {
    let (creds, _) = credentials(ctx, &args.profile.name(ctx), args.wait)?;
    let mut out = creds.credential_process_json();
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
        return crate::serve::exec(args, ctx);
    }
    let profile = args.profile.name(ctx);
    let (creds, region) = credentials(ctx, &profile, args.wait)?;
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
    let (creds, region) = credentials(ctx, &profile, args.wait)?;
    let shell = args
        .shell
        .map(Shell::into)
        .unwrap_or_else(|| credential_env::Shell::from_login_shell(ctx.env.get("SHELL")));
    let out = credential_env::export_script(shell, &profile, &creds, region.as_deref());
    crate::out::write_stdout(out)?;
    Ok(Outcome::Success)
}
