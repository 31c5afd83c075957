//! `~/.aws/config` (and `~/.aws/credentials`) as the AWS SDKs read them.
//!
//! Parsing is done by the Rust SDK's own parser (`aws_runtime::env_config`), so ssobar sees
//! exactly the profiles the SDK sees. The SDK parser gives up on the first malformed line; a
//! person with one typo in a forty-profile file still needs the other thirty-nine, so
//! [`AwsConfig::parse`] blanks each offending line, records `PATH:LINE: what is wrong` against
//! the section it belongs to, and parses again.

use crate::aws::block_on_ready;
use crate::paths::Paths;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::section::EnvConfigSections;
use aws_runtime::env_config::source;
use aws_types::os_shim_internal::{Env as ShimEnv, Fs as ShimFs};
use serde::Serialize;
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// How many `credential_process = ssobar credential-process --profile X` doorways a profile
/// may pass through to reach its SSO profile; more is taken for a loop.
pub const MAX_DOORWAY_HOPS: usize = 8;

/// Which of the two shared files a text came from; they name sections differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[profile NAME]`, `[default]`, `[sso-session NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
}

/// The text of one config file and where it came from.
#[derive(Clone, Debug)]
pub struct ConfigText {
    /// Shown in error messages.
    pub path: PathBuf,
    /// How its sections are named.
    pub kind: FileKind,
    /// The file's contents.
    pub text: String,
}

/// The keys ssobar reads from a profile; everything else is left to the SDKs.
const PROFILE_KEYS: &[&str] = &[
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "sso_registration_scopes",
    "region",
    "role_arn",
    "source_profile",
    "credential_source",
    "role_session_name",
    "duration_seconds",
    "external_id",
    "mfa_serial",
    "credential_process",
    "aws_access_key_id",
    "web_identity_token_file",
];

const SESSION_KEYS: &[&str] = &["sso_start_url", "sso_region", "sso_registration_scopes"];

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
    properties: BTreeMap<String, String>,
    /// `PATH:LINE: what is wrong`, one per malformed line of this profile's section.
    pub problems: Vec<String>,
}

impl Profile {
    /// A property's value (keys are the ones ssobar reads; see the module docs).
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
    properties: BTreeMap<String, String>,
    /// `PATH:LINE: what is wrong`, one per malformed line of this section.
    pub problems: Vec<String>,
}

impl SsoSessionSection {
    /// A property's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }
}

/// Who an SSO token belongs to: the cache file is named after this.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionId {
    /// An `[sso-session NAME]`.
    Named(String),
    /// A legacy profile's start URL.
    Legacy(String),
}

impl SessionId {
    /// A string that names the session in menus and window commands (`s:NAME`, `u:URL`).
    pub fn key(&self) -> String {
        match self {
            Self::Named(name) => format!("s:{name}"),
            Self::Legacy(url) => format!("u:{url}"),
        }
    }

    /// The session a [`SessionId::key`] names.
    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("s", name) if !name.is_empty() => Some(Self::Named(name.to_owned())),
            ("u", url) if !url.is_empty() => Some(Self::Legacy(url.to_owned())),
            _ => None,
        }
    }

    /// How people call it: the session's name, or the start URL's host for legacy sessions.
    pub fn label(&self) -> String {
        match self {
            Self::Named(name) => name.clone(),
            Self::Legacy(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                rest.split('/').next().unwrap_or(rest).to_owned()
            }
        }
    }

    /// The token cache file name without `.json`: hex SHA-1 of the session name, or of the
    /// start URL for legacy profiles (what the AWS CLI and every SDK compute).
    pub fn cache_key(&self) -> String {
        let input = match self {
            Self::Named(name) => name,
            Self::Legacy(url) => url,
        };
        hex::encode(Sha1::digest(input.as_bytes()))
    }

    /// The sso-session name, if this is one.
    pub fn session_name(&self) -> Option<&str> {
        match self {
            Self::Named(name) => Some(name),
            Self::Legacy(_) => None,
        }
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => f.write_str(name),
            Self::Legacy(url) => f.write_str(url),
        }
    }
}

/// Everything needed to sign in to one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoSessionConfig {
    /// Whose token it is.
    pub id: SessionId,
    /// The AWS access portal URL.
    pub start_url: String,
    /// The IAM Identity Center region.
    pub region: String,
    /// `sso_registration_scopes`, split as the AWS CLI splits it; `None` when absent.
    pub registration_scopes: Option<Vec<String>>,
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
    profiles: BTreeMap<String, Profile>,
    sessions: BTreeMap<String, SsoSessionSection>,
    /// Problems that belong to no section (an unreadable file, a line before any section).
    pub warnings: Vec<String>,
}

/// A section a problem belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SectionId {
    Profile(String),
    Session(String),
    Other,
}

impl AwsConfig {
    /// Reads the config and credentials files. Missing files are empty; unreadable ones are
    /// reported in [`AwsConfig::warnings`], never an error: status must still show the rest.
    pub fn load(paths: &Paths) -> Self {
        let mut warnings = Vec::new();
        let mut texts = Vec::new();
        for (path, kind) in [
            (&paths.config_file, FileKind::Config),
            (&paths.credentials_file, FileKind::Credentials),
        ] {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let text = match String::from_utf8(bytes) {
                        Ok(text) => text,
                        Err(e) => {
                            warnings.push(format!(
                                "{}: not UTF-8 text; unreadable characters were replaced",
                                path.display()
                            ));
                            String::from_utf8_lossy(e.as_bytes()).into_owned()
                        }
                    };
                    texts.push(ConfigText {
                        path: path.clone(),
                        kind,
                        text,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => warnings.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        let mut config = Self::parse(&texts);
        warnings.append(&mut config.warnings);
        config.warnings = warnings;
        config
    }

    /// Parses config texts (config file first, then credentials, as the SDK merges them).
    pub fn parse(texts: &[ConfigText]) -> Self {
        let mut problems: Vec<(SectionId, String)> = Vec::new();
        let mut warnings = Vec::new();
        let mut note = |found: Found| {
            for (section, message) in found {
                match section {
                    Some(section) => problems.push((section, message)),
                    None => warnings.push(message),
                }
            }
        };
        for text in texts {
            note(unprefixed_sections(text));
        }
        let whole: Vec<(FileKind, String)> =
            texts.iter().map(|t| (t.kind, t.text.clone())).collect();
        // Parse once; only a file the SDK rejects is taken apart line by line.
        let sections = match parse_with_sdk(&whole) {
            Ok(sections) => sections,
            Err(_) => {
                let mut sanitized = Vec::with_capacity(texts.len());
                for text in texts {
                    let (clean, found) = blank_bad_lines(text);
                    note(found);
                    sanitized.push((text.kind, clean));
                }
                parse_with_sdk(&sanitized).unwrap_or_else(|message| {
                    // Each file was re-parsed until it was clean, so merging cannot fail; if a
                    // future SDK disagrees, say so rather than lose everything silently.
                    note(vec![(
                        None,
                        format!("the AWS config could not be parsed: {message}"),
                    )]);
                    EnvConfigSections::default()
                })
            }
        };

        let mut config = Self {
            warnings,
            ..Self::default()
        };
        for name in sections.profiles() {
            if let Some(p) = sections.get_profile(name) {
                config.profiles.insert(
                    name.to_owned(),
                    Profile {
                        name: name.to_owned(),
                        properties: copy_keys(PROFILE_KEYS, |k| p.get(k)),
                        problems: Vec::new(),
                    },
                );
            }
        }
        for name in sections.sso_sessions() {
            if let Some(s) = sections.sso_session(name) {
                config.sessions.insert(
                    name.to_owned(),
                    SsoSessionSection {
                        name: name.to_owned(),
                        properties: copy_keys(SESSION_KEYS, |k| s.get(k)),
                        problems: Vec::new(),
                    },
                );
            }
        }
        for profile in config.profiles.values_mut() {
            let what = format!("profile {}", profile.name);
            profile
                .problems
                .extend(region_problems(&what, &profile.properties));
        }
        for session in config.sessions.values_mut() {
            let what = format!("sso-session {}", session.name);
            session
                .problems
                .extend(region_problems(&what, &session.properties));
        }
        for (section, message) in problems {
            match section {
                SectionId::Profile(name) => config
                    .profiles
                    .entry(name.clone())
                    .or_insert_with(|| Profile {
                        name,
                        ..Profile::default()
                    })
                    .problems
                    .push(message),
                SectionId::Session(name) => config
                    .sessions
                    .entry(name.clone())
                    .or_insert_with(|| SsoSessionSection {
                        name,
                        ..SsoSessionSection::default()
                    })
                    .problems
                    .push(message),
                SectionId::Other => config.warnings.push(message),
            }
        }
        config
    }

    /// Every profile, by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// One profile.
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

/// True for a string shaped like an AWS region name: two letters, words, a number
/// (`us-east-1`, `cn-north-1`, `us-gov-west-1`, `ap-southeast-7`). A shape, not a list, so
/// that regions opened after this release still pass; endpoints are built from it.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let [first, words @ .., number] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The `region` and `sso_region` of a section that are not region names, as problems of it.
fn region_problems(what: &str, properties: &BTreeMap<String, String>) -> Vec<String> {
    ["sso_region", "region"]
        .into_iter()
        .filter_map(|key| {
            let value = properties.get(key)?;
            (!is_region_name(value)).then(|| {
                format!(
                    "{what} has {key} = {}, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config",
                    crate::util::text::printable(value)
                )
            })
        })
        .collect()
}

/// Splits `sso_registration_scopes` as the AWS CLI does: by commas, trimmed, empties dropped.
pub fn split_scopes(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn copy_keys<'a>(keys: &[&str], get: impl Fn(&str) -> Option<&'a str>) -> BTreeMap<String, String> {
    keys.iter()
        .filter_map(|k| get(k).map(|v| ((*k).to_owned(), v.trim().to_owned())))
        .collect()
}

/// Which section a header line opens, leniently (the header may be the malformed line).
fn section_of_header(line: &str, kind: FileKind) -> SectionId {
    let inner = line.trim().trim_start_matches('[');
    let inner = inner.split(']').next().unwrap_or(inner).trim();
    let mut words = inner.split_whitespace();
    let (first, second) = (words.next(), words.next());
    match (kind, first, second) {
        (FileKind::Config, Some("profile"), Some(name)) => SectionId::Profile(name.to_owned()),
        (FileKind::Config, Some("sso-session"), Some(name)) => SectionId::Session(name.to_owned()),
        (FileKind::Config, Some(name), None) => SectionId::Profile(name.to_owned()),
        (FileKind::Credentials, Some(name), None) => SectionId::Profile(name.to_owned()),
        _ => SectionId::Other,
    }
}

type Found = Vec<(Option<SectionId>, String)>;

/// `[name]` sections in the config file: the SDK drops them with only a log line, but people
/// who write them mean a profile.
fn unprefixed_sections(file: &ConfigText) -> Found {
    if file.kind != FileKind::Config {
        return Vec::new();
    }
    let path = file.path.display();
    file.text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with('['))
        .filter(|(_, line)| !line.trim_start_matches('[').trim_start().starts_with("profile"))
        .filter_map(|(i, line)| match section_of_header(line, file.kind) {
            SectionId::Profile(name) if name != "default" => Some((
                Some(SectionId::Profile(name.clone())),
                format!(
                    "{path}:{}: section [{name}] is ignored by the AWS tools; in the config file write [profile {name}]",
                    i + 1
                ),
            )),
            _ => None,
        })
        .collect()
}

/// Lines the SDK parser is given at once while looking for the next bad one; it doubles after
/// each clean stretch up to [`MAX_STRETCH`] and starts small again after a bad line, so that a
/// file of garbage costs a parse of a few lines per bad line, not of the whole file.
const MIN_STRETCH: usize = 16;
const MAX_STRETCH: usize = 4096;

/// Blanks every line the SDK parser rejects, so the rest of the file still parses, and says
/// which section each problem belongs to. Line numbers are preserved.
///
/// The SDK parser reads line by line and its only state is the section it is in and the
/// property it last read (continuation lines belong to it); a rejected line changes neither.
/// So the rest of the file is checked a stretch at a time, each stretch after those two lines,
/// rather than the whole file again after every bad line.
fn blank_bad_lines(file: &ConfigText) -> (String, Found) {
    let mut lines: Vec<String> = file.text.lines().map(str::to_owned).collect();
    let mut found: Found = Vec::new();
    let path = file.path.display();
    let mut state = ParserState::default();
    let mut start = 0;
    let mut stretch = MIN_STRETCH;
    while start < lines.len() {
        let end = lines.len().min(start + stretch);
        let context: Vec<&str> = state.lines().map(|i| lines[i].as_str()).collect();
        let text = context
            .iter()
            .copied()
            .chain(lines[start..end].iter().map(String::as_str))
            .collect::<Vec<&str>>()
            .join("\n");
        let Err(message) = parse_with_sdk(&[(file.kind, text)]) else {
            state.read(&lines, start..end);
            start = end;
            stretch = (stretch * 2).min(MAX_STRETCH);
            continue;
        };
        let Some((number, what)) = error_location(&message) else {
            found.push((None, format!("{path}: {message}")));
            return (String::new(), found);
        };
        // The context lines parsed before; an error there or past the stretch is not ours to
        // mend: keep nothing rather than loop.
        let index = (number > context.len())
            .then(|| start + number - context.len() - 1)
            .filter(|&i| i < end && !is_blank(&lines[i]));
        let Some(index) = index else {
            let line_number = start + number.saturating_sub(context.len());
            found.push((None, format!("{path}:{line_number}: {what}")));
            return (String::new(), found);
        };
        state.read(&lines, start..index);
        let header = if lines[index].starts_with('[') {
            Some(index)
        } else {
            state.header
        };
        let section = header.map(|h| section_of_header(&lines[h], file.kind));
        found.push((section, format!("{path}:{}: {what}", index + 1)));
        let broken_header = lines[index].starts_with('[');
        lines[index].clear();
        start = index + 1;
        if broken_header {
            // Its properties would otherwise be read as the previous section's.
            while start < lines.len() && !lines[start].starts_with('[') {
                lines[start].clear();
                start += 1;
            }
        }
        stretch = MIN_STRETCH;
    }
    (lines.join("\n"), found)
}

/// Where the SDK parser stands after the lines read so far: the section header it is in and
/// the property it last read, as indexes of lines known to parse.
#[derive(Clone, Copy, Debug, Default)]
struct ParserState {
    header: Option<usize>,
    property: Option<usize>,
}

impl ParserState {
    /// The lines that put a fresh parser in this state.
    fn lines(self) -> impl Iterator<Item = usize> {
        self.header.into_iter().chain(self.property)
    }

    /// Follows lines that parsed, classified as the SDK parser classifies them.
    fn read(&mut self, lines: &[String], range: std::ops::Range<usize>) {
        for i in range {
            let line = &lines[i];
            if is_blank(line) || line.starts_with(['#', ';']) {
                continue;
            }
            if line.starts_with('[') {
                *self = Self {
                    header: Some(i),
                    property: None,
                };
            } else if !line.starts_with([' ', '\t']) {
                self.property = Some(i);
            }
        }
    }
}

/// A line the SDK parser skips as empty: only spaces and tabs are blank to it, not every
/// Unicode space (it rejects a line of U+00A0 as a property without `=`).
fn is_blank(line: &str) -> bool {
    line.trim_matches([' ', '\t']).is_empty()
}

/// `(line, message)` out of the SDK's "error parsing PATH on line N:\n  MESSAGE".
fn error_location(message: &str) -> Option<(usize, String)> {
    let rest = message.split(" on line ").nth(1)?;
    let (number, what) = rest.split_once(':')?;
    Some((number.trim().parse().ok()?, what.trim().to_owned()))
}

fn parse_with_sdk(files: &[(FileKind, String)]) -> Result<EnvConfigSections, String> {
    if files.is_empty() {
        return Ok(EnvConfigSections::default());
    }
    let mut builder = EnvConfigFiles::builder();
    for (kind, text) in files {
        let kind = match kind {
            FileKind::Config => EnvConfigFileKind::Config,
            FileKind::Credentials => EnvConfigFileKind::Credentials,
        };
        builder = builder.with_contents(kind, text.clone());
    }
    let files = builder.build();
    let (env, fs) = (ShimEnv::from_slice(&[]), ShimFs::from_slice(&[]));
    // Over contents in memory, `source::load` does no I/O and never waits.
    let source = block_on_ready(source::load(&env, &fs, &files)).map_err(|e| e.to_string())?;
    EnvConfigSections::parse(source).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> AwsConfig {
        AwsConfig::parse(&[ConfigText {
            path: "/h/.aws/config".into(),
            kind: FileKind::Config,
            text: text.to_owned(),
        }])
    }

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
    fn cache_keys_are_sha1_of_session_name_or_start_url() {
        // Values computed with `python3 -c 'import hashlib; print(hashlib.sha1(b"corp").hexdigest())'`.
        assert_eq!(
            SessionId::Named("corp".into()).cache_key(),
            "ee0bfd2552fbd840c02cc48b6e823320543c450f"
        );
        assert_eq!(
            SessionId::Legacy("https://old.awsapps.com/start".into()).cache_key(),
            "33d5ca4bf3b1a62edb96b47f7c203034a43ac435"
        );
    }

    #[test]
    fn session_keys_round_trip() {
        for id in [
            SessionId::Named("corp".into()),
            SessionId::Legacy("https://x.awsapps.com/start".into()),
        ] {
            assert_eq!(SessionId::from_key(&id.key()), Some(id));
        }
        assert_eq!(SessionId::from_key("nonsense"), None);
        assert_eq!(
            SessionId::Legacy("https://x.awsapps.com/start#/".into()).label(),
            "x.awsapps.com"
        );
    }

    #[test]
    fn profile_default_wins_over_default() {
        let c = config("[default]\nregion = eu-west-1\n[profile default]\nregion = eu-west-2\n");
        assert_eq!(
            c.profile("default").unwrap().get("region"),
            Some("eu-west-2")
        );
    }

    #[test]
    fn a_malformed_line_breaks_only_its_profile() {
        let c = config(
            "[profile good]\nregion = eu-west-1\n[profile bad]\nregion = eu-west-2\nthis line has no equals\n[profile after]\nregion = eu-west-3\n",
        );
        assert_eq!(c.profile("good").unwrap().get("region"), Some("eu-west-1"));
        assert_eq!(c.profile("after").unwrap().get("region"), Some("eu-west-3"));
        let bad = c.profile("bad").unwrap();
        assert_eq!(bad.get("region"), Some("eu-west-2"));
        assert_eq!(
            bad.problems,
            ["/h/.aws/config:5: Expected an '=' sign defining a property"]
        );
        assert_eq!(
            c.require_profile("bad").unwrap_err().to_string(),
            "/h/.aws/config:5: Expected an '=' sign defining a property"
        );
    }

    #[test]
    fn a_broken_header_takes_its_lines_along() {
        let c = config(
            "[profile a]\nregion = eu-west-1\n[profile broken\nregion = eu-north-1\n[profile b]\nregion = eu-west-2\n",
        );
        assert_eq!(c.profile("a").unwrap().get("region"), Some("eu-west-1"));
        assert_eq!(c.profile("b").unwrap().get("region"), Some("eu-west-2"));
        let broken = c.profile("broken").unwrap();
        assert_eq!(broken.get("region"), None);
        assert!(broken.problems[0].starts_with("/h/.aws/config:3: "));
    }

    #[test]
    fn lines_after_a_bad_one_are_read_in_the_same_place() {
        // A continuation after a bad line still belongs to the property before it, sub-property
        // rules included; one with no property before it in its section is bad itself.
        let c = config(
            "[profile a]\ns3 =\n  max_concurrent_requests = 1\nbad line\n  multipart = 2\n\
             [profile b]\nstill bad\n  orphan = 3\nregion = eu-west-2\n",
        );
        assert_eq!(
            c.profile("a").unwrap().problems,
            ["/h/.aws/config:4: Expected an '=' sign defining a property"]
        );
        let b = c.profile("b").unwrap();
        assert_eq!(b.get("region"), Some("eu-west-2"));
        assert_eq!(b.problems.len(), 2, "{:?}", b.problems);
        assert!(
            b.problems[1].starts_with("/h/.aws/config:8: "),
            "{:?}",
            b.problems
        );
    }

    #[test]
    fn a_line_of_unicode_spaces_costs_only_its_own_profile() {
        // Found by fuzzing: the SDK rejects U+0085 (and U+00A0, U+2003, ...) as a property line
        // while Rust's `trim` takes it for blank; the whole file was given up on.
        for space in ["\u{85}", "\u{a0}", "\u{2003}", "\u{3000}"] {
            let c = config(&format!(
                "[profile a]\nregion = eu-west-1\n\n[profile b]\nregion = eu-west-1\n{space}\n\n\
                 [profile c]\nregion = eu-west-1\n"
            ));
            for name in ["a", "c"] {
                let profile = c.profile(name).expect("the other profiles are still there");
                assert!(
                    profile.problems.is_empty(),
                    "{space:?}: {:?}",
                    profile.problems
                );
            }
            let b = c.profile("b").expect("the broken profile is there");
            assert_eq!(b.problems.len(), 1, "{space:?}: {:?}", b.problems);
            assert!(
                b.problems[0].starts_with("/h/.aws/config:6: "),
                "{:?}",
                b.problems
            );
            assert_eq!(b.get("region"), Some("eu-west-1"));
        }
    }

    #[test]
    fn every_bad_line_of_a_long_file_is_found_once() {
        let mut text = String::from("stray before any section\n[profile junk]\n");
        for i in 0..5_000 {
            text.push_str(if i % 7 == 0 { "ok = 1\n" } else { "junk\n" });
        }
        text.push_str("[profile good]\nregion = eu-west-1\n");
        let c = config(&text);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(
            c.profile("junk").unwrap().problems.len(),
            5_000 - 5_000usize.div_ceil(7)
        );
        assert_eq!(c.profile("junk").unwrap().get("region"), None);
        let good = c.profile("good").unwrap();
        assert_eq!(good.get("region"), Some("eu-west-1"));
        assert!(good.problems.is_empty());
    }

    #[test]
    fn region_names_are_checked_by_shape() {
        for good in [
            "us-east-1",
            "cn-north-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-7",
            "us-isob-east-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "US-EAST-1",
            "us-east-1a",
            "u-east-1",
            "us--east-1",
            "us-east-1 ",
            "us-east-1.evil.com",
            "eu_west_1",
            "-us-east-1",
            "us-1",
        ] {
            assert!(!is_region_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_bad_region_makes_its_profile_or_session_misconfigured() {
        let c = config(
            "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east\n\
             [profile viasession]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [profile typo]\nregion = eu-west-1.amazonaws.com\n\
             [profile fine]\nregion = cn-north-1\n",
        );
        assert_eq!(
            c.require_profile("typo").unwrap_err().to_string(),
            "profile typo has region = eu-west-1.amazonaws.com, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config"
        );
        assert_eq!(
            c.session_for_profile("viasession").unwrap_err().to_string(),
            "sso-session corp has sso_region = us-east, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config"
        );
        assert!(c.require_profile("fine").is_ok());
    }

    #[test]
    fn unprefixed_sections_in_the_config_file_are_explained() {
        let c = config("[work]\nregion = eu-west-1\n");
        let work = c.profile("work").unwrap();
        assert!(
            work.problems[0].contains("write [profile work]"),
            "{:?}",
            work.problems
        );
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
    fn credentials_file_profiles_merge_in() {
        let c = AwsConfig::parse(&[
            ConfigText {
                path: "c".into(),
                kind: FileKind::Config,
                text: "[profile k]\nregion = eu-west-1\n".into(),
            },
            ConfigText {
                path: "k".into(),
                kind: FileKind::Credentials,
                text: "[k]\naws_access_key_id = AKIA\n[only-here]\naws_access_key_id = AKIB\n"
                    .into(),
            },
        ]);
        assert_eq!(c.profile("k").unwrap().kind(), ProfileKind::Static);
        assert_eq!(c.profile("only-here").unwrap().kind(), ProfileKind::Static);
    }

    #[test]
    fn scopes_split_like_the_aws_cli() {
        assert_eq!(split_scopes(" a, b ,,c "), ["a", "b", "c"]);
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
