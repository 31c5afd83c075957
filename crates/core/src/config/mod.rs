//! `~/.aws/config` (and `~/.aws/credentials`) as the AWS SDKs read them.
//!
//! [`parse`] reads the files tolerantly with the SDK's own parser; [`profiles`] is the model
//! built from them (profiles, `[sso-session]` sections, their SSO settings); [`resolve`]
//! follows a profile through role chains and `ssobar credential-process` doorways to its SSO
//! session; [`session`] names a session and the commands that sign in to it; [`populate`]
//! writes a profile for every account and role of a session into the config; [`start_url`] reads
//! an access portal URL as people paste it; [`cached`] keeps the last read for the app.

pub mod cached;
pub mod edit;
pub mod parse;
pub mod populate;
pub mod profiles;
pub mod resolve;
pub mod session;
pub mod start_url;

pub use parse::{ConfigText, FileKind, is_region_name};
pub use populate::{
    Apply, PopulateError, PopulateOutcome, PopulateReport, PopulateRequest, RoleAssignment,
    Template, Unlisted, add_profile, populate_file,
};
pub use profiles::{AwsConfig, ConfigError, Profile, ProfileKind, SsoProfile, SsoSessionSection};
pub use resolve::{Handover, Link, MAX_DOORWAY_HOPS, NoSession, Resolution, SsoRoot};
pub use session::{SessionId, SsoSessionConfig, login_command, refresh_command, split_scopes};

/// The config fixtures every module's tests build on.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// Where everything lives for a HOME of `home` (its runtime folder inside it).
    pub(crate) fn paths_in(home: &std::path::Path) -> crate::paths::Paths {
        let home = home.to_str().unwrap();
        crate::paths::Paths::from_env(&crate::env::Env::from_pairs([
            ("HOME", home),
            ("XDG_RUNTIME_DIR", &format!("{home}/run")),
        ]))
        .unwrap()
    }

    /// A config read from `text` as `~/.aws/config`.
    pub(crate) fn config(text: &str) -> AwsConfig {
        AwsConfig::parse(&[ConfigText {
            path: "/h/.aws/config".into(),
            kind: FileKind::Config,
            text: text.to_owned(),
        }])
    }

    /// A profile `d0` that reaches the SSO profile `sso` through `hops` doorways.
    pub(crate) fn doorways(hops: usize) -> AwsConfig {
        let mut text = String::from(
            "[profile sso]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n\
             sso_account_id = 1\nsso_role_name = R\n",
        );
        for i in 0..hops {
            let next = if i + 1 == hops {
                "sso".to_owned()
            } else {
                format!("d{}", i + 1)
            };
            text.push_str(&format!(
                "[profile d{i}]\ncredential_process = ssobar credential-process --profile {next}\n"
            ));
        }
        config(&text)
    }
}
