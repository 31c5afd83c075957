//! Signing in to an IAM Identity Center session: the browser (PKCE) and device-code flows,
//! refresh and sign-out, the token cache they share with the AWS CLI, the accounts and
//! roles a session reaches, and the one-time links that hand a secret URL to the browser.

pub mod accounts;
pub mod browser;
pub mod pkce;
pub mod secret_link;
pub mod signin;
pub mod token_cache;
