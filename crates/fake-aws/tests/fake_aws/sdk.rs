//! AWS SDK for Rust clients pointed at a fake.

use std::time::Duration;

use aws_sdk_ssooidc::operation::create_token::builders::CreateTokenFluentBuilder;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sts::error::SdkError;
use ssobar_fake_aws::{FakeAws, IssuedCredentials, IssuedSession};

pub const START_URL_PATH: &str = "/start";
pub const ACCOUNT_ACCESS: &str = "sso:account:access";
pub const DEV_ACCOUNT: &str = "111122223333";
pub const PROD_ACCOUNT: &str = "444455556666";

/// The fake's access portal start URL, the one sessions are issued for.
pub fn start_url(fake: &FakeAws) -> String {
    format!("{}{START_URL_PATH}", fake.url())
}

/// The HTTP status of the answer an SDK call failed with, if it got one.
pub fn http_status<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|raw| raw.status().as_u16())
}

/// Retries on, but quick: for tests that expect the SDK to retry.
pub fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

pub fn oidc(fake: &FakeAws) -> aws_sdk_ssooidc::Client {
    let config = aws_sdk_ssooidc::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(fake.url())
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_ssooidc::Client::from_conf(config)
}

pub fn sso_with(fake: &FakeAws, retry: RetryConfig) -> aws_sdk_sso::Client {
    let config = aws_sdk_sso::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(fake.url())
        .retry_config(retry)
        .build();
    aws_sdk_sso::Client::from_conf(config)
}

pub fn sso(fake: &FakeAws) -> aws_sdk_sso::Client {
    sso_with(fake, RetryConfig::disabled())
}

pub fn sts_with(
    fake: &FakeAws,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
    retry: RetryConfig,
) -> aws_sdk_sts::Client {
    let credentials = Credentials::new(
        access_key_id,
        secret_access_key,
        Some(session_token.to_owned()),
        None,
        "test",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(fake.url())
        .credentials_provider(credentials)
        .retry_config(retry)
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

pub fn sts(fake: &FakeAws, credentials: &IssuedCredentials) -> aws_sdk_sts::Client {
    sts_with(
        fake,
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
        RetryConfig::disabled(),
    )
}

/// An EKS client for `region` signing with `access_key_id`, `secret_access_key` and
/// `session_token`.
pub fn eks_with(
    fake: &FakeAws,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
    retry: RetryConfig,
) -> aws_sdk_eks::Client {
    let credentials = Credentials::new(
        access_key_id,
        secret_access_key,
        Some(session_token.to_owned()),
        None,
        "test",
    );
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(fake.url())
        .credentials_provider(credentials)
        .retry_config(retry)
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

/// An EKS client for `region` signing with credentials the fake issued, without retries.
pub fn eks(fake: &FakeAws, region: &str, credentials: &IssuedCredentials) -> aws_sdk_eks::Client {
    eks_with(
        fake,
        region,
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
        RetryConfig::disabled(),
    )
}

/// A `CreateToken` call redeeming `refresh_token` with `session`'s client.
pub fn refresh(
    oidc: &aws_sdk_ssooidc::Client,
    session: &IssuedSession,
    refresh_token: impl Into<String>,
) -> CreateTokenFluentBuilder {
    oidc.create_token()
        .client_id(&session.client_id)
        .client_secret(&session.client_secret)
        .grant_type("refresh_token")
        .refresh_token(refresh_token)
}

/// A signed-in session, refreshable, valid for an hour.
pub fn session(fake: &FakeAws) -> IssuedSession {
    fake.issue_session(&start_url(fake), &[ACCOUNT_ACCESS], 3600, 86_400)
}

/// Role credentials fetched through the portal, as the SDK's SSO provider would.
pub async fn role_credentials(fake: &FakeAws, account_id: &str, role: &str) -> IssuedCredentials {
    let session = session(fake);
    let answer = sso(fake)
        .get_role_credentials()
        .access_token(&session.access_token)
        .account_id(account_id)
        .role_name(role)
        .send()
        .await
        .expect("GetRoleCredentials");
    let access_key_id = answer
        .role_credentials()
        .and_then(|credentials| credentials.access_key_id())
        .expect("an access key id");
    fake.credentials(access_key_id)
        .expect("the fake remembers what it issued")
}
