//! Granting an SSO role access to an EKS cluster: the `aws-auth` ConfigMap entry and the EKS
//! access-entry commands, from the identity STS reports for the profile.

use std::fmt::Write;

/// The IAM role behind an SSO profile's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRole {
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The 12-digit account id the role lives in.
    pub account_id: String,
    /// `AWSReservedSSO_<permission set>_<suffix>`.
    pub role_name: String,
}

impl SsoRole {
    /// Reads `arn:aws:sts::ACCOUNT:assumed-role/AWSReservedSSO_<set>_<suffix>/<session>`;
    /// `None` when the caller is not an SSO role.
    pub fn from_caller_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("sts"), Some(_), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let role_name = resource
            .strip_prefix("assumed-role/")?
            .split('/')
            .next()
            .filter(|name| name.starts_with("AWSReservedSSO_"))?;
        Some(Self {
            partition: partition.to_owned(),
            account_id: account.to_owned(),
            role_name: role_name.to_owned(),
        })
    }

    /// The permission set's name (`AWSReservedSSO_Admin_0123abcd` → `Admin`).
    pub fn permission_set(&self) -> &str {
        let inner = self.role_name.trim_start_matches("AWSReservedSSO_");
        inner.rsplit_once('_').map_or(inner, |(set, _)| set)
    }

    /// The role's full IAM ARN, path included, as EKS access entries need it. The region
    /// segment is there only for identity centers outside us-east-1, as IAM Identity Center
    /// creates them.
    pub fn full_arn(&self, identity_center_region: &str) -> String {
        let region = if identity_center_region == "us-east-1" {
            String::new()
        } else {
            format!("{identity_center_region}/")
        };
        format!(
            "arn:{}:iam::{}:role/aws-reserved/sso.amazonaws.com/{region}{}",
            self.partition, self.account_id, self.role_name
        )
    }

    /// The ARN without its path, as the `aws-auth` ConfigMap needs it.
    pub fn pathless_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account_id, self.role_name
        )
    }
}

/// The default Kubernetes user name: the permission set, then the SSO user (`{{SessionName}}`
/// is the role session name, which IAM Identity Center sets to the person's user name), so
/// audit logs say who did it, not only which role.
pub fn default_username(role: &SsoRole) -> String {
    format!("sso:{}:{{{{SessionName}}}}", role.permission_set())
}

/// An EKS managed access policy, from the least to the most it grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessPolicy {
    /// `AmazonEKSViewPolicy`: read most objects, not secrets.
    View,
    /// `AmazonEKSEditPolicy`: change most objects, not roles or bindings.
    Edit,
    /// `AmazonEKSAdminPolicy`: most objects, roles and bindings included.
    Admin,
    /// `AmazonEKSClusterAdminPolicy`: everything, as `system:masters`.
    ClusterAdmin,
}

impl AccessPolicy {
    /// The policy's name in EKS.
    pub fn name(self) -> &'static str {
        match self {
            Self::View => "AmazonEKSViewPolicy",
            Self::Edit => "AmazonEKSEditPolicy",
            Self::Admin => "AmazonEKSAdminPolicy",
            Self::ClusterAdmin => "AmazonEKSClusterAdminPolicy",
        }
    }

    /// The policy's ARN: AWS owns these, in every account's partition.
    pub fn arn(self, partition: &str) -> String {
        format!(
            "arn:{partition}:eks::aws:cluster-access-policy/{}",
            self.name()
        )
    }
}

/// Where an access policy applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessScope {
    /// The whole cluster.
    Cluster,
    /// These namespaces only (never empty).
    Namespaces(Vec<String>),
}

impl AccessScope {
    /// The value of `aws eks associate-access-policy --access-scope`.
    fn cli_value(&self) -> String {
        match self {
            Self::Cluster => "type=cluster".to_owned(),
            Self::Namespaces(names) => format!("type=namespace,namespaces={}", names.join(",")),
        }
    }
}

/// An access policy to associate with the role's access entry, and where it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGrant {
    /// The EKS managed access policy to associate.
    pub policy: AccessPolicy,
    /// The whole cluster, or the namespaces named.
    pub scope: AccessScope,
}

/// Namespaces given without the policy that would apply in them.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("namespaces scope an access policy, and none was chosen")]
pub struct NamespacesWithoutPolicy;

impl PolicyGrant {
    /// The grant a person chose: none without a policy (a namespace alone grants nothing, so
    /// it is a mistake, not a default), the whole cluster without namespaces.
    pub fn choose(
        policy: Option<AccessPolicy>,
        namespaces: Vec<String>,
    ) -> Result<Option<Self>, NamespacesWithoutPolicy> {
        match (policy, namespaces.is_empty()) {
            (None, true) => Ok(None),
            (None, false) => Err(NamespacesWithoutPolicy),
            (Some(policy), true) => Ok(Some(Self {
                policy,
                scope: AccessScope::Cluster,
            })),
            (Some(policy), false) => Ok(Some(Self {
                policy,
                scope: AccessScope::Namespaces(namespaces),
            })),
        }
    }
}

/// Both ways to grant `role` access to a cluster, as text to paste. Neither grants more than
/// was asked for: the ConfigMap maps only `groups`, and the access entry gets an access policy
/// only when `policy` names one.
pub fn grant_instructions(
    role: &SsoRole,
    identity_center_region: &str,
    cluster: &str,
    cluster_region: &str,
    username: &str,
    groups: &[String],
    policy: Option<&PolicyGrant>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# 1. The aws-auth ConfigMap: kubectl edit configmap aws-auth -n kube-system, under data.mapRoles:"
    );
    let _ = writeln!(
        out,
        "# The ARN has no aws-reserved/sso.amazonaws.com/ path: aws-auth matches the role ARN that STS reports for the session, and STS drops the path."
    );
    if groups.is_empty() {
        let _ = writeln!(
            out,
            "# No --group: the role signs in as {username} and may do nothing until a RoleBinding or ClusterRoleBinding names that user."
        );
    }
    let _ = writeln!(out, "- rolearn: {}", role.pathless_arn());
    let _ = writeln!(out, "  username: \"{username}\"");
    if groups.is_empty() {
        let _ = writeln!(out, "  groups: []");
    } else {
        let _ = writeln!(out, "  groups:");
        for group in groups {
            let _ = writeln!(out, "    - {group}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# 2. EKS access entries (authentication mode API or API_AND_CONFIG_MAP): the full ARN, path included."
    );
    let full = role.full_arn(identity_center_region);
    let mut create = format!(
        "aws eks create-access-entry --cluster-name {cluster} --region {cluster_region} \\\n    --principal-arn {full} \\\n    --username '{username}'"
    );
    // EKS refuses access-entry groups under the reserved system: prefix (InvalidParameter).
    let (reserved, entry_groups): (Vec<&String>, Vec<&String>) =
        groups.iter().partition(|g| g.starts_with("system:"));
    if !reserved.is_empty() {
        let names: Vec<&str> = reserved.iter().map(|g| g.as_str()).collect();
        let instead = match policy.map(|p| p.policy) {
            Some(AccessPolicy::ClusterAdmin) => {
                "the cluster-admin access policy below grants what system:masters would"
            }
            _ => "--access-policy cluster-admin grants what system:masters would",
        };
        let _ = writeln!(
            out,
            "# Access entries refuse groups that start with system: ({} left out); {instead}.",
            names.join(", ")
        );
    }
    if !entry_groups.is_empty() {
        let names: Vec<&str> = entry_groups.iter().map(|g| g.as_str()).collect();
        let _ = write!(create, " \\\n    --kubernetes-groups {}", names.join(" "));
    }
    let Some(grant) = policy else {
        let bound = if entry_groups.is_empty() {
            format!("the user {username}")
        } else {
            let names: Vec<&str> = entry_groups.iter().map(|g| g.as_str()).collect();
            format!("the user or its groups ({})", names.join(", "))
        };
        let _ = writeln!(
            out,
            "# No access policy (--access-policy view|edit|admin|cluster-admin): this access entry grants nothing until a policy is associated or a RoleBinding or ClusterRoleBinding names {bound}."
        );
        let _ = writeln!(out, "{create}");
        return out;
    };
    let _ = writeln!(out, "{create}");
    let _ = writeln!(
        out,
        "aws eks associate-access-policy --cluster-name {cluster} --region {cluster_region} \\\n    --principal-arn {full} \\\n    --policy-arn {} \\\n    --access-scope {}",
        grant.policy.arn(&role.partition),
        grant.scope.cli_value()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> SsoRole {
        SsoRole::from_caller_arn(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b/jane@example.com",
        )
        .unwrap()
    }

    #[test]
    fn reads_the_sso_role_from_the_caller() {
        let r = role();
        assert_eq!(r.account_id, "111122223333");
        assert_eq!(r.role_name, "AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b");
        assert_eq!(r.permission_set(), "PlatformAdmin");
        assert_eq!(
            SsoRole::from_caller_arn("arn:aws:sts::1:assumed-role/Deploy/x"),
            None
        );
        assert_eq!(SsoRole::from_caller_arn("garbage"), None);
    }

    #[test]
    fn arns_with_and_without_the_path() {
        let r = role();
        assert_eq!(
            r.pathless_arn(),
            "arn:aws:iam::111122223333:role/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b"
        );
        assert_eq!(
            r.full_arn("us-east-1"),
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b"
        );
        assert_eq!(
            r.full_arn("eu-west-1"),
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b"
        );
    }

    #[test]
    fn instructions_carry_both_arns() {
        let r = role();
        let text = grant_instructions(
            &r,
            "eu-west-1",
            "prod",
            "eu-central-1",
            &default_username(&r),
            &["system:masters".into()],
            None,
        );
        assert!(text.contains("- rolearn: arn:aws:iam::111122223333:role/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b\n"));
        assert!(text.contains("  username: \"sso:PlatformAdmin:{{SessionName}}\"\n"));
        assert!(text.contains("    - system:masters\n"));
        assert!(text.contains("--principal-arn arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmin_0a1b2c3d4e5f6a7b"));
        assert!(
            text.contains("aws eks create-access-entry --cluster-name prod --region eu-central-1")
        );
        assert!(!text.contains("--kubernetes-groups"), "{text}");
        assert!(text.contains("(system:masters left out)"), "{text}");
    }

    #[test]
    fn access_entries_keep_groups_outside_the_reserved_prefix() {
        let r = role();
        let groups = ["system:masters".to_owned(), "platform-admins".to_owned()];
        let text = grant_instructions(&r, "us-east-1", "prod", "us-east-1", "u", &groups, None);
        assert!(text.contains("    - platform-admins\n"), "{text}");
        assert!(
            text.contains("--kubernetes-groups platform-admins\n"),
            "{text}"
        );
    }

    fn instructions(groups: &[&str], policy: Option<&PolicyGrant>) -> String {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        grant_instructions(
            &role(),
            "us-east-1",
            "prod",
            "us-east-1",
            "u",
            &groups,
            policy,
        )
    }

    fn cluster_wide(policy: AccessPolicy) -> PolicyGrant {
        PolicyGrant::choose(Some(policy), Vec::new())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_group_alone_associates_no_access_policy() {
        let text = instructions(&["viewers"], None);
        assert!(!text.contains("associate-access-policy"), "{text}");
        assert!(!text.contains("AmazonEKS"), "{text}");
        assert!(text.contains("--kubernetes-groups viewers\n"), "{text}");
        let said: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("grants nothing until"))
            .collect();
        assert_eq!(said.len(), 1, "{text}");
        assert!(said[0].starts_with("# No access policy"), "{text}");
        assert!(
            said[0].contains("RoleBinding or ClusterRoleBinding"),
            "{text}"
        );
        assert!(said[0].contains("(viewers)"), "{text}");
    }

    #[test]
    fn each_access_policy_is_the_eks_managed_policy_of_its_name() {
        for (policy, name) in [
            (AccessPolicy::View, "AmazonEKSViewPolicy"),
            (AccessPolicy::Edit, "AmazonEKSEditPolicy"),
            (AccessPolicy::Admin, "AmazonEKSAdminPolicy"),
            (AccessPolicy::ClusterAdmin, "AmazonEKSClusterAdminPolicy"),
        ] {
            let text = instructions(&["viewers"], Some(&cluster_wide(policy)));
            assert!(
                text.contains(&format!(
                    "--policy-arn arn:aws:eks::aws:cluster-access-policy/{name} \\\n    --access-scope type=cluster\n"
                )),
                "{text}"
            );
            assert!(!text.contains("grants nothing until"), "{text}");
        }
        assert_eq!(
            AccessPolicy::View.arn("aws-cn"),
            "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
        );
    }

    #[test]
    fn cluster_admin_is_printed_only_when_asked_for_by_name() {
        let mut asked = vec![None];
        asked.extend(
            [AccessPolicy::View, AccessPolicy::Edit, AccessPolicy::Admin]
                .map(|p| Some(cluster_wide(p))),
        );
        for policy in &asked {
            for groups in [&[][..], &["system:masters"][..], &["viewers"][..]] {
                let text = instructions(groups, policy.as_ref());
                assert!(
                    !text.contains("ClusterAdmin"),
                    "{policy:?} {groups:?}: {text}"
                );
            }
        }
        let text = instructions(&["system:masters"], None);
        assert!(
            text.contains("(system:masters left out); --access-policy cluster-admin grants what system:masters would."),
            "{text}"
        );
    }

    #[test]
    fn namespaces_scope_the_policy_to_them() {
        let grant = PolicyGrant::choose(
            Some(AccessPolicy::Edit),
            vec!["team-a".into(), "team-b".into()],
        )
        .unwrap()
        .unwrap();
        let text = instructions(&[], Some(&grant));
        assert!(
            text.contains("AmazonEKSEditPolicy \\\n    --access-scope type=namespace,namespaces=team-a,team-b\n"),
            "{text}"
        );
        assert!(!text.contains("type=cluster"), "{text}");
    }

    #[test]
    fn namespaces_without_a_policy_are_refused() {
        assert_eq!(
            PolicyGrant::choose(None, vec!["team-a".into()]),
            Err(NamespacesWithoutPolicy)
        );
        assert_eq!(PolicyGrant::choose(None, Vec::new()), Ok(None));
    }

    #[test]
    fn no_group_maps_the_role_to_no_group() {
        let text = instructions(&[], None);
        assert!(text.contains("  groups: []\n"), "{text}");
        assert!(!text.contains("system:"), "{text}");
        assert!(
            text.contains("# No --group: the role signs in as u and may do nothing"),
            "{text}"
        );
    }
}
