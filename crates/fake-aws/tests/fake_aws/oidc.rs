//! SSO OIDC: registration, the device flow, the PKCE authorization-code flow, refresh.

use aws_sdk_ssooidc::error::ProvideErrorMetadata;
use aws_sdk_ssooidc::operation::register_client::RegisterClientOutput;
use aws_sdk_ssooidc::operation::start_device_authorization::builders::StartDeviceAuthorizationFluentBuilder;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use ssobar_fake_aws::{FakeAws, FakeConfig, Operation};

use crate::http;
use crate::sdk::{self, ACCOUNT_ACCESS};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const REGISTERED_REDIRECT: &str = "http://127.0.0.1/oauth/callback";
const REDIRECT_WITH_PORT: &str = "http://127.0.0.1:53219/oauth/callback";

struct Registration {
    client_id: String,
    client_secret: String,
}

async fn register_device_client(client: &aws_sdk_ssooidc::Client, scopes: &[&str]) -> Registration {
    let mut request = client
        .register_client()
        .client_name("ssobar-test")
        .client_type("public");
    for scope in scopes {
        request = request.scopes(*scope);
    }
    registration(&request.send().await.expect("RegisterClient"))
}

async fn register_code_client(client: &aws_sdk_ssooidc::Client) -> Registration {
    let answer = client
        .register_client()
        .client_name("ssobar-test")
        .client_type("public")
        .scopes(ACCOUNT_ACCESS)
        .grant_types("authorization_code")
        .grant_types("refresh_token")
        .redirect_uris(REGISTERED_REDIRECT)
        .issuer_url("https://example.awsapps.com/start")
        .send()
        .await
        .expect("RegisterClient");
    registration(&answer)
}

fn registration(answer: &RegisterClientOutput) -> Registration {
    Registration {
        client_id: answer.client_id().expect("clientId").to_owned(),
        client_secret: answer.client_secret().expect("clientSecret").to_owned(),
    }
}

/// A `StartDeviceAuthorization` call for the fake's start URL.
fn start_device(
    client: &aws_sdk_ssooidc::Client,
    registration: &Registration,
    fake: &FakeAws,
) -> StartDeviceAuthorizationFluentBuilder {
    client
        .start_device_authorization()
        .client_id(&registration.client_id)
        .client_secret(&registration.client_secret)
        .start_url(sdk::start_url(fake))
}

fn poll(
    client: &aws_sdk_ssooidc::Client,
    registration: &Registration,
    device_code: &str,
) -> aws_sdk_ssooidc::operation::create_token::builders::CreateTokenFluentBuilder {
    client
        .create_token()
        .client_id(&registration.client_id)
        .client_secret(&registration.client_secret)
        .grant_type(DEVICE_GRANT)
        .device_code(device_code)
}

type CreateTokenResult = Result<
    aws_sdk_ssooidc::operation::create_token::CreateTokenOutput,
    aws_sdk_ssooidc::error::SdkError<aws_sdk_ssooidc::operation::create_token::CreateTokenError>,
>;

fn error_code(result: &CreateTokenResult) -> Option<&str> {
    result.as_ref().err().and_then(|error| error.code())
}

#[tokio::test]
async fn register_client_answers_a_registration_for_90_days() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::oidc(&fake);
    let answer = client
        .register_client()
        .client_name("ssobar-test")
        .client_type("public")
        .send()
        .await
        .unwrap();
    assert!(answer.client_id().is_some_and(|id| id.len() >= 20));
    assert!(
        answer
            .client_secret()
            .is_some_and(|secret| secret.len() >= 100)
    );
    assert_eq!(
        answer.client_secret_expires_at() - answer.client_id_issued_at(),
        90 * 24 * 3600
    );

    let confidential = client
        .register_client()
        .client_name("ssobar-test")
        .client_type("confidential")
        .send()
        .await
        .unwrap_err();
    assert!(
        confidential
            .into_service_error()
            .is_invalid_request_exception()
    );
    assert_eq!(fake.calls(Operation::RegisterClient), 2);
}

#[tokio::test]
async fn device_flow_slows_down_then_waits_for_the_person() {
    let fake = FakeAws::start(FakeConfig {
        slow_down_polls: 1,
        ..FakeConfig::default()
    })
    .unwrap();
    let client = sdk::oidc(&fake);
    let registration = register_device_client(&client, &[ACCOUNT_ACCESS]).await;
    let authorization = start_device(&client, &registration, &fake)
        .send()
        .await
        .unwrap();
    let user_code = authorization.user_code().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || c.is_ascii_uppercase())
    );
    assert_eq!(
        authorization.verification_uri(),
        Some(format!("{}/device", fake.url()).as_str())
    );
    assert_eq!(
        authorization.verification_uri_complete(),
        Some(format!("{}/device?user_code={user_code}", fake.url()).as_str())
    );
    assert_eq!(authorization.interval(), 1);
    assert_eq!(authorization.expires_in(), 600);
    let device_code = authorization.device_code().unwrap();

    let first = poll(&client, &registration, device_code).send().await;
    assert_eq!(error_code(&first), Some("SlowDownException"));
    let second = poll(&client, &registration, device_code).send().await;
    assert_eq!(error_code(&second), Some("AuthorizationPendingException"));
    match second.unwrap_err().into_service_error() {
        aws_sdk_ssooidc::operation::create_token::CreateTokenError::AuthorizationPendingException(pending) => {
            assert_eq!(pending.error(), Some("authorization_pending"));
        }
        other => panic!("expected AuthorizationPendingException, got {other:?}"),
    }

    let (base, path) = http::split_url(authorization.verification_uri_complete().unwrap());
    let page = http::get(base, path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("approved"), "{}", page.body);

    let token = poll(&client, &registration, device_code)
        .send()
        .await
        .unwrap();
    assert_eq!(token.token_type(), Some("Bearer"));
    assert_eq!(token.expires_in(), 8 * 3600);
    assert!(token.access_token().is_some_and(|t| !t.is_empty()));
    assert!(token.refresh_token().is_some());

    let again = poll(&client, &registration, device_code).send().await;
    assert_eq!(error_code(&again), Some("InvalidGrantException"));

    let codes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|record| record.operation == Operation::CreateToken)
        .map(|record| (record.status, record.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![
            (400, Some("SlowDownException".to_owned())),
            (400, Some("AuthorizationPendingException".to_owned())),
            (200, None),
            (400, Some("InvalidGrantException".to_owned())),
        ]
    );
    assert_eq!(fake.calls(Operation::DeviceVerification), 1);
}

#[tokio::test]
async fn device_flow_approves_by_itself_after_the_configured_polls() {
    let fake = FakeAws::start(FakeConfig {
        pending_polls_before_approval: Some(2),
        ..FakeConfig::default()
    })
    .unwrap();
    let client = sdk::oidc(&fake);
    // Without sso:account:access there is no refresh token.
    let registration = register_device_client(&client, &[]).await;
    let authorization = start_device(&client, &registration, &fake)
        .send()
        .await
        .unwrap();
    let device_code = authorization.device_code().unwrap();
    for _ in 0..2 {
        let pending = poll(&client, &registration, device_code).send().await;
        assert_eq!(error_code(&pending), Some("AuthorizationPendingException"));
    }
    let token = poll(&client, &registration, device_code)
        .send()
        .await
        .unwrap();
    assert!(token.access_token().is_some());
    assert_eq!(token.refresh_token(), None);
}

#[tokio::test]
async fn device_flow_reports_denial_expiry_and_bad_clients() {
    let fake = FakeAws::start(FakeConfig {
        deny: true,
        ..FakeConfig::default()
    })
    .unwrap();
    let client = sdk::oidc(&fake);
    let registration = register_device_client(&client, &[ACCOUNT_ACCESS]).await;
    let denied = start_device(&client, &registration, &fake)
        .send()
        .await
        .unwrap();
    let page = http::get(
        fake.url(),
        &format!("/device?user_code={}", denied.user_code().unwrap()),
    );
    assert!(page.body.contains("denied"), "{}", page.body);
    let answer = poll(&client, &registration, denied.device_code().unwrap())
        .send()
        .await;
    assert_eq!(error_code(&answer), Some("AccessDeniedException"));

    let expiring = start_device(&client, &registration, &fake)
        .send()
        .await
        .unwrap();
    fake.expire_device_codes();
    let answer = poll(&client, &registration, expiring.device_code().unwrap())
        .send()
        .await;
    assert_eq!(error_code(&answer), Some("ExpiredTokenException"));
    let unknown = poll(&client, &registration, "no-such-device-code")
        .send()
        .await;
    assert_eq!(error_code(&unknown), Some("InvalidGrantException"));

    let wrong_secret = client
        .start_device_authorization()
        .client_id(&registration.client_id)
        .client_secret("not-the-secret")
        .start_url(sdk::start_url(&fake))
        .send()
        .await
        .unwrap_err();
    assert!(
        wrong_secret
            .into_service_error()
            .is_invalid_client_exception()
    );

    let unsupported = client
        .create_token()
        .client_id(&registration.client_id)
        .client_secret(&registration.client_secret)
        .grant_type("password")
        .send()
        .await
        .unwrap_err();
    assert!(
        unsupported
            .into_service_error()
            .is_unsupported_grant_type_exception()
    );
}

fn verifier_and_challenge(seed: char) -> (String, String) {
    let verifier: String = std::iter::repeat_n(seed, 40)
        .chain("-._~Az09".chars().cycle().take(24))
        .collect();
    assert_eq!(verifier.len(), 64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The browser step: GET /authorize, read the redirect.
fn authorize(
    fake: &FakeAws,
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
) -> http::HttpResponse {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "state-xyz")
        .append_pair("code_challenge_method", "S256")
        .append_pair("scopes", ACCOUNT_ACCESS)
        .append_pair("code_challenge", challenge)
        .finish();
    http::get(fake.url(), &format!("/authorize?{query}"))
}

fn authorization_code(fake: &FakeAws, client_id: &str, challenge: &str) -> String {
    let answer = authorize(fake, client_id, REDIRECT_WITH_PORT, challenge);
    assert_eq!(answer.status, 302, "{}", answer.body);
    let location = answer.header("location").expect("a Location header");
    assert!(
        location.starts_with(&format!("{REDIRECT_WITH_PORT}?")),
        "{location}"
    );
    assert_eq!(
        http::query_param(location, "state").as_deref(),
        Some("state-xyz")
    );
    http::query_param(location, "code").expect("a code")
}

#[tokio::test]
async fn authorization_code_flow_checks_pkce_and_redirect() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::oidc(&fake);
    let registration = register_code_client(&client).await;
    let (verifier, challenge) = verifier_and_challenge('k');
    let redeem = |code: String, redirect: &str, verifier: &str| {
        client
            .create_token()
            .client_id(&registration.client_id)
            .client_secret(&registration.client_secret)
            .grant_type("authorization_code")
            .code(code)
            .redirect_uri(redirect)
            .code_verifier(verifier)
            .send()
    };

    let code = authorization_code(&fake, &registration.client_id, &challenge);
    let token = redeem(code.clone(), REDIRECT_WITH_PORT, &verifier)
        .await
        .unwrap();
    assert_eq!(token.token_type(), Some("Bearer"));
    assert!(token.refresh_token().is_some());
    let reused = redeem(code, REDIRECT_WITH_PORT, &verifier)
        .await
        .unwrap_err();
    assert!(reused.into_service_error().is_invalid_grant_exception());

    let code = authorization_code(&fake, &registration.client_id, &challenge);
    let (wrong_verifier, _) = verifier_and_challenge('w');
    let wrong = redeem(code, REDIRECT_WITH_PORT, &wrong_verifier)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidGrantException"));

    let code = authorization_code(&fake, &registration.client_id, &challenge);
    let other_port = redeem(code, "http://127.0.0.1:1/oauth/callback", &verifier)
        .await
        .unwrap_err();
    assert!(other_port.into_service_error().is_invalid_grant_exception());
    assert_eq!(fake.calls(Operation::Authorize), 3);
}

#[tokio::test]
async fn authorize_rejects_bad_requests_and_reports_denial() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::oidc(&fake);
    let registration = register_code_client(&client).await;
    let device_client = register_device_client(&client, &[ACCOUNT_ACCESS]).await;
    let (_, challenge) = verifier_and_challenge('k');

    let wrong_path = authorize(
        &fake,
        &registration.client_id,
        "http://127.0.0.1:5000/elsewhere",
        &challenge,
    );
    assert_eq!(wrong_path.status, 400);
    assert!(
        wrong_path.body.contains("redirect_uri"),
        "{}",
        wrong_path.body
    );
    assert!(
        wrong_path
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );

    let unknown = authorize(&fake, "no-such-client", REDIRECT_WITH_PORT, &challenge);
    assert_eq!(unknown.status, 400);
    let not_for_codes = authorize(
        &fake,
        &device_client.client_id,
        REDIRECT_WITH_PORT,
        &challenge,
    );
    assert_eq!(not_for_codes.status, 400);
    let no_challenge = authorize(&fake, &registration.client_id, REDIRECT_WITH_PORT, "");
    assert!(
        no_challenge.body.contains("code_challenge"),
        "{}",
        no_challenge.body
    );

    fake.update_config(|config| config.deny = true);
    let denied = authorize(
        &fake,
        &registration.client_id,
        REDIRECT_WITH_PORT,
        &challenge,
    );
    assert_eq!(denied.status, 302);
    let location = denied.header("location").unwrap();
    assert_eq!(
        http::query_param(location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        http::query_param(location, "state").as_deref(),
        Some("state-xyz")
    );
    assert_eq!(http::query_param(location, "code"), None);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_can_be_revoked() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::oidc(&fake);
    let session = sdk::session(&fake);
    let refresh = |token: &str| sdk::refresh(&client, &session, token).send();
    let first_refresh = session.refresh_token.clone().unwrap();
    let refreshed = refresh(&first_refresh).await.unwrap();
    let second_refresh = refreshed.refresh_token().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(refreshed.access_token().unwrap(), session.access_token);
    assert_eq!(refreshed.expires_in(), 8 * 3600);

    let rotated_away = refresh(&first_refresh).await.unwrap_err();
    assert!(
        rotated_away
            .into_service_error()
            .is_invalid_grant_exception()
    );

    let accounts = sdk::sso(&fake)
        .list_accounts()
        .access_token(refreshed.access_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.account_list().len(), 2);

    let other = sdk::session(&fake);
    let foreign = sdk::refresh(&client, &other, &second_refresh)
        .send()
        .await
        .unwrap_err();
    assert!(foreign.into_service_error().is_invalid_grant_exception());

    fake.revoke_refresh_tokens();
    let revoked = refresh(&second_refresh).await.unwrap_err();
    assert!(revoked.into_service_error().is_invalid_grant_exception());
}

#[tokio::test]
async fn expired_client_secrets_are_invalid_clients() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = fake.issue_session(&sdk::start_url(&fake), &[ACCOUNT_ACCESS], 3600, -1);
    let error = sdk::refresh(
        &sdk::oidc(&fake),
        &session,
        session.refresh_token.clone().unwrap(),
    )
    .send()
    .await
    .unwrap_err();
    assert_eq!(sdk::http_status(&error), Some(401));
    assert!(error.into_service_error().is_invalid_client_exception());
}
