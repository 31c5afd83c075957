//! From an access portal URL to a working config: the steps of a setup, which `ssobar setup`
//! runs in one go and the window's first run offers one at a time. The caller parses, asks
//! and shows; every decision is here.
//!
//! 1. [`resolve_start_url`]: the URL as pasted, made the portal's one form
//!    ([`crate::config::start_url`]), a vanity URL followed through its redirects.
//! 2. [`plan`]: which `[sso-session]` to use (one with the same start URL is reused, given the
//!    refresh scope if it lacks it; else a new one, named after the portal) and the region (the
//!    URL's, the one given, or a question for the caller: [`SetupError::RegionNeeded`]). Pure.
//! 3. [`write_session`]: the plan made again under the config's lock and written, every other
//!    byte as it was.
//! 4. Sign in: [`sign_in`](crate::sso::signin::sign_in) on [`SetupPlan::session_config`].
//! 5. The session's directory ([`directory`](crate::sso::accounts::directory)), then
//!    [`add_profiles`]: a profile for every account and role, `populate`'s block.
//! 6. The clusters of every account, as `ssobar clusters` and the window's search find them
//!    ([`session_targets`](crate::kube::discovery::session_targets), then
//!    [`discover`](crate::kube::discovery::discover)); then [`kubeconfig_accesses`] for
//!    [`update_all`](crate::kube::kubeconfig::update_all).
//! 7. [`next_commands`]: what to try.
//!
//! Each step is idempotent: a second setup changes no byte.

use crate::aws::redirect::{Hop, RedirectProbe};
use crate::config::edit::{self, Document, Edit, EditError, Edited};
use crate::config::populate::{
    Apply, PopulateError, PopulateOutcome, PopulateRequest, Template, Unlisted,
    sanitize_profile_name,
};
use crate::config::start_url::{
    self, MAX_REDIRECTS, Portal, StartUrl, StartUrlError, redirect_target,
};
use crate::config::{
    AwsConfig, ConfigText, FileKind, SessionId, SsoSessionConfig, is_region_name, split_scopes,
};
use crate::env::Env;
use crate::kube::discovery::{DEFAULT_TEMPLATE, FoundCluster, context_names};
use crate::kube::kubeconfig::{self, ClusterAccess, ExecApi, KubeconfigError, Update};
use crate::paths::Paths;
use crate::sso::accounts::Directory;
use crate::sso::signin::DEFAULT_SCOPE;
use crate::util::text::printable;
use std::future::Future;
use std::path::Path;

/// What the person asked of a setup, besides the URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupRequest {
    /// The session's name; `None`: the portal's.
    pub name: Option<String>,
    /// The IAM Identity Center region; `None`: the URL's, or a question.
    pub region: Option<String>,
    /// Write a profile for every account and role.
    pub profiles: bool,
    /// Find the EKS clusters and add them to the kubeconfig.
    pub clusters: bool,
}

/// What becomes of the `[sso-session]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionChoice {
    /// A new section, appended to the config.
    Add {
        /// Its name.
        name: String,
    },
    /// A section with the same start URL and the refresh scope: used as it is.
    Reuse {
        /// Its name.
        name: String,
    },
    /// A section with the same start URL but without `sso:account:access`: given it.
    AddScope {
        /// Its name.
        name: String,
    },
}

impl SessionChoice {
    /// The session's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Add { name } | Self::Reuse { name } | Self::AddScope { name } => name,
        }
    }

    /// Whether the config changes for it.
    pub fn writes(&self) -> bool {
        !matches!(self, Self::Reuse { .. })
    }
}

/// Where the region came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionSource {
    /// The portal's host names it.
    Url,
    /// The person gave it.
    Given,
    /// The existing session has it.
    Session,
}

/// One step of a setup, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupStep {
    /// Write the `[sso-session]` (new, or given the refresh scope).
    WriteSession,
    /// Sign in (skipped while the session's token is valid).
    SignIn,
    /// A profile for every account and role.
    AddProfiles,
    /// Look for EKS clusters in every account.
    FindClusters,
    /// A kubeconfig context for each cluster found.
    AddToKubeconfig,
}

impl SetupStep {
    /// What the step does, as the window's list and the helper's plan show it.
    pub fn title(self) -> &'static str {
        match self {
            Self::WriteSession => "Add the SSO session to the AWS config",
            Self::SignIn => "Sign in",
            Self::AddProfiles => "Add a profile for every account and role",
            Self::FindClusters => "Find EKS clusters",
            Self::AddToKubeconfig => "Add them to the kubeconfig",
        }
    }
}

/// What a step offers once the step before it is done, with what is known by then: the
/// window's button for it.
pub fn offer(step: SetupStep, roles: usize, clusters: usize) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match step {
        SetupStep::AddProfiles => {
            format!("Add profiles for all {}", plural(roles, "role", "roles"))
        }
        SetupStep::AddToKubeconfig => {
            format!(
                "Add {} to kubeconfig",
                plural(clusters, "cluster", "clusters")
            )
        }
        other => other.title().to_owned(),
    }
}

/// A setup as it will run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupPlan {
    /// The start URL, in its one form.
    pub start_url: String,
    /// The IAM Identity Center region.
    pub region: String,
    /// Where the region came from.
    pub region_from: RegionSource,
    /// The session.
    pub session: SessionChoice,
    /// The steps, in order.
    pub steps: Vec<SetupStep>,
}

impl SetupPlan {
    /// The session as sign-in and the portal calls take it.
    pub fn session_config(&self) -> SsoSessionConfig {
        SsoSessionConfig {
            id: SessionId::Named(self.session.name().to_owned()),
            start_url: self.start_url.clone(),
            region: self.region.clone(),
            registration_scopes: Some(vec![DEFAULT_SCOPE.to_owned()]),
        }
    }
}

/// Why a setup cannot go on; each message is one line. The caller adds the way to give what is
/// missing (a flag, a field).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The start URL cannot be used.
    #[error(transparent)]
    StartUrl(#[from] StartUrlError),
    /// Neither the URL nor the person gave the region.
    #[error("{start_url} does not say which region its IAM Identity Center is in")]
    RegionNeeded {
        /// The start URL.
        start_url: String,
    },
    /// The region given is no region name.
    #[error("\"{0}\" is not an AWS region (like us-east-1 or eu-west-1)")]
    NotARegion(String),
    /// The region given is not the URL's.
    #[error(
        "{start_url} is in {url_region}, not {given}; leave the region out, or give {url_region}"
    )]
    RegionConflict {
        /// The start URL.
        start_url: String,
        /// The URL's region.
        url_region: String,
        /// The region given.
        given: String,
    },
    /// The existing session of the URL has another region than the URL or the person says.
    #[error(
        "[sso-session {name}] has sso_region = {has}, but {start_url} is in {wanted}; correct sso_region there, then run the setup again"
    )]
    SessionRegionDiffers {
        /// The session.
        name: String,
        /// Its region.
        has: String,
        /// The region the URL or the person gives.
        wanted: String,
        /// The start URL.
        start_url: String,
    },
    /// The name given cannot be a section name.
    #[error(
        "\"{0}\" cannot name an sso-session; use letters, digits and -_.+@=, (like corp or my-company)"
    )]
    BadName(String),
    /// The name given is another portal's session.
    #[error("[sso-session {name}] already signs in to {other}; choose another name")]
    NameTaken {
        /// The name.
        name: String,
        /// That session's start URL.
        other: String,
    },
    /// The config could not be written.
    #[error(transparent)]
    Edit(#[from] EditError),
}

/// The URL as pasted, made the portal's one form: an AWS portal as it is; another host
/// followed through its redirects one hop at a time (https only, at most [`MAX_REDIRECTS`]);
/// a loopback URL that answers without a redirect is the start URL itself (the demo's and the
/// tests' fake AWS).
pub async fn resolve_start_url(env: &Env, input: &str) -> Result<Portal, StartUrlError> {
    let probe = RedirectProbe::new(env).map_err(|e| StartUrlError::Unreachable {
        url: printable(input.trim()),
        why: e.to_string(),
    })?;
    follow(input, |url| {
        let probe = probe.clone();
        async move {
            probe
                .hop(url.as_str())
                .await
                .map_err(|e| StartUrlError::Unreachable {
                    url: printable(url.as_str()),
                    why: e.to_string(),
                })
        }
    })
    .await
}

/// [`resolve_start_url`] with the hops asked of `hop`.
async fn follow<F, Fut>(input: &str, mut hop: F) -> Result<Portal, StartUrlError>
where
    F: FnMut(url::Url) -> Fut,
    Fut: Future<Output = Result<Hop, StartUrlError>>,
{
    let mut current = match start_url::parse(input)? {
        StartUrl::Portal(portal) => return Ok(portal),
        StartUrl::Elsewhere(url) => url,
    };
    for _ in 0..MAX_REDIRECTS {
        match hop(current.clone()).await? {
            Hop::Redirect(location) => match redirect_target(&current, &location)? {
                StartUrl::Portal(portal) => return Ok(portal),
                StartUrl::Elsewhere(next) => current = next,
            },
            Hop::Arrived => {
                return start_url::loopback_portal(&current).ok_or_else(|| {
                    StartUrlError::LeadsElsewhere {
                        url: printable(input.trim()),
                        reached: printable(current.as_str()),
                    }
                });
            }
        }
    }
    Err(StartUrlError::TooManyRedirects {
        url: printable(input.trim()),
    })
}

/// The session lines a new `[sso-session]` gets.
fn session_lines(name: &str, start_url: &str, region: &str) -> Vec<String> {
    vec![
        format!("[sso-session {name}]"),
        format!("sso_start_url = {start_url}"),
        format!("sso_region = {region}"),
        format!("sso_registration_scopes = {DEFAULT_SCOPE}"),
    ]
}

/// Whether a session's scopes let it refresh.
pub fn has_refresh_scope(scopes: Option<&str>) -> bool {
    scopes.is_some_and(|s| split_scopes(s).iter().any(|scope| scope == DEFAULT_SCOPE))
}

/// The setup `request` makes of `config` for `portal`. Pure.
pub fn plan(
    config: &AwsConfig,
    portal: &Portal,
    request: &SetupRequest,
) -> Result<SetupPlan, SetupError> {
    if let Some(given) = &request.region
        && !is_region_name(given)
    {
        return Err(SetupError::NotARegion(printable(given)));
    }
    if let (Some(url_region), Some(given)) = (&portal.region, &request.region)
        && url_region != given
    {
        return Err(SetupError::RegionConflict {
            start_url: portal.url.clone(),
            url_region: url_region.clone(),
            given: given.clone(),
        });
    }
    let wanted_region = portal.region.clone().or_else(|| request.region.clone());
    let existing = config.sessions().find(|s| {
        s.get("sso_start_url")
            .is_some_and(|url| start_url::same_portal(url, &portal.url))
    });
    let (session, region, region_from) = match existing {
        Some(section) => {
            let has = section.get("sso_region").unwrap_or_default().to_owned();
            if let Some(wanted) = wanted_region.filter(|w| *w != has) {
                return Err(SetupError::SessionRegionDiffers {
                    name: section.name.clone(),
                    has,
                    wanted,
                    start_url: portal.url.clone(),
                });
            }
            let name = section.name.clone();
            let choice = if has_refresh_scope(section.get("sso_registration_scopes")) {
                SessionChoice::Reuse { name }
            } else {
                SessionChoice::AddScope { name }
            };
            (choice, has, RegionSource::Session)
        }
        None => {
            let (region, from) = match (&portal.region, &request.region) {
                (Some(region), _) => (region.clone(), RegionSource::Url),
                (None, Some(region)) => (region.clone(), RegionSource::Given),
                (None, None) => {
                    return Err(SetupError::RegionNeeded {
                        start_url: portal.url.clone(),
                    });
                }
            };
            let name = session_name(config, portal, request.name.as_deref())?;
            (SessionChoice::Add { name }, region, from)
        }
    };
    let mut steps = Vec::new();
    if session.writes() {
        steps.push(SetupStep::WriteSession);
    }
    steps.push(SetupStep::SignIn);
    if request.profiles {
        steps.push(SetupStep::AddProfiles);
    }
    if request.clusters {
        steps.extend([SetupStep::FindClusters, SetupStep::AddToKubeconfig]);
    }
    Ok(SetupPlan {
        start_url: portal.url.clone(),
        region,
        region_from,
        session,
        steps,
    })
}

/// The new session's name: the one given (which must be a usable name no other portal's
/// session has), else the portal's own, with `-2`, `-3`, ... while another session has it.
fn session_name(
    config: &AwsConfig,
    portal: &Portal,
    given: Option<&str>,
) -> Result<String, SetupError> {
    if let Some(given) = given {
        if sanitize_profile_name(given) != given || given.is_empty() {
            return Err(SetupError::BadName(printable(given)));
        }
        if let Some(other) = config.session(given) {
            return Err(SetupError::NameTaken {
                name: given.to_owned(),
                other: other
                    .get("sso_start_url")
                    .unwrap_or("no start URL")
                    .to_owned(),
            });
        }
        return Ok(given.to_owned());
    }
    let base = match sanitize_profile_name(&portal.name) {
        name if name.is_empty() => "sso".to_owned(),
        name => name,
    };
    Ok(std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|name| config.session(name).is_none())
        .unwrap_or(base))
}

/// The edits that put the plan's session into the config: a new section at the end, or the
/// refresh scope added to the existing one.
pub fn session_edits(doc: &Document<'_>, plan: &SetupPlan) -> Vec<Edit> {
    match &plan.session {
        SessionChoice::Reuse { .. } => Vec::new(),
        SessionChoice::Add { name } => vec![Edit::Append {
            lines: session_lines(name, &plan.start_url, &plan.region),
        }],
        SessionChoice::AddScope { name } => doc
            .sso_session(name)
            .last()
            .map(refresh_scope_edit)
            .into_iter()
            .collect(),
    }
}

/// The edit that gives an `[sso-session]` section `sso:account:access`: added to its
/// `sso_registration_scopes` line, or a line of its own after its last key.
pub fn refresh_scope_edit(section: &edit::Section) -> Edit {
    match section.key_lines("sso_registration_scopes").last() {
        Some(line) => {
            let mut scopes = split_scopes(&line.value);
            scopes.push(DEFAULT_SCOPE.to_owned());
            Edit::Replace {
                line: line.line,
                text: format!("sso_registration_scopes = {}", scopes.join(", ")),
            }
        }
        None => Edit::InsertAfter {
            line: section.body_end - 1,
            lines: vec![format!("sso_registration_scopes = {DEFAULT_SCOPE}")],
        },
    }
}

/// The config read from its bytes as the SDK reads it (the credentials file left out: only the
/// config's sessions matter here).
pub fn config_of(paths: &Paths, bytes: &[u8]) -> AwsConfig {
    AwsConfig::parse(&[ConfigText {
        path: paths.config_file.clone(),
        kind: FileKind::Config,
        text: String::from_utf8_lossy(bytes).into_owned(),
    }])
}

/// Plans again under the config's lock, from the file as it is then, and writes the session:
/// two setups at once add it once. Returns the plan that was written.
pub fn write_session(
    paths: &Paths,
    portal: &Portal,
    request: &SetupRequest,
) -> Result<Edited<SetupPlan>, SetupError> {
    edit::edit_file(paths, |before| {
        let plan = plan(&config_of(paths, before), portal, request)?;
        let doc = Document::parse(before);
        let edits = session_edits(&doc, &plan);
        let after = if edits.is_empty() {
            before.to_vec()
        } else {
            doc.apply(&edits)
        };
        Ok((after, plan))
    })
}

/// A profile for every account and role of the session's directory, in `populate`'s block,
/// each in the session's region; profiles of roles no longer listed are kept.
pub fn add_profiles(
    paths: &Paths,
    plan: &SetupPlan,
    directory: &Directory,
) -> Result<PopulateOutcome, PopulateError> {
    let request = PopulateRequest {
        session: plan.session.name().to_owned(),
        roles: directory.assignments(),
        template: Template::default(),
        region: plan.region.clone(),
        unlisted: Unlisted::KeepAsStale,
    };
    crate::config::populate::populate_file(paths, &request, Apply::Write)
}

/// The kubeconfig contexts of the clusters found, named by the default template, whose users
/// run `command eks-token`; the clusters whose role has no profile are returned apart (the exec
/// hook needs one to name).
pub fn kubeconfig_accesses(
    found: &[FoundCluster],
    api: ExecApi,
    command: &str,
) -> (Vec<ClusterAccess>, Vec<FoundCluster>) {
    let (writable, without): (Vec<FoundCluster>, Vec<FoundCluster>) =
        found.iter().cloned().partition(|c| c.profile.is_some());
    // The default template is a valid one.
    let names = context_names(DEFAULT_TEMPLATE, &writable).unwrap_or_default();
    let accesses = writable
        .iter()
        .zip(&names)
        .filter_map(|(cluster, name)| cluster.kubeconfig_access(name, api, command))
        .collect();
    (accesses, without)
}

/// What the kubeconfig step wrote.
#[derive(Debug)]
pub struct KubeconfigAdded {
    /// The contexts, in the order of the clusters found.
    pub contexts: Vec<String>,
    /// The clusters left out: no profile stands for the role that found them.
    pub without: Vec<FoundCluster>,
    /// Whether the file changed; `None` when there was nothing to write.
    pub update: Option<Update>,
}

/// The kubeconfig step: [`kubeconfig_accesses`] for the clusters found, written to `path` in
/// one write under kubectl's lock. `ssobar setup --clusters` and the window's first run both
/// run it.
pub fn add_to_kubeconfig(
    path: &Path,
    found: &[FoundCluster],
    api: ExecApi,
    command: &str,
) -> Result<KubeconfigAdded, KubeconfigError> {
    let (accesses, without) = kubeconfig_accesses(found, api, command);
    let update = if accesses.is_empty() {
        None
    } else {
        Some(kubeconfig::update_all(path, &accesses, kubeconfig::LOCK_WAIT)?.1)
    };
    Ok(KubeconfigAdded {
        contexts: accesses.into_iter().map(|a| a.context_name).collect(),
        without,
        update,
    })
}

/// The commands to try once the setup is done: a profile with the AWS CLI, a context with
/// kubectl.
pub fn next_commands(profile: Option<&str>, context: Option<&str>) -> Vec<String> {
    let mut commands = Vec::new();
    if let Some(profile) = profile {
        commands.push(format!("aws sts get-caller-identity --profile {profile}"));
    }
    if let Some(context) = context {
        commands.push(format!("kubectl --context {context} get nodes"));
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::config;
    use crate::util::ready::block_on_ready;

    fn portal(url: &str, region: Option<&str>, name: &str) -> Portal {
        Portal {
            url: url.into(),
            region: region.map(str::to_owned),
            name: name.into(),
        }
    }

    fn corp() -> Portal {
        portal("https://corp.awsapps.com/start", None, "corp")
    }

    fn request(region: Option<&str>) -> SetupRequest {
        SetupRequest {
            name: None,
            region: region.map(str::to_owned),
            profiles: true,
            clusters: false,
        }
    }

    #[test]
    fn a_new_portal_gets_a_session_named_after_it_with_the_refresh_scope() {
        let plan = plan(&config(""), &corp(), &request(Some("eu-west-1"))).unwrap();
        assert_eq!(
            plan,
            SetupPlan {
                start_url: "https://corp.awsapps.com/start".into(),
                region: "eu-west-1".into(),
                region_from: RegionSource::Given,
                session: SessionChoice::Add {
                    name: "corp".into()
                },
                steps: vec![
                    SetupStep::WriteSession,
                    SetupStep::SignIn,
                    SetupStep::AddProfiles
                ],
            }
        );
        let doc = Document::parse(b"[default]\nregion = x");
        let out = doc.apply(&session_edits(&doc, &plan));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[default]\nregion = x\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"
        );
    }

    #[test]
    fn the_region_comes_from_the_url_else_from_the_person_else_a_question() {
        let dual = portal(
            "https://ssoins-1.portal.ap-south-1.app.aws",
            Some("ap-south-1"),
            "ssoins-1",
        );
        let from_url = plan(&config(""), &dual, &request(None)).unwrap();
        assert_eq!(
            (from_url.region.as_str(), from_url.region_from),
            ("ap-south-1", RegionSource::Url)
        );
        assert!(matches!(
            plan(&config(""), &dual, &request(Some("us-east-1"))),
            Err(SetupError::RegionConflict { .. })
        ));
        assert!(matches!(
            plan(&config(""), &corp(), &request(None)),
            Err(SetupError::RegionNeeded { .. })
        ));
        let error = plan(&config(""), &corp(), &request(Some("us-east-1\n[x]"))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"us-east-1 [x]\" is not an AWS region (like us-east-1 or eu-west-1)"
        );
    }

    #[test]
    fn a_session_with_the_same_start_url_is_reused_and_given_the_scope_it_lacks() {
        let with_scope = config(
            "[sso-session mine]\nsso_start_url = https://corp.awsapps.com/start#/\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
        );
        let reused = plan(&with_scope, &corp(), &request(None)).unwrap();
        assert_eq!(
            reused.session,
            SessionChoice::Reuse {
                name: "mine".into()
            }
        );
        assert_eq!(reused.region_from, RegionSource::Session);
        assert_eq!(reused.steps[0], SetupStep::SignIn);

        let text = "[sso-session mine]\r\nsso_start_url = https://corp.awsapps.com/start\r\nsso_region = eu-west-1\r\n\r\n[profile p]\r\nregion = x\r\n";
        let plan = plan(&config(text), &corp(), &request(Some("eu-west-1"))).unwrap();
        assert_eq!(
            plan.session,
            SessionChoice::AddScope {
                name: "mine".into()
            }
        );
        let doc = Document::parse(text.as_bytes());
        assert_eq!(
            String::from_utf8(doc.apply(&session_edits(&doc, &plan))).unwrap(),
            text.replace(
                "sso_region = eu-west-1\r\n",
                "sso_region = eu-west-1\r\nsso_registration_scopes = sso:account:access\r\n"
            )
        );
        let other_scopes = "[sso-session mine]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = codewhisperer:completions\n";
        let doc = Document::parse(other_scopes.as_bytes());
        let plan = super::plan(&config(other_scopes), &corp(), &request(None)).unwrap();
        assert!(
            String::from_utf8(doc.apply(&session_edits(&doc, &plan)))
                .unwrap()
                .contains(
                    "sso_registration_scopes = codewhisperer:completions, sso:account:access\n"
                )
        );
        assert!(matches!(
            super::plan(&with_scope, &corp(), &request(Some("us-west-2"))),
            Err(SetupError::SessionRegionDiffers { .. })
        ));
    }

    #[test]
    fn names_are_kept_apart_from_other_portals_sessions() {
        let taken = config(
            "[sso-session corp]\nsso_start_url = https://other.awsapps.com/start\nsso_region = eu-west-1\n[sso-session corp-2]\nsso_start_url = https://third.awsapps.com/start\nsso_region = eu-west-1\n",
        );
        let plan_named = |name: Option<&str>| {
            plan(
                &taken,
                &corp(),
                &SetupRequest {
                    name: name.map(str::to_owned),
                    ..request(Some("eu-west-1"))
                },
            )
        };
        assert_eq!(
            plan_named(None).unwrap().session,
            SessionChoice::Add {
                name: "corp-3".into()
            }
        );
        assert_eq!(plan_named(Some("work")).unwrap().session.name(), "work");
        assert!(matches!(
            plan_named(Some("corp")),
            Err(SetupError::NameTaken { .. })
        ));
        for bad in ["", "a b", "x]", "ünï"] {
            assert!(
                matches!(plan_named(Some(bad)), Err(SetupError::BadName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_steps_follow_what_was_asked() {
        let all = plan(
            &config(""),
            &corp(),
            &SetupRequest {
                clusters: true,
                ..request(Some("eu-west-1"))
            },
        )
        .unwrap();
        assert_eq!(
            all.steps,
            [
                SetupStep::WriteSession,
                SetupStep::SignIn,
                SetupStep::AddProfiles,
                SetupStep::FindClusters,
                SetupStep::AddToKubeconfig
            ]
        );
        let bare = plan(
            &config(""),
            &corp(),
            &SetupRequest {
                profiles: false,
                ..request(Some("eu-west-1"))
            },
        )
        .unwrap();
        assert_eq!(bare.steps, [SetupStep::WriteSession, SetupStep::SignIn]);
        assert_eq!(
            offer(SetupStep::AddProfiles, 900, 0),
            "Add profiles for all 900 roles"
        );
        assert_eq!(
            offer(SetupStep::AddToKubeconfig, 0, 1),
            "Add 1 cluster to kubeconfig"
        );
        assert_eq!(offer(SetupStep::SignIn, 0, 0), "Sign in");
    }

    #[test]
    fn vanity_urls_are_followed_hop_by_hop_over_https() {
        let hops = |answers: Vec<Hop>| {
            let mut answers = answers.into_iter();
            move |_url: url::Url| {
                let answer = answers.next().unwrap_or(Hop::Arrived);
                async move { Ok(answer) }
            }
        };
        let found = block_on_ready(follow(
            "https://sso.example.com",
            hops(vec![
                Hop::Redirect("/aws".into()),
                Hop::Redirect("https://d-1234567890.awsapps.com/start/#/".into()),
            ]),
        ))
        .unwrap();
        assert_eq!(found.url, "https://d-1234567890.awsapps.com/start");
        assert!(matches!(
            block_on_ready(follow(
                "https://sso.example.com",
                hops(vec![Hop::Redirect("http://corp.awsapps.com/start".into())])
            )),
            Err(StartUrlError::RedirectNotHttps { .. })
        ));
        let error = block_on_ready(follow(
            "https://sso.example.com",
            hops(vec![Hop::Redirect("https://login.example.com/".into())]),
        ))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "https://sso.example.com leads to https://login.example.com/, which is not an AWS access portal; paste the portal's own URL (https://NAME.awsapps.com/start)"
        );
        assert!(matches!(
            block_on_ready(follow(
                "https://sso.example.com",
                hops(vec![Hop::Redirect("/again".into()); 9])
            )),
            Err(StartUrlError::TooManyRedirects { .. })
        ));
        // An AWS portal is taken as it is: no request at all.
        let untouched = block_on_ready(follow("corp.awsapps.com", |_url: url::Url| async {
            Err::<Hop, _>(StartUrlError::Empty)
        }))
        .unwrap();
        assert_eq!(untouched.url, "https://corp.awsapps.com/start");
        let fake = block_on_ready(follow("http://127.0.0.1:9/start/", hops(Vec::new()))).unwrap();
        assert_eq!(fake.url, "http://127.0.0.1:9/start");
    }

    #[test]
    fn next_commands_name_what_was_written() {
        assert_eq!(
            next_commands(Some("prod-Admin"), Some("prod/api")),
            [
                "aws sts get-caller-identity --profile prod-Admin",
                "kubectl --context prod/api get nodes"
            ]
        );
        assert!(next_commands(None, None).is_empty());
    }
}
