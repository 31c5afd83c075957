//! `ssobar`: the helper that scripts, `credential_process` and kubectl's exec hook call.
//!
//! Each subcommand is a thin layer over `ssobar-core`: parse arguments, call in, print. The
//! binary is `run`; the command line's definition is also here (`command`), so that the
//! completions and man pages generated from it are exactly the commands the binary takes.

// First, so that every module below can print with its macros (`errln!`, `outln!`, `out!`).
#[macro_use]
mod out;

mod accounts;
mod app_link;
mod args;
mod clusters;
mod completions;
mod console;
mod credentials;
mod doctor;
mod expired;
mod hook;
mod kube;
mod populate;
mod prompt;
mod role_credentials;
mod serve;
mod setup;
mod signin;
mod status;
mod table;

use clap::{CommandFactory, Parser, Subcommand};
use ssobar_core::aws::CallError;
use ssobar_core::context::Context;
use ssobar_core::creds::CredentialsError;
use ssobar_core::creds::console::ConsoleError;
use ssobar_core::env::Env;
use ssobar_core::sso::accounts::AccountsError;
use ssobar_core::sso::signin::SignInError;
use ssobar_core::util::secret::RedactingWriter;
use std::process::ExitCode;

/// Keeps AWS IAM Identity Center (SSO) sessions alive for the terminal and kubectl.
#[derive(Parser)]
#[command(name = "ssobar", version = ssobar_version::VERSION, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every profile's SSO session: state, expiry, time left.
    Status(status::StatusArgs),
    /// Set up ssobar from your AWS access portal's URL: an SSO session that refreshes, a
    /// profile for every account and role, and with --clusters a kubeconfig context per EKS
    /// cluster.
    Setup(setup::SetupArgs),
    /// Check the whole setup (AWS config, kubeconfig, keychain, browser, proxies, the app) and
    /// say what to do; --fix moves legacy profiles and other tools' chains over to ssobar.
    Doctor(doctor::DoctorArgs),
    /// Sign in to a session in the browser (PKCE), or with a device code.
    Login(signin::LoginArgs),
    /// Renew a session with its refresh token, without a browser.
    Refresh(signin::RefreshArgs),
    /// Sign out of a session and delete its token and stored credentials.
    Logout(signin::LogoutArgs),
    /// List every account a session reaches and its roles (cached for an hour).
    Accounts(accounts::AccountsArgs),
    /// Write a profile for every account and role of a session into ~/.aws/config.
    Populate(populate::PopulateArgs),
    /// Print role credentials in the credential_process format (for ~/.aws/config).
    CredentialProcess(credentials::CredentialProcessArgs),
    /// Run a command with a profile's role credentials in its environment.
    Exec(credentials::ExecArgs),
    /// Print export lines with a profile's role credentials, for eval.
    Env(credentials::EnvArgs),
    /// Serve a profile's role credentials to SDKs on 127.0.0.1 (the container credentials
    /// protocol), fresh for as long as the server runs.
    Serve(serve::ServeArgs),
    /// Open the AWS console in the browser as a profile's role.
    Console(console::ConsoleArgs),
    /// Print an EKS token as an ExecCredential (kubeconfig's exec hook runs this).
    EksToken(kube::EksTokenArgs),
    /// Add an EKS cluster, a user that runs "ssobar eks-token" and a context to a kubeconfig.
    Kubeconfig(kube::KubeconfigArgs),
    /// List the EKS clusters of a session's accounts (or of one profile) in the regions asked.
    Clusters(clusters::ClustersArgs),
    /// Print how to grant a profile's SSO role access to an EKS cluster.
    AwsAuth(kube::AwsAuthArgs),
    /// Print a profile's session as a short shell-prompt segment ("corp 2h13m").
    Prompt(prompt::PromptArgs),
    /// Print the completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
}

/// The `ssobar` command line as clap knows it: every subcommand and flag, with its help.
pub fn command() -> clap::Command {
    Cli::command()
}

pub use completions::{write_completions, write_man_pages};

/// How a command ended, as the process exit status.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `status --check` found a session that needs a sign-in: exit 3.
    CheckFailed,
    /// Exit with this status: the command `exec --server` ran ended with it, or `doctor`
    /// found something to do (1).
    Exit(u8),
}

/// Runs `ssobar` with the process's arguments and environment: the whole of the binary.
pub fn run() -> ExitCode {
    install_log_subscriber();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return print_parse_outcome(&e),
    };
    let env = Env::from_process();
    // kubectl runs eks-token for most commands: it builds its context only when it must.
    if let Command::EksToken(args) = &cli.command {
        return exit_code(kube::eks_token(args, env));
    }
    // A shell runs prompt before every prompt: files only, no context.
    if let Command::Prompt(args) = &cli.command {
        return exit_code(prompt::run(args, &env));
    }
    if let Command::Completions(args) = &cli.command {
        return exit_code(completions::run(args));
    }
    exit_code(
        Context::from_env(env)
            .map_err(anyhow::Error::from)
            .and_then(|ctx| {
                report_settings_warnings(&ctx);
                report_cache_trust(&ctx, &cli.command);
                match &cli.command {
                    Command::Status(args) => status::run(args, &ctx),
                    Command::Setup(args) => setup::run(args, &ctx),
                    Command::Doctor(args) => doctor::run(args, &ctx),
                    Command::Login(args) => signin::login(args, &ctx),
                    Command::Refresh(args) => signin::refresh(args, &ctx),
                    Command::Logout(args) => signin::logout(args, &ctx),
                    Command::Accounts(args) => accounts::run(args, &ctx),
                    Command::Populate(args) => populate::run(args, &ctx),
                    Command::CredentialProcess(args) => credentials::credential_process(args, &ctx),
                    Command::Exec(args) => credentials::exec(args, &ctx),
                    Command::Env(args) => credentials::env(args, &ctx),
                    Command::Serve(args) => serve::serve(args, &ctx),
                    Command::Console(args) => console::run(args, &ctx),
                    Command::Kubeconfig(args) => kube::kubeconfig(args, &ctx),
                    Command::Clusters(args) => clusters::run(args, &ctx),
                    Command::AwsAuth(args) => kube::aws_auth(args, &ctx),
                    Command::EksToken(_) | Command::Prompt(_) | Command::Completions(_) => {
                        unreachable!("handled before the context is built")
                    }
                }
            }),
    )
}

/// Prints what clap made of the command line instead of running it (`--help` and `--version`
/// on stdout, a usage error on stderr), and its exit status: clap's own, or
/// [`out::CLOSED_STDOUT`] when stdout was closed before the help or version was out.
fn print_parse_outcome(e: &clap::Error) -> ExitCode {
    use std::io::Write;
    // clap writes without panicking; a usage error that stderr cannot take is still one.
    let printed = e.print().and_then(|()| std::io::stdout().flush());
    match printed.map_err(out::StdoutError::from) {
        Err(out::StdoutError::Closed) if !e.use_stderr() => ExitCode::from(out::CLOSED_STDOUT),
        // 0 after help or version, 2 for a usage error: both fit.
        _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
    }
}

/// Logs to stderr what `RUST_LOG` asks for (`RUST_LOG=trace` shows every AWS call), with the
/// secrets the AWS SDK's trace output lets through redacted. Without the variable no
/// subscriber is installed, so `eks-token`'s warm path pays nothing for it.
fn install_log_subscriber() {
    if std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    // Directives that do not parse are skipped, as everywhere RUST_LOG is read. The only
    // failure is a subscriber already installed, which cannot be: this is run's first step.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(|| RedactingWriter::new(std::io::stderr()))
        .try_init();
}

/// Arguments that parse but do not make sense together: exit 2, as clap's own usage errors,
/// with one line naming the command to run instead.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Says on stderr which settings could not be used (their defaults were kept).
pub(crate) fn report_settings_warnings(ctx: &Context) {
    for warning in &ctx.settings_warnings {
        errln!("ssobar: warning: {warning}");
    }
}

/// Says on stderr which files of the token cache are not trusted (writable by group or
/// others). Only the commands that are about the cache itself look: those that serve
/// credentials run on every AWS call, and a token they need that is not trusted fails them
/// with its own `chmod` line anyway.
fn report_cache_trust(ctx: &Context, command: &Command) {
    if matches!(
        command,
        Command::Status(_) | Command::Login(_) | Command::Refresh(_) | Command::Logout(_)
    ) {
        for warning in ctx.registrations.trust_warnings() {
            errln!("ssobar: warning: {warning}");
        }
    }
}

/// The runtime the commands' AWS calls run on: one thread, as a command makes few calls.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn exit_code(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(3),
        Ok(Outcome::Exit(status)) => ExitCode::from(status),
        // Whoever read stdout has gone: the shell's status for that, and nothing to say.
        Err(e) if out::stdout_closed(&e) => ExitCode::from(out::CLOSED_STDOUT),
        Err(e) => {
            if worth_running_again(&e) {
                errln!("ssobar: {e:#}; run \"{}\" again", this_command());
            } else {
                errln!("ssobar: {e:#}");
            }
            if e.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether running the same command later may work (an AWS call failed in passing, the
/// cache could not be written): then that command is what the person runs next.
fn worth_running_again(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<CallError>()
            .is_some_and(CallError::is_transient)
            || cause
                .downcast_ref::<SignInError>()
                .is_some_and(SignInError::worth_running_again)
            || cause
                .downcast_ref::<CredentialsError>()
                .is_some_and(CredentialsError::worth_running_again)
            || cause
                .downcast_ref::<AccountsError>()
                .is_some_and(AccountsError::worth_running_again)
            || cause
                .downcast_ref::<ConsoleError>()
                .is_some_and(ConsoleError::worth_running_again)
    })
}

/// This process's command line as a person would type it again.
fn this_command() -> String {
    let args = std::env::args().skip(1).map(|arg| shell_quoted(&arg));
    std::iter::once("ssobar".to_owned())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `arg` as a POSIX shell word: bare when that is safe, else in single quotes.
fn shell_quoted(arg: &str) -> String {
    let bare = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if bare {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_quoted("--profile"), "--profile");
        assert_eq!(shell_quoted("dev@prod"), "dev@prod");
        assert_eq!(shell_quoted("a b"), "'a b'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
