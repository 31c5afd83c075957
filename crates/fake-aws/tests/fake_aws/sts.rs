//! STS: SigV4-signed GetCallerIdentity and AssumeRole chains, and presigned EKS-style URLs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use ssobar_fake_aws::{FakeAws, FakeConfig, IssuedCredentials, Operation};

use crate::http;
use crate::sdk::{self, DEV_ACCOUNT, PROD_ACCOUNT};

fn is_lower_hex(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn caller_identity_of_sso_role_credentials() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;
    let identity = sdk::sts(&fake, &credentials)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(identity.account(), Some(DEV_ACCOUNT));
    let arn = identity.arn().unwrap();
    let role = arn
        .strip_prefix("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_")
        .and_then(|rest| rest.strip_suffix("/dev@example.com"))
        .unwrap_or_else(|| panic!("unexpected ARN {arn}"));
    assert_eq!(role.len(), 16);
    assert!(is_lower_hex(role), "{role}");
    let user_id = identity.user_id().unwrap();
    assert!(
        user_id.starts_with("AROA") && user_id.ends_with(":dev@example.com"),
        "{user_id}"
    );
    assert_eq!(arn, credentials.arn);

    // The suffix is stable per account and role, and differs between roles.
    let again = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;
    assert_eq!(again.arn, credentials.arn);
    let other = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    assert_ne!(other.arn, credentials.arn);
    assert_eq!(fake.calls(Operation::GetCallerIdentity), 1);
}

#[tokio::test]
async fn assume_role_chains_two_levels() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let sso_credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;

    let first = sdk::sts(&fake, &sso_credentials)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{PROD_ACCOUNT}:role/deploy/Deployer"))
        .role_session_name("first-hop")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    let user = first.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::444455556666:assumed-role/Deployer/first-hop"
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":first-hop"));
    let first_credentials = fake
        .credentials(first.credentials().unwrap().access_key_id())
        .unwrap();
    assert_eq!(first_credentials.issued_by, Operation::AssumeRole);
    assert_eq!(
        first_credentials.secret_access_key,
        first.credentials().unwrap().secret_access_key()
    );
    let expires_in = first_credentials.expiration.as_second() - jiff::Timestamp::now().as_second();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");

    let second = sdk::sts(&fake, &first_credentials)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{DEV_ACCOUNT}:role/Auditor"))
        .role_session_name("second-hop")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let second_credentials = fake
        .credentials(second.credentials().unwrap().access_key_id())
        .unwrap();
    let expiration = second.credentials().unwrap().expiration();
    assert_eq!(expiration.secs(), second_credentials.expiration.as_second());

    let identity = sdk::sts(&fake, &second_credentials)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::111122223333:assumed-role/Auditor/second-hop")
    );
    assert_eq!(identity.account(), Some(DEV_ACCOUNT));
    assert_eq!(fake.calls(Operation::AssumeRole), 2);

    let too_long = sdk::sts(&fake, &second_credentials)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{DEV_ACCOUNT}:role/Auditor"))
        .role_session_name("third-hop")
        .duration_seconds(7200)
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Some("ValidationError"));
    assert!(too_long.message().unwrap().contains("role chaining"));
}

#[tokio::test]
async fn signatures_keys_and_tokens_are_checked() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let call = |key: &str, secret: &str, token: &str| {
        sdk::sts_with(&fake, key, secret, token, RetryConfig::disabled())
            .get_caller_identity()
            .send()
    };

    let wrong_secret = call(
        &credentials.access_key_id,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &credentials.session_token,
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_secret.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(sdk::http_status(&wrong_secret), Some(403));

    let unknown_key = call(
        "ASIAUNKNOWNKEY000000",
        &credentials.secret_access_key,
        &credentials.session_token,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown_key.code(), Some("InvalidClientTokenId"));
    assert_eq!(sdk::http_status(&unknown_key), Some(403));

    let wrong_token = call(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        "another-token",
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_token.code(), Some("InvalidClientTokenId"));

    call(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
    )
    .await
    .expect("the right secret and token");
    let codes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|record| record.operation == Operation::GetCallerIdentity)
        .map(|record| record.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![
            Some("SignatureDoesNotMatch".to_owned()),
            Some("InvalidClientTokenId".to_owned()),
            Some("InvalidClientTokenId".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn expired_credentials_are_rejected() {
    let fake = FakeAws::start(FakeConfig {
        role_credentials_lifetime_seconds: -5,
        ..FakeConfig::default()
    })
    .unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let error = sdk::sts(&fake, &credentials)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExpiredToken"));
    assert_eq!(sdk::http_status(&error), Some(400));
}

/// Presigns GetCallerIdentity the way `aws eks get-token` does, signed at `signed_at`.
/// Answers the path and query to GET.
fn presign(
    fake: &FakeAws,
    credentials: &IssuedCredentials,
    cluster: &str,
    signed_at: SystemTime,
) -> String {
    let identity = Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(credentials.session_token.clone()),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .expect("complete signing parameters")
        .into();
    let url = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        fake.url()
    );
    let signable = SignableRequest::new(
        "GET",
        url.clone(),
        [("x-k8s-aws-id", cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("a signature").into_parts();
    let mut request = axum::http::Request::get(url).body(()).expect("a request");
    instructions.apply_to_request_http1x(&mut request);
    let uri = request.uri();
    format!("{}?{}", uri.path(), uri.query().expect("a presigned query"))
}

#[tokio::test]
async fn presigned_caller_identity_is_accepted_for_fifteen_minutes() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;
    let get = |path: &str, cluster: &str| {
        http::request(fake.url(), "GET", path, &[("x-k8s-aws-id", cluster)], b"")
    };

    let fresh = presign(&fake, &credentials, "cluster-a", SystemTime::now());
    assert!(
        fresh.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
        "{fresh}"
    );
    assert!(fresh.contains("X-Amz-Expires=60"), "{fresh}");
    let answer = get(&fresh, "cluster-a");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .body
            .contains(&format!("<Arn>{}</Arn>", credentials.arn)),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("<Account>111122223333</Account>"));
    let record = fake.requests().pop().unwrap();
    assert_eq!(record.operation, Operation::GetCallerIdentity);
    assert_eq!(record.method, "GET");
    assert_eq!(record.k8s_aws_id.as_deref(), Some("cluster-a"));

    let other_cluster = get(&fresh, "cluster-b");
    assert_eq!(other_cluster.status, 403);
    assert!(
        other_cluster
            .body
            .contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        other_cluster.body
    );
    let tampered = get(
        &fresh.replace("Version=2011-06-15", "Version=2011-06-16"),
        "cluster-a",
    );
    assert_eq!(tampered.status, 403);

    // Past X-Amz-Expires=60 but within STS's 15 minutes: still good.
    let ten_minutes_old = presign(
        &fake,
        &credentials,
        "cluster-a",
        SystemTime::now() - Duration::from_secs(600),
    );
    assert_eq!(get(&ten_minutes_old, "cluster-a").status, 200);
    let sixteen_minutes_old = presign(
        &fake,
        &credentials,
        "cluster-a",
        SystemTime::now() - Duration::from_secs(960),
    );
    let stale = get(&sixteen_minutes_old, "cluster-a");
    assert_eq!(stale.status, 403);
    assert!(stale.body.contains("Signature expired"), "{}", stale.body);
}
