//! `ssobar status`: every profile's session at a glance, as a table or as JSON.

use crate::Outcome;
use crate::table::{Style, render_table};
use anyhow::Result;
use ssobar_core::context::Context;
use ssobar_core::status::{self, ProfileStatus};
use std::io::IsTerminal;

/// Arguments of `ssobar status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Only these profiles (repeatable).
    #[arg(long, short = 'p', value_name = "PROFILE")]
    profile: Vec<String>,
    /// Print a JSON array (its fields are in docs/commands.md) instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit with status 3 when a selected session is expired, missing or invalid.
    #[arg(long)]
    check: bool,
    /// Print nothing on stdout (with --check, for shell prompts and scripts).
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs `ssobar status`.
pub fn run(args: &StatusArgs, ctx: &Context) -> Result<Outcome> {
    let config = ctx.load_config();
    for name in &args.profile {
        if config.profile(name).is_none() {
            config.require_profile(name)?;
        }
    }
    let tokens = status::read_tokens(&config, ctx.tokens.as_ref());
    let now = ctx.now();
    let status = status::compute(&config, &tokens, now, &ctx.settings);

    let selected: Vec<&ProfileStatus> = status
        .profiles
        .iter()
        .filter(|p| args.profile.is_empty() || args.profile.contains(&p.profile))
        .collect();

    for warning in &status.warnings {
        errln!("ssobar: warning: {warning}");
    }

    if !args.quiet {
        if args.json {
            // One write: stdout is line-buffered, and a thousand profiles are 15,000 lines.
            let mut json = serde_json::to_vec_pretty(&selected)?;
            json.push(b'\n');
            crate::out::write_stdout(json)?;
        } else if selected.is_empty() {
            errln!(
                "No AWS profiles in {}. Add one with \"aws configure sso\".",
                ctx.paths.config_file.display()
            );
        } else {
            let style = if std::io::stdout().is_terminal() && ctx.env.get("NO_COLOR").is_none() {
                Style::Color
            } else {
                Style::Plain
            };
            crate::out::write_stdout(render_table(&selected, now, ctx.tz(), style))?;
        }
    }

    let needs_sign_in = selected.iter().any(|p| p.state.needs_sign_in());
    Ok(if args.check && needs_sign_in {
        Outcome::CheckFailed
    } else {
        Outcome::Success
    })
}
