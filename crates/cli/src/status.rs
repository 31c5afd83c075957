//! `ssobar status`: every profile's session at a glance, as a table or as JSON.

use crate::Outcome;
use crate::table::{Style, render_table};
use anyhow::Result;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ssobar_core::config::AwsConfig;
use ssobar_core::env::Env;
use ssobar_core::paths::Paths;
use ssobar_core::settings::Settings;
use ssobar_core::status::{self, ProfileStatus};
use ssobar_core::token_cache::TokenCache;
use std::io::{IsTerminal, Write};

/// Arguments of `ssobar status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Only these profiles (repeatable).
    #[arg(long, short = 'p', value_name = "PROFILE")]
    profile: Vec<String>,
    /// Print a JSON array (the schema is in the README) instead of a table.
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
pub fn run(args: &StatusArgs, env: &Env) -> Result<Outcome> {
    let paths = Paths::from_env(env)?;
    let (settings, setting_warnings) = Settings::load(&paths.settings_file, env);
    let config = AwsConfig::load(&paths);
    for name in &args.profile {
        if config.profile(name).is_none() {
            config.require_profile(name)?;
        }
    }
    let tokens = status::read_tokens(&config, &TokenCache::from_paths(&paths));
    let now = Timestamp::now();
    let status = status::compute(&config, &tokens, now, &settings);

    let selected: Vec<&ProfileStatus> = status
        .profiles
        .iter()
        .filter(|p| args.profile.is_empty() || args.profile.contains(&p.profile))
        .collect();

    let mut stderr = std::io::stderr().lock();
    for warning in setting_warnings.iter().chain(&status.warnings) {
        writeln!(stderr, "ssobar: warning: {warning}")?;
    }

    if !args.quiet {
        let mut stdout = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer_pretty(&mut stdout, &selected)?;
            writeln!(stdout)?;
        } else if selected.is_empty() {
            writeln!(
                stderr,
                "No AWS profiles in {}. Add one with \"aws configure sso\".",
                paths.config_file.display()
            )?;
        } else {
            let style = if std::io::stdout().is_terminal() && env.get("NO_COLOR").is_none() {
                Style::Color
            } else {
                Style::Plain
            };
            let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
            stdout.write_all(render_table(&selected, now, &tz, style).as_bytes())?;
        }
    }

    let needs_sign_in = selected.iter().any(|p| p.state.needs_sign_in());
    Ok(if args.check && needs_sign_in {
        Outcome::CheckFailed
    } else {
        Outcome::Success
    })
}
