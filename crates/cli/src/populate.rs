//! `ssobar populate`: a profile for every account and role of a session in the AWS config.

use crate::accounts::session_directory;
use crate::args::WaitArg;
use crate::signin::{SessionSelector, Target, select_one};
use crate::{Outcome, UsageError};
use anyhow::Result;
use ssobar_core::config::populate::{
    Apply, Change, DEFAULT_TEMPLATE, Owner, PopulateError, PopulateOutcome, PopulateReport,
    PopulateRequest, Template, Unlisted, populate_file,
};
use ssobar_core::config::{SessionId, is_region_name};
use ssobar_core::context::Context;
use ssobar_core::util::text::printable;

/// Arguments of `ssobar populate`.
#[derive(clap::Args)]
pub struct PopulateArgs {
    #[command(flatten)]
    select: SessionSelector,
    /// How profiles are named, from {account_name}, {account_id}, {role_name} and
    /// {sso_session}; characters the AWS CLI does not take in a name become "-".
    #[arg(long, default_value = DEFAULT_TEMPLATE)]
    template: String,
    /// The profiles' region (default: the sso-session's sso_region).
    #[arg(long)]
    region: Option<String>,
    /// Remove the profiles ssobar wrote whose account or role is no longer yours.
    #[arg(long)]
    prune: bool,
    /// Print what would change as a unified diff, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Ask the portal again even if the list fetched within the hour is at hand.
    #[arg(long)]
    refresh: bool,
    #[command(flatten)]
    wait: WaitArg,
}

/// Runs `ssobar populate`.
pub fn run(args: &PopulateArgs, ctx: &Context) -> Result<Outcome> {
    let template = Template::parse(&args.template).map_err(|e| UsageError(e.to_string()))?;
    let config = ctx.load_config();
    let Target { session, login } = select_one(ctx, &config, &args.select)?;
    let SessionId::Named(name) = &session.id else {
        return Err(UsageError(format!(
            "populate writes profiles that name an [sso-session], and {} is a legacy sign-in; add an [sso-session] (\"aws configure sso-session\"), then run \"ssobar populate --sso-session NAME\"",
            session.id.label()
        ))
        .into());
    };
    let region = args
        .region
        .clone()
        .unwrap_or_else(|| session.region.clone());
    if !is_region_name(&region) {
        return Err(UsageError(PopulateError::Region(printable(&region)).to_string()).into());
    }

    let directory = session_directory(ctx, &session, &login, args.refresh, args.wait)?;

    let request = PopulateRequest {
        session: name.clone(),
        roles: directory.assignments(),
        template,
        region,
        unlisted: if args.prune {
            Unlisted::Prune
        } else {
            Unlisted::KeepAsStale
        },
    };
    let apply = if args.dry_run {
        Apply::DryRun
    } else {
        Apply::Write
    };
    let outcome = populate_file(&ctx.paths, &request, apply)?;
    if apply == Apply::DryRun && outcome.changes() {
        // One write: a first run's diff is thousands of lines.
        crate::out::write_stdout(unified_diff(&outcome))?;
    }
    for line in details(&outcome, &ctx.paths.credentials_file) {
        errln!("ssobar: {line}");
    }
    errln!("{}", summary(&outcome, name, apply));
    Ok(Outcome::Success)
}

/// The file's change as `diff -u` shows it, paths as git writes them (`a/`, `b/`).
fn unified_diff(outcome: &PopulateOutcome) -> String {
    let path = outcome.path.display().to_string();
    let path = path.trim_start_matches('/');
    let before = String::from_utf8_lossy(&outcome.before);
    let after = String::from_utf8_lossy(&outcome.after);
    similar::TextDiff::from_lines(before.as_ref(), after.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// One line for each profile a person should hear about: collisions, names kept apart,
/// renames, stale and removed profiles, roles skipped.
pub(crate) fn details(
    outcome: &PopulateOutcome,
    credentials_file: &std::path::Path,
) -> Vec<String> {
    let report: &PopulateReport = &outcome.report;
    let path = outcome.path.display();
    let mut lines = Vec::new();
    for c in &report.collisions {
        let p = &c.profile;
        lines.push(match &c.owner {
            Owner::HandWritten => format!(
                "skipped profile \"{}\" (account {}, role {}): {path} has a profile of that name that ssobar did not write; rename it, or choose other names with --template",
                p.name, p.account_id, p.role_name
            ),
            Owner::CredentialsFile => format!(
                "skipped profile \"{}\" (account {}, role {}): {} has a profile of that name, which the AWS tools would merge with this one; rename it, or choose other names with --template",
                p.name,
                p.account_id,
                p.role_name,
                credentials_file.display()
            ),
            Owner::Session(other) => format!(
                "skipped profile \"{}\" (account {}, role {}): ssobar wrote that name for sso-session \"{other}\"; choose other names with --template",
                p.name, p.account_id, p.role_name
            ),
        });
    }
    for w in &report.written {
        let p = &w.profile;
        if let Some(wanted) = &w.wanted {
            lines.push(format!(
                "profile \"{}\" is account {}, role {}: another account of the same name has \"{wanted}\"",
                p.name, p.account_id, p.role_name
            ));
        }
        if let Change::Renamed { from } = &w.change {
            lines.push(format!(
                "renamed profile \"{from}\" to \"{}\" (account {}, role {})",
                p.name, p.account_id, p.role_name
            ));
        }
    }
    for p in &report.stale {
        lines.push(format!(
            "kept profile \"{}\": account {}, role {} is no longer yours (--prune removes it)",
            p.name, p.account_id, p.role_name
        ));
    }
    for p in &report.removed {
        lines.push(format!(
            "removed profile \"{}\": account {}, role {} is no longer yours",
            p.name, p.account_id, p.role_name
        ));
    }
    for r in &report.unusable {
        lines.push(format!(
            "skipped account {}, role {}: the portal sent a name that cannot go into the AWS config",
            printable(&r.account_id),
            printable(&r.role_name)
        ));
    }
    lines
}

/// "Added 897 profiles, updated 0, kept 3, removed 0 in PATH (sso-session corp)."
pub(crate) fn summary(outcome: &PopulateOutcome, session: &str, apply: Apply) -> String {
    let report = &outcome.report;
    let added = report.count(|c| *c == Change::Added);
    let updated = report.count(|c| matches!(c, Change::Updated | Change::Renamed { .. }));
    let kept = report.count(|c| *c == Change::Unchanged) + report.stale.len() + report.left_alone;
    let removed = report.removed.len();
    let noun = if added == 1 { "profile" } else { "profiles" };
    let path = outcome.path.display();
    match apply {
        Apply::Write => format!(
            "Added {added} {noun}, updated {updated}, kept {kept}, removed {removed} in {path} (sso-session {session})."
        ),
        Apply::DryRun => format!(
            "Would add {added} {noun}, update {updated}, keep {kept}, remove {removed} in {path} (sso-session {session}); nothing was written."
        ),
    }
}
