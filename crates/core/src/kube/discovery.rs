//! Finding every EKS cluster a person can reach: per account, one role's credentials list the
//! clusters of each region asked for (ListClusters, then DescribeCluster): the first region
//! alone, which says whether the role may list, then the others together. Every account is
//! searched at once, its calls within one congestion [`Window`] that widens while the
//! services answer and narrows when they throttle. A role refused `eks:ListClusters` is
//! reported and the account's next role tried; nothing an account does stops the others.
//!
//! A session's roles are used for the search alone: their credentials are fetched and kept
//! in memory, never written to the keychain ([`Vault::fetch_unkept`]). A profile's own are
//! the vault's, as every other command's.
//!
//! The result is a value ([`Discovery`]) that `ssobar clusters` prints and `ssobar kubeconfig
//! --all` writes; [`context_names`] names its kubeconfig contexts from a template. A session's
//! clusters are kept in the cache folder ([`KnownClusters`]) for the window's search, which
//! never searches by itself unless asked.

use crate::aws::CallError;
use crate::aws::credentials::AwsCredentials;
use crate::aws::eks_cluster::{ClusterInfo, EksClient};
use crate::aws::window::{self, Window};
use crate::config::{AwsConfig, SessionId, SsoSessionConfig};
use crate::context::Context;
use crate::creds::{CredentialsError, Step, Vault};
use crate::kube::kubeconfig::{ClusterAccess, ExecApi, eks_token_exec};
use crate::paths::Paths;
use crate::sso::accounts::DirectoryAccount;
use crate::util::fsutil::{self, ReadError, write_private};
use crate::util::text::printable;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use tokio::task::JoinSet;

/// The search's threads: its calls wait on the network, not on these; more are for a
/// profile's keychain read, a blocking D-Bus round trip that must not hold up the others.
const SEARCH_THREADS: usize = 4;

/// The service code of a call the role's policies do not allow.
const ACCESS_DENIED: &str = "AccessDeniedException";

/// One account to look in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The 12-digit account id.
    pub account_id: String,
    /// The account's name, when known.
    pub account_name: Option<String>,
    /// The roles to try, in order: the first one allowed to list the clusters lists them.
    pub roles: Vec<RoleWay>,
}

/// A role of an account, and how to get its credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleWay {
    /// The role (permission set) name.
    pub role_name: String,
    /// The steps to its credentials.
    pub steps: Vec<Step>,
    /// The profile whose credentials these are, which a kubeconfig's exec hook can name;
    /// `None` when the config has none.
    pub profile: Option<String>,
    /// The regions to look in.
    pub regions: Vec<String>,
    /// Whether the credentials are the vault's, read from and kept in the keychain (a
    /// profile's own), or fetched for the search alone and kept nowhere (a session's roles).
    pub kept: bool,
}

/// What was found: the clusters, and what could not be looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// Every cluster found, by account name (then id), region and cluster name.
    pub clusters: Vec<FoundCluster>,
    /// What was skipped and why, in the same order.
    pub skipped: Vec<Skipped>,
}

/// One cluster, with the role that found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCluster {
    /// The account's id.
    pub account_id: String,
    /// The account's name, when known.
    pub account_name: Option<String>,
    /// The role whose credentials listed it.
    pub role_name: String,
    /// The profile with those credentials, for the exec hook; `None` when the config has none.
    pub profile: Option<String>,
    /// The cluster's region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
    /// The cluster's ARN.
    pub arn: String,
    /// The API server URL.
    pub endpoint: String,
    /// The CA, base64 of the PEM.
    pub certificate_authority_data: String,
}

impl FoundCluster {
    /// The cluster as a person is shown it: every field that came from the network or a
    /// cache made [printable]. The cluster's own name stays as
    /// EKS spelt it wherever it is used to reach the cluster; this copy is only for showing.
    pub fn shown(&self) -> Self {
        let shown = |text: &str| printable(text);
        Self {
            account_id: shown(&self.account_id),
            account_name: self.account_name.as_deref().map(shown),
            role_name: shown(&self.role_name),
            profile: self.profile.as_deref().map(shown),
            region: shown(&self.region),
            cluster: shown(&self.cluster),
            arn: shown(&self.arn),
            endpoint: shown(&self.endpoint),
            certificate_authority_data: self.certificate_authority_data.clone(),
        }
    }

    /// What `ssobar kubeconfig --all` and the window's "Add to kubeconfig" write for it: the
    /// context `context`, whose user runs `command eks-token` with the profile that stands for
    /// the role that found it; `None` when no profile does (the exec hook needs one to name).
    pub fn kubeconfig_access(
        &self,
        context: &str,
        api: ExecApi,
        command: &str,
    ) -> Option<ClusterAccess> {
        let profile = self.profile.as_deref()?;
        Some(ClusterAccess {
            // The ARN, as `aws eks update-kubeconfig` names it: unique across accounts and
            // regions, where the cluster's own name is not.
            cluster_name: self.arn.clone(),
            server: self.endpoint.clone(),
            certificate_authority_data: self.certificate_authority_data.clone(),
            user_name: context.to_owned(),
            context_name: context.to_owned(),
            exec: eks_token_exec(api, command, profile, &self.cluster, Some(&self.region)),
        })
    }
}

impl FoundCluster {
    /// This cluster with what EKS answered for it now: its ARN, endpoint and CA from
    /// `info`, whatever a kept list said.
    pub fn described(&self, info: ClusterInfo) -> Self {
        Self {
            arn: info.arn,
            endpoint: info.endpoint,
            certificate_authority_data: info.certificate_authority_data,
            ..self.clone()
        }
    }
}

/// A cluster as EKS describes it now to the profile that stands for the role that found it:
/// what a kubeconfig entry is written from when the cluster comes from a kept list (the
/// window's search reads the cache file, which whoever could write it chose). The endpoint,
/// CA and ARN come from this DescribeCluster, never from the list; a cluster that EKS places
/// in another account than the list says is refused.
pub async fn describe_again(
    ctx: &Context,
    config: &AwsConfig,
    found: &FoundCluster,
) -> Result<FoundCluster, CredentialsError> {
    let profile = found.profile.as_deref().ok_or_else(|| {
        CredentialsError::Local(format!(
            "no profile stands for {} in {}: add one first",
            found.role_name, found.account_id
        ))
    })?;
    let steps = crate::creds::plan(config, profile)?;
    let creds = Vault::new(ctx).credentials(&steps).await?;
    let what = || format!("DescribeCluster {} in {}", found.cluster, found.region);
    let described = async {
        EksClient::new(&ctx.env, &found.region, &creds)?
            .describe_cluster(&found.cluster)
            .await
    }
    .await
    .map_err(|error| CredentialsError::Call {
        what: what(),
        error,
    })?;
    let (account, _) = role_of_arn(&described.arn);
    if account != found.account_id {
        return Err(CredentialsError::Local(format!(
            "{} answers for account {account}, not {} as the list of clusters says; find the clusters again",
            what(),
            found.account_id
        )));
    }
    Ok(found.described(described))
}

/// Why part of an account was not looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The role may not call `eks:ListClusters`; the account's next role is tried.
    NotAllowed,
    /// None of the account's roles may list its clusters.
    NoRoleAllowed,
    /// A call failed otherwise (the network, the service, the credentials).
    Failed,
}

/// Something skipped, as one line says it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The account's id.
    pub account_id: String,
    /// The account's name, when known.
    pub account_name: Option<String>,
    /// The role, when the line is about one.
    pub role_name: Option<String>,
    /// The region, when the line is about one.
    pub region: Option<String>,
    /// Why.
    pub reason: SkipReason,
    /// The line a person reads.
    pub message: String,
}

/// `account-0007 (100000000007)`, or the id alone: how every line names an account.
pub fn account_label(account_id: &str, account_name: Option<&str>) -> String {
    match account_name {
        Some(name) => format!("{name} ({account_id})"),
        None => account_id.to_owned(),
    }
}

impl Skipped {
    fn new(
        target: &Target,
        role: Option<&RoleWay>,
        region: Option<&str>,
        reason: SkipReason,
        detail: &str,
    ) -> Self {
        let account = account_label(&target.account_id, target.account_name.as_deref());
        let subject = match (role, region) {
            (Some(role), Some(region)) => format!("{account} / {} in {region}", role.role_name),
            (Some(role), None) => format!("{account} / {}", role.role_name),
            (None, _) => account,
        };
        Self {
            account_id: target.account_id.clone(),
            account_name: target.account_name.clone(),
            role_name: role.map(|r| r.role_name.clone()),
            region: region.map(str::to_owned),
            reason,
            // Cluster names and service messages in it came from the network.
            message: printable(&format!("{subject}: {detail}")),
        }
    }
}

/// The profile that stands for each account and role of a session: one whose credentials are
/// exactly that role's (no `role_arn` on the way), a plain SSO profile before one reached
/// through `credential_process` doorways, then the first by name. Built in one pass over the
/// config, which may hold a profile for every role of hundreds of accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleProfiles {
    by_role: HashMap<(String, String), (usize, String)>,
}

impl RoleProfiles {
    /// The profiles of `session`'s roles in `config`.
    pub fn of(config: &AwsConfig, session: &SessionId) -> Self {
        let mut by_role: HashMap<(String, String), (usize, String)> = HashMap::new();
        for profile in config.profiles() {
            let resolution = config.resolve(profile);
            let Ok(root) = &resolution.session else {
                continue;
            };
            let (Some(account), Some(role)) = (&root.sso.account_id, &root.sso.role_name) else {
                continue;
            };
            if &root.sso.session.id != session || resolution.roles_from_root().next().is_some() {
                continue;
            }
            // Fewer links first (a plain profile before a doorway to it), then by name.
            let candidate = (resolution.links.len(), profile.name.clone());
            let best = by_role.entry((account.clone(), role.clone()));
            match best {
                Entry::Occupied(mut best) if candidate < *best.get() => {
                    best.insert(candidate);
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(slot) => {
                    slot.insert(candidate);
                }
            }
        }
        Self { by_role }
    }

    /// The profile of `role_name` in `account_id`, if the config has one.
    pub fn get(&self, account_id: &str, role_name: &str) -> Option<&str> {
        self.by_role
            .get(&(account_id.to_owned(), role_name.to_owned()))
            .map(|(_, name)| name.as_str())
    }
}

/// Which regions to look in for an account and role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Regions {
    /// These, for every account (`--regions`).
    Given(Vec<String>),
    /// The region of the profile that stands for the role, else the session's `sso_region`.
    OfEachProfile,
}

/// The accounts of a session's directory as targets: every role of each account, those in
/// `preferred` first (in that order), then the others as the directory sorts them. Each
/// role's credentials come from GetRoleCredentials with the session; its profile is the one
/// [`RoleProfiles`] finds.
pub fn session_targets(
    config: &AwsConfig,
    session: &SsoSessionConfig,
    accounts: &[DirectoryAccount],
    preferred: &[String],
    regions: &Regions,
) -> Vec<Target> {
    let profiles = RoleProfiles::of(config, &session.id);
    accounts
        .iter()
        .map(|account| {
            let mut roles: Vec<&String> = preferred
                .iter()
                .filter(|role| account.roles.contains(role))
                .collect();
            roles.extend(account.roles.iter().filter(|r| !preferred.contains(r)));
            let roles = roles
                .into_iter()
                .map(|role_name| {
                    let profile = profiles
                        .get(&account.account_id, role_name)
                        .map(str::to_owned);
                    let regions = match regions {
                        Regions::Given(list) => list.clone(),
                        Regions::OfEachProfile => vec![
                            profile
                                .as_deref()
                                .and_then(|p| config.profile_region(p))
                                .unwrap_or(&session.region)
                                .to_owned(),
                        ],
                    };
                    RoleWay {
                        role_name: role_name.clone(),
                        steps: vec![Step::Sso {
                            session: session.clone(),
                            profile: profile.clone().unwrap_or_else(|| session.id.label()),
                            account_id: account.account_id.clone(),
                            role_name: role_name.clone(),
                        }],
                        profile,
                        regions,
                        kept: false,
                    }
                })
                .collect();
            Target {
                account_id: account.account_id.clone(),
                account_name: account.account_name.clone(),
                roles,
            }
        })
        .collect()
}

/// The one target of a profile (`-p`): its own credentials (role chains included), in
/// `regions`, else its region, else `us-east-1` as `ssobar eks-token` defaults. The account
/// and role are those the credentials stand for: the SSO role's, or the assumed role's.
pub fn profile_target(
    config: &AwsConfig,
    profile: &str,
    account_name: Option<String>,
    regions: &Regions,
) -> Result<Target, CredentialsError> {
    let steps = crate::creds::plan(config, profile)?;
    let (account_id, role_name) = match steps.last() {
        Some(Step::Sso {
            account_id,
            role_name,
            ..
        }) => (account_id.clone(), role_name.clone()),
        Some(Step::Assume { request, .. }) => role_of_arn(&request.role_arn),
        None => (String::new(), String::new()),
    };
    let regions = match regions {
        Regions::Given(list) => list.clone(),
        Regions::OfEachProfile => {
            vec![
                config
                    .profile_region(profile)
                    .unwrap_or("us-east-1")
                    .to_owned(),
            ]
        }
    };
    Ok(Target {
        account_id,
        account_name,
        roles: vec![RoleWay {
            role_name,
            steps,
            profile: Some(profile.to_owned()),
            regions,
            kept: true,
        }],
    })
}

/// `arn:aws:iam::ACCOUNT:role/path/NAME` → (ACCOUNT, NAME); what does not parse is kept whole
/// as the role, so a message still names it.
fn role_of_arn(arn: &str) -> (String, String) {
    let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
    let name = arn.rsplit(['/', ':']).next().unwrap_or(arn).to_owned();
    (account, name)
}

/// [`discover`] on a runtime of its own: a profile's credentials kept in the keychain are a
/// blocking D-Bus round trip, which must not hold up the other accounts' calls. Blocks the
/// calling thread.
pub fn discover_on_threads(
    ctx: &Context,
    targets: Vec<Target>,
) -> Result<Discovery, CredentialsError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SEARCH_THREADS)
        .enable_all()
        .build()
        .map_err(|e| CredentialsError::Local(format!("cannot start the search: {e}")))?;
    let found = runtime.block_on(discover(ctx, targets));
    // A search stopped by an error leaves tasks blocked in the keychain or on a lock: they
    // are not waited for, the error is what counts.
    runtime.shutdown_background();
    found
}

/// A session's clusters as its last whole search found them: what the window's search lists.
/// Endpoints and CAs are public; no credential is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownClusters {
    /// When the search ran.
    #[serde(with = "crate::util::time::serde_timestamp")]
    pub found_at: Timestamp,
    /// What it found.
    pub clusters: Vec<FoundCluster>,
}

/// The cache file of a session's clusters.
pub fn cache_path(paths: &Paths, session: &SsoSessionConfig) -> std::path::PathBuf {
    paths
        .cache_dir
        .join("clusters")
        .join(format!("{}.json", session.id.cache_key()))
}

/// The clusters last found for `session`; `Ok(None)` when none were, or the file does not
/// parse. `Err` with one line saying why and what to run when someone else may have written
/// the file or its folder: such a file is not used ([`fsutil::read_trusted`]). Even a
/// trusted one is only a list to choose from: a kubeconfig is written from what
/// [`describe_again`] answers, never from the file.
pub fn read_cached(
    paths: &Paths,
    session: &SsoSessionConfig,
) -> Result<Option<KnownClusters>, String> {
    let path = cache_path(paths, session);
    match fsutil::read_trusted(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(ReadError::Untrusted(why)) => Err(format!(
            "{}: {why}; its clusters are not listed until they are found again",
            path.display()
        )),
        Err(ReadError::Missing | ReadError::Io(_)) => Ok(None),
    }
}

/// Keeps what a whole search of `session` found, atomically and privately.
pub fn write_cached(
    paths: &Paths,
    session: &SsoSessionConfig,
    known: &KnownClusters,
) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(known)?;
    write_private(&cache_path(paths, session), &json)
}

/// Looks for the clusters of every target, all at once, their calls within one congestion
/// [`Window`]. Only a session that needs a sign-in, a keychain that cannot be used, or a lock
/// another process keeps stops it (every account would fail alike, or wait as long); anything
/// else is a [`Skipped`] line.
pub async fn discover(ctx: &Context, targets: Vec<Target>) -> Result<Discovery, CredentialsError> {
    let ctx = Arc::new(ctx.clone());
    let window = Arc::new(Window::new(window::START, window::MAX));
    let mut searches = JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        let (ctx, window) = (ctx.clone(), window.clone());
        searches.spawn(async move { (index, search_account(&ctx, &window, &target).await) });
    }
    let mut found: Vec<(usize, AccountFindings)> = Vec::new();
    while let Some(joined) = searches.join_next().await {
        let (index, findings) = joined.map_err(|e| CredentialsError::Local(e.to_string()))?;
        found.push((index, findings?));
    }
    found.sort_by_key(|(index, _)| *index);
    let mut discovery = Discovery::default();
    for (_, findings) in found {
        discovery.clusters.extend(findings.clusters);
        discovery.skipped.extend(findings.skipped);
    }
    discovery.clusters.sort_by(|a, b| {
        let name = |c: &FoundCluster| c.account_name.as_deref().map(str::to_lowercase);
        name(a)
            .cmp(&name(b))
            .then_with(|| a.account_id.cmp(&b.account_id))
            .then_with(|| a.region.cmp(&b.region))
            .then_with(|| a.cluster.cmp(&b.cluster))
    });
    Ok(discovery)
}

#[derive(Default)]
struct AccountFindings {
    clusters: Vec<FoundCluster>,
    skipped: Vec<Skipped>,
}

impl AccountFindings {
    fn add(&mut self, more: Self) {
        self.clusters.extend(more.clusters);
        self.skipped.extend(more.skipped);
    }
}

/// What one region of a role gave.
enum RegionFindings {
    /// The role may not list clusters (said of its first region only), as a line says.
    Refused(Skipped),
    /// What was found, and what failed.
    Looked(AccountFindings),
}

/// A role's credentials for the search: the vault's when they are kept, else fetched for the
/// search alone.
async fn role_credentials(
    ctx: &Context,
    window: &Window,
    role: &RoleWay,
) -> Result<AwsCredentials, CredentialsError> {
    let vault = Vault::new(ctx);
    match role.steps.as_slice() {
        [step] if !role.kept => vault.fetch_unkept(step, window).await,
        steps => vault.credentials(steps).await,
    }
}

/// One account: its roles in order until one may list; that role lists its first region,
/// then every other region at once, and describes each cluster.
async fn search_account(
    ctx: &Arc<Context>,
    window: &Arc<Window>,
    target: &Target,
) -> Result<AccountFindings, CredentialsError> {
    let mut findings = AccountFindings::default();
    for role in &target.roles {
        let creds = match role_credentials(ctx, window, role).await {
            Ok(creds) => creds,
            // Every account would fail alike, or wait as long for a lock held elsewhere.
            Err(
                e @ (CredentialsError::SignInNeeded { .. }
                | CredentialsError::Lock(_)
                | CredentialsError::Keychain(_)),
            ) => return Err(e),
            Err(e) => {
                findings.skipped.push(Skipped::new(
                    target,
                    Some(role),
                    None,
                    SkipReason::Failed,
                    &format!("{e}; skipped"),
                ));
                continue;
            }
        };
        let Some((first, others)) = role.regions.split_first() else {
            return Ok(findings);
        };
        // Whether this role is the account's: once its first region answers, or fails for a
        // reason other than a refusal (another role would fare no better), no other role is
        // tried.
        match search_region(ctx, window, target, role, &creds, first, true).await {
            RegionFindings::Refused(line) => {
                findings.skipped.push(line);
                continue;
            }
            RegionFindings::Looked(found) => findings.add(found),
        }
        let mut regions = JoinSet::new();
        for (index, region) in others.iter().enumerate() {
            let (ctx, window, target, role, creds, region) = (
                ctx.clone(),
                window.clone(),
                target.clone(),
                role.clone(),
                creds.clone(),
                region.clone(),
            );
            regions.spawn(async move {
                let found =
                    search_region(&ctx, &window, &target, &role, &creds, &region, false).await;
                (index, found)
            });
        }
        let mut found: Vec<(usize, AccountFindings)> = Vec::new();
        while let Some(joined) = regions.join_next().await {
            let (index, region) = joined.map_err(|e| CredentialsError::Local(e.to_string()))?;
            if let RegionFindings::Looked(region) = region {
                found.push((index, region));
            }
        }
        // In the order the regions were asked for, as when they were searched one by one.
        found.sort_by_key(|(index, _)| *index);
        for (_, region) in found {
            findings.add(region);
        }
        return Ok(findings);
    }
    if !target.roles.is_empty() {
        findings.skipped.push(Skipped::new(
            target,
            None,
            None,
            SkipReason::NoRoleAllowed,
            "no role may list its EKS clusters; skipped",
        ));
    }
    Ok(findings)
}

/// One region of a role: ListClusters, then DescribeCluster for each name. A refusal of the
/// role's `first` region is [`RegionFindings::Refused`]; anything else that fails is a line.
async fn search_region(
    ctx: &Context,
    window: &Window,
    target: &Target,
    role: &RoleWay,
    creds: &AwsCredentials,
    region: &str,
    first: bool,
) -> RegionFindings {
    let mut findings = AccountFindings::default();
    let listed = async {
        let eks = EksClient::new(&ctx.env, region, creds)?;
        let names = window::call(window, || eks.list_clusters()).await?;
        Ok::<_, CallError>((eks, names))
    }
    .await;
    let (eks, names) = match listed {
        Ok(listed) => listed,
        Err(e) if e.code() == Some(ACCESS_DENIED) && first => {
            return RegionFindings::Refused(Skipped::new(
                target,
                Some(role),
                None,
                SkipReason::NotAllowed,
                "not allowed eks:ListClusters; skipped",
            ));
        }
        Err(e) => {
            let reason = if e.code() == Some(ACCESS_DENIED) {
                SkipReason::NotAllowed
            } else {
                SkipReason::Failed
            };
            findings.skipped.push(Skipped::new(
                target,
                Some(role),
                Some(region),
                reason,
                &format!("ListClusters failed: {e}; skipped"),
            ));
            return RegionFindings::Looked(findings);
        }
    };
    for name in names {
        match window::call(window, || eks.describe_cluster(&name)).await {
            Ok(info) => findings.clusters.push(FoundCluster {
                account_id: target.account_id.clone(),
                account_name: target.account_name.clone(),
                role_name: role.role_name.clone(),
                profile: role.profile.clone(),
                region: region.to_owned(),
                cluster: name,
                arn: info.arn,
                endpoint: info.endpoint,
                certificate_authority_data: info.certificate_authority_data,
            }),
            Err(e) => findings.skipped.push(Skipped::new(
                target,
                Some(role),
                Some(region),
                SkipReason::Failed,
                &format!("DescribeCluster {name} failed: {e}; skipped"),
            )),
        }
    }
    RegionFindings::Looked(findings)
}

/// The placeholders a context name template may use.
pub const PLACEHOLDERS: [&str; 6] = [
    "account_name",
    "account_id",
    "role_name",
    "cluster",
    "region",
    "profile",
];

/// The default context name template.
pub const DEFAULT_TEMPLATE: &str = "{account_name}/{cluster}";

/// A template that cannot name contexts.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "--template {template:?}: {problem}; use {{account_name}}, {{account_id}}, {{role_name}}, {{cluster}}, {{region}} or {{profile}}"
)]
pub struct TemplateError {
    /// The template given.
    pub template: String,
    /// What is wrong with it.
    pub problem: String,
}

enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let error = |problem: String| TemplateError {
        template: template.to_owned(),
        problem,
    };
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(error("a } without its {".into()));
        }
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| error("a { without its }".into()))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(error(format!("{{{name}}} is not a placeholder")));
        }
        out.push(Piece::Field(name));
        rest = &after[close + 1..];
    }
    out.push(Piece::Text(rest));
    if !out.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(error(
            "it names no placeholder, so every context would have one name".into(),
        ));
    }
    Ok(out)
}

/// Checks a template before any call is made.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    pieces(template).map(|_| ())
}

/// A character kept in a context name; others become `-`. Kubernetes names its contexts
/// freely, but a name that stays a single shell word, printable and without `,` or `=` (which
/// `kubectl config` flags split on) is one people can type.
fn kept(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-/:@+".contains(c)
}

fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| if kept(c) { c } else { '-' })
        .collect()
}

/// One context name per cluster, in the clusters' order: the template filled in (a missing
/// account name is the account id, a missing profile the role name) and sanitised. Names
/// that come out alike get `@ACCOUNT_ID/REGION` added, then `-2`, `-3`, ... in the clusters'
/// order, so the same clusters always get the same names.
pub fn context_names(
    template: &str,
    clusters: &[FoundCluster],
) -> Result<Vec<String>, TemplateError> {
    let pieces = pieces(template)?;
    let render = |c: &FoundCluster| {
        let text: String = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => *text,
                Piece::Field("account_name") => c.account_name.as_deref().unwrap_or(&c.account_id),
                Piece::Field("account_id") => &c.account_id,
                Piece::Field("role_name") => &c.role_name,
                Piece::Field("cluster") => &c.cluster,
                Piece::Field("region") => &c.region,
                Piece::Field(_) => c.profile.as_deref().unwrap_or(&c.role_name),
            })
            .collect();
        sanitise(&text)
    };
    let mut names: Vec<String> = clusters.iter().map(render).collect();
    let mut count: HashMap<String, usize> = HashMap::new();
    for name in &names {
        *count.entry(name.clone()).or_default() += 1;
    }
    for (name, cluster) in names.iter_mut().zip(clusters) {
        if count.get(name.as_str()).is_some_and(|n| *n > 1) {
            *name = sanitise(&format!("{name}@{}/{}", cluster.account_id, cluster.region));
        }
    }
    let mut taken: HashMap<String, usize> = HashMap::new();
    for name in &mut names {
        let seen = taken.entry(name.clone()).or_default();
        *seen += 1;
        if *seen > 1 {
            *name = format!("{name}-{seen}");
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::config;

    fn found(account: &str, name: Option<&str>, region: &str, cluster: &str) -> FoundCluster {
        FoundCluster {
            account_id: account.into(),
            account_name: name.map(str::to_owned),
            role_name: "Admin".into(),
            profile: Some("dev".into()),
            region: region.into(),
            cluster: cluster.into(),
            arn: format!("arn:aws:eks:{region}:{account}:cluster/{cluster}"),
            endpoint: "https://127.0.0.1:6443".into(),
            certificate_authority_data: "Q0E=".into(),
        }
    }

    fn session() -> SsoSessionConfig {
        SsoSessionConfig {
            id: SessionId::Named("corp".into()),
            start_url: "https://corp.awsapps.com/start".into(),
            region: "us-east-1".into(),
            registration_scopes: None,
        }
    }

    fn paths_in(home: &std::path::Path) -> Paths {
        let home = home.to_str().unwrap();
        Paths::from_env(&crate::env::Env::from_pairs([("HOME", home)])).unwrap()
    }

    #[test]
    fn a_kept_cluster_reaches_a_kubeconfig_only_as_eks_describes_it() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let known = KnownClusters {
            found_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            clusters: vec![found("111", Some("a"), "us-east-1", "api")],
        };
        write_cached(&paths, &session(), &known).unwrap();
        // The file edited by hand (or by whoever could): still the user's own, so read.
        let path = cache_path(&paths, &session());
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("https://127.0.0.1:6443", "https://evil.example");
        std::fs::write(&path, text).unwrap();
        let kept = read_cached(&paths, &session()).unwrap().unwrap();
        assert_eq!(kept.clusters[0].endpoint, "https://evil.example");

        let now = ClusterInfo {
            arn: "arn:aws:eks:us-east-1:111:cluster/api".into(),
            endpoint: "https://api.eks.example".into(),
            certificate_authority_data: "RUtT".into(),
        };
        let access = kept.clusters[0]
            .described(now)
            .kubeconfig_access("a/api", ExecApi::V1, "ssobar")
            .unwrap();
        assert_eq!(access.server, "https://api.eks.example");
        assert_eq!(access.certificate_authority_data, "RUtT");
    }

    #[cfg(unix)]
    #[test]
    fn a_clusters_cache_others_may_write_is_not_read() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let known = KnownClusters {
            found_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            clusters: vec![found("111", Some("a"), "us-east-1", "api")],
        };
        write_cached(&paths, &session(), &known).unwrap();
        let path = cache_path(&paths, &session());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o646)).unwrap();
        let why = read_cached(&paths, &session()).unwrap_err();
        assert!(
            why.contains(&format!("run \"chmod 600 {}\"", path.display())),
            "{why}"
        );
        write_cached(&paths, &session(), &known).unwrap();
        assert_eq!(read_cached(&paths, &session()), Ok(Some(known)));
    }

    #[test]
    fn contexts_are_named_from_the_template_and_sanitised() {
        let clusters = [
            found("111", Some("Prod Team"), "us-east-1", "api"),
            found("222", None, "eu-west-1", "web"),
        ];
        assert_eq!(
            context_names(DEFAULT_TEMPLATE, &clusters).unwrap(),
            ["Prod-Team/api", "222/web"]
        );
        assert_eq!(
            context_names("{profile}@{cluster}.{region}#{role_name}", &clusters).unwrap(),
            ["dev@api.us-east-1-Admin", "dev@web.eu-west-1-Admin"]
        );
    }

    #[test]
    fn names_alike_are_told_apart_the_same_way_every_time() {
        let clusters = [
            found("111", Some("a"), "us-east-1", "api"),
            found("111", Some("a"), "eu-west-1", "api"),
            found("222", Some("b"), "us-east-1", "web"),
        ];
        let names = context_names("{cluster}", &clusters).unwrap();
        assert_eq!(names, ["api@111/us-east-1", "api@111/eu-west-1", "web"]);
        assert_eq!(context_names("{cluster}", &clusters).unwrap(), names);
        // Still alike after the qualifier (a template that drops it is named apart by count).
        let twins = [
            found("111", Some("a"), "us-east-1", "api"),
            found("111", Some("a"), "us-east-1", "api"),
        ];
        assert_eq!(
            context_names("{cluster}", &twins).unwrap(),
            ["api@111/us-east-1", "api@111/us-east-1-2"]
        );
    }

    #[test]
    fn an_unknown_or_broken_placeholder_is_one_usage_line() {
        for (template, problem) in [
            ("{account}/{cluster}", "{account} is not a placeholder"),
            ("{cluster", "a { without its }"),
            ("cluster}", "a } without its {"),
            ("fixed", "it names no placeholder"),
        ] {
            let error = check_template(template).unwrap_err().to_string();
            assert!(error.contains(problem), "{template}: {error}");
            assert!(error.contains("use {account_name}"), "{error}");
            assert_eq!(error.lines().count(), 1);
        }
        assert!(check_template(DEFAULT_TEMPLATE).is_ok());
    }

    const CONFIG: &str = "\
[sso-session corp]
sso_start_url = https://corp/start
sso_region = eu-central-1
[profile door]
credential_process = ssobar credential-process --profile zz-plain
[profile zz-plain]
sso_session = corp
sso_account_id = 111
sso_role_name = Admin
region = us-west-2
[profile chained]
role_arn = arn:aws:iam::111:role/Other
source_profile = zz-plain
[profile other-role]
sso_session = corp
sso_account_id = 111
sso_role_name = ReadOnly
";

    #[test]
    fn the_profile_of_a_role_is_a_plain_sso_profile_before_a_doorway_never_a_chain() {
        let c = config(CONFIG);
        let corp = RoleProfiles::of(&c, &SessionId::Named("corp".into()));
        assert_eq!(corp.get("111", "Admin"), Some("zz-plain"));
        assert_eq!(corp.get("111", "ReadOnly"), Some("other-role"));
        assert_eq!(corp.get("222", "Admin"), None);
        let other = RoleProfiles::of(&c, &SessionId::Named("other".into()));
        assert_eq!(other.get("111", "Admin"), None);
    }

    #[test]
    fn session_targets_put_preferred_roles_first_and_take_each_profiles_region() {
        let c = config(CONFIG);
        let session = c.sso_session("corp").unwrap();
        let accounts = [DirectoryAccount {
            account_id: "111".into(),
            account_name: Some("prod".into()),
            email_address: None,
            roles: vec!["Admin".into(), "Billing".into(), "ReadOnly".into()],
        }];
        let targets = session_targets(
            &c,
            &session,
            &accounts,
            &["ReadOnly".into(), "Missing".into()],
            &Regions::OfEachProfile,
        );
        let roles: Vec<(&str, Option<&str>, &[String])> = targets[0]
            .roles
            .iter()
            .map(|r| {
                (
                    r.role_name.as_str(),
                    r.profile.as_deref(),
                    r.regions.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            [
                (
                    "ReadOnly",
                    Some("other-role"),
                    &["eu-central-1".to_owned()][..]
                ),
                ("Admin", Some("zz-plain"), &["us-west-2".to_owned()][..]),
                ("Billing", None, &["eu-central-1".to_owned()][..]),
            ]
        );
        let given = Regions::Given(vec!["us-east-1".into(), "eu-west-1".into()]);
        let targets = session_targets(&c, &session, &accounts, &[], &given);
        assert!(targets[0].roles.iter().all(|r| r.regions.len() == 2));
        assert_eq!(targets[0].roles[0].role_name, "Admin");
    }

    #[test]
    fn a_profile_target_is_the_role_its_credentials_stand_for() {
        let c = config(CONFIG);
        let target = profile_target(&c, "door", None, &Regions::OfEachProfile).unwrap();
        assert_eq!(target.account_id, "111");
        assert_eq!(target.roles[0].role_name, "Admin");
        // The profile's own region, as `ssobar eks-token -p door` takes it.
        assert_eq!(target.roles[0].regions, ["us-east-1"]);
        assert_eq!(target.roles[0].profile.as_deref(), Some("door"));
        let plain = profile_target(&c, "zz-plain", None, &Regions::OfEachProfile).unwrap();
        assert_eq!(plain.roles[0].regions, ["us-west-2"]);
        let chained = profile_target(&c, "chained", None, &Regions::OfEachProfile).unwrap();
        assert_eq!(
            (
                chained.account_id.as_str(),
                chained.roles[0].role_name.as_str()
            ),
            ("111", "Other")
        );
        assert_eq!(chained.roles[0].regions, ["us-west-2"], "up the role chain");
        assert!(profile_target(&c, "nope", None, &Regions::OfEachProfile).is_err());
    }

    #[test]
    fn skipped_lines_name_the_account_and_role() {
        let target = Target {
            account_id: "100000000007".into(),
            account_name: Some("account-0007".into()),
            roles: Vec::new(),
        };
        let role = RoleWay {
            role_name: "ReadOnly".into(),
            steps: Vec::new(),
            profile: None,
            regions: Vec::new(),
            kept: false,
        };
        let line = Skipped::new(
            &target,
            Some(&role),
            None,
            SkipReason::NotAllowed,
            "not allowed eks:ListClusters; skipped",
        );
        assert_eq!(
            line.message,
            "account-0007 (100000000007) / ReadOnly: not allowed eks:ListClusters; skipped"
        );
    }
}
