//! `ssobar log`: the access log, which program got which role's credentials and when.

use crate::Outcome;
use crate::table::aligned;
use anyhow::Result;
use ssobar_core::context::Context;
use ssobar_core::creds::access_log::{AccessLog, AccessRecord, AnsweredBy};
use ssobar_core::util::text::printable;
use ssobar_core::util::time::{format_local, parse_span};

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
    let now = ctx.now();
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        let time = ssobar_core::util::time::parse_timestamp(&r.time)
            .map(|t| format_local(t, now, &tz))
            .unwrap_or_else(|_| printable(&r.time));
        let outcome = match &r.detail {
            Some(why) => format!("{}: {}", r.outcome.word(), printable(why)),
            None => r.outcome.word().to_owned(),
        };
        rows.push([
            time,
            printable(&r.profile),
            printable(r.account.as_deref().unwrap_or("-")),
            printable(r.role.as_deref().unwrap_or("-")),
            match r.pid {
                Some(pid) => format!("{} ({pid})", printable(&r.program)),
                None => printable(&r.program),
            },
            printable(r.cwd.as_deref().unwrap_or("-")),
            match r.by {
                AnsweredBy::App => "app".to_owned(),
                AnsweredBy::Helper => "helper".to_owned(),
            },
            outcome,
        ]);
    }
    aligned(
        [
            "TIME", "PROFILE", "ACCOUNT", "ROLE", "PROGRAM", "IN", "BY", "OUTCOME",
        ],
        &rows,
    )
}
