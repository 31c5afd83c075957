//! The one walk from a profile to its credentials: through `role_arn` + `source_profile`
//! links and `credential_process = ssobar credential-process --profile X` doorways down to the
//! profile that holds the base credentials, and from there to its SSO session, or to the one
//! reason it has none.
//!
//! Status, sign-in and credential planning all ask this walk, so they agree on which profiles
//! work and say the same thing about those that do not.

use crate::config::profiles::{AwsConfig, ConfigError, Profile, ProfileKind, SsoProfile};
use crate::config::session::SsoSessionConfig;

/// How many `credential_process = ssobar credential-process --profile X` doorways a profile
/// may pass through to reach its SSO profile; a longer way is refused as a likely mistake.
pub const MAX_DOORWAY_HOPS: usize = 8;

/// How a profile on the way hands over to the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handover {
    /// `role_arn` with `source_profile`: it assumes its role with the next profile's
    /// credentials.
    AssumeRole,
    /// `credential_process = ssobar credential-process --profile NEXT`: it is the next profile
    /// under another name.
    Doorway,
    /// It holds the base credentials itself (SSO, keys, a command, `credential_source`): the
    /// end of the way.
    Own,
}

/// One profile on the way from the profile asked for to its base credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link<'a> {
    /// The profile at this point of the chain.
    pub profile: &'a Profile,
    /// How it reaches the next link (or that it is the last).
    pub handover: Handover,
}

/// The end of a way that reaches IAM Identity Center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRoot<'a> {
    /// The SSO profile at the end of the way.
    pub profile: &'a Profile,
    /// Its SSO settings, checked.
    pub sso: SsoProfile,
}

/// Where a profile's credentials come from: the way walked, and where it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution<'a> {
    /// The profiles walked, the one asked for first. When the walk reached an end (an SSO
    /// profile, or [`NoSession::NotSso`]) the last link is that end, with [`Handover::Own`];
    /// when it broke, the way up to the profile where it broke.
    pub links: Vec<Link<'a>>,
    /// The SSO profile the way ends at, or why there is none.
    pub session: Result<SsoRoot<'a>, NoSession>,
}

impl<'a> Resolution<'a> {
    /// The profiles that assume a role on the way, the one nearest the base credentials first:
    /// the order in which their AssumeRole calls are made.
    pub fn roles_from_root(&self) -> impl Iterator<Item = &'a Profile> + '_ {
        self.links
            .iter()
            .rev()
            .filter(|link| link.handover == Handover::AssumeRole)
            .map(|link| link.profile)
    }
}

/// Why a profile has no SSO session to get credentials with. Each reason has one wording,
/// whoever reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoSession {
    /// A profile on the way is unknown or malformed, or the SSO settings at its end are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `role_arn` with neither `source_profile` nor `credential_source`.
    #[error("profile {profile} has role_arn but no source_profile")]
    NoSourceProfile {
        /// The profile with the `role_arn`.
        profile: String,
    },
    /// `role_arn` with both `source_profile` and `credential_source`.
    #[error("profile {profile} sets both source_profile and credential_source; keep one")]
    BothSources {
        /// The profile with both.
        profile: String,
    },
    /// `source_profile` names a profile that is not there.
    #[error("profile {profile} has source_profile {missing}, which is not defined")]
    MissingSourceProfile {
        /// The profile with the `source_profile`.
        profile: String,
        /// The name it gives.
        missing: String,
    },
    /// The way comes back to a profile already on it.
    #[error("profiles point at each other in a loop: {}", .names.join(" -> "))]
    Loop {
        /// The way, ending with the profile seen twice.
        names: Vec<String>,
    },
    /// `credential_process = ssobar credential-process --profile SELF`.
    #[error(
        "profile {profile} runs \"ssobar credential-process --profile {profile}\", which would call itself; \
         point credential_process at the SSO profile from a separate profile"
    )]
    DoorwayToItself {
        /// The profile whose `credential_process` names itself.
        profile: String,
    },
    /// More than [`MAX_DOORWAY_HOPS`] doorways in a row.
    #[error(
        "profile {start} reaches its SSO profile through more than {MAX_DOORWAY_HOPS} credential_process profiles; \
         point it at the SSO profile more directly"
    )]
    TooManyDoorways {
        /// The profile asked for.
        start: String,
    },
    /// The way ends at credentials that do not come from IAM Identity Center.
    #[error("{}", not_sso_message(.profile, .root, *.kind))]
    NotSso {
        /// The profile asked for.
        profile: String,
        /// The profile holding the base credentials.
        root: String,
        /// What they are.
        kind: ProfileKind,
    },
}

fn not_sso_message(profile: &str, root: &str, kind: ProfileKind) -> String {
    let from = if profile == root {
        "itself".to_owned()
    } else {
        format!("profile {root}")
    };
    format!(
        "profile {profile} gets its credentials from {from} ({kind}), not from IAM Identity Center; ssobar manages SSO profiles"
    )
}

/// How `profile` hands over, read from its keys in the order the SDKs decide it: a role first,
/// then SSO, then an ssobar doorway; anything else holds its own credentials.
fn handover_of(profile: &Profile) -> Handover {
    if profile.get("role_arn").is_some() {
        return match (
            profile.get("source_profile"),
            profile.get("credential_source"),
        ) {
            (None, Some(_)) => Handover::Own,
            // The SDKs allow a profile to be its own source when it holds static keys.
            (Some(source), None)
                if source == profile.name && profile.get("aws_access_key_id").is_some() =>
            {
                Handover::Own
            }
            _ => Handover::AssumeRole,
        };
    }
    if profile.kind().is_sso() {
        Handover::Own
    } else if profile.ssobar_source_profile().is_some() {
        Handover::Doorway
    } else {
        Handover::Own
    }
}

impl AwsConfig {
    /// Walks from `profile` to its base credentials and their SSO session. The profile's own
    /// malformed lines are not checked here (status shows the rest of such a profile); those of
    /// every profile it leads to are.
    pub fn resolve<'a>(&'a self, profile: &'a Profile) -> Resolution<'a> {
        let mut links = Vec::new();
        let session = self.walk(profile, &mut links);
        Resolution { links, session }
    }

    fn walk<'a>(
        &'a self,
        start: &'a Profile,
        links: &mut Vec<Link<'a>>,
    ) -> Result<SsoRoot<'a>, NoSession> {
        let mut current = start;
        let mut doorways = 0;
        loop {
            let handover = handover_of(current);
            links.push(Link {
                profile: current,
                handover,
            });
            current = match handover {
                Handover::Own if current.kind().is_sso() => {
                    let sso = self.sso_profile(current)?;
                    return Ok(SsoRoot {
                        profile: current,
                        sso,
                    });
                }
                Handover::Own => {
                    return Err(NoSession::NotSso {
                        profile: start.name.clone(),
                        root: current.name.clone(),
                        kind: current.kind(),
                    });
                }
                Handover::AssumeRole => {
                    let source = source_profile_of(current)?;
                    refuse_loop(links, source)?;
                    let next =
                        self.profile(source)
                            .ok_or_else(|| NoSession::MissingSourceProfile {
                                profile: current.name.clone(),
                                missing: source.to_owned(),
                            })?;
                    if let Some(problem) = next.problems.first() {
                        return Err(ConfigError::Malformed(problem.clone()).into());
                    }
                    next
                }
                Handover::Doorway => {
                    let target = current.ssobar_source_profile().unwrap_or_default();
                    if target == current.name {
                        return Err(NoSession::DoorwayToItself {
                            profile: current.name.clone(),
                        });
                    }
                    doorways += 1;
                    if doorways > MAX_DOORWAY_HOPS {
                        return Err(NoSession::TooManyDoorways {
                            start: start.name.clone(),
                        });
                    }
                    refuse_loop(links, &target)?;
                    self.require_profile(&target)?
                }
            };
        }
    }

    /// [`AwsConfig::resolve`] for the profile called `name`, which must exist and parse.
    pub fn resolve_name(&self, name: &str) -> Result<Resolution<'_>, ConfigError> {
        Ok(self.resolve(self.require_profile(name)?))
    }

    /// The session that profile `name` signs in with: its own, its role chain's root's, or,
    /// for a `credential_process = ssobar credential-process --profile X` profile, X's.
    pub fn session_for_profile(&self, name: &str) -> Result<SsoSessionConfig, NoSession> {
        Ok(self.resolve_name(name)?.session?.sso.session)
    }

    /// The `region` of a profile, or of the first profile up its role chain that sets one
    /// (the chain stops at a doorway: the profile behind it is another profile's business).
    pub fn profile_region(&self, name: &str) -> Option<&str> {
        let resolution = self.resolve_name(name).ok()?;
        let mut region = None;
        for link in &resolution.links {
            region = region.or(link.profile.get("region"));
            if link.handover != Handover::AssumeRole {
                return region;
            }
        }
        // The role chain broke before it reached its base credentials.
        None
    }
}

/// A loop when `next` is already on the way.
fn refuse_loop(links: &[Link<'_>], next: &str) -> Result<(), NoSession> {
    if links.iter().all(|link| link.profile.name != next) {
        return Ok(());
    }
    let mut names: Vec<String> = links.iter().map(|link| link.profile.name.clone()).collect();
    names.push(next.to_owned());
    Err(NoSession::Loop { names })
}

/// The profile whose credentials a role profile assumes its role with.
fn source_profile_of(profile: &Profile) -> Result<&str, NoSession> {
    match (
        profile.get("source_profile"),
        profile.get("credential_source"),
    ) {
        (Some(source), None) => Ok(source),
        (Some(_), Some(_)) => Err(NoSession::BothSources {
            profile: profile.name.clone(),
        }),
        (None, _) => Err(NoSession::NoSourceProfile {
            profile: profile.name.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::{config, doorways};
    use crate::config::session::SessionId;

    const PROFILES: &str = "\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
[profile named]
sso_session = corp
sso_account_id = 1
sso_role_name = Admin
[profile legacy]
sso_start_url = https://old.awsapps.com/start
sso_region = us-west-2
sso_account_id = 2
sso_role_name = ReadOnly
[profile deploy]
role_arn = arn:aws:iam::3:role/Deploy
source_profile = named
region = eu-west-1
[profile deeper]
role_arn = arn:aws:iam::4:role/Deeper
source_profile = deploy
[profile door]
credential_process = ssobar credential-process --profile deeper
region = eu-north-1
[profile door-to-door]
credential_process = /opt/bin/ssobar credential-process --profile=door
[profile over-door]
role_arn = arn:aws:iam::5:role/Over
source_profile = door
[profile keys]
aws_access_key_id = AKIAEXAMPLE
[profile on-keys]
role_arn = arn:aws:iam::6:role/OnKeys
source_profile = keys
[profile own-keys]
role_arn = arn:aws:iam::7:role/Own
source_profile = own-keys
aws_access_key_id = AKIAEXAMPLE
[profile instance]
role_arn = arn:aws:iam::8:role/Instance
credential_source = Ec2InstanceMetadata
[profile script]
credential_process = /usr/bin/get-creds
[profile x]
role_arn = arn:aws:iam::1:role/X
source_profile = y
[profile y]
role_arn = arn:aws:iam::1:role/Y
source_profile = x
[profile door-a]
credential_process = ssobar credential-process --profile door-b
[profile door-b]
credential_process = ssobar credential-process --profile door-a
[profile self-door]
credential_process = ssobar credential-process --profile self-door
[profile dangling]
role_arn = arn:aws:iam::1:role/D
source_profile = nowhere
[profile sourceless]
role_arn = arn:aws:iam::1:role/S
[profile both]
role_arn = arn:aws:iam::1:role/B
source_profile = named
credential_source = Environment
[profile door-to-nothing]
credential_process = ssobar credential-process --profile nothing
";

    fn names(resolution: &Resolution<'_>) -> Vec<(String, Handover)> {
        resolution
            .links
            .iter()
            .map(|l| (l.profile.name.clone(), l.handover))
            .collect()
    }

    fn reason(c: &AwsConfig, name: &str) -> NoSession {
        c.resolve_name(name).unwrap().session.unwrap_err()
    }

    #[test]
    fn sso_profiles_end_at_their_named_or_legacy_session() {
        let c = config(PROFILES);
        let named = c.resolve_name("named").unwrap();
        assert_eq!(names(&named), [("named".to_owned(), Handover::Own)]);
        let root = named.session.unwrap();
        assert_eq!(root.profile.name, "named");
        assert_eq!(root.sso.session.id, SessionId::Named("corp".into()));
        let legacy = c.session_for_profile("legacy").unwrap();
        assert_eq!(
            legacy.id,
            SessionId::Legacy("https://old.awsapps.com/start".into())
        );
        assert_eq!(legacy.region, "us-west-2");
    }

    #[test]
    fn role_chains_and_doorways_lead_to_the_root_session() {
        let c = config(PROFILES);
        let way = c.resolve_name("over-door").unwrap();
        assert_eq!(
            names(&way),
            [
                ("over-door".to_owned(), Handover::AssumeRole),
                ("door".to_owned(), Handover::Doorway),
                ("deeper".to_owned(), Handover::AssumeRole),
                ("deploy".to_owned(), Handover::AssumeRole),
                ("named".to_owned(), Handover::Own),
            ]
        );
        let roles: Vec<&str> = way.roles_from_root().map(|p| p.name.as_str()).collect();
        assert_eq!(roles, ["deploy", "deeper", "over-door"]);
        assert_eq!(way.session.unwrap().profile.name, "named");
    }

    #[test]
    fn a_doorway_may_open_onto_another_doorway() {
        let c = config(PROFILES);
        let way = c.resolve_name("door-to-door").unwrap();
        let hops: Vec<Handover> = way.links.iter().map(|l| l.handover).collect();
        assert_eq!(
            hops,
            [
                Handover::Doorway,
                Handover::Doorway,
                Handover::AssumeRole,
                Handover::AssumeRole,
                Handover::Own
            ]
        );
        assert_eq!(
            c.session_for_profile("door-to-door").unwrap().id,
            SessionId::Named("corp".into())
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
        let way = c.resolve_name("a").unwrap();
        let names: Vec<&str> = way.links.iter().map(|l| l.profile.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            c.resolve_name("x")
                .unwrap()
                .session
                .unwrap_err()
                .to_string(),
            "profiles point at each other in a loop: x -> y -> x"
        );
    }

    #[test]
    fn loops_are_named_whichever_way_they_close() {
        let c = config(PROFILES);
        assert_eq!(
            reason(&c, "x").to_string(),
            "profiles point at each other in a loop: x -> y -> x"
        );
        assert_eq!(
            reason(&c, "door-a"),
            NoSession::Loop {
                names: vec!["door-a".into(), "door-b".into(), "door-a".into()]
            }
        );
        assert_eq!(
            reason(&c, "self-door"),
            NoSession::DoorwayToItself {
                profile: "self-door".into()
            }
        );
        assert!(
            reason(&c, "self-door")
                .to_string()
                .contains("which would call itself")
        );
    }

    #[test]
    fn doorways_stop_at_the_hop_limit() {
        let longest = doorways(MAX_DOORWAY_HOPS);
        let way = longest.resolve_name("d0").unwrap();
        let mut expected: Vec<(String, Handover)> = (0..MAX_DOORWAY_HOPS)
            .map(|i| (format!("d{i}"), Handover::Doorway))
            .collect();
        expected.push(("sso".into(), Handover::Own));
        assert_eq!(names(&way), expected);
        assert_eq!(
            way.session.unwrap().sso.session.id,
            SessionId::Legacy("https://x.awsapps.com/start".into())
        );
        let too_long = doorways(MAX_DOORWAY_HOPS + 1);
        assert_eq!(
            too_long.session_for_profile("d0").unwrap_err(),
            NoSession::TooManyDoorways { start: "d0".into() }
        );
    }

    #[test]
    fn broken_links_say_which_profile_and_why() {
        let c = config(PROFILES);
        assert_eq!(
            reason(&c, "dangling").to_string(),
            "profile dangling has source_profile nowhere, which is not defined"
        );
        assert_eq!(
            reason(&c, "sourceless").to_string(),
            "profile sourceless has role_arn but no source_profile"
        );
        assert_eq!(
            reason(&c, "both").to_string(),
            "profile both sets both source_profile and credential_source; keep one"
        );
        assert!(matches!(
            reason(&c, "door-to-nothing"),
            NoSession::Config(ConfigError::UnknownProfile { .. })
        ));
        let partial = c.resolve_name("dangling").unwrap();
        assert_eq!(names(&partial), [("dangling".into(), Handover::AssumeRole)]);
    }

    #[test]
    fn other_credentials_end_the_way_without_a_session() {
        let c = config(PROFILES);
        assert_eq!(
            reason(&c, "keys").to_string(),
            "profile keys gets its credentials from itself (static), not from IAM Identity Center; ssobar manages SSO profiles"
        );
        assert_eq!(
            reason(&c, "on-keys"),
            NoSession::NotSso {
                profile: "on-keys".into(),
                root: "keys".into(),
                kind: ProfileKind::Static
            }
        );
        for own in ["own-keys", "instance"] {
            let way = c.resolve_name(own).unwrap();
            assert_eq!(names(&way), [(own.to_owned(), Handover::Own)]);
            assert!(matches!(way.session, Err(NoSession::NotSso { .. })));
        }
        assert!(matches!(
            reason(&c, "script"),
            NoSession::NotSso {
                kind: ProfileKind::CredentialProcess,
                ..
            }
        ));
    }

    #[test]
    fn a_malformed_profile_on_the_way_breaks_it() {
        let c = config(
            "[profile top]\nrole_arn = arn:aws:iam::1:role/T\nsource_profile = bad\n\
             [profile bad]\nsso_session = corp\nnot a property\n",
        );
        assert_eq!(
            reason(&c, "top").to_string(),
            "/h/.aws/config:6: Expected an '=' sign defining a property"
        );
        assert_eq!(
            c.resolve_name("bad").unwrap_err().to_string(),
            "/h/.aws/config:6: Expected an '=' sign defining a property",
            "asked for by name"
        );
    }

    #[test]
    fn regions_come_from_the_role_chain_up_to_a_doorway() {
        let c = config(PROFILES);
        assert_eq!(c.profile_region("deeper"), Some("eu-west-1"));
        assert_eq!(c.profile_region("door"), Some("eu-north-1"));
        assert_eq!(c.profile_region("over-door"), Some("eu-north-1"));
        assert_eq!(c.profile_region("door-to-door"), None);
        assert_eq!(c.profile_region("x"), None);
    }
}
