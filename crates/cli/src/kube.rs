//! `ssobar eks-token`, `ssobar kubeconfig`, `ssobar aws-auth`: EKS access with SSO credentials.

use crate::args::{WaitArg, attended_for_kubectl, attended_on_stderr};
use crate::hook::{ExecApiVersion, this_ssobar};
use crate::role_credentials::{Patience, Wanted, of_profile, role_credentials};
use crate::{Outcome, UsageError, runtime};
use anyhow::{Context as _, Result, bail};
use jiff::Timestamp;
use ssobar_core::aws::eks_cluster::EksClient;
use ssobar_core::aws::endpoints::{Service, endpoint};
use ssobar_core::aws::sts::StsClient;
use ssobar_core::context::Context;
use ssobar_core::creds::{self, Step, plan, plan_assuming};
use ssobar_core::env::Env;
use ssobar_core::kube::aws_auth::{self, AccessPolicy, PolicyGrant, SsoRole};
use ssobar_core::kube::eks::{self, CachedEksToken, EksTokenCache, TokenRequest};
use ssobar_core::kube::kubeconfig::{self, ClusterAccess, Update, eks_token_exec};
use ssobar_core::paths::Paths;
use std::path::PathBuf;

/// Arguments of `ssobar eks-token`.
#[derive(clap::Args)]
pub struct EksTokenArgs {
    /// The profile whose credentials sign the token.
    #[arg(long, short = 'p')]
    profile: String,
    /// The EKS cluster's name (what aws-iam-authenticator calls the cluster id).
    #[arg(long, visible_alias = "cluster-name")]
    cluster_id: String,
    /// The cluster's region (default: the profile's region, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Assume this role with the profile's credentials first.
    #[arg(long)]
    role_arn: Option<String>,
    #[command(flatten)]
    wait: WaitArg,
}

/// Arguments of `ssobar kubeconfig`.
#[derive(clap::Args)]
pub struct KubeconfigArgs {
    /// The profile kubectl signs in with (with --all: look only in this profile's role).
    #[arg(long, short = 'p', required_unless_present = "sso_session")]
    profile: Option<String>,
    /// The EKS cluster's name.
    #[arg(
        long,
        visible_alias = "cluster-name",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    cluster_id: Option<String>,
    /// The API server URL (default: asked from EKS with DescribeCluster).
    #[arg(long, requires = "certificate_authority", conflicts_with = "all")]
    server: Option<String>,
    /// A PEM file with the cluster's CA (default: asked from EKS).
    #[arg(long, value_name = "FILE", requires = "server")]
    certificate_authority: Option<PathBuf>,
    /// The cluster's region (default: the profile's region, else us-east-1).
    #[arg(long, conflicts_with = "all")]
    region: Option<String>,
    /// The kubeconfig to write (default: $KUBECONFIG's first file, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The context's name (default: PROFILE@CLUSTER).
    #[arg(long, conflicts_with = "all")]
    context: Option<String>,
    /// Every cluster ssobar clusters finds, one context each (with -p or --sso-session).
    #[arg(long)]
    all: bool,
    /// With --all: every account of this [sso-session], one role each.
    #[arg(long, requires = "all", conflicts_with = "profile")]
    sso_session: Option<String>,
    /// With --sso-session: try this role first in each account (repeatable, in order).
    #[arg(long = "role", value_name = "NAME", requires = "sso_session")]
    roles: Vec<String>,
    /// With --all: the regions to look in, comma-separated (default: each profile's region,
    /// else the session's sso_region).
    #[arg(long, value_name = "R,...", value_delimiter = ',', requires = "all")]
    regions: Vec<String>,
    /// With --all: how to name each context, from {account_name}, {account_id}, {role_name},
    /// {cluster}, {region} and {profile} [default: {account_name}/{cluster}].
    #[arg(long, requires = "all")]
    template: Option<String>,
    /// With --all: print the contexts that would be written, and write nothing.
    #[arg(long, requires = "all")]
    dry_run: bool,
    /// With --all: ask the portal for the accounts again.
    #[arg(long, requires = "all")]
    refresh: bool,
    #[command(flatten)]
    wait: WaitArg,
    /// The exec hook's ExecCredential version.
    #[arg(long, value_enum, default_value = "v1beta1")]
    exec_api: ExecApiVersion,
    /// The command kubectl runs (default: the absolute path of this ssobar).
    #[arg(long, value_name = "NAME")]
    command: Option<String>,
}

/// Arguments of `ssobar aws-auth`.
#[derive(clap::Args)]
pub struct AwsAuthArgs {
    /// The SSO profile whose role is granted access.
    #[arg(long, short = 'p')]
    profile: String,
    /// The cluster, for the access-entry commands.
    #[arg(long, visible_alias = "cluster-name", default_value = "CLUSTER")]
    cluster_id: String,
    /// The cluster's region (default: the profile's region, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// The Kubernetes user name (default: sso:PERMISSION_SET:{{SessionName}}).
    #[arg(long)]
    username: Option<String>,
    /// A Kubernetes group to map the role to (repeatable), e.g. system:masters.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The EKS access policy to associate with the access entry (default: none, and the entry
    /// grants nothing until RBAC binds its user or groups).
    #[arg(long, value_enum, value_name = "POLICY")]
    access_policy: Option<AccessPolicyName>,
    /// Scope the access policy to this namespace (repeatable; default: the whole cluster).
    #[arg(long = "namespace", value_name = "NS", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    namespaces: Vec<String>,
}

/// The EKS managed access policies, as `--access-policy` names them.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AccessPolicyName {
    /// AmazonEKSViewPolicy.
    View,
    /// AmazonEKSEditPolicy.
    Edit,
    /// AmazonEKSAdminPolicy.
    Admin,
    /// AmazonEKSClusterAdminPolicy.
    ClusterAdmin,
}

impl From<AccessPolicyName> for AccessPolicy {
    fn from(name: AccessPolicyName) -> Self {
        match name {
            AccessPolicyName::View => Self::View,
            AccessPolicyName::Edit => Self::Edit,
            AccessPolicyName::Admin => Self::Admin,
            AccessPolicyName::ClusterAdmin => Self::ClusterAdmin,
        }
    }
}

/// Runs `ssobar eks-token`. The warm path (a cached token with a minute left) reads two small
/// files and prints: no settings, no config parsing, no keychain, no SDK client.
pub fn eks_token(args: &EksTokenArgs, env: Env) -> Result<Outcome> {
    let api = eks::exec_api(env.get("KUBERNETES_EXEC_INFO"));
    if let Some(warning) = &api.warning {
        errln!("ssobar: warning: {warning}");
    }
    let paths = Paths::from_env(&env)?;
    let request = TokenRequest {
        profile: &args.profile,
        cluster_id: &args.cluster_id,
        region: args.region.as_deref(),
        role_arn: args.role_arn.as_deref(),
    };
    let cache = EksTokenCache::new(&paths.runtime_dir);
    if let Some(token) = cache.fresh(&request, &paths.config_file, Timestamp::now()) {
        return print_line(&eks::exec_credential(&api.version, &token));
    }

    if paths.agent_socket.is_some() {
        return remote_eks_token(args, env, &api);
    }
    // Stamped before reading: an edit in between retires the token instead of hiding in it.
    let config_stamp = eks::file_stamp(&paths.config_file);
    let ctx = Context::from_env(env)?;
    // The warm path above reads no settings; this one does, and says what it could not use.
    crate::report_settings_warnings(&ctx);
    let config = ctx.load_config();
    // The profile's network keys reach its calls and the token's STS host.
    let ctx = ctx.for_profile(&config, &args.profile);
    let steps = match &args.role_arn {
        Some(arn) => plan_assuming(&config, &args.profile, arn)?,
        None => plan(&config, &args.profile)?,
    };
    // Stamped before the credentials are read, as the config is.
    let session_token = creds::session_token_file(&ctx, &steps)
        .map(|path| (eks::file_stamp(&path), path))
        .map(|(stamp, path)| (path, stamp));
    let wanted = Wanted {
        profile: &args.profile,
        role_arn: args.role_arn.as_deref(),
    };
    let patience = Patience::Recover {
        wait: args.wait,
        attended: attended_for_kubectl(&api),
    };
    let creds = role_credentials(&ctx, wanted, patience)?.credentials;
    let top = steps.last().context("a profile with no credentials")?;
    let marker = creds::mark_current(&paths.runtime_dir, top, &creds)
        .context("cannot write to the runtime folder")?;
    let region = args
        .region
        .clone()
        .or_else(|| config.profile_region(&args.profile).map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned());
    // The SDK's own resolver: the presigned URL names the regional STS host of the region's
    // partition, which is the one the cluster's authenticator sends it to.
    let sts = endpoint(&ctx.env, Service::Sts, &region)?.url;
    let token = eks::presign(&creds, &args.cluster_id, &region, &sts, ctx.now())
        .map_err(anyhow::Error::msg)?;
    let entry = CachedEksToken {
        token: token.clone(),
        marker,
        access_key_id: creds.access_key_id.clone(),
        config_stamp,
        session_token,
    };
    if let Err(e) = cache.store(&request, &paths.config_file, &entry) {
        errln!("ssobar: warning: the token was not cached ({e}); the next call signs again");
    }
    print_line(&eks::exec_credential(&api.version, &token))
}

/// `eks-token` on a remote shell (`SSOBAR_AGENT`): the role credentials come from the
/// laptop's app and the token is signed here, in the region the kubeconfig names (else the
/// profile's, as the app tells it). Nothing is cached: this machine has no profile to tie a
/// cached token to, and the app remembers the credentials.
fn remote_eks_token(args: &EksTokenArgs, env: Env, api: &eks::ExecApi) -> Result<Outcome> {
    let ctx = Context::from_env(env)?;
    crate::report_settings_warnings(&ctx);
    let wanted = Wanted {
        profile: &args.profile,
        role_arn: args.role_arn.as_deref(),
    };
    let patience = Patience::Recover {
        wait: args.wait,
        attended: attended_for_kubectl(api),
    };
    let handed = role_credentials(&ctx, wanted, patience)?;
    let region = args
        .region
        .clone()
        .or(handed.region)
        .unwrap_or_else(|| "us-east-1".to_owned());
    let sts = endpoint(&ctx.env, Service::Sts, &region)?.url;
    let token = eks::presign(
        &handed.credentials,
        &args.cluster_id,
        &region,
        &sts,
        ctx.now(),
    )
    .map_err(anyhow::Error::msg)?;
    print_line(&eks::exec_credential(&api.version, &token))
}

fn print_line(text: &str) -> Result<Outcome> {
    let mut out = String::with_capacity(text.len() + 1);
    out.push_str(text);
    out.push('\n');
    crate::out::write_stdout(out)?;
    Ok(Outcome::Success)
}

/// Runs `ssobar kubeconfig`.
pub fn kubeconfig(args: &KubeconfigArgs, ctx: &Context) -> Result<Outcome> {
    if args.all {
        let scope = crate::clusters::Scope {
            profile: args.profile.as_deref(),
            sso_session: args.sso_session.as_deref(),
            roles: &args.roles,
            regions: &args.regions,
            refresh: args.refresh,
            wait: args.wait,
        };
        let how = crate::clusters::WriteAll {
            template: args.template.as_deref(),
            kubeconfig: args.kubeconfig.as_ref(),
            exec_api: args.exec_api,
            command: args.command.as_deref(),
            dry_run: args.dry_run,
        };
        return crate::clusters::write_all(ctx, &scope, &how);
    }
    // clap requires both without --all.
    let (Some(profile), Some(cluster_id)) = (&args.profile, &args.cluster_id) else {
        return Err(UsageError(
            "name the cluster: ssobar kubeconfig -p PROFILE --cluster-id NAME (or --all)".into(),
        )
        .into());
    };
    let config = ctx.load_config();
    let region = args
        .region
        .clone()
        .or_else(|| config.profile_region(profile).map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let (server, ca_data) = match (&args.server, &args.certificate_authority) {
        (Some(server), Some(file)) => {
            let pem = std::fs::read(file).with_context(|| {
                format!("cannot read the certificate authority {}", file.display())
            })?;
            if !pem.starts_with(b"-----BEGIN") {
                bail!(
                    "{} is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                    file.display()
                );
            }
            use base64::Engine;
            (
                server.clone(),
                base64::engine::general_purpose::STANDARD.encode(pem),
            )
        }
        _ => {
            let creds = of_profile(ctx, profile, args.wait, attended_on_stderr())?;
            let eks = EksClient::new(&ctx.env, &region, &creds)?;
            let cluster = runtime()?.block_on(eks.describe_cluster(cluster_id))?;
            (cluster.endpoint, cluster.certificate_authority_data)
        }
    };
    let path = match &args.kubeconfig {
        Some(path) => path.clone(),
        None => kubeconfig::default_path(&ctx.env)
            .context("cannot tell where the kubeconfig is: set KUBECONFIG or HOME")?,
    };
    let command = match &args.command {
        Some(name) => name.clone(),
        None => this_ssobar()?,
    };
    let name = format!("{profile}@{cluster_id}");
    let access = ClusterAccess {
        cluster_name: cluster_id.clone(),
        server,
        certificate_authority_data: ca_data,
        user_name: name.clone(),
        context_name: args.context.clone().unwrap_or(name),
        exec: eks_token_exec(
            args.exec_api.into(),
            &command,
            profile,
            cluster_id,
            args.region.as_deref(),
        ),
    };
    let (doc, update) = kubeconfig::update(&path, &access, kubeconfig::LOCK_WAIT)?;
    let what = format!(
        "cluster {}, user {} and context {}",
        access.cluster_name, access.user_name, access.context_name
    );
    match update {
        Update::Written => outln!("Wrote {what} to {}.", path.display())?,
        Update::Unchanged => outln!("{} already has {what}; nothing changed.", path.display())?,
    }
    if doc.get("current-context").and_then(|c| c.as_str()) != Some(access.context_name.as_str()) {
        outln!(
            "Use it with: kubectl --context {} get nodes  (or kubectl config use-context {0})",
            access.context_name
        )?;
    }
    Ok(Outcome::Success)
}

/// Runs `ssobar aws-auth`.
pub fn aws_auth(args: &AwsAuthArgs, ctx: &Context) -> Result<Outcome> {
    // Checked before any sign-in or network call: a usage mistake costs nothing.
    let policy = PolicyGrant::choose(args.access_policy.map(Into::into), args.namespaces.clone())
        .map_err(|_| {
            UsageError(format!(
                "--namespace scopes an access policy: add one, e.g. ssobar aws-auth --profile {} --access-policy view --namespace {}",
                args.profile,
                args.namespaces.first().map_or("NS", String::as_str)
            ))
        })?;
    let config = ctx.load_config();
    let steps = plan(&config, &args.profile)?;
    let Some(Step::Sso { session, .. }) = steps.first() else {
        bail!(
            "profile {} does not start from an SSO session",
            args.profile
        );
    };
    let identity_center_region = session.region.clone();
    let creds = of_profile(ctx, &args.profile, WaitArg::default(), attended_on_stderr())?;
    let region = args
        .region
        .clone()
        .or_else(|| config.profile_region(&args.profile).map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let identity = runtime()?
        .block_on(StsClient::new(&ctx.env, &region, &creds)?.caller_identity())
        .context("GetCallerIdentity")?;
    let role = SsoRole::from_caller_arn(&identity.arn).with_context(|| {
        format!(
            "profile {} is {}, not an IAM Identity Center role (AWSReservedSSO_...); map that role's ARN directly",
            args.profile, identity.arn
        )
    })?;
    let username = args
        .username
        .clone()
        .unwrap_or_else(|| aws_auth::default_username(&role));
    out!(
        "{}",
        aws_auth::grant_instructions(
            &role,
            &identity_center_region,
            &args.cluster_id,
            &region,
            &username,
            &args.groups,
            policy.as_ref()
        )
    )?;
    Ok(Outcome::Success)
}
