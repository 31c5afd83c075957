//! `ssobar clusters` and `ssobar kubeconfig --all`: every EKS cluster a session's accounts (or
//! one profile) can reach, as a table or JSON, or as one kubeconfig context each.

use crate::accounts::session_directory;
use crate::args::{WaitArg, attended_on_stderr, profile_or_default};
use crate::expired::recover;
use crate::hook::{ExecApiVersion, this_ssobar};
use crate::table::aligned;
use crate::{Outcome, UsageError};
use anyhow::{Context as _, Result};
use ssobar_core::config::{AwsConfig, SsoSessionConfig, is_region_name, login_command};
use ssobar_core::context::Context;
use ssobar_core::creds::CredentialsError;
use ssobar_core::kube::discovery::{
    self, DEFAULT_TEMPLATE, Discovery, FoundCluster, KnownClusters, Regions, Target, account_label,
    check_template, context_names,
};
use ssobar_core::kube::kubeconfig::{self, ClusterAccess, Update};
use ssobar_core::sso::accounts;
use ssobar_core::util::text::printable;
use std::path::PathBuf;

/// Arguments of `ssobar clusters`.
#[derive(clap::Args)]
pub struct ClustersArgs {
    /// Only this profile's role (default: $AWS_PROFILE, else "default", unless --sso-session).
    #[arg(long, short = 'p', conflicts_with = "sso_session")]
    profile: Option<String>,
    /// Every account of this [sso-session], one role each.
    #[arg(long)]
    sso_session: Option<String>,
    /// With --sso-session: try this role first in each account (repeatable, in order; default:
    /// the account's roles by name).
    #[arg(long = "role", value_name = "NAME", requires = "sso_session")]
    roles: Vec<String>,
    /// The regions to look in, comma-separated (default: each profile's region, else the
    /// session's sso_region).
    #[arg(long, value_name = "R,...", value_delimiter = ',')]
    regions: Vec<String>,
    /// Print JSON (`clusters[]` and `skipped[]`) instead of a table.
    #[arg(long)]
    json: bool,
    /// Ask the portal for the accounts again even if the list fetched within the hour is at
    /// hand.
    #[arg(long)]
    refresh: bool,
    #[command(flatten)]
    wait: WaitArg,
}

/// Where to look: what `clusters` and `kubeconfig --all` share.
pub(crate) struct Scope<'a> {
    /// `-p`.
    pub(crate) profile: Option<&'a str>,
    /// `--sso-session`.
    pub(crate) sso_session: Option<&'a str>,
    /// `--role`.
    pub(crate) roles: &'a [String],
    /// `--regions`.
    pub(crate) regions: &'a [String],
    /// `--refresh`.
    pub(crate) refresh: bool,
    /// `--wait`.
    pub(crate) wait: WaitArg,
}

/// Runs `ssobar clusters`.
pub fn run(args: &ClustersArgs, ctx: &Context) -> Result<Outcome> {
    let scope = Scope {
        profile: args.profile.as_deref(),
        sso_session: args.sso_session.as_deref(),
        roles: &args.roles,
        regions: &args.regions,
        refresh: args.refresh,
        wait: args.wait,
    };
    let found = find(ctx, &scope)?;
    report_skipped(&found);
    if args.json {
        let mut json = serde_json::to_vec_pretty(&found)?;
        json.push(b'\n');
        crate::out::write_stdout(json)?;
    } else if found.clusters.is_empty() {
        errln!("No EKS clusters found.");
    } else {
        crate::out::write_stdout(render(&found.clusters))?;
    }
    Ok(Outcome::Success)
}

/// Says on stderr, one line each, what could not be looked at.
pub(crate) fn report_skipped(found: &Discovery) {
    for skipped in &found.skipped {
        errln!("ssobar: {}", skipped.message);
    }
}

/// The clusters of the scope. Only usage mistakes, a config that names no such session or
/// profile, a sign-in nobody can give, and what would fail every account alike (see
/// [`discovery::discover`]) are errors; what an account refuses is a
/// [`Skipped`](discovery::Skipped) line.
pub(crate) fn find(ctx: &Context, scope: &Scope<'_>) -> Result<Discovery> {
    if let Some(bad) = scope.regions.iter().find(|r| !is_region_name(r)) {
        return Err(UsageError(format!(
            "--regions takes region names, comma-separated (--regions us-east-1,eu-west-1); {bad:?} is not one"
        ))
        .into());
    }
    let regions = if scope.regions.is_empty() {
        Regions::OfEachProfile
    } else {
        // A region named twice is searched once.
        let mut given: Vec<String> = Vec::new();
        for region in scope.regions {
            if !given.contains(region) {
                given.push(region.clone());
            }
        }
        Regions::Given(given)
    };
    let config = ctx.load_config();
    let (session, login, targets) = match scope.sso_session {
        Some(name) => {
            let session = config.sso_session(name)?;
            let login = login_command(&session, None);
            let directory = session_directory(ctx, &session, &login, scope.refresh, scope.wait)?;
            let targets = discovery::session_targets(
                &config,
                &session,
                &directory.accounts,
                scope.roles,
                &regions,
            );
            (session, login, targets)
        }
        None => {
            let profile = profile_or_default(ctx, scope.profile);
            let session = config.session_for_profile(&profile)?;
            let login = login_command(&session, Some(&profile));
            let target = profile_target(ctx, &config, &profile, &session, &regions)?;
            (session, login, vec![target])
        }
    };
    let found = match discovery::discover_on_threads(ctx, targets.clone()) {
        Err(e @ CredentialsError::SignInNeeded { .. }) => {
            recover(
                ctx,
                &session,
                &login,
                scope.wait,
                attended_on_stderr(),
                e.into(),
            )?;
            discovery::discover_on_threads(ctx, targets)?
        }
        other => other?,
    };
    if scope.sso_session.is_some() {
        let known = KnownClusters {
            found_at: ctx.now(),
            clusters: found.clusters.clone(),
        };
        // The list is right whether or not it could be kept; the window's search then shows
        // the last one kept.
        if let Err(why) = discovery::write_cached(&ctx.paths, &session, &known) {
            errln!("ssobar: warning: the clusters were not kept for the window's search ({why})");
        }
    }
    Ok(found)
}

/// A profile's target, its account named as the session's cached directory names it (no call
/// is made for a name alone; without a cached directory the id stands in).
fn profile_target(
    ctx: &Context,
    config: &AwsConfig,
    profile: &str,
    session: &SsoSessionConfig,
    regions: &Regions,
) -> Result<Target> {
    let mut target = discovery::profile_target(config, profile, None, regions)?;
    // A cache others may write names no account: the id stands in.
    let cached = accounts::read_cached(&ctx.paths, session).ok().flatten();
    target.account_name = cached.and_then(|directory| {
        directory
            .accounts
            .into_iter()
            .find(|a| a.account_id == target.account_id)
            .and_then(|a| a.account_name)
    });
    Ok(target)
}

const HEADERS: [&str; 5] = ["ACCOUNT", "NAME", "ROLE", "REGION", "CLUSTER"];

/// One row per cluster, columns padded to their widest cell.
fn render(clusters: &[FoundCluster]) -> String {
    let rows: Vec<[String; 5]> = clusters
        .iter()
        .map(|c| {
            [
                c.account_id.clone(),
                c.account_name.clone().unwrap_or_else(|| "-".to_owned()),
                c.role_name.clone(),
                c.region.clone(),
                c.cluster.clone(),
            ]
        })
        .collect();
    aligned(HEADERS, &rows)
}

/// What `ssobar kubeconfig --all` takes besides the scope.
pub(crate) struct WriteAll<'a> {
    /// `--template`.
    pub(crate) template: Option<&'a str>,
    /// `--kubeconfig`.
    pub(crate) kubeconfig: Option<&'a PathBuf>,
    /// `--exec-api`.
    pub(crate) exec_api: ExecApiVersion,
    /// `--command`.
    pub(crate) command: Option<&'a str>,
    /// `--dry-run`.
    pub(crate) dry_run: bool,
}

/// Runs `ssobar kubeconfig --all`: one context per cluster found, all written at once.
pub(crate) fn write_all(ctx: &Context, scope: &Scope<'_>, how: &WriteAll<'_>) -> Result<Outcome> {
    let template = how.template.unwrap_or(DEFAULT_TEMPLATE);
    // Checked before any sign-in or network call: a usage mistake costs nothing.
    check_template(template).map_err(|e| UsageError(e.to_string()))?;
    let found = find(ctx, scope)?;
    report_skipped(&found);
    let (writable, without_profile): (Vec<&FoundCluster>, Vec<&FoundCluster>) =
        found.clusters.iter().partition(|c| c.profile.is_some());
    report_without_profile(&without_profile, scope);

    let writable: Vec<FoundCluster> = writable.into_iter().cloned().collect();
    let names = context_names(template, &writable).map_err(|e| UsageError(e.to_string()))?;
    let path = match how.kubeconfig {
        Some(path) => path.clone(),
        None => kubeconfig::default_path(&ctx.env)
            .context("cannot tell where the kubeconfig is: set KUBECONFIG or HOME")?,
    };
    let command = match how.command {
        Some(name) => name.to_owned(),
        None => this_ssobar()?,
    };
    let accesses: Vec<ClusterAccess> = writable
        .iter()
        .zip(&names)
        .filter_map(|(cluster, name)| {
            cluster.kubeconfig_access(name, how.exec_api.into(), &command)
        })
        .collect();
    let count = accesses.len();
    let contexts = if count == 1 { "context" } else { "contexts" };
    if how.dry_run {
        for access in &accesses {
            outln!("{}", access.context_name)?;
        }
        outln!(
            "Would write {count} {contexts} to {} (dry run; nothing written).",
            path.display()
        )?;
        return Ok(Outcome::Success);
    }
    if accesses.is_empty() {
        outln!("No clusters to write to {}.", path.display())?;
        return Ok(Outcome::Success);
    }
    let (_, update) = kubeconfig::update_all(&path, &accesses, kubeconfig::LOCK_WAIT)?;
    match update {
        Update::Written => outln!("Wrote {count} {contexts} to {}.", path.display())?,
        Update::Unchanged => outln!(
            "{} already has the {count} {contexts}; nothing changed.",
            path.display()
        )?,
    }
    Ok(Outcome::Success)
}

/// One line per account and role whose clusters have no profile for the exec hook to name,
/// with the command that adds one.
pub(crate) fn report_without_profile(clusters: &[&FoundCluster], scope: &Scope<'_>) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for cluster in clusters {
        let key = (cluster.account_id.as_str(), cluster.role_name.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let count = clusters
            .iter()
            .filter(|c| (c.account_id.as_str(), c.role_name.as_str()) == key)
            .count();
        let what = if count == 1 {
            "cluster is"
        } else {
            "clusters are"
        };
        let session = scope.sso_session.unwrap_or("SESSION");
        let role = printable(&format!(
            "{} / {}",
            account_label(&cluster.account_id, cluster.account_name.as_deref()),
            cluster.role_name
        ));
        errln!(
            "ssobar: {role}: no profile in the AWS config for this role, so its {count} {what} not written; add one with \"ssobar populate --sso-session {session}\"",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_aligned_row_per_cluster() {
        let cluster = |name: Option<&str>, region: &str, cluster: &str| FoundCluster {
            account_id: "111122223333".into(),
            account_name: name.map(str::to_owned),
            role_name: "Admin".into(),
            profile: None,
            region: region.into(),
            cluster: cluster.into(),
            arn: String::new(),
            endpoint: String::new(),
            certificate_authority_data: String::new(),
        };
        assert_eq!(
            render(&[
                cluster(Some("prod"), "eu-west-1", "api"),
                cluster(None, "us-east-1", "web-frontend"),
            ]),
            "ACCOUNT       NAME  ROLE   REGION     CLUSTER\n\
             111122223333  prod  Admin  eu-west-1  api\n\
             111122223333  -     Admin  us-east-1  web-frontend\n"
        );
    }
}
