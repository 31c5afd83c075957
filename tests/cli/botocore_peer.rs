//! AWS CLI compatibility, with botocore from PyPI (the AWS CLI's own code) as the peer: what
//! ssobar writes, botocore reads; what botocore writes, ssobar reads; and botocore speaks to
//! ssobar-fake-aws as it would to AWS.

use crate::SSOBAR;
use serde_json::Value;
use ssobar_core::config::SessionId;
use ssobar_core::sso::token_cache::{SsoToken, TokenCache, TokenStore};
use ssobar_fake_aws::{FakeAws, FakeConfig, Operation};
use ssobar_testkit::{BrowserMode, Sandbox, World, botocore, format_utc};

fn signed_in_world(token_lifetime_seconds: i64) -> World {
    let w = World::start(
        SSOBAR,
        FakeConfig {
            access_token_lifetime_seconds: token_lifetime_seconds,
            ..FakeConfig::default()
        },
        BrowserMode::Follow,
    );
    w.ssobar(&["login", "--profile", "dev"]).success();
    w
}

#[test]
fn botocore_loads_the_tokens_ssobar_writes() {
    let sandbox = Sandbox::new();
    let cache = TokenCache::new(sandbox.cache_dir());
    let cache_dir = sandbox.cache_dir().display().to_string();
    let expires: jiff::Timestamp = "2031-02-03T04:05:06Z".parse().unwrap();
    for (id, session_name) in [
        (SessionId::Named("corp".into()), Some("corp")),
        (
            SessionId::Legacy("https://old.awsapps.com/start".into()),
            None,
        ),
    ] {
        let token = SsoToken {
            start_url: Some("https://old.awsapps.com/start".into()),
            region: Some("us-east-1".into()),
            access_token: format!("token-of-{id}").into(),
            expires_at: expires,
            client_id: Some("client".into()),
            client_secret: Some("secret".into()),
            registration_expires_at: Some("2031-05-01T00:00:00Z".parse().unwrap()),
            refresh_token: Some("refresh".into()),
            extra: Default::default(),
        };
        cache.store(&id, &token).unwrap();
        let mut args = vec![
            "load-token",
            "--cache-dir",
            &cache_dir,
            "--start-url",
            "https://old.awsapps.com/start",
        ];
        if let Some(name) = session_name {
            args.extend(["--session-name", name]);
        }
        let loaded = botocore(&sandbox, &args);
        assert_eq!(loaded["token"]["accessToken"], format!("token-of-{id}"));
        assert_eq!(loaded["token"]["refreshToken"], "refresh");
        assert_eq!(loaded["expiresAtEpoch"], expires.as_second());
    }
}

#[test]
fn ssobar_reads_what_botocore_writes_when_it_refreshes() {
    // Five minutes left: inside botocore's 15-minute refresh window.
    let w = signed_in_world(300);
    w.fake
        .update_config(|c| c.access_token_lifetime_seconds = 8 * 3600);
    let path = w.sandbox.token_path(&w.session);
    let before = std::fs::read_to_string(&path).unwrap();

    let refreshed = botocore(&w.sandbox, &["refresh-token", "--profile", "dev"]);
    let after = std::fs::read_to_string(&path).unwrap();
    assert_ne!(before, after, "botocore rewrote the cache");
    let written: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(written["accessToken"], refreshed["token"]);
    // botocore wrote this file its own way (Python's separators); ssobar reads it.
    assert!(after.contains("\"accessToken\": \""), "{after}");

    let status = w
        .ssobar(&["status", "--json", "--profile", "dev"])
        .success()
        .json();
    let epoch = refreshed["expirationEpoch"].as_i64().unwrap();
    assert_eq!(status[0]["expires_at"], format_utc(epoch));
    assert_eq!(status[0]["state"], "valid");
    assert_eq!(status[0]["refreshable"], true);
    assert_eq!(
        w.calls(Operation::CreateToken),
        2,
        "ssobar's sign-in, botocore's refresh"
    );
}

#[test]
fn botocore_gets_role_credentials_with_ssobars_sign_in() {
    let w = signed_in_world(8 * 3600);
    let creds = botocore(&w.sandbox, &["role-credentials", "--profile", "dev"]);
    let key = creds["accessKeyId"].as_str().unwrap();
    let issued = w
        .fake
        .credentials(key)
        .expect("the fake issued these credentials");
    assert_eq!(issued.account_id, "111122223333");
    assert!(
        creds["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnlyAccess_"),
        "{creds}"
    );
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
}

#[test]
fn botocore_drives_the_fake_like_aws() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let mut sandbox = Sandbox::new();
    for (k, v) in fake.endpoint_env() {
        sandbox.set_env(k, v);
    }
    let start_url = format!("{}/start", fake.url());
    let seen = botocore(&sandbox, &["drive-fake", "--start-url", &start_url]);
    assert_eq!(seen["pendingError"], "AuthorizationPendingException");
    assert_eq!(seen["approvalStatus"], 200);
    assert_eq!(seen["gotRefreshToken"], true);
    assert_eq!(seen["refreshRotated"], true);
    assert_eq!(seen["reusedRefreshError"], "InvalidGrantException");
    assert_eq!(
        seen["accountIds"],
        serde_json::json!(["111122223333", "444455556666"])
    );
    assert_eq!(
        seen["roleNames"],
        serde_json::json!(["AdministratorAccess", "ReadOnlyAccess"])
    );
    assert!(
        seen["expirationMs"].as_i64().unwrap() > 1_700_000_000_000,
        "milliseconds"
    );
    assert_eq!(seen["badBearerError"], "UnauthorizedException");
    assert_eq!(seen["identityAccount"], "111122223333");
    assert!(
        seen["identityArn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/AWSReservedSSO_AdministratorAccess_"),
        "{seen}"
    );
    assert_eq!(
        seen["chainedArn"],
        "arn:aws:sts::111122223333:assumed-role/Deploy/botocore-peer"
    );
    assert_eq!(seen["badSignatureError"], "SignatureDoesNotMatch");
    assert_eq!(seen["afterLogoutError"], "UnauthorizedException");
    assert_eq!(fake.calls(Operation::RegisterClient), 1);
    assert_eq!(fake.calls(Operation::DeviceVerification), 1);
    assert_eq!(fake.calls(Operation::AssumeRole), 1);
    assert_eq!(fake.calls(Operation::Logout), 1);
}
