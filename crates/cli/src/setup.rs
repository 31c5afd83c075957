//! `ssobar setup`: from an access portal URL to a session that refreshes, a profile for every
//! account and role, and (with `--clusters`) a kubeconfig context per EKS cluster. The steps
//! and their rules are core's (`ssobar_core::setup`); this parses, asks, calls and prints.

use crate::accounts::session_directory;
use crate::args::WaitArg;
use crate::clusters::{Scope, find, report_skipped, report_without_profile};
use crate::hook::this_ssobar;
use crate::signin::{SignedIn, Target, ensure_signed_in, until};
use crate::{Outcome, UsageError, runtime};
use anyhow::{Context as _, Result};
use ssobar_core::config::populate::Apply;
use ssobar_core::config::start_url::{Portal, StartUrlError};
use ssobar_core::config::{is_region_name, login_command};
use ssobar_core::context::Context;
use ssobar_core::kube::kubeconfig::{self, ExecApi, Update};
use ssobar_core::setup::{
    self, RegionSource, SessionChoice, SetupError, SetupPlan, SetupRequest, SetupStep,
};
use ssobar_core::sso::signin::{SignInFlow, SignInOptions};
use ssobar_core::sso::token_cache::CachedToken;
use ssobar_core::util::text::printable;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `ssobar setup`.
#[derive(clap::Args)]
pub struct SetupArgs {
    /// Your AWS access portal's URL (https://NAME.awsapps.com/start), or your company's own
    /// link to it.
    #[arg(long, value_name = "URL")]
    start_url: String,
    /// The IAM Identity Center region, when the URL does not say it (on a terminal it is asked).
    #[arg(long, value_name = "REGION")]
    sso_region: Option<String>,
    /// The [sso-session] name (default: the portal's, e.g. d-1234567890 or corp).
    #[arg(long)]
    name: Option<String>,
    /// Write no profiles (default: one for every account and role).
    #[arg(long)]
    no_populate: bool,
    /// Also find the EKS clusters of every account and add a kubeconfig context for each.
    #[arg(long, conflicts_with = "no_populate")]
    clusters: bool,
    /// With --clusters: the regions to look in, comma-separated (default: the session's region).
    #[arg(
        long,
        value_name = "R,...",
        value_delimiter = ',',
        requires = "clusters"
    )]
    regions: Vec<String>,
    /// With --clusters: the kubeconfig to write (default: $KUBECONFIG's first file, else
    /// ~/.kube/config).
    #[arg(long, value_name = "PATH", requires = "clusters")]
    kubeconfig: Option<PathBuf>,
    /// Ask nothing: go on without confirming, and fail with one line where a question would be
    /// needed.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Sign in with the device code flow (for SSH, WSL and machines without a browser).
    #[arg(long)]
    device_code: bool,
    #[command(flatten)]
    wait: WaitArg,
}

/// Whether questions can be asked: a person at a terminal who did not say `--yes`.
fn can_ask(args: &SetupArgs) -> bool {
    !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks on stderr, reads one line from stdin.
fn ask(question: &str) -> Result<String> {
    crate::out::write_stderr(question);
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().to_owned())
}

/// Runs `ssobar setup`.
pub fn run(args: &SetupArgs, ctx: &Context) -> Result<Outcome> {
    if let Some(bad) = args.regions.iter().find(|r| !is_region_name(r)) {
        return Err(UsageError(format!(
            "--regions takes region names, comma-separated (--regions us-east-1,eu-west-1); {:?} is not one",
            printable(bad)
        ))
        .into());
    }
    let portal = runtime()?
        .block_on(setup::resolve_start_url(&ctx.env, &args.start_url))
        .map_err(start_url_error)?;
    let mut request = SetupRequest {
        name: args.name.clone(),
        region: args.sso_region.clone(),
        profiles: !args.no_populate,
        clusters: args.clusters,
    };
    let plan = plan_with_questions(ctx, args, &portal, &mut request)?;
    if can_ask(args) {
        print_plan(ctx, &plan)?;
        let answer = ask("Go on? [Y/n] ")?;
        if answer.eq_ignore_ascii_case("n") || answer.eq_ignore_ascii_case("no") {
            outln!("Nothing was changed.")?;
            return Ok(Outcome::Success);
        }
    }

    let written = setup::write_session(&ctx.paths, &portal, &request).map_err(plan_error)?;
    let plan = written.outcome;
    let config_path = written.path.display();
    let name = plan.session.name().to_owned();
    match &plan.session {
        SessionChoice::Add { .. } => outln!(
            "Added [sso-session {name}] for {} ({}) to {config_path}.",
            plan.start_url,
            plan.region
        )?,
        SessionChoice::AddScope { .. } => outln!(
            "Gave [sso-session {name}] in {config_path} the scope sso:account:access, so that it can refresh."
        )?,
        SessionChoice::Reuse { .. } => outln!(
            "Using [sso-session {name}] from {config_path}: it signs in to {}.",
            plan.start_url
        )?,
    }

    let config = ctx.load_config();
    let session = config.sso_session(&name)?;
    let target = Target {
        login: login_command(&session, None),
        session,
    };
    // A token got before the scope was added has no refresh token: one sign-in now gets one.
    let force = matches!(plan.session, SessionChoice::AddScope { .. })
        && !matches!(
            ctx.tokens.load(&target.session.id),
            CachedToken::Present(token) if token.refresh_token.is_some()
        );
    let options = SignInOptions {
        flow: args.device_code.then_some(SignInFlow::DeviceCode),
        force,
        ..SignInOptions::default()
    };
    match ensure_signed_in(ctx, &target, &options, args.wait)? {
        SignedIn::Already(token) => outln!("Already signed in to {name} {}.", until(ctx, &token))?,
        SignedIn::Now(token) => outln!("Signed in to {name} {}.", until(ctx, &token))?,
    }

    let mut profile = None;
    if plan.steps.contains(&SetupStep::AddProfiles) {
        let directory = session_directory(ctx, &target.session, &target.login, false, args.wait)?;
        let outcome = setup::add_profiles(&ctx.paths, &plan, &directory)?;
        for line in crate::populate::details(&outcome, &ctx.paths.credentials_file) {
            errln!("ssobar: {line}");
        }
        outln!(
            "{}",
            crate::populate::summary(&outcome, &name, Apply::Write)
        )?;
        profile = outcome
            .report
            .written
            .first()
            .map(|w| w.profile.name.clone());
    }

    let mut context = None;
    if plan.steps.contains(&SetupStep::FindClusters) {
        context = add_clusters(ctx, args, &name)?;
    }

    let commands = setup::next_commands(profile.as_deref(), context.as_deref());
    if !commands.is_empty() {
        outln!("Try:")?;
        for command in commands {
            outln!("  {command}")?;
        }
    }
    Ok(Outcome::Success)
}

/// The plan, asking for the region on a terminal when the URL does not give it.
fn plan_with_questions(
    ctx: &Context,
    args: &SetupArgs,
    portal: &Portal,
    request: &mut SetupRequest,
) -> Result<SetupPlan> {
    let config = ctx.load_config();
    match setup::plan(&config, portal, request) {
        Err(SetupError::RegionNeeded { start_url }) if can_ask(args) => {
            let region = ask(&format!(
                "Which region is the IAM Identity Center of {start_url} in (like us-east-1)? "
            ))?;
            request.region = Some(region);
            setup::plan(&config, portal, request).map_err(plan_error)
        }
        other => other.map_err(plan_error),
    }
}

/// What the setup will do, before the person is asked to go on.
fn print_plan(ctx: &Context, plan: &SetupPlan) -> Result<(), crate::out::StdoutError> {
    let from = match plan.region_from {
        RegionSource::Url => "from its URL",
        RegionSource::Given => "as given",
        RegionSource::Session => "as its sso-session says",
    };
    outln!(
        "Setting up {} (IAM Identity Center in {}, {from}):",
        plan.start_url,
        plan.region
    )?;
    let config = ctx.paths.config_file.display();
    for (n, step) in plan.steps.iter().enumerate() {
        let line = match step {
            SetupStep::WriteSession => match &plan.session {
                SessionChoice::Add { name } => format!("add [sso-session {name}] to {config}"),
                SessionChoice::AddScope { name } => {
                    format!("give [sso-session {name}] in {config} the scope sso:account:access")
                }
                SessionChoice::Reuse { name } => format!("use [sso-session {name}]"),
            },
            SetupStep::SignIn => format!("sign in to {}", plan.session.name()),
            other => other.title().to_lowercase(),
        };
        outln!("  {}. {line}", n + 1)?;
    }
    Ok(())
}

/// The one line a start URL error is, as a usage error where the URL itself is wrong.
fn start_url_error(error: StartUrlError) -> anyhow::Error {
    match error {
        StartUrlError::Unreachable { .. } => error.into(),
        other => UsageError(format!("--start-url: {other}")).into(),
    }
}

/// A plan error, naming the flag that mends it where one does.
fn plan_error(error: SetupError) -> anyhow::Error {
    match &error {
        SetupError::RegionNeeded { .. } => UsageError(format!(
            "{error}; pass --sso-region REGION (where your IAM Identity Center is, like us-east-1)"
        ))
        .into(),
        SetupError::NotARegion(_) | SetupError::RegionConflict { .. } => {
            UsageError(format!("--sso-region: {error}")).into()
        }
        SetupError::BadName(_) | SetupError::NameTaken { .. } => {
            UsageError(format!("--name: {error}")).into()
        }
        SetupError::StartUrl(_) | SetupError::SessionRegionDiffers { .. } | SetupError::Edit(_) => {
            error.into()
        }
    }
}

/// Finds the session's clusters and writes a context for each; returns the first context.
fn add_clusters(ctx: &Context, args: &SetupArgs, session: &str) -> Result<Option<String>> {
    let scope = Scope {
        profile: None,
        sso_session: Some(session),
        roles: &[],
        regions: &args.regions,
        refresh: false,
        wait: args.wait,
    };
    let found = find(ctx, &scope)?;
    report_skipped(&found);
    let command = this_ssobar()?;
    let path = match &args.kubeconfig {
        Some(path) => path.clone(),
        None => kubeconfig::default_path(&ctx.env)
            .context("cannot tell where the kubeconfig is: set KUBECONFIG or HOME")?,
    };
    let added = setup::add_to_kubeconfig(&path, &found.clusters, ExecApi::V1beta1, &command)?;
    report_without_profile(&added.without.iter().collect::<Vec<_>>(), &scope);
    let count = added.contexts.len();
    let contexts = if count == 1 { "context" } else { "contexts" };
    match added.update {
        None => outln!("No EKS clusters found to add to {}.", path.display())?,
        Some(Update::Written) => outln!("Wrote {count} {contexts} to {}.", path.display())?,
        Some(Update::Unchanged) => outln!(
            "{} already has the {count} {contexts}; nothing changed.",
            path.display()
        )?,
    }
    Ok(added.contexts.into_iter().next())
}
