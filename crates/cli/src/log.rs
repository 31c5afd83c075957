//! `ssobar log`: the access log, which program got which role's credentials and when.

use crate::Outcome;
use crate::table::aligned;
use anyhow::Result;
use ssobar_core::context::Context;
use ssobar_core::creds::access_log::{AccessLog, AccessRecord, activity_rows};
use ssobar_core::util::time::parse_span;

/// Arguments of `ssobar log`.
#[derive(clap::Args)]
pub struct LogArgs {
    /// Only requests for this profile.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Only requests this recent: 30m, 1h, 2d, 1h30m (default: 1d; the log keeps 30 days).
    #[arg(long, value_name = "SPAN", default_value = "1d")]
    since: String,
    /// One JSON object per line, as the log keeps them.
    #[arg(long)]
    json: bool,
}

/// Runs `ssobar log`.
pub fn run(args: &LogArgs, ctx: &Context) -> Result<Outcome> {
    let span = parse_span(&args.since).map_err(|e| crate::UsageError(format!("--since: {e}")))?;
    let now = ctx.now();
    let since = ssobar_core::util::time::add_seconds(now, -span);
    let records: Vec<AccessRecord> = AccessLog::at(&ctx.paths.access_log)
        .read(since, now)
        .into_iter()
        .filter(|r| args.profile.as_deref().is_none_or(|p| r.profile == p))
        .collect();
    if args.json {
        let mut out = String::new();
        for record in &records {
            // A record of strings always serializes.
            out.push_str(&serde_json::to_string(record).unwrap_or_default());
            out.push('\n');
        }
        crate::out::write_stdout(out)?;
        return Ok(Outcome::Success);
    }
    if records.is_empty() {
        errln!(
            "ssobar: no credentials were handed out or asked for since {} ago (the log is {})",
            args.since,
            ctx.paths.access_log.display()
        );
        return Ok(Outcome::Success);
    }
    crate::out::write_stdout(render(&records, ctx))?;
    Ok(Outcome::Success)
}

/// The table: when, profile, account and role, program and folder, who answered, outcome.
fn render(records: &[AccessRecord], ctx: &Context) -> String {
    let tz = jiff::tz::TimeZone::system();
    let rows: Vec<[String; 8]> = activity_rows(records, ctx.now(), &tz)
        .into_iter()
        .map(|r| {
            [
                r.when, r.profile, r.account, r.role, r.program, r.folder, r.by, r.outcome,
            ]
        })
        .collect();
    aligned(
        [
            "TIME", "PROFILE", "ACCOUNT", "ROLE", "PROGRAM", "IN", "BY", "OUTCOME",
        ],
        &rows,
    )
}
