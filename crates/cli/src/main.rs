//! `ssobar`: the helper that scripts, `credential_process` and kubectl's exec hook call.
//!
//! Each subcommand is a thin layer over `ssobar-core`: parse arguments, call in, print.

mod credentials;
mod signin;
mod status;
mod table;

use clap::{Parser, Subcommand};
use ssobar_core::context::Context;
use ssobar_core::env::Env;
use std::process::ExitCode;

/// Keeps AWS IAM Identity Center (SSO) sessions alive for the terminal and kubectl.
#[derive(Parser)]
#[command(name = "ssobar", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every profile's SSO session: state, expiry, time left.
    Status(status::StatusArgs),
    /// Sign in to a session in the browser (PKCE), or with a device code.
    Login(signin::LoginArgs),
    /// Renew a session with its refresh token, without a browser.
    Refresh(signin::RefreshArgs),
    /// Sign out of a session and delete its token and stored credentials.
    Logout(signin::LogoutArgs),
    /// Print role credentials in the credential_process format (for ~/.aws/config).
    CredentialProcess(credentials::CredentialProcessArgs),
    /// Run a command with a profile's role credentials in its environment.
    Exec(credentials::ExecArgs),
    /// Print export lines with a profile's role credentials, for eval.
    Env(credentials::EnvArgs),
}

/// How a command ended, as the process exit status.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `status --check` found a session that needs a sign-in: exit 3.
    CheckFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Context::from_env(Env::from_process())
        .map_err(anyhow::Error::from)
        .and_then(|ctx| {
            for warning in &ctx.settings_warnings {
                eprintln!("ssobar: warning: {warning}");
            }
            match &cli.command {
                Command::Status(args) => status::run(args, &ctx),
                Command::Login(args) => signin::login(args, &ctx),
                Command::Refresh(args) => signin::refresh(args, &ctx),
                Command::Logout(args) => signin::logout(args, &ctx),
                Command::CredentialProcess(args) => credentials::credential_process(args, &ctx),
                Command::Exec(args) => credentials::exec(args, &ctx),
                Command::Env(args) => credentials::env(args, &ctx),
            }
        });
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(3),
        Err(e) => {
            eprintln!("ssobar: {e:#}");
            ExitCode::FAILURE
        }
    }
}
