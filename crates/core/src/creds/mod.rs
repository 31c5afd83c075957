//! Role credentials: fetched with the SSO session (GetRoleCredentials) or a role chain
//! (AssumeRole), kept in the OS keychain and nowhere else, and reused until shortly before they
//! expire. One fetch per entry at a time across every process.
//!
//! [`plan`](mod@plan) turns a profile into steps; [`vault`] keeps and fetches what they lead to.

pub mod access_log;
pub mod console;
pub mod container;
pub mod credential_env;
pub mod error;
pub mod keychain;
pub mod plan;
pub mod vault;

pub use crate::aws::credentials::AwsCredentials;
pub use error::CredentialsError;
pub use plan::{Step, default_session_name, plan, plan_assuming};
pub use vault::{Vault, mark_current, marker_path, session_token_file};
