//! Injected faults, latency, counters and the request log, as the SDK experiences them.

use std::time::{Duration, Instant};

use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::error::ProvideErrorMetadata;
use ssobar_fake_aws::{FakeAws, FakeConfig, Fault, Operation};

use crate::sdk::{self, DEV_ACCOUNT};

fn statuses(fake: &FakeAws, operation: Operation) -> Vec<u16> {
    fake.requests()
        .into_iter()
        .filter(|record| record.operation == operation)
        .map(|record| record.status)
        .collect()
}

#[tokio::test]
async fn a_server_error_is_retried_by_the_sdk() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    fake.inject_fault(Operation::GetRoleCredentials, Fault::ServerError, 1);
    let answer = sdk::sso_with(&fake, sdk::quick_retries())
        .get_role_credentials()
        .access_token(&session.access_token)
        .account_id(DEV_ACCOUNT)
        .role_name("ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    assert!(answer.role_credentials().is_some());
    assert_eq!(fake.calls(Operation::GetRoleCredentials), 2);
    assert_eq!(
        statuses(&fake, Operation::GetRoleCredentials),
        vec![500, 200]
    );

    fake.inject_fault(Operation::GetRoleCredentials, Fault::ServerError, 1);
    let error = sdk::sso(&fake)
        .get_role_credentials()
        .access_token(&session.access_token)
        .account_id(DEV_ACCOUNT)
        .role_name("ReadOnlyAccess")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InternalServerException"));
    assert_eq!(sdk::http_status(&error), Some(500));
}

#[tokio::test]
async fn throttling_is_the_services_own_throttling_error() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let sts = |retry| {
        sdk::sts_with(
            &fake,
            &credentials.access_key_id,
            &credentials.secret_access_key,
            &credentials.session_token,
            retry,
        )
    };

    fake.inject_fault(Operation::GetCallerIdentity, Fault::Throttle, 1);
    let throttled = sts(RetryConfig::disabled())
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(throttled.code(), Some("Throttling"));
    assert_eq!(sdk::http_status(&throttled), Some(400));

    // An HTTP 400 is retried only when the SDK classifies its code as throttling.
    fake.reset_counters();
    fake.inject_fault(Operation::GetCallerIdentity, Fault::Throttle, 1);
    sts(sdk::quick_retries())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        statuses(&fake, Operation::GetCallerIdentity),
        vec![400, 200]
    );

    let session = sdk::session(&fake);
    fake.inject_fault(Operation::ListAccounts, Fault::Throttle, 1);
    let portal = sdk::sso(&fake)
        .list_accounts()
        .access_token(&session.access_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sdk::http_status(&portal), Some(429));
    assert!(portal.into_service_error().is_too_many_requests_exception());

    fake.inject_fault(Operation::CreateToken, Fault::Throttle, 2);
    let oidc = sdk::refresh(
        &sdk::oidc(&fake),
        &session,
        session.refresh_token.clone().unwrap(),
    )
    .send()
    .await
    .unwrap_err();
    assert_eq!(oidc.code(), Some("TooManyRequestsException"));
    assert_eq!(sdk::http_status(&oidc), Some(429));
}

#[tokio::test]
async fn a_reset_connection_is_a_dispatch_failure_the_sdk_retries() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    let call = |retry| {
        sdk::sso_with(&fake, retry)
            .list_accounts()
            .access_token(&session.access_token)
            .send()
    };
    fake.inject_fault(Operation::ListAccounts, Fault::ConnectionReset, 1);
    let error = call(RetryConfig::disabled()).await.unwrap_err();
    match &error {
        aws_sdk_sso::error::SdkError::DispatchFailure(failure) => {
            assert!(failure.is_io(), "{error:?}");
        }
        _ => panic!("no answer at all: {error:?}"),
    }

    fake.reset_counters();
    fake.inject_fault(Operation::ListAccounts, Fault::ConnectionReset, 1);
    call(sdk::quick_retries()).await.unwrap();
    assert_eq!(statuses(&fake, Operation::ListAccounts), vec![0, 200]);
}

#[tokio::test]
async fn a_malformed_answer_is_a_200_the_sdk_cannot_read() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    fake.inject_fault(Operation::ListAccounts, Fault::MalformedJson, 1);
    let error = sdk::sso_with(&fake, sdk::quick_retries())
        .list_accounts()
        .access_token(&session.access_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sdk::http_status(&error), Some(200));
    assert_eq!(statuses(&fake, Operation::ListAccounts), vec![200]);

    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    fake.inject_fault(Operation::GetCallerIdentity, Fault::MalformedJson, 1);
    let sts = sdk::sts_with(
        &fake,
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
        RetryConfig::disabled(),
    );
    let answer = sts.get_caller_identity().send().await;
    // The SDK's XML reader may take a cut answer for one with missing fields; either way
    // no account comes back.
    assert!(
        answer.as_ref().map_or(true, |out| out.account().is_none()),
        "{answer:?}"
    );
}

#[tokio::test]
async fn latency_delays_one_call_without_blocking_others() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    let sso = sdk::sso(&fake);
    fake.inject_fault(
        Operation::ListAccounts,
        Fault::Latency(Duration::from_millis(800)),
        1,
    );

    let started = Instant::now();
    let slow = async {
        sso.list_accounts()
            .access_token(&session.access_token)
            .send()
            .await
            .unwrap();
        started.elapsed()
    };
    let fast = async {
        // Let the slow call arrive first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        sso.list_account_roles()
            .access_token(&session.access_token)
            .account_id(DEV_ACCOUNT)
            .send()
            .await
            .unwrap();
        started.elapsed()
    };
    let (slow, fast) = tokio::join!(slow, fast);
    assert!(slow >= Duration::from_millis(800), "{slow:?}");
    assert!(fast < Duration::from_millis(500), "{fast:?}");

    fake.update_config(|config| config.latency_ms = 150);
    let started = Instant::now();
    sso.list_accounts()
        .access_token(&session.access_token)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn counters_and_the_request_log_follow_every_call() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    let sso = sdk::sso(&fake);
    for _ in 0..3 {
        sso.list_accounts()
            .access_token(&session.access_token)
            .send()
            .await
            .unwrap();
    }
    sso.list_accounts()
        .access_token("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(fake.calls(Operation::ListAccounts), 4);
    assert_eq!(fake.calls(Operation::GetRoleCredentials), 0);
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    let last = requests.last().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, "/assignment/accounts");
    assert_eq!(last.status, 401);
    assert_eq!(last.error_code.as_deref(), Some("UnauthorizedException"));
    assert!(
        requests
            .windows(2)
            .all(|pair| pair[0].timestamp <= pair[1].timestamp)
    );

    fake.reset_counters();
    assert_eq!(fake.calls(Operation::ListAccounts), 0);
    assert!(fake.requests().is_empty());
}
