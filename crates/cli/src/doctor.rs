//! `ssobar doctor`: every check of `ssobar_core::doctor` over this machine's setup, one finding
//! a line (or JSON), and with `--fix` the safe fixes first.

use crate::hook::this_ssobar;
use crate::{Outcome, runtime};
use anyhow::Result;
use ssobar_core::context::Context;
use ssobar_core::doctor::{self, FIX_COMMAND, Finding, Severity};
use ssobar_core::kube::kubeconfig;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `ssobar doctor`.
#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Apply the fixes that are safe (legacy profiles and sessions given a session that can
    /// refresh, kubeconfig users and credential_process lines moved to ssobar, each only where
    /// it keeps its account and role), and say which are left.
    #[arg(long)]
    fix: bool,
    /// Print JSON (`findings[]`, `needs_doing`, and with --fix `fixed[]` and `left[]`).
    #[arg(long)]
    json: bool,
    /// The kubeconfig to look at (default: $KUBECONFIG's first file, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
}

/// Runs `ssobar doctor`: exit 0 when nothing needs doing, 1 otherwise.
pub fn run(args: &DoctorArgs, ctx: &Context) -> Result<Outcome> {
    let ssobar = this_ssobar()?;
    let report = if args.fix {
        let path = args
            .kubeconfig
            .clone()
            .or_else(|| kubeconfig::default_path(&ctx.env));
        Some(doctor::fix(ctx, path.as_deref(), &ssobar)?)
    } else {
        None
    };
    let observed = runtime()?.block_on(doctor::observe(ctx, args.kubeconfig.clone(), &ssobar));
    let findings = doctor::check(&observed);
    let needs_doing = findings
        .iter()
        .filter(|f| f.severity() == Severity::NeedsDoing)
        .count();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut json = serde_json::to_vec_pretty(&serde_json::json!({
            "findings": findings.iter().map(Finding::view).collect::<Vec<_>>(),
            "needs_doing": needs_doing,
            "fixed": report.as_ref().map(|r| &r.fixed),
            "left": report.as_ref().map(|r| &r.left),
        }))?;
        json.push(b'\n');
        stdout.write_all(&json)?;
    } else {
        let mut text = String::new();
        if let Some(report) = &report {
            for fixed in &report.fixed {
                text.push_str(&format!("fixed: {}\n", fixed.message()));
            }
            for left in &report.left {
                text.push_str(&format!("left: {}: {}\n", left.what, left.why));
            }
        }
        for finding in &findings {
            text.push_str(&line(finding));
            text.push('\n');
        }
        text.push_str(&summary(&findings, needs_doing));
        text.push('\n');
        stdout.write_all(text.as_bytes())?;
    }
    Ok(if needs_doing == 0 {
        Outcome::Success
    } else {
        Outcome::Exit(1)
    })
}

/// "needs doing: ...; run "..."" or "info: ...".
fn line(finding: &Finding) -> String {
    let severity = match finding.severity() {
        Severity::NeedsDoing => "needs doing",
        Severity::Info => "info",
    };
    match finding.command() {
        Some(command) => format!("{severity}: {}; run \"{command}\"", finding.message()),
        None => format!("{severity}: {}", finding.message()),
    }
}

/// The last line: how many things need doing, and how many of them `--fix` fixes.
fn summary(findings: &[Finding], needs_doing: usize) -> String {
    if needs_doing == 0 {
        return "Nothing needs doing.".to_owned();
    }
    let fixable = findings
        .iter()
        .filter(|f| f.severity() == Severity::NeedsDoing && f.fixable())
        .count();
    let things = if needs_doing == 1 {
        "1 thing needs".to_owned()
    } else {
        format!("{needs_doing} things need")
    };
    match fixable {
        0 => format!("{things} doing, by hand (see above)."),
        n if n == needs_doing => format!("{things} doing; \"{FIX_COMMAND}\" does it."),
        n => format!("{things} doing; \"{FIX_COMMAND}\" does {n} of them, the rest is by hand."),
    }
}
