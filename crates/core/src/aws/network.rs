//! Where each network setting of a context comes from, in the AWS CLI's order: a variable of
//! the environment, then the key of the profile the command runs as (`ca_bundle`,
//! `use_fips_endpoint`, `use_dualstack_endpoint`), then `settings.toml` (`https_proxy`,
//! `no_proxy`, `ca_bundle`: an app the desktop started has none of the shell's variables).
//!
//! Everything lands in the context's [`Env`] as the variables the AWS tools read, so that
//! every client ([`transport`](crate::aws::transport), [`endpoints`](crate::aws::endpoints),
//! the EKS token's STS host) reads one place; [`Origins`] remembers which of them the
//! environment did not set, so that a profile's key may replace a setting's value, and so that
//! the window can say where each comes from ([`in_effect`]).

use crate::aws::transport::{CA_BUNDLE_VARIABLE, Proxy};
use crate::config::{AwsConfig, Profile};
use crate::env::Env;
use crate::settings::Settings;
use crate::util::text::printable;
use serde::Serialize;

/// A profile's keys that every AWS call of the profile follows, as the AWS CLI reads them, and
/// the variable that comes before each.
pub const PROFILE_KEYS: [(&str, &str); 3] = [
    ("ca_bundle", CA_BUNDLE_VARIABLE),
    ("use_fips_endpoint", "AWS_USE_FIPS_ENDPOINT"),
    ("use_dualstack_endpoint", "AWS_USE_DUALSTACK_ENDPOINT"),
];

/// Where a network setting in effect comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// This variable of the environment.
    Environment {
        /// The variable, as set (`HTTPS_PROXY`, `https_proxy`, ...).
        variable: String,
    },
    /// This profile's key in the AWS config.
    Profile {
        /// The profile's name.
        profile: String,
    },
    /// `settings.toml`, the environment having none of the variables.
    Settings,
}

impl Source {
    /// Where it comes from, as the window says it: "the environment (HTTPS_PROXY)", "profile
    /// dev in the AWS config", "settings.toml".
    pub fn describe(&self) -> String {
        match self {
            Self::Environment { variable } => format!("the environment ({variable})"),
            Self::Profile { profile } => {
                format!("profile {} in the AWS config", printable(profile))
            }
            Self::Settings => "settings.toml".to_owned(),
        }
    }
}

/// The variables of a context's [`Env`] that the environment did not set, and who did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    set: Vec<(&'static str, Source)>,
}

impl Origins {
    /// `env` with the settings' network values filled in where it has none
    /// ([`Settings::fill_network_env`]), and what they filled.
    pub fn fill_from_settings(env: &mut Env, settings: &Settings) -> Self {
        Self {
            set: settings
                .fill_network_env(env)
                .into_iter()
                .map(|variable| (variable, Source::Settings))
                .collect(),
        }
    }

    /// Where `variable`'s value in the context's `Env` comes from.
    fn source(&self, variable: &str) -> Source {
        self.set
            .iter()
            .find(|(name, _)| *name == variable)
            .map_or_else(
                || Source::Environment {
                    variable: variable.to_owned(),
                },
                |(_, source)| source.clone(),
            )
    }

    fn set_by_environment(&self, env: &Env, variable: &str) -> bool {
        env.get(variable).is_some() && !self.set.iter().any(|(name, _)| *name == variable)
    }
}

/// One profile key to apply: the variable it stands for, its value, and the profile that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileKey {
    /// The variable that comes before it (`AWS_CA_BUNDLE`, ...).
    pub variable: &'static str,
    /// The key's value.
    pub value: String,
    /// The profile it was read from.
    pub profile: String,
}

fn key_of(profile: &Profile, key: &str) -> Option<String> {
    profile
        .get(key)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The keys of a command run as `profile`: its own (as in the AWS CLI, the source profiles of
/// a role chain count for nothing).
pub fn profile_keys(profile: &Profile) -> Vec<ProfileKey> {
    PROFILE_KEYS
        .iter()
        .filter_map(|(key, variable)| {
            key_of(profile, key).map(|value| ProfileKey {
                variable,
                value,
                profile: profile.name.clone(),
            })
        })
        .collect()
}

/// The keys for calls made for an sso-session that no profile was named for (`ssobar login
/// --sso-session`, the app's sign-in): the active profile's (`AWS_PROFILE`, else `default`),
/// as the AWS CLI reads them for `aws sso login --sso-session`; for a key the active profile
/// lacks, the value that every profile of the session setting it agrees on (none where two
/// differ: the session's calls cannot follow both).
pub fn session_keys(config: &AwsConfig, env: &Env, session: &str) -> Vec<ProfileKey> {
    let active = env
        .get("AWS_PROFILE")
        .filter(|name| !name.is_empty())
        .unwrap_or("default");
    let active = config.profile(active);
    let members: Vec<&Profile> = config
        .profiles()
        .filter(|profile| profile.get("sso_session") == Some(session))
        .collect();
    PROFILE_KEYS
        .iter()
        .filter_map(|(key, variable)| {
            if let Some(profile) = active
                && let Some(value) = key_of(profile, key)
            {
                return Some(ProfileKey {
                    variable,
                    value,
                    profile: profile.name.clone(),
                });
            }
            let mut setting = members
                .iter()
                .filter_map(|profile| key_of(profile, key).map(|value| (value, *profile)));
            let (value, first) = setting.next()?;
            setting
                .all(|(other, _)| other == value)
                .then(|| ProfileKey {
                    variable,
                    value,
                    profile: first.name.clone(),
                })
        })
        .collect()
}

/// Sets `keys` in `env` where the environment has not set their variable: a profile's key
/// comes before `settings.toml`.
pub fn apply(env: &mut Env, origins: &mut Origins, keys: Vec<ProfileKey>) {
    for key in keys {
        if origins.set_by_environment(env, key.variable) {
            continue;
        }
        env.set(key.variable, key.value);
        origins.set.retain(|(name, _)| *name != key.variable);
        origins.set.push((
            key.variable,
            Source::Profile {
                profile: key.profile,
            },
        ));
    }
}

/// A network setting in effect: its value as it may be shown, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InEffect {
    /// The value (a proxy's password as `***`).
    pub value: String,
    /// Where it comes from.
    pub source: Source,
    /// The same, in words ([`Source::describe`]).
    pub from: String,
}

impl InEffect {
    fn new(value: String, source: Source) -> Self {
        let from = source.describe();
        Self {
            value,
            source,
            from,
        }
    }
}

/// The proxy, the hosts it is not used for, and the CA bundle every AWS call of a context
/// goes with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    /// The proxy (`HTTPS_PROXY` and its kin).
    pub proxy: Option<InEffect>,
    /// The hosts reached without it (`NO_PROXY`).
    pub no_proxy: Option<InEffect>,
    /// The CA bundle trusted besides the system's certificates.
    pub ca_bundle: Option<InEffect>,
}

/// What `env` (a context's, with `origins`) sends AWS calls through and trusts, and from where.
pub fn in_effect(env: &Env, origins: &Origins) -> Network {
    let set = |variable: &'static str| {
        env.get(variable)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|value| InEffect::new(printable(value), origins.source(variable)))
    };
    Network {
        proxy: Proxy::from_env(env)
            .map(|proxy| InEffect::new(proxy.shown(), origins.source(proxy.variable))),
        no_proxy: set("NO_PROXY").or_else(|| set("no_proxy")),
        ca_bundle: set(CA_BUNDLE_VARIABLE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
[default]
region = eu-west-1
ca_bundle = /etc/default-ca.pem

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev
ca_bundle = /etc/dev-ca.pem
use_fips_endpoint = true
use_dualstack_endpoint = true

[profile ops]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Ops
use_fips_endpoint = true
use_dualstack_endpoint = false

[profile prod]
sso_session = corp
sso_account_id = 444455556666
sso_role_name = Admin
use_fips_endpoint = true

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
";

    fn config() -> AwsConfig {
        crate::config::fixtures::config(CONFIG)
    }

    fn settings() -> Settings {
        let mut settings = Settings::default();
        settings.set("ca_bundle", "/etc/settings-ca.pem").unwrap();
        settings
            .set("https_proxy", "http://me:s3cret@proxy.corp:3128")
            .unwrap();
        settings
    }

    fn scoped(env: Env, keys: impl Fn(&Env) -> Vec<ProfileKey>) -> (Env, Origins) {
        let mut env = env;
        let mut origins = Origins::fill_from_settings(&mut env, &settings());
        let keys = keys(&env);
        apply(&mut env, &mut origins, keys);
        (env, origins)
    }

    #[test]
    fn the_environment_comes_first_then_the_profile_then_the_settings() {
        let config = config();
        let dev = config.profile("dev").unwrap();
        let (env, origins) = scoped(Env::default(), |_| profile_keys(dev));
        assert_eq!(env.get("AWS_CA_BUNDLE"), Some("/etc/dev-ca.pem"));
        assert_eq!(env.get("AWS_USE_FIPS_ENDPOINT"), Some("true"));
        assert_eq!(env.get("AWS_USE_DUALSTACK_ENDPOINT"), Some("true"));
        // What every client and the EKS token's STS host are resolved from.
        let sts =
            crate::aws::endpoints::endpoint(&env, crate::aws::endpoints::Service::Sts, "eu-west-1")
                .unwrap();
        assert_eq!(sts.url, "https://sts-fips.eu-west-1.api.aws");
        let network = in_effect(&env, &origins);
        assert_eq!(
            network.ca_bundle.unwrap().source,
            Source::Profile {
                profile: "dev".to_owned()
            }
        );
        assert_eq!(
            network.proxy,
            Some(InEffect::new(
                "http://me:***@proxy.corp:3128/".to_owned(),
                Source::Settings
            ))
        );
        assert_eq!(network.proxy.unwrap().from, "settings.toml");

        let shell = Env::from_pairs([
            ("AWS_CA_BUNDLE", "/home/me/ca.pem"),
            ("AWS_USE_FIPS_ENDPOINT", "false"),
        ]);
        let (env, origins) = scoped(shell, |_| profile_keys(dev));
        assert_eq!(env.get("AWS_CA_BUNDLE"), Some("/home/me/ca.pem"));
        assert_eq!(env.get("AWS_USE_FIPS_ENDPOINT"), Some("false"));
        assert_eq!(env.get("AWS_USE_DUALSTACK_ENDPOINT"), Some("true"));
        assert_eq!(
            in_effect(&env, &origins).ca_bundle.unwrap().source,
            Source::Environment {
                variable: "AWS_CA_BUNDLE".to_owned()
            }
        );

        // A profile without the key leaves the settings' value; a chain's source profile's
        // keys are not the profile's.
        let ops = config.profile("ops").unwrap();
        let (env, origins) = scoped(Env::default(), |_| profile_keys(ops));
        assert_eq!(env.get("AWS_CA_BUNDLE"), Some("/etc/settings-ca.pem"));
        assert_eq!(env.get("AWS_USE_DUALSTACK_ENDPOINT"), Some("false"));
        assert_eq!(
            in_effect(&env, &origins).ca_bundle.unwrap().source,
            Source::Settings
        );
    }

    #[test]
    fn a_session_without_a_profile_follows_the_active_profile_then_its_profiles_agreeing() {
        let config = config();
        let (env, _) = scoped(Env::default(), |env| session_keys(&config, env, "corp"));
        // [default]'s bundle, as `aws sso login --sso-session` reads it; FIPS, which every
        // profile of the session that says anything asks for; dual-stack, on which they differ.
        assert_eq!(env.get("AWS_CA_BUNDLE"), Some("/etc/default-ca.pem"));
        assert_eq!(env.get("AWS_USE_FIPS_ENDPOINT"), Some("true"));
        assert_eq!(env.get("AWS_USE_DUALSTACK_ENDPOINT"), None);

        let (env, origins) = scoped(Env::from_pairs([("AWS_PROFILE", "dev")]), |env| {
            session_keys(&config, env, "corp")
        });
        assert_eq!(env.get("AWS_CA_BUNDLE"), Some("/etc/dev-ca.pem"));
        assert_eq!(env.get("AWS_USE_DUALSTACK_ENDPOINT"), Some("true"));
        assert_eq!(
            in_effect(&env, &origins).ca_bundle.unwrap().source,
            Source::Profile {
                profile: "dev".to_owned()
            }
        );
        assert_eq!(session_keys(&config, &Env::default(), "other").len(), 1);
    }

    #[test]
    fn nothing_set_is_nothing_in_effect() {
        let mut env = Env::from_pairs([("NO_PROXY", " "), ("https_proxy", "http://p:1")]);
        let origins = Origins::fill_from_settings(&mut env, &Settings::default());
        assert_eq!(
            in_effect(&env, &origins),
            Network {
                proxy: Some(InEffect {
                    value: "http://p:1".to_owned(),
                    source: Source::Environment {
                        variable: "https_proxy".to_owned()
                    },
                    from: "the environment (https_proxy)".to_owned(),
                }),
                no_proxy: None,
                ca_bundle: None,
            }
        );
    }
}
