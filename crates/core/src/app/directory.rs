//! Every account, role and EKS cluster a signed-in session reaches, as the tray's "Accounts"
//! submenu and the window's search offer them: what each role and cluster offers, and when the
//! app lists a session's accounts again. The accounts come from
//! [`sso::accounts`](crate::sso::accounts), whose hour-long cache `ssobar accounts` shares; the
//! clusters from [`kube::discovery`](crate::kube::discovery)'s cache, which `ssobar clusters`
//! and the window's "Find clusters" fill.

use crate::app::activity::Activity;
use crate::config::{SessionId, SsoSessionConfig};
use crate::creds::Step;
use crate::creds::console::Destination;
use crate::kube::discovery::{DEFAULT_TEMPLATE, FoundCluster, context_names};
use crate::sso::accounts::{Directory, DirectoryAccount, Freshness, freshness};
use crate::status::Status;
use jiff::Timestamp;
use serde::Serialize;

/// How long after a failed listing the app tries again: a portal that failed once is not
/// asked on every wake.
pub const LISTING_RETRY_SECONDS: i64 = 300;

/// One role of one account of a session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleRef {
    /// The session whose token reaches it.
    pub session: SessionId,
    /// The 12-digit account id.
    pub account_id: String,
    /// The role (permission set) name.
    pub role_name: String,
}

impl RoleRef {
    /// A key for menu item ids and the window's commands: `ACCOUNT|ROLE|SESSION-KEY`. Account
    /// ids are digits and permission set names never hold a `|`, so the session key, which
    /// may, goes last.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.account_id,
            self.role_name,
            self.session.key()
        )
    }

    /// The role a [`RoleRef::key`] names.
    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.splitn(3, '|');
        let account_id = parts.next().filter(|a| !a.is_empty())?;
        let role_name = parts.next().filter(|r| !r.is_empty())?;
        let session = SessionId::from_key(parts.next()?)?;
        Some(Self {
            session,
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
        })
    }

    /// The one step to its credentials: GetRoleCredentials with the session's token, named
    /// by no profile (messages then name the account and role).
    pub fn steps(&self, session: &SsoSessionConfig) -> Vec<Step> {
        vec![Step::Sso {
            session: session.clone(),
            profile: String::new(),
            account_id: self.account_id.clone(),
            role_name: self.role_name.clone(),
        }]
    }
}

/// What a role offers in the tray and the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleAction {
    /// Copy `export` lines with its credentials (taken off the clipboard again later).
    CopyExports,
    /// Sign the browser into the AWS console as the role.
    OpenConsole,
    /// Write a profile for it into the AWS config (offered while none names it).
    AddProfile,
}

impl RoleAction {
    /// The name in menu item ids and the window's commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CopyExports => "copy-exports",
            Self::OpenConsole => "open-console",
            Self::AddProfile => "add-profile",
        }
    }

    /// The action an [`as_str`](Self::as_str) name names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::CopyExports, Self::OpenConsole, Self::AddProfile]
            .into_iter()
            .find(|action| action.as_str() == name)
    }

    /// The tray's words for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::CopyExports => "Copy export lines",
            Self::OpenConsole => "Open console",
            Self::AddProfile => "Add profile",
        }
    }
}

/// The profile in the config that signs in as exactly this role with this session, if any: the
/// name a role is known by, and why "Add profile" is not offered for it.
pub fn profile_for<'a>(status: &'a Status, role: &RoleRef) -> Option<&'a str> {
    status
        .profiles
        .iter()
        .find(|p| {
            p.kind.is_sso()
                && p.session_id.as_ref() == Some(&role.session)
                && p.account_id.as_deref() == Some(role.account_id.as_str())
                && p.role_name.as_deref() == Some(role.role_name.as_str())
        })
        .map(|p| p.profile.as_str())
}

/// **The** rule for what a role offers: its credentials and the console always (the session
/// is signed in, or it would have no directory), and a profile while the config has none and
/// the session has a name for the profile to use (a legacy session, only a start URL, has not).
pub fn role_actions(status: &Status, role: &RoleRef) -> Vec<RoleAction> {
    let mut actions = vec![RoleAction::CopyExports, RoleAction::OpenConsole];
    if matches!(role.session, SessionId::Named(_)) && profile_for(status, role).is_none() {
        actions.push(RoleAction::AddProfile);
    }
    actions
}

/// How an account is shown: its name and id, or the id alone.
pub fn account_label(account: &DirectoryAccount) -> String {
    match &account.account_name {
        Some(name) => format!("{name} ({})", account.account_id),
        None => account.account_id.clone(),
    }
}

/// One role as the window lists it for the search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleView {
    /// [`RoleRef::key`], for the window's commands.
    pub key: String,
    /// The session's key ([`SessionId::key`]).
    pub session: String,
    /// How people call the session.
    pub session_label: String,
    /// The 12-digit account id.
    pub account_id: String,
    /// The account's name, when the portal gives one.
    pub account_name: Option<String>,
    /// The account's root email address, when the portal gives one.
    pub email_address: Option<String>,
    /// The role (permission set) name.
    pub role_name: String,
    /// The profile that signs in as it, if the config has one.
    pub profile: Option<String>,
    /// What the window offers for it ([`role_actions`]).
    pub actions: Vec<RoleAction>,
}

/// Every role of every signed-in session the app has a directory for, in the status's session
/// order and each directory's account order.
pub fn role_views(status: &Status, activity: &Activity) -> Vec<RoleView> {
    let mut views = Vec::new();
    for session in status.sessions.iter().filter(|s| s.state.is_signed_in()) {
        let Some(directory) = activity.directories.get(&session.id) else {
            continue;
        };
        for account in &directory.accounts {
            for role_name in &account.roles {
                let role = RoleRef {
                    session: session.id.clone(),
                    account_id: account.account_id.clone(),
                    role_name: role_name.clone(),
                };
                views.push(RoleView {
                    key: role.key(),
                    session: session.id.key(),
                    session_label: session.id.label(),
                    account_id: account.account_id.clone(),
                    account_name: account.account_name.clone(),
                    email_address: account.email_address.clone(),
                    role_name: role_name.clone(),
                    profile: profile_for(status, &role).map(str::to_owned),
                    actions: role_actions(status, &role),
                });
            }
        }
    }
    views
}

/// One EKS cluster of a session's accounts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterRef {
    /// The session whose token reaches its account.
    pub session: SessionId,
    /// The 12-digit account id.
    pub account_id: String,
    /// The cluster's region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
}

impl ClusterRef {
    /// A key for the window's commands: `ACCOUNT|REGION|CLUSTER|SESSION-KEY` (none of the
    /// first three can hold a `|`; the session key goes last, as in [`RoleRef::key`]).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.account_id,
            self.region,
            self.cluster,
            self.session.key()
        )
    }

    /// The cluster a [`ClusterRef::key`] names.
    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.splitn(4, '|');
        let mut next = || parts.next().filter(|p| !p.is_empty());
        let (account_id, region, cluster) = (next()?, next()?, next()?);
        Some(Self {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            cluster: cluster.to_owned(),
            session: SessionId::from_key(next()?)?,
        })
    }

    /// The cluster as the session's last search found it.
    pub fn found<'a>(&self, activity: &'a Activity) -> Option<&'a FoundCluster> {
        activity.clusters.get(&self.session)?.iter().find(|c| {
            c.account_id == self.account_id && c.region == self.region && c.cluster == self.cluster
        })
    }

    /// Where "Console" lands: the cluster's own page.
    pub fn console_destination(&self) -> Destination {
        Destination::EksCluster(self.cluster.clone())
    }
}

/// What a cluster offers in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterAction {
    /// Sign the browser into the cluster's page in the AWS console, as the role that found it.
    OpenConsole,
    /// Write a kubeconfig context whose user runs `ssobar eks-token` (needs a profile for the
    /// role, which the exec hook names).
    AddToKubeconfig,
}

impl ClusterAction {
    /// The name in the window's commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenConsole => "open-console",
            Self::AddToKubeconfig => "add-to-kubeconfig",
        }
    }

    /// The action an [`as_str`](Self::as_str) name names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::OpenConsole, Self::AddToKubeconfig]
            .into_iter()
            .find(|action| action.as_str() == name)
    }
}

/// **The** rule for what a cluster offers: its console page always, a kubeconfig context once
/// a profile stands for the role that found it.
pub fn cluster_actions(cluster: &FoundCluster) -> Vec<ClusterAction> {
    let mut actions = vec![ClusterAction::OpenConsole];
    if cluster.profile.is_some() {
        actions.push(ClusterAction::AddToKubeconfig);
    }
    actions
}

/// The context name a cluster gets in the kubeconfig: `ssobar kubeconfig --all`'s default.
pub fn context_name(cluster: &FoundCluster) -> String {
    context_names(DEFAULT_TEMPLATE, std::slice::from_ref(cluster))
        .ok()
        .and_then(|names| names.into_iter().next())
        .unwrap_or_else(|| cluster.cluster.clone())
}

/// One cluster as the window lists it for the search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    /// [`ClusterRef::key`], for the window's commands.
    pub key: String,
    /// How people call the session.
    pub session_label: String,
    /// The cluster as the search found it, [shown](FoundCluster::shown) (its fields flattened
    /// into the view).
    #[serde(flatten)]
    pub found: FoundCluster,
    /// The kubeconfig context "Add to kubeconfig" writes.
    pub context: String,
    /// What the window offers for it ([`cluster_actions`]).
    pub actions: Vec<ClusterAction>,
}

/// Every cluster the signed-in sessions' last searches found.
pub fn cluster_views(status: &Status, activity: &Activity) -> Vec<ClusterView> {
    status
        .sessions
        .iter()
        .filter(|s| s.state.is_signed_in())
        .filter_map(|s| Some((s, activity.clusters.get(&s.id)?)))
        .flat_map(|(session, clusters)| {
            clusters.iter().map(move |c| ClusterView {
                key: ClusterRef {
                    session: session.id.clone(),
                    account_id: c.account_id.clone(),
                    region: c.region.clone(),
                    cluster: c.cluster.clone(),
                }
                .key(),
                session_label: session.id.label(),
                found: c.shown(),
                context: context_name(c),
                actions: cluster_actions(c),
            })
        })
        .collect()
}

/// A signed-in session whose clusters the window can search for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SearchableSession {
    /// The session's key ([`SessionId::key`]).
    pub key: String,
    /// How people call it.
    pub label: String,
    /// Its clusters are being searched for now.
    pub searching: bool,
    /// Its clusters were searched for (by the window or `ssobar clusters`).
    pub searched: bool,
}

/// What the window's accounts view shows: every role, every cluster found, and the sessions
/// whose clusters it can search for (those whose accounts are listed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SearchView {
    /// [`role_views`].
    pub roles: Vec<RoleView>,
    /// [`cluster_views`].
    pub clusters: Vec<ClusterView>,
    /// The sessions offered "Find clusters".
    pub sessions: Vec<SearchableSession>,
}

/// The window's accounts view of the status and what the app has learnt.
pub fn search_view(status: &Status, activity: &Activity) -> SearchView {
    let sessions = status
        .sessions
        .iter()
        .filter(|s| s.state.is_signed_in() && activity.directories.contains_key(&s.id))
        .map(|s| SearchableSession {
            key: s.id.key(),
            label: s.id.label(),
            searching: activity.searching.contains(&s.id),
            searched: activity.clusters.contains_key(&s.id),
        })
        .collect();
    SearchView {
        roles: role_views(status, activity),
        clusters: cluster_views(status, activity),
        sessions,
    }
}

/// The signed-in sessions whose accounts to list now: those with no directory yet or one past
/// its hour, unless a listing is running or failed within [`LISTING_RETRY_SECONDS`].
pub fn directories_due(status: &Status, activity: &Activity, now: Timestamp) -> Vec<SessionId> {
    status
        .sessions
        .iter()
        .filter(|s| s.state.is_signed_in())
        .filter(|s| !activity.listing.contains(&s.id))
        .filter(|s| {
            activity
                .directories
                .get(&s.id)
                .is_none_or(|d: &Directory| freshness(d.fetched_at, now) == Freshness::Stale)
        })
        .filter(|s| {
            activity.listing_failed.get(&s.id).is_none_or(|at| {
                !(0..LISTING_RETRY_SECONDS).contains(&(now.as_second() - at.as_second()))
            })
        })
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tray::tests::{now, status};

    fn corp() -> SessionId {
        SessionId::Named("corp".into())
    }

    fn directory(fetched_at: &str) -> Directory {
        Directory {
            fetched_at: fetched_at.parse().unwrap(),
            accounts: vec![
                DirectoryAccount {
                    account_id: "111111111111".into(),
                    account_name: Some("acme-dev".into()),
                    email_address: Some("dev@acme.example".into()),
                    roles: vec!["Admin".into(), "ReadOnly".into()],
                },
                DirectoryAccount {
                    account_id: "444444444444".into(),
                    account_name: None,
                    email_address: None,
                    roles: vec!["Billing".into()],
                },
            ],
        }
    }

    fn role(account_id: &str, role_name: &str) -> RoleRef {
        RoleRef {
            session: corp(),
            account_id: account_id.into(),
            role_name: role_name.into(),
        }
    }

    #[test]
    fn a_role_key_reads_back_even_when_the_session_name_holds_the_separator() {
        let odd = RoleRef {
            session: SessionId::Named("a|b".into()),
            ..role("111111111111", "Admin")
        };
        assert_eq!(odd.key(), "111111111111|Admin|s:a|b");
        assert_eq!(RoleRef::from_key(&odd.key()), Some(odd));
        assert_eq!(RoleRef::from_key("111111111111|Admin"), None);
        assert_eq!(RoleRef::from_key("|Admin|s:corp"), None);
        assert_eq!(RoleRef::from_key("111111111111|Admin|x:corp"), None);
    }

    #[test]
    fn a_role_named_by_a_profile_is_not_offered_as_a_new_profile() {
        let s = status();
        // The fixture's profile "dev" is corp's 111111111111 / Admin.
        assert_eq!(profile_for(&s, &role("111111111111", "Admin")), Some("dev"));
        assert_eq!(
            role_actions(&s, &role("111111111111", "Admin")),
            [RoleAction::CopyExports, RoleAction::OpenConsole]
        );
        assert_eq!(
            role_actions(&s, &role("111111111111", "ReadOnly")),
            [
                RoleAction::CopyExports,
                RoleAction::OpenConsole,
                RoleAction::AddProfile
            ]
        );
        for action in role_actions(&s, &role("111111111111", "ReadOnly")) {
            assert_eq!(RoleAction::from_name(action.as_str()), Some(action));
        }
        let legacy = RoleRef {
            session: SessionId::Legacy("https://old.awsapps.com/start".into()),
            ..role("111111111111", "ReadOnly")
        };
        assert_eq!(
            role_actions(&s, &legacy),
            [RoleAction::CopyExports, RoleAction::OpenConsole],
            "a legacy session has no name for a profile to use"
        );
    }

    #[test]
    fn the_window_lists_every_role_of_the_signed_in_sessions_with_their_profiles() {
        let mut activity = Activity::default();
        activity
            .directories
            .insert(corp(), directory("2024-05-01T11:30:00Z"));
        // "old" has expired: its directory is not offered.
        activity.directories.insert(
            SessionId::Named("old".into()),
            directory("2024-05-01T11:30:00Z"),
        );
        let views = role_views(&status(), &activity);
        let rows: Vec<(String, Option<String>, Option<String>)> = views
            .iter()
            .map(|v| {
                (
                    format!("{} {}/{}", v.session_label, v.account_id, v.role_name),
                    v.account_name.clone(),
                    v.profile.clone(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "corp 111111111111/Admin".into(),
                    Some("acme-dev".into()),
                    Some("dev".into())
                ),
                (
                    "corp 111111111111/ReadOnly".into(),
                    Some("acme-dev".into()),
                    None
                ),
                ("corp 444444444444/Billing".into(), None, None),
            ]
        );
        assert_eq!(views[1].key, "111111111111|ReadOnly|s:corp");
        let json = serde_json::to_value(&views[1]).unwrap();
        assert_eq!(
            json["actions"],
            serde_json::json!(["copy-exports", "open-console", "add-profile"])
        );
    }

    fn found(cluster: &str, profile: Option<&str>) -> FoundCluster {
        FoundCluster {
            account_id: "111111111111".into(),
            account_name: Some("acme-dev".into()),
            role_name: "Admin".into(),
            profile: profile.map(str::to_owned),
            region: "eu-west-1".into(),
            cluster: cluster.into(),
            arn: format!("arn:aws:eks:eu-west-1:111111111111:cluster/{cluster}"),
            endpoint: "https://127.0.0.1:6443".into(),
            certificate_authority_data: "LS0t".into(),
        }
    }

    #[test]
    fn a_cluster_is_offered_to_the_kubeconfig_only_through_a_profile() {
        let mut activity = Activity::default();
        activity
            .clusters
            .insert(corp(), vec![found("prod", Some("dev")), found("lab", None)]);
        let views = cluster_views(&status(), &activity);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].context, "acme-dev/prod");
        assert_eq!(
            views[0].actions,
            [ClusterAction::OpenConsole, ClusterAction::AddToKubeconfig]
        );
        assert_eq!(views[1].actions, [ClusterAction::OpenConsole]);
        let json = serde_json::to_value(&views[0]).unwrap();
        assert_eq!(
            (&json["cluster"], &json["region"], &json["profile"]),
            (&"prod".into(), &"eu-west-1".into(), &"dev".into()),
            "the window reads the cluster's fields at the top level"
        );
        let key = ClusterRef::from_key(&views[0].key).unwrap();
        assert_eq!(key.found(&activity), Some(&found("prod", Some("dev"))));
        assert_eq!(
            key.console_destination().url(&key.region),
            "https://eu-west-1.console.aws.amazon.com/eks/home?region=eu-west-1#/clusters/prod"
        );
        assert_eq!(ClusterRef::from_key("111111111111|eu-west-1|prod"), None);
        for action in [ClusterAction::OpenConsole, ClusterAction::AddToKubeconfig] {
            assert_eq!(ClusterAction::from_name(action.as_str()), Some(action));
        }
    }

    #[test]
    fn the_window_is_shown_a_cluster_name_printable_and_acts_on_the_name_eks_spelt() {
        let hostile = "\x1b]0;owned\x07pr\nod";
        let mut activity = Activity::default();
        activity
            .clusters
            .insert(corp(), vec![found(hostile, Some("dev"))]);
        let views = cluster_views(&status(), &activity);
        let json = serde_json::to_value(&views[0]).unwrap();
        assert_eq!(json["cluster"], "pr od");
        assert_eq!(
            json["arn"],
            "arn:aws:eks:eu-west-1:111111111111:cluster/pr od"
        );
        // Only the key, which the window hands back and never shows, keeps the name whole.
        let mut shown = json.clone();
        shown["key"] = serde_json::Value::Null;
        assert!(!shown.to_string().contains("\\u001b"), "{shown}");
        let key = ClusterRef::from_key(&views[0].key).unwrap();
        assert_eq!(key.found(&activity), Some(&found(hostile, Some("dev"))));
    }

    #[test]
    fn a_session_is_listed_when_signed_in_without_a_fresh_directory_and_not_while_it_fails() {
        let s = status();
        let lab = SessionId::Named("lab".into());
        let mut activity = Activity::default();
        assert_eq!(directories_due(&s, &activity, now()), [corp(), lab.clone()]);

        activity
            .directories
            .insert(corp(), directory("2024-05-01T11:30:00Z"));
        activity.listing.insert(lab.clone());
        assert!(directories_due(&s, &activity, now()).is_empty());

        activity.listing.clear();
        activity
            .listing_failed
            .insert(lab.clone(), "2024-05-01T11:56:00Z".parse().unwrap());
        assert!(
            directories_due(&s, &activity, now()).is_empty(),
            "4 min ago"
        );
        let later: Timestamp = "2024-05-01T12:01:00Z".parse().unwrap();
        assert_eq!(
            directories_due(&s, &activity, later),
            std::slice::from_ref(&lab)
        );

        let hour_on: Timestamp = "2024-05-01T12:30:00Z".parse().unwrap();
        assert_eq!(directories_due(&s, &activity, hour_on), [corp(), lab]);
    }
}
