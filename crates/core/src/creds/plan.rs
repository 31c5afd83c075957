//! Planning: a profile turned into the calls that lead to its credentials
//! (GetRoleCredentials with the SSO session, then one AssumeRole per chain link).

use crate::aws::sts::AssumeRole;
use crate::config::{AwsConfig, ConfigError, Profile, SsoRoot, SsoSessionConfig};
use crate::creds::error::CredentialsError;
use sha2::{Digest, Sha256};

/// One step towards a profile's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// GetRoleCredentials with the session's token.
    Sso {
        /// The session whose token pays for the call.
        session: SsoSessionConfig,
        /// The profile that names the session, for messages.
        profile: String,
        /// The 12-digit account id.
        account_id: String,
        /// The role (permission set).
        role_name: String,
    },
    /// AssumeRole with the previous step's credentials.
    Assume {
        /// The SSO session at the root of the chain (part of the entry name, so that two
        /// configs with a profile of the same name never share credentials).
        root: String,
        /// The profile with the `role_arn`.
        profile: String,
        /// The AssumeRole parameters from the profile.
        request: AssumeRole,
        /// The STS region.
        region: String,
    },
}

impl Step {
    /// The keychain entry these credentials are kept under.
    pub fn entry_name(&self) -> String {
        match self {
            Self::Sso {
                session,
                account_id,
                role_name,
                ..
            } => format!("sso/{}/{account_id}/{role_name}", session.id),
            Self::Assume { root, profile, .. } => format!("role/{root}/{profile}"),
        }
    }

    /// The session at the root of the chain, as entry names spell it.
    pub(super) fn session_key(&self) -> String {
        match self {
            Self::Sso { session, .. } => session.id.to_string(),
            Self::Assume { root, .. } => root.clone(),
        }
    }

    /// A digest of everything that determines the credentials, stored beside them.
    pub(super) fn source(&self, below: Option<&Step>) -> String {
        let text = match self {
            Self::Sso { session, .. } => session.start_url.clone(),
            Self::Assume {
                request, region, ..
            } => format!(
                "{}|{}|{}|{}|{region}|{}",
                request.role_arn,
                request.session_name,
                request.duration_seconds,
                request.external_id.as_deref().unwrap_or_default(),
                below.map(Step::entry_name).unwrap_or_default()
            ),
        };
        hex::encode(&Sha256::digest(text.as_bytes())[..12])
    }
}

/// The steps from an SSO session to `profile`'s credentials, in order.
pub fn plan(config: &AwsConfig, profile: &str) -> Result<Vec<Step>, CredentialsError> {
    let resolution = config.resolve_name(profile)?;
    let roles: Vec<&Profile> = resolution.roles_from_root().collect();
    let first = sso_step(resolution.session?)?;
    let root_session = first.session_key();
    let mut steps = vec![first];
    for role in roles {
        steps.push(assume_step(role, &root_session)?);
    }
    Ok(steps)
}

/// The steps to `profile`'s credentials and then one AssumeRole of `role_arn` with them
/// (`ssobar eks-token --role-arn`): kept in the keychain like any role chain.
pub fn plan_assuming(
    config: &AwsConfig,
    profile: &str,
    role_arn: &str,
) -> Result<Vec<Step>, CredentialsError> {
    let mut steps = plan(config, profile)?;
    let root = steps.first().map(Step::session_key).unwrap_or_default();
    let region = config
        .profile_region(profile)
        .unwrap_or("us-east-1")
        .to_owned();
    steps.push(Step::Assume {
        root,
        profile: format!("{profile} as {role_arn}"),
        request: AssumeRole {
            role_arn: role_arn.to_owned(),
            session_name: default_session_name(profile),
            duration_seconds: 3600,
            external_id: None,
        },
        region,
    });
    Ok(steps)
}

/// An SSO root's GetRoleCredentials: it needs the account and role a sign-in-only profile
/// leaves out.
fn sso_step(root: SsoRoot<'_>) -> Result<Step, CredentialsError> {
    let name = &root.profile.name;
    let missing = |key: &str| {
        CredentialsError::Config(ConfigError::Invalid(format!(
            "profile {name} has no {key}; it can sign in but not get credentials"
        )))
    };
    let sso = root.sso;
    Ok(Step::Sso {
        account_id: sso.account_id.ok_or_else(|| missing("sso_account_id"))?,
        role_name: sso.role_name.ok_or_else(|| missing("sso_role_name"))?,
        session: sso.session,
        profile: name.clone(),
    })
}

fn assume_step(profile: &Profile, root: &str) -> Result<Step, CredentialsError> {
    if profile.get("mfa_serial").is_some() {
        return Err(CredentialsError::Unsupported(format!(
            "profile {} asks for MFA (mfa_serial), which ssobar does not support; SSO sessions do not need it",
            profile.name
        )));
    }
    let duration_seconds = match profile.get("duration_seconds") {
        None => 3600,
        Some(text) => text.parse::<i32>().ok().filter(|d| (900..=43_200).contains(d)).ok_or_else(|| {
            CredentialsError::Config(ConfigError::Invalid(format!(
                "profile {}: duration_seconds = {text} is not a number of seconds between 900 and 43200",
                profile.name
            )))
        })?,
    };
    Ok(Step::Assume {
        root: root.to_owned(),
        profile: profile.name.clone(),
        request: AssumeRole {
            role_arn: profile.get("role_arn").unwrap_or_default().to_owned(),
            session_name: profile
                .get("role_session_name")
                .map(str::to_owned)
                .unwrap_or_else(|| default_session_name(&profile.name)),
            duration_seconds,
            external_id: profile.get("external_id").map(str::to_owned),
        },
        region: profile.get("region").unwrap_or("us-east-1").to_owned(),
    })
}

/// `ssobar-PROFILE`, reduced to what STS accepts (`[\w+=,.@-]`, at most 64 characters), so
/// the session name is the same on every call and shows who made it in CloudTrail.
pub fn default_session_name(profile: &str) -> String {
    let cleaned: String = format!("ssobar-{profile}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    cleaned
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    pub(crate) use crate::config::fixtures::{config, doorways};
    use crate::config::{MAX_DOORWAY_HOPS, NoSession, SessionId};
    use jiff::Timestamp;

    pub(crate) const CHAIN: &str = "\
[sso-session corp]
sso_start_url = https://corp/start
sso_region = us-east-1
[profile dev]
sso_session = corp
sso_account_id = 111
sso_role_name = Admin
[profile deploy]
role_arn = arn:aws:iam::222:role/Deploy
source_profile = dev
region = eu-west-1
[profile deeper]
role_arn = arn:aws:iam::333:role/Deeper
source_profile = deploy
role_session_name = me
external_id = xyz
duration_seconds = 900
[profile door]
credential_process = ssobar credential-process --profile deeper
[profile self]
credential_process = ssobar credential-process --profile self
[profile keys]
aws_access_key_id = AKIA
[profile mfa]
role_arn = arn:aws:iam::1:role/M
source_profile = dev
mfa_serial = arn:aws:iam::1:mfa/me
";

    #[test]
    fn chains_plan_from_the_sso_root_up() {
        let c = config(CHAIN);
        let steps = plan(&c, "deeper").unwrap();
        let names: Vec<String> = steps.iter().map(Step::entry_name).collect();
        assert_eq!(
            names,
            ["sso/corp/111/Admin", "role/corp/deploy", "role/corp/deeper"]
        );
        let Step::Assume {
            request, region, ..
        } = &steps[2]
        else {
            panic!("an AssumeRole step")
        };
        assert_eq!(request.session_name, "me");
        assert_eq!(request.external_id.as_deref(), Some("xyz"));
        assert_eq!(request.duration_seconds, 900);
        assert_eq!(region, "us-east-1");
        let Step::Assume {
            request, region, ..
        } = &steps[1]
        else {
            panic!("an AssumeRole step")
        };
        assert_eq!(request.session_name, "ssobar-deploy");
        assert_eq!(region, "eu-west-1");
        assert_eq!(plan(&c, "door").unwrap(), steps, "a doorway is its target");
    }

    #[test]
    fn profiles_that_cannot_work_say_why() {
        let c = config(CHAIN);
        let err = plan(&c, "self").unwrap_err().to_string();
        assert!(err.contains("which would call itself"), "{err}");
        let err = plan(&c, "keys").unwrap_err().to_string();
        assert!(err.contains("not from IAM Identity Center"), "{err}");
        let err = plan(&c, "mfa").unwrap_err().to_string();
        assert!(err.contains("mfa_serial"), "{err}");
        let err = plan(&c, "nope").unwrap_err().to_string();
        assert!(err.starts_with("there is no profile nope"), "{err}");
    }

    #[test]
    fn session_names_are_stable_and_valid() {
        assert_eq!(
            default_session_name("team/dev prod"),
            "ssobar-team-dev-prod"
        );
        assert_eq!(default_session_name(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn the_source_digest_changes_with_the_chain() {
        let c = config(CHAIN);
        let steps = plan(&c, "deeper").unwrap();
        let edited = config(&CHAIN.replace("external_id = xyz", "external_id = abc"));
        let edited_steps = plan(&edited, "deeper").unwrap();
        assert_ne!(
            steps[2].source(Some(&steps[1])),
            edited_steps[2].source(Some(&edited_steps[1]))
        );
        assert_eq!(
            steps[1].source(Some(&steps[0])),
            edited_steps[1].source(Some(&edited_steps[0]))
        );
    }

    #[test]
    fn config_status_and_vault_agree_on_how_many_doorways_are_too_many() {
        let settings = crate::settings::Settings::default();
        let now = Timestamp::UNIX_EPOCH;
        let ok = doorways(MAX_DOORWAY_HOPS);
        let legacy = SessionId::Legacy("https://x.awsapps.com/start".into());
        assert_eq!(ok.session_for_profile("d0").unwrap().id, legacy);
        // Every doorway stands for the SSO profile at its end: its one step is that profile's.
        let steps = plan(&ok, "d0").unwrap();
        assert_eq!(steps, plan(&ok, "sso").unwrap());
        assert_eq!(
            steps.iter().map(Step::entry_name).collect::<Vec<_>>(),
            ["sso/https://x.awsapps.com/start/1/R"]
        );
        let status = crate::status::compute(&ok, &Default::default(), now, &settings);
        assert_ne!(
            status.profile("d0").unwrap().state,
            crate::status::SessionState::Misconfigured
        );
        let loop_like = doorways(MAX_DOORWAY_HOPS + 1);
        let too_many = NoSession::TooManyDoorways { start: "d0".into() };
        assert_eq!(loop_like.session_for_profile("d0").unwrap_err(), too_many);
        assert_eq!(
            plan(&loop_like, "d0").unwrap_err().to_string(),
            too_many.to_string()
        );
        let status = crate::status::compute(&loop_like, &Default::default(), now, &settings);
        assert_eq!(
            status.profile("d0").unwrap().state,
            crate::status::SessionState::Misconfigured
        );
    }
}
