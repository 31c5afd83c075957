//! `ssobar prompt`: one short segment for a shell prompt, from files only. Runs before every
//! prompt, so `run` dispatches it before building the `Context`, as it does `eks-token`.

use crate::Outcome;
use anyhow::Result;
use jiff::Timestamp;
use ssobar_core::env::Env;
use ssobar_core::prompt::{prompt_profile, read_segment};

/// Arguments of `ssobar prompt`.
#[derive(clap::Args)]
pub struct PromptArgs {
    /// The profile (default: $SSOBAR_PROFILE, set by "ssobar exec", else $AWS_PROFILE; with
    /// neither, nothing is printed).
    #[arg(long, short = 'p')]
    profile: Option<String>,
}

/// Runs `ssobar prompt`: prints `corp 2h13m`, `corp 4m!`, `corp expired`, `corp signed out`,
/// or nothing (no profile, or one without an SSO session); always exits 0 unless stdout is
/// gone, so a prompt never shows an error.
pub fn run(args: &PromptArgs, env: &Env) -> Result<Outcome> {
    let Some(profile) = prompt_profile(args.profile.as_deref(), env) else {
        return Ok(Outcome::Success);
    };
    if let Some(segment) = read_segment(env, profile, Timestamp::now()) {
        outln!("{segment}")?;
    }
    Ok(Outcome::Success)
}
