//! The profile model: profiles and `[sso-session]` sections as parsed, what kind of
//! credentials each profile names, and the SSO settings of a profile or session, checked as
//! the AWS CLI checks them.

use crate::config::session::{SessionId, SsoSessionConfig, split_scopes};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// What a profile gets its credentials from, in the order the SDKs decide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// `sso_session = NAME`: a token from an `[sso-session]`, refreshable.
    SsoSession,
    /// `sso_start_url` on the profile itself: the legacy 8-hour, non-refreshable token.
    SsoLegacy,
    /// `role_arn` with `source_profile` (or `credential_source`): AssumeRole on top of another.
    RoleChain,
    /// `credential_process`: a command prints the credentials.
    CredentialProcess,
    /// `aws_access_key_id`: long-lived keys.
    Static,
    /// Anything else (web identity, settings-only profiles, ...).
    Other,
}

impl ProfileKind {
    /// The name used in `ssobar status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SsoSession => "sso-session",
            Self::SsoLegacy => "sso-legacy",
            Self::RoleChain => "role-chain",
            Self::CredentialProcess => "credential-process",
            Self::Static => "static",
            Self::Other => "other",
        }
    }

    /// True for the two kinds that sign in through IAM Identity Center themselves.
    pub fn is_sso(self) -> bool {
        matches!(self, Self::SsoSession | Self::SsoLegacy)
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[profile NAME]` (merged across both files, as the SDK merges it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name, without the `profile ` prefix.
    pub name: String,
    pub(super) properties: BTreeMap<String, String>,
    /// `PATH:LINE: what is wrong`, one per malformed line of this profile's section.
    pub problems: Vec<String>,
}

impl Profile {
    /// A property's value; only the keys ssobar reads are kept (listed in
    /// [`crate::config::parse`]).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// How this profile gets credentials.
    pub fn kind(&self) -> ProfileKind {
        if self.get("role_arn").is_some() {
            ProfileKind::RoleChain
        } else if self.get("sso_session").is_some() {
            ProfileKind::SsoSession
        } else if self.get("sso_start_url").is_some() || self.get("sso_account_id").is_some() {
            ProfileKind::SsoLegacy
        } else if self.get("credential_process").is_some() {
            ProfileKind::CredentialProcess
        } else if self.get("aws_access_key_id").is_some() {
            ProfileKind::Static
        } else {
            ProfileKind::Other
        }
    }

    /// For `credential_process = ssobar credential-process --profile X`, the profile `X`.
    ///
    /// Such a profile is only a doorway to `X`, so its session state is `X`'s.
    pub fn ssobar_source_profile(&self) -> Option<String> {
        let command = self.get("credential_process")?;
        let words: Vec<&str> = command
            .split_whitespace()
            .map(|w| w.trim_matches(['"', '\'']))
            .collect();
        let program = Path::new(words.first()?).file_stem()?.to_str()?;
        if program != "ssobar" || words.get(1) != Some(&"credential-process") {
            return None;
        }
        words.iter().enumerate().find_map(|(i, w)| {
            w.strip_prefix("--profile=").map(str::to_owned).or_else(|| {
                (*w == "--profile").then(|| words.get(i + 1).map(|s| (*s).to_owned()))?
            })
        })
    }
}

/// One `[sso-session NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsoSessionSection {
    /// The session's name.
    pub name: String,
    pub(super) properties: BTreeMap<String, String>,
    /// `PATH:LINE: what is wrong`, one per malformed line of this section.
    pub problems: Vec<String>,
}

impl SsoSessionSection {
    /// A property's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }
}

/// An SSO profile: the session plus the role it opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoProfile {
    /// The session it signs in with.
    pub session: SsoSessionConfig,
    /// `sso_account_id` (absent on sign-in-only profiles).
    pub account_id: Option<String>,
    /// `sso_role_name` (absent on sign-in-only profiles).
    pub role_name: Option<String>,
}

/// The profiles and sessions of the shared config files.
#[derive(Clone, Debug, Default)]
pub struct AwsConfig {
    pub(super) profiles: BTreeMap<String, Profile>,
    pub(super) sessions: BTreeMap<String, SsoSessionSection>,
    /// Problems that belong to no section (an unreadable file, a line before any section).
    pub warnings: Vec<String>,
}

impl AwsConfig {
    /// Every profile, by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// The profile of that name, if the config has one.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// Every `[sso-session]`, by name.
    pub fn sessions(&self) -> impl Iterator<Item = &SsoSessionSection> {
        self.sessions.values()
    }

    /// One `[sso-session]`.
    pub fn session(&self, name: &str) -> Option<&SsoSessionSection> {
        self.sessions.get(name)
    }

    /// The profile names closest to `name`, best first, for "did you mean" hints.
    pub fn similar_profiles(&self, name: &str) -> Vec<&str> {
        let mut scored: Vec<(usize, &str)> = self
            .profiles
            .keys()
            .map(|p| (strsim::damerau_levenshtein(name, p), p.as_str()))
            .filter(|(distance, p)| {
                *distance <= 2.max(name.len() / 4) || p.contains(name) || name.contains(*p)
            })
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, p)| p).collect()
    }

    /// The profile called `name`, or an error naming the close matches.
    pub fn require_profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        let profile = self
            .profile(name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_owned(),
                similar: self
                    .similar_profiles(name)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })?;
        match profile.problems.first() {
            Some(problem) => Err(ConfigError::Malformed(problem.clone())),
            None => Ok(profile),
        }
    }

    /// A session's settings, and for a legacy session the first legacy profile that uses it
    /// (legacy sessions are signed in to through a profile).
    pub fn session_config(
        &self,
        id: &SessionId,
    ) -> Result<(SsoSessionConfig, Option<String>), ConfigError> {
        match id {
            SessionId::Named(name) => self.sso_session(name).map(|s| (s, None)),
            SessionId::Legacy(url) => self
                .profiles()
                .filter(|p| p.kind() == ProfileKind::SsoLegacy)
                .filter_map(|p| {
                    self.sso_profile(p)
                        .ok()
                        .map(|sso| (sso.session, p.name.clone()))
                })
                .find(|(s, _)| &s.start_url == url)
                .map(|(s, name)| (s, Some(name)))
                .ok_or_else(|| ConfigError::Invalid(format!("no profile uses {url} any more"))),
        }
    }

    /// The sso-session called `name`, ready to sign in to.
    pub fn sso_session(&self, name: &str) -> Result<SsoSessionConfig, ConfigError> {
        let section = self
            .session(name)
            .ok_or_else(|| ConfigError::UnknownSession(name.to_owned()))?;
        if let Some(problem) = section.problems.first() {
            return Err(ConfigError::Malformed(problem.clone()));
        }
        let need = |key: &str| {
            section
                .get(key)
                .map(str::to_owned)
                .ok_or_else(|| ConfigError::Invalid(format!("sso-session {name} has no {key}")))
        };
        Ok(SsoSessionConfig {
            id: SessionId::Named(name.to_owned()),
            start_url: need("sso_start_url")?,
            region: need("sso_region")?,
            registration_scopes: section.get("sso_registration_scopes").map(split_scopes),
        })
    }

    /// The SSO settings of an `sso-session` or legacy profile, checked as the AWS CLI checks
    /// them: the session must exist, and a key set on both must agree.
    pub fn sso_profile(&self, profile: &Profile) -> Result<SsoProfile, ConfigError> {
        let account_id = profile.get("sso_account_id").map(str::to_owned);
        let role_name = profile.get("sso_role_name").map(str::to_owned);
        let session = match profile.get("sso_session") {
            Some(name) => {
                if self.session(name).is_none() {
                    return Err(ConfigError::Invalid(format!(
                        "profile {} uses sso-session {name}, which is not defined: add an [sso-session {name}] section",
                        profile.name
                    )));
                }
                let session = self.sso_session(name)?;
                for (key, value) in [
                    ("sso_start_url", &session.start_url),
                    ("sso_region", &session.region),
                ] {
                    if let Some(own) = profile.get(key)
                        && own != value
                    {
                        return Err(ConfigError::Invalid(format!(
                            "{key} differs between profile {} ({own}) and sso-session {name} ({value})",
                            profile.name
                        )));
                    }
                }
                session
            }
            None => {
                let missing: Vec<&str> = [
                    "sso_start_url",
                    "sso_region",
                    "sso_account_id",
                    "sso_role_name",
                ]
                .into_iter()
                .filter(|k| profile.get(k).is_none())
                .collect();
                if !missing.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "profile {} is missing {}",
                        profile.name,
                        missing.join(", ")
                    )));
                }
                let start_url = profile.get("sso_start_url").unwrap_or_default().to_owned();
                SsoSessionConfig {
                    id: SessionId::Legacy(start_url.clone()),
                    start_url,
                    region: profile.get("sso_region").unwrap_or_default().to_owned(),
                    registration_scopes: None,
                }
            }
        };
        Ok(SsoProfile {
            session,
            account_id,
            role_name,
        })
    }
}

/// A profile or session that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No such profile.
    #[error("{}", unknown_profile_message(.name, .similar))]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// Close matches, best first.
        similar: Vec<String>,
    },
    /// No such sso-session.
    #[error("there is no [sso-session {0}] in the AWS config")]
    UnknownSession(String),
    /// A malformed line in the section: `PATH:LINE: what is wrong`.
    #[error("{0}")]
    Malformed(String),
    /// A section that parses but makes no sense.
    #[error("{0}")]
    Invalid(String),
}

fn unknown_profile_message(name: &str, similar: &[String]) -> String {
    match similar {
        [] => format!(
            "there is no profile {name} in the AWS config; \"ssobar status\" lists the profiles"
        ),
        [one] => format!("there is no profile {name}; did you mean {one}?"),
        many => format!(
            "there is no profile {name}; did you mean one of {}?",
            many.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::config;

    const SAMPLE: &str = "\
[default]
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
region = eu-west-1

[profile old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-west-2
sso_account_id = 222222222222
sso_role_name = ReadOnly

[profile chained]
role_arn = arn:aws:iam::333333333333:role/Deploy
source_profile = dev

[profile proc]
credential_process = /usr/local/bin/ssobar credential-process --profile dev

[profile keys]
aws_access_key_id = AKIAEXAMPLE
aws_secret_access_key = secret
";

    #[test]
    fn reads_every_kind_of_profile() {
        let c = config(SAMPLE);
        let kinds: Vec<(&str, ProfileKind)> =
            c.profiles().map(|p| (p.name.as_str(), p.kind())).collect();
        assert_eq!(
            kinds,
            [
                ("chained", ProfileKind::RoleChain),
                ("default", ProfileKind::Other),
                ("dev", ProfileKind::SsoSession),
                ("keys", ProfileKind::Static),
                ("old", ProfileKind::SsoLegacy),
                ("proc", ProfileKind::CredentialProcess),
            ]
        );
        let dev = c.sso_profile(c.profile("dev").unwrap()).unwrap();
        assert_eq!(dev.session.id, SessionId::Named("corp".into()));
        assert_eq!(dev.session.start_url, "https://corp.awsapps.com/start");
        assert_eq!(
            dev.session.registration_scopes,
            Some(vec!["sso:account:access".to_owned()])
        );
        assert_eq!(dev.account_id.as_deref(), Some("111111111111"));
        let old = c.sso_profile(c.profile("old").unwrap()).unwrap();
        assert_eq!(
            old.session.id,
            SessionId::Legacy("https://old.awsapps.com/start".into())
        );
        assert_eq!(
            c.profile("proc")
                .unwrap()
                .ssobar_source_profile()
                .as_deref(),
            Some("dev")
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn sessions_must_exist_and_agree() {
        let c = config(
            "[profile a]\nsso_session = nope\n[sso-session s]\nsso_start_url = https://x/start\nsso_region = us-east-1\n[profile b]\nsso_session = s\nsso_region = eu-west-1\n",
        );
        let err = c.sso_profile(c.profile("a").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("sso-session nope, which is not defined")
        );
        let err = c.sso_profile(c.profile("b").unwrap()).unwrap_err();
        assert!(err.to_string().contains("sso_region differs"), "{err}");
    }

    #[test]
    fn legacy_profiles_need_all_four_keys() {
        let c = config("[profile l]\nsso_start_url = https://x/start\nsso_region = us-east-1\n");
        let err = c.sso_profile(c.profile("l").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile l is missing sso_account_id, sso_role_name"
        );
    }

    #[test]
    fn unknown_profiles_name_the_close_matches() {
        let c = config(SAMPLE);
        let err = c.require_profile("dve").unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no profile dve; did you mean dev?"
        );
    }

    #[test]
    fn a_legacy_session_is_found_through_a_legacy_profile_only() {
        let c = config(
            "[profile modern]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n\
             [profile old]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n\
             sso_account_id = 1\nsso_role_name = R\n",
        );
        let legacy = SessionId::Legacy("https://x.awsapps.com/start".into());
        let (session, profile) = c.session_config(&legacy).unwrap();
        assert_eq!(session.id, legacy);
        assert_eq!(session.region, "us-east-1");
        assert_eq!(profile.as_deref(), Some("old"));
        let (named, none) = c.session_config(&SessionId::Named("corp".into())).unwrap();
        assert_eq!((named.region.as_str(), none), ("eu-west-1", None));
        let gone = SessionId::Legacy("https://y.awsapps.com/start".into());
        assert_eq!(
            c.session_config(&gone).unwrap_err().to_string(),
            "no profile uses https://y.awsapps.com/start any more"
        );
    }
}
