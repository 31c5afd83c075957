use serde::{Deserialize, Serialize};

/// How the fake behaves: lifetimes, the person at the browser, the accounts they can reach.
///
/// Every field has a default, so a JSON file (or a `POST /_fake/config` body) only needs the
/// fields it changes. Lifetimes are signed seconds so a test can ask for something that is
/// already expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FakeConfig {
    /// Lifetime of access tokens from `CreateToken` (default 8 hours).
    pub access_token_lifetime_seconds: i64,
    /// Lifetime of role credentials from `GetRoleCredentials` (default 1 hour).
    pub role_credentials_lifetime_seconds: i64,
    /// Lifetime of a client secret from `RegisterClient` (default 90 days).
    pub client_secret_lifetime_seconds: i64,
    /// Lifetime of a device code from `StartDeviceAuthorization` (default 600 s).
    pub device_code_lifetime_seconds: i64,
    /// The polling interval the device flow announces (default 1 s so tests are quick; AWS says 5).
    pub device_poll_interval_seconds: u32,
    /// `None`: a device code is approved only when its verification page is visited, like a
    /// person would. `Some(n)`: approved by itself after `n` `authorization_pending` answers.
    pub pending_polls_before_approval: Option<u32>,
    /// How many `slow_down` answers a device code gets before anything else.
    pub slow_down_polls: u32,
    /// The person refuses: device codes end in `AccessDeniedException` and `/authorize`
    /// redirects with `error=access_denied`.
    pub deny: bool,
    /// The accounts and roles the signed-in person is assigned.
    pub accounts: Vec<FakeAccount>,
    /// The signed-in person's name; it is the session name of their role sessions.
    pub user_name: String,
    /// The IAM Identity Center region; it shows in the path of SSO role ARNs.
    pub identity_center_region: String,
    /// A delay added to every AWS call, in milliseconds (default 0).
    pub latency_ms: u64,
    /// The EKS clusters `DescribeCluster` and `ListClusters` know (default none).
    pub clusters: Vec<FakeCluster>,
    /// The most cluster names one `ListClusters` page holds, whatever `maxResults` asks
    /// (default 100, EKS's own most), so that a test can make a client follow `nextToken`.
    pub eks_page_size: usize,
    /// Roles (permission set names, or the role names of assumed roles) whose credentials EKS
    /// refuses: `ListClusters` and `DescribeCluster` answer 403 `AccessDeniedException`, as
    /// for a role without `eks:ListClusters` (default none).
    pub eks_denied_roles: Vec<String>,
    /// Where `StartDeviceAuthorization` sends the person, instead of this fake's own
    /// `/device` page: what a client does with a page it should not open (default none).
    pub verification_uri: Option<String>,
    /// Paths answered with `302 Found` and this `Location`, as a company's own name for its
    /// access portal (a vanity URL) answers: `{"/corp": "/start"}` (default none).
    pub redirects: std::collections::BTreeMap<String, String>,
}

/// One AWS account the signed-in person can reach, with the permission sets (roles) assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeAccount {
    /// The 12-digit account id.
    pub account_id: String,
    /// The account's display name.
    pub account_name: String,
    /// The account's root email address.
    #[serde(default)]
    pub email: String,
    /// The role (permission set) names assigned in this account.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl FakeAccount {
    /// An account with the given id, name, email and roles.
    pub fn new(account_id: &str, account_name: &str, email: &str, roles: &[&str]) -> Self {
        Self {
            account_id: account_id.to_owned(),
            account_name: account_name.to_owned(),
            email: email.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }
    }

    /// `count` accounts, each with these roles: ids `100000000000`, `100000000001`, ..., names
    /// `account-0000`, ..., emails `aws+0000@example.com`, ... (an organisation of any size).
    pub fn generated(count: usize, roles: &[&str]) -> Vec<Self> {
        (0..count)
            .map(|n| {
                Self::new(
                    &format!("{}", 100_000_000_000_u64 + n as u64),
                    &format!("account-{n:04}"),
                    &format!("aws+{n:04}@example.com"),
                    roles,
                )
            })
            .collect()
    }
}

/// An EKS cluster, as `DescribeCluster` describes it. A cluster of no particular account is
/// seen from every account (the caller's account goes into its ARN); one placed
/// [`in_account`](FakeCluster::in_account) only from that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeCluster {
    /// The cluster name, the last segment of `GET /clusters/{name}`.
    pub name: String,
    /// The Kubernetes API server URL, e.g. `https://127.0.0.1:6443`.
    pub endpoint: String,
    /// The cluster's CA certificate as EKS returns it: the PEM, base64-encoded once more.
    pub certificate_authority_data: String,
    /// The region the cluster is in (default `us-east-1`). Each region's EKS endpoint knows
    /// only its own clusters, so `DescribeCluster` finds it only when signed for this region.
    #[serde(default = "default_cluster_region")]
    pub region: String,
    /// The account the cluster is in; `None` (the default): every account sees it.
    #[serde(default)]
    pub account_id: Option<String>,
}

fn default_cluster_region() -> String {
    "us-east-1".to_owned()
}

impl FakeCluster {
    /// A cluster in `us-east-1` with the given name, API server URL and base64 CA data.
    pub fn new(name: &str, endpoint: &str, certificate_authority_data: &str) -> Self {
        Self {
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            certificate_authority_data: certificate_authority_data.to_owned(),
            region: default_cluster_region(),
            account_id: None,
        }
    }

    /// The same cluster, in account `account_id` only.
    pub fn in_account(self, account_id: &str) -> Self {
        Self {
            account_id: Some(account_id.to_owned()),
            ..self
        }
    }

    /// Whether a caller in `account_id` sees this cluster.
    pub fn seen_from(&self, account_id: &str) -> bool {
        self.account_id
            .as_deref()
            .is_none_or(|own| own == account_id)
    }

    /// The same cluster, in `region` instead.
    pub fn in_region(self, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            ..self
        }
    }
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            access_token_lifetime_seconds: 8 * 3600,
            role_credentials_lifetime_seconds: 3600,
            client_secret_lifetime_seconds: 90 * 24 * 3600,
            device_code_lifetime_seconds: 600,
            device_poll_interval_seconds: 1,
            pending_polls_before_approval: None,
            slow_down_polls: 0,
            deny: false,
            accounts: vec![
                FakeAccount::new(
                    "111122223333",
                    "acme-dev",
                    "aws-dev@example.com",
                    &["AdministratorAccess", "ReadOnlyAccess"],
                ),
                FakeAccount::new(
                    "444455556666",
                    "acme-prod",
                    "aws-prod@example.com",
                    &["ReadOnlyAccess", "PowerUserAccess"],
                ),
            ],
            user_name: "dev@example.com".to_owned(),
            identity_center_region: "us-east-1".to_owned(),
            latency_ms: 0,
            clusters: Vec::new(),
            eks_page_size: 100,
            eks_denied_roles: Vec::new(),
            verification_uri: None,
            redirects: std::collections::BTreeMap::new(),
        }
    }
}

impl FakeConfig {
    /// The account with this id, if the person is assigned to it.
    pub fn account(&self, account_id: &str) -> Option<&FakeAccount> {
        self.accounts
            .iter()
            .find(|account| account.account_id == account_id)
    }

    /// The cluster with this name in this region, if there is one.
    pub fn cluster(&self, name: &str, region: &str) -> Option<&FakeCluster> {
        self.clusters
            .iter()
            .find(|cluster| cluster.name == name && cluster.region == region)
    }

    /// The clusters a caller in `account_id` sees in `region`, in the order they were added.
    pub fn clusters_seen(&self, account_id: &str, region: &str) -> Vec<&FakeCluster> {
        self.clusters
            .iter()
            .filter(|cluster| cluster.region == region && cluster.seen_from(account_id))
            .collect()
    }

    /// Adds `cluster`, or replaces the one with its name, region and account: EKS names are
    /// unique per account and region.
    pub(crate) fn upsert_cluster(&mut self, cluster: FakeCluster) {
        match self.clusters.iter_mut().find(|known| {
            known.name == cluster.name
                && known.region == cluster.region
                && known.account_id == cluster.account_id
        }) {
            Some(known) => *known = cluster,
            None => self.clusters.push(cluster),
        }
    }

    /// Applies a partial configuration: every top-level field present in `patch` replaces the
    /// current one, the others stay.
    pub fn merge_json(&self, patch: &serde_json::Value) -> Result<FakeConfig, serde_json::Error> {
        let mut merged = serde_json::to_value(self)?;
        if let (Some(fields), Some(changes)) = (merged.as_object_mut(), patch.as_object()) {
            for (name, value) in changes {
                fields.insert(name.clone(), value.clone());
            }
        }
        serde_json::from_value(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let config: FakeConfig =
            serde_json::from_str(r#"{"slow_down_polls": 2, "user_name": "ana"}"#).unwrap();
        assert_eq!(config.slow_down_polls, 2);
        assert_eq!(config.user_name, "ana");
        assert_eq!(config.access_token_lifetime_seconds, 8 * 3600);
        assert_eq!(config.accounts.len(), 2);
    }

    #[test]
    fn clusters_default_to_us_east_1_and_are_replaced_by_name_and_region() {
        let mut config: FakeConfig = serde_json::from_str(
            r#"{"clusters": [{"name": "dev", "endpoint": "https://127.0.0.1:6443",
                "certificate_authority_data": "Q0E="}]}"#,
        )
        .unwrap();
        assert_eq!(
            config.clusters,
            vec![FakeCluster::new("dev", "https://127.0.0.1:6443", "Q0E=")]
        );
        assert_eq!(config.clusters[0].region, "us-east-1");
        assert!(FakeConfig::default().clusters.is_empty());

        config.upsert_cluster(FakeCluster::new("dev", "https://127.0.0.1:7443", "Q0E="));
        config.upsert_cluster(
            FakeCluster::new("dev", "https://127.0.0.1:8443", "Q0E=").in_region("eu-west-1"),
        );
        assert_eq!(config.clusters.len(), 2);
        assert_eq!(
            config
                .cluster("dev", "us-east-1")
                .map(|c| c.endpoint.as_str()),
            Some("https://127.0.0.1:7443")
        );
        assert_eq!(
            config
                .cluster("dev", "eu-west-1")
                .map(|c| c.endpoint.as_str()),
            Some("https://127.0.0.1:8443")
        );
        assert_eq!(config.cluster("dev", "us-west-2"), None);
    }

    #[test]
    fn merge_replaces_only_the_given_fields() {
        let config = FakeConfig::default();
        let merged = config
            .merge_json(&serde_json::json!({"deny": true, "pending_polls_before_approval": 3}))
            .unwrap();
        assert!(merged.deny);
        assert_eq!(merged.pending_polls_before_approval, Some(3));
        assert_eq!(merged.accounts, config.accounts);
        assert!(
            config
                .merge_json(&serde_json::json!({"deny": "yes"}))
                .is_err()
        );
    }
}
