//! Signing in to an IAM Identity Center session: the browser (PKCE) and device-code flows,
//! refresh and sign-out, the token cache they share with the AWS CLI, and the accounts and
//! roles a session reaches.

pub mod accounts;
pub mod browser;
pub mod pkce;
pub mod signin;
pub mod token_cache;
