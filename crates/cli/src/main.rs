//! `ssobar`: the helper that scripts, `credential_process` and kubectl's exec hook call.
//!
//! Each subcommand is a thin layer over `ssobar-core`: parse arguments, call in, print.

mod status;
mod table;

use clap::{Parser, Subcommand};
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
    let env = Env::from_process();
    let result = match cli.command {
        Command::Status(args) => status::run(&args, &env),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(3),
        Err(e) => {
            eprintln!("ssobar: {e:#}");
            ExitCode::FAILURE
        }
    }
}
