//! Who an SSO token belongs to, and the commands that sign in to it: pure values shared by
//! status, sign-in and credentials.

use sha1::{Digest, Sha1};
use std::fmt;

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

/// Splits `sso_registration_scopes` as the AWS CLI does: by commas, trimmed, empties dropped.
pub fn split_scopes(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The command that signs in to `session` again.
pub fn login_command(session: &SsoSessionConfig, profile_hint: Option<&str>) -> String {
    session_command(SessionVerb::Login, session, profile_hint)
}

/// The command that renews `session` with its refresh token.
pub fn refresh_command(session: &SsoSessionConfig, profile_hint: Option<&str>) -> String {
    session_command(SessionVerb::Refresh, session, profile_hint)
}

/// The `ssobar` subcommands a message may tell a person to run for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionVerb {
    Login,
    Refresh,
}

/// `ssobar VERB` with the selector of `session`: `--sso-session NAME`, or for legacy sessions
/// (which have no name) `--profile` with a profile that uses it.
fn session_command(
    verb: SessionVerb,
    session: &SsoSessionConfig,
    profile_hint: Option<&str>,
) -> String {
    let verb = match verb {
        SessionVerb::Login => "login",
        SessionVerb::Refresh => "refresh",
    };
    match (&session.id, profile_hint) {
        (SessionId::Named(name), _) => format!("ssobar {verb} --sso-session {name}"),
        (SessionId::Legacy(_), Some(profile)) => format!("ssobar {verb} --profile {profile}"),
        (SessionId::Legacy(_), None) => format!("ssobar {verb} --profile PROFILE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn scopes_split_like_the_aws_cli() {
        assert_eq!(split_scopes(" a, b ,,c "), ["a", "b", "c"]);
    }

    #[test]
    fn login_commands_name_the_session() {
        let s = SsoSessionConfig {
            id: SessionId::Legacy("https://x/start".into()),
            start_url: "https://x/start".into(),
            region: "us-east-1".into(),
            registration_scopes: None,
        };
        assert_eq!(login_command(&s, Some("old")), "ssobar login --profile old");
    }
}
