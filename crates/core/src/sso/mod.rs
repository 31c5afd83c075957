//! Signing in to an IAM Identity Center session: the browser (PKCE) and device-code flows,
//! refresh and sign-out, and the token cache they share with the AWS CLI.

pub mod browser;
pub mod pkce;
pub mod signin;
pub mod token_cache;
