//! Following a profile to its credentials: `role_arn` + `source_profile` links and
//! `credential_process = ssobar credential-process --profile X` doorways.

use crate::config::profiles::{AwsConfig, ConfigError, Profile};
use crate::config::session::SsoSessionConfig;
use std::collections::BTreeSet;

/// How many `credential_process = ssobar credential-process --profile X` doorways a profile
/// may pass through to reach its SSO profile; more is taken for a loop.
pub const MAX_DOORWAY_HOPS: usize = 8;

impl AwsConfig {
    /// The session that profile `name` signs in with: its own, its role chain's root's, or,
    /// for a `credential_process = ssobar credential-process --profile X` profile, X's.
    pub fn session_for_profile(&self, name: &str) -> Result<SsoSessionConfig, ConfigError> {
        let mut name = name.to_owned();
        // Doorways can point at doorways; a handful of hops is plenty, more is a loop.
        for _ in 0..=MAX_DOORWAY_HOPS {
            let chain = self.role_chain(&name)?;
            let root = chain.last().copied().ok_or_else(|| {
                ConfigError::Invalid(format!("profile {name} has an empty role chain"))
            })?;
            if root.kind().is_sso() {
                return Ok(self.sso_profile(root)?.session);
            }
            match root.ssobar_source_profile() {
                Some(next) if next != root.name => name = next,
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "profile {} does not sign in through IAM Identity Center (it is {}); ssobar manages SSO profiles",
                        root.name,
                        root.kind()
                    )));
                }
            }
        }
        Err(ConfigError::Invalid(format!(
            "credential_process profiles starting at {name} point at each other in a loop"
        )))
    }

    /// The `region` of a profile, or of the first profile up its role chain that sets one.
    pub fn profile_region(&self, name: &str) -> Option<&str> {
        self.role_chain(name)
            .ok()?
            .into_iter()
            .find_map(|p| p.get("region"))
    }

    /// The chain of profiles from `name` down to the one that holds the base credentials:
    /// `[name, its source_profile, ..., root]`. Loops and dangling references are errors.
    pub fn role_chain<'a>(&'a self, name: &str) -> Result<Vec<&'a Profile>, ConfigError> {
        let mut chain: Vec<&Profile> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut current = self.require_profile(name)?;
        loop {
            chain.push(current);
            seen.insert(current.name.as_str());
            let Some(_) = current.get("role_arn") else {
                return Ok(chain);
            };
            let source = match (
                current.get("source_profile"),
                current.get("credential_source"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid(format!(
                        "profile {} sets both source_profile and credential_source; keep one",
                        current.name
                    )));
                }
                (None, Some(_)) => return Ok(chain),
                (None, None) => {
                    return Err(ConfigError::Invalid(format!(
                        "profile {} has role_arn but no source_profile",
                        current.name
                    )));
                }
                (Some(source), None) => source,
            };
            // The SDKs allow a profile to be its own source when it holds static keys.
            if source == current.name && current.get("aws_access_key_id").is_some() {
                return Ok(chain);
            }
            if seen.contains(source) {
                let mut names: Vec<&str> = chain.iter().map(|p| p.name.as_str()).collect();
                names.push(source);
                return Err(ConfigError::Invalid(format!(
                    "role chain loops: {}",
                    names.join(" -> ")
                )));
            }
            current = self.profile(source).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "profile {} has source_profile {source}, which is not defined",
                    current.name
                ))
            })?;
            if let Some(problem) = current.problems.first() {
                return Err(ConfigError::Malformed(problem.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::{ConfigText, FileKind};

    fn config(text: &str) -> AwsConfig {
        AwsConfig::parse(&[ConfigText {
            path: "/h/.aws/config".into(),
            kind: FileKind::Config,
            text: text.to_owned(),
        }])
    }

    #[test]
    fn role_chains_resolve_and_loops_are_named() {
        let c = config(
            "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n\
             [profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = c\n\
             [profile c]\nsso_session = s\n\
             [profile x]\nrole_arn = arn:aws:iam::1:role/X\nsource_profile = y\n\
             [profile y]\nrole_arn = arn:aws:iam::1:role/Y\nsource_profile = x\n",
        );
        let names: Vec<&str> = c
            .role_chain("a")
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            c.role_chain("x").unwrap_err().to_string(),
            "role chain loops: x -> y -> x"
        );
    }
}
