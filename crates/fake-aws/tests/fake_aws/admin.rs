//! The `/_fake/` API, as a script in another process would use it.

use serde_json::json;
use ssobar_fake_aws::{FakeAws, FakeConfig, Operation};

use crate::http;

#[test]
fn admin_routes_drive_the_fake_from_another_process() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let url = fake.url();

    let issued = http::post_json(
        url,
        "/_fake/sessions",
        &json!({"start_url": format!("{url}/start"), "scopes": ["sso:account:access"], "lifetime_seconds": 600}),
    );
    assert_eq!(issued.status, 200, "{}", issued.body);
    let session = issued.json();
    let access_token = session["access_token"].as_str().unwrap();
    assert!(session["refresh_token"].is_string());
    assert!(session["expires_at"].as_str().unwrap().ends_with('Z'));

    let accounts = http::request(
        url,
        "GET",
        "/assignment/accounts?max_result=1",
        &[("x-amz-sso_bearer_token", access_token)],
        b"",
    );
    assert_eq!(accounts.status, 200);
    assert_eq!(
        accounts.json()["accountList"][0]["accountId"],
        "111122223333"
    );
    assert!(accounts.json()["nextToken"].is_string());

    let state = http::get(url, "/_fake/state").json();
    assert_eq!(state["counters"]["ListAccounts"], 1);
    assert_eq!(state["counters"]["CreateToken"], 0);
    assert_eq!(state["requests"][0]["operation"], "ListAccounts");
    assert_eq!(state["requests"][0]["status"], 200);
    assert_eq!(state["config"]["user_name"], "dev@example.com");

    let config = http::post_json(
        url,
        "/_fake/config",
        &json!({"deny": true, "latency_ms": 5}),
    );
    assert_eq!(config.status, 200);
    assert!(fake.config().deny);
    assert_eq!(fake.config().latency_ms, 5);
    assert_eq!(fake.config().accounts.len(), 2);
    let bad_config = http::post_json(url, "/_fake/config", &json!({"deny": "sometimes"}));
    assert_eq!(bad_config.status, 400);

    let fault = http::post_json(
        url,
        "/_fake/fault",
        &json!({"operation": "ListAccounts", "fault": "ServerError", "times": 1}),
    );
    assert_eq!(fault.status, 204, "{}", fault.body);
    let failed = http::request(
        url,
        "GET",
        "/assignment/accounts",
        &[("x-amz-sso_bearer_token", access_token)],
        b"",
    );
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.header("x-amzn-ErrorType"),
        Some("InternalServerException")
    );
    let unknown_operation = http::post_json(
        url,
        "/_fake/fault",
        &json!({"operation": "Nope", "fault": "Throttle"}),
    );
    assert_eq!(unknown_operation.status, 400);
    let latency_without_ms = http::post_json(
        url,
        "/_fake/fault",
        &json!({"operation": "Logout", "fault": "Latency"}),
    );
    assert_eq!(latency_without_ms.status, 400);

    assert_eq!(
        http::request(url, "POST", "/_fake/revoke-refresh-tokens", &[], b"").status,
        204
    );
    let refresh = http::post_json(
        url,
        "/token",
        &json!({
            "clientId": session["client_id"],
            "clientSecret": session["client_secret"],
            "grantType": "refresh_token",
            "refreshToken": session["refresh_token"],
        }),
    );
    assert_eq!(refresh.status, 400);
    assert_eq!(
        refresh.header("x-amzn-ErrorType"),
        Some("InvalidGrantException")
    );
    assert_eq!(refresh.json()["error"], "invalid_grant");

    assert_eq!(
        http::request(url, "POST", "/_fake/reset", &[], b"").status,
        204
    );
    assert_eq!(fake.calls(Operation::ListAccounts), 0);
    let state = http::get(url, "/_fake/state").json();
    assert_eq!(state["requests"], json!([]));
    assert_eq!(fake.calls(Operation::CreateToken), 0);
}

#[test]
fn unknown_paths_are_not_aws_operations() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let answer = http::get(fake.url(), "/no/such/path");
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.header("x-amzn-ErrorType"),
        Some("UnknownOperationException")
    );
    let start = http::get(fake.url(), "/start");
    assert_eq!(start.status, 200);
    assert!(start.body.contains("access portal"));
    assert!(fake.requests().is_empty());
}

#[test]
fn a_configured_path_redirects_as_a_vanity_url_does() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    fake.update_config(|c| {
        c.redirects.insert("/corp".into(), "/start".into());
    });
    let answer = http::get(fake.url(), "/corp");
    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("location"), Some("/start"));
    assert_eq!(http::get(fake.url(), "/other").status, 404);
    let patched = FakeConfig::default()
        .merge_json(&json!({"redirects": {"/go": "https://corp.awsapps.com/start"}}))
        .unwrap();
    assert_eq!(
        patched.redirects.get("/go").map(String::as_str),
        Some("https://corp.awsapps.com/start")
    );
    assert!(fake.requests().is_empty());
}
