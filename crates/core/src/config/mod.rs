//! `~/.aws/config` (and `~/.aws/credentials`) as the AWS SDKs read them.
//!
//! [`parse`] reads the files tolerantly with the SDK's own parser; [`profiles`] is the model
//! built from them (profiles, `[sso-session]` sections, their SSO settings); [`resolve`]
//! follows a profile through role chains and `ssobar credential-process` doorways to its SSO
//! session; [`session`] names a session and the commands that sign in to it.

pub mod parse;
pub mod profiles;
pub mod resolve;
pub mod session;

pub use parse::{ConfigText, FileKind, is_region_name};
pub use profiles::{AwsConfig, ConfigError, Profile, ProfileKind, SsoProfile, SsoSessionSection};
pub use resolve::{Handover, Link, MAX_DOORWAY_HOPS, NoSession, Resolution, SsoRoot};
pub use session::{SessionId, SsoSessionConfig, login_command, refresh_command, split_scopes};
