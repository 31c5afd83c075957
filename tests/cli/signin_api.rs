//! The sign-in API that the CLI and the tray app share, driven directly against the fake.

use ssobar_core::aws::oidc::{Grant, OidcClient};
use ssobar_core::config::{SessionId, SsoSessionConfig};
use ssobar_core::context::Context;
use ssobar_core::env::Env;
use ssobar_core::sso::pkce;
use ssobar_core::sso::signin::{self, REGISTERED_REDIRECT_URI, SignInError, SignInOptions};
use ssobar_fake_aws::{FakeAws, FakeConfig};
use ssobar_testkit::{BrowserMode, Ran, Sandbox, ScriptedBrowser};
use std::process::Command;
use std::time::Duration;

fn env_for(fake: &FakeAws, sandbox: &Sandbox, browser: &ScriptedBrowser) -> Env {
    let mut env = Env::from_pairs(fake.endpoint_env());
    env.set("HOME", sandbox.home().display().to_string());
    env.set("BROWSER", browser.command());
    env
}

/// What a browser does with `/authorize` before the person's browser reaches ssobar: the
/// redirect it would follow, read without following it.
fn authorize_redirect(url: &str) -> String {
    Ran::run(Command::new("curl").args(["-fsS", "-o", "/dev/null", "-w", "%{redirect_url}", url]))
        .success()
        .stdout
}

fn code_from(redirect: &str) -> String {
    let query = redirect.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code in the redirect")
}

#[tokio::test]
async fn the_code_is_exchanged_only_with_its_own_verifier() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let sandbox = Sandbox::new();
    let browser = ScriptedBrowser::new(sandbox.home(), BrowserMode::Ignore);
    let env = env_for(&fake, &sandbox, &browser);
    let oidc = OidcClient::new(&env, "us-east-1").unwrap();
    let start_url = format!("{}/start", fake.url());
    let scopes = vec!["sso:account:access".to_owned()];
    let client = oidc
        .register_client(
            "test",
            Some(&scopes),
            Some((REGISTERED_REDIRECT_URI, &start_url)),
        )
        .await
        .unwrap();
    let redirect_uri = "http://127.0.0.1:4567/oauth/callback";
    let verifier = pkce::random_unreserved(64);
    let authorize = |challenge: &str| {
        pkce::authorize_url(
            oidc.endpoint(),
            &client.client_id,
            redirect_uri,
            "state-1",
            challenge,
            &scopes,
        )
    };

    let code = code_from(&authorize_redirect(&authorize(&pkce::challenge(&verifier))));
    let wrong = oidc
        .create_token(
            &client.client_id,
            &client.client_secret,
            Grant::AuthorizationCode {
                code: &code,
                redirect_uri,
                code_verifier: &pkce::random_unreserved(64),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidGrantException"), "{wrong}");

    let code = code_from(&authorize_redirect(&authorize(&pkce::challenge(&verifier))));
    let grant = oidc
        .create_token(
            &client.client_id,
            &client.client_secret,
            Grant::AuthorizationCode {
                code: &code,
                redirect_uri,
                code_verifier: &verifier,
            },
        )
        .await
        .unwrap();
    assert!(grant.refresh_token.is_some());
    assert!(grant.expires_in > 0);
}

#[tokio::test]
async fn a_browser_that_never_returns_times_out() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let sandbox = Sandbox::new();
    let browser = ScriptedBrowser::new(sandbox.home(), BrowserMode::Ignore);
    let ctx = Context::from_env(env_for(&fake, &sandbox, &browser)).unwrap();
    let session = SsoSessionConfig {
        id: SessionId::Named("corp".into()),
        start_url: format!("{}/start", fake.url()),
        region: "us-east-1".into(),
        registration_scopes: None,
    };
    let options = SignInOptions {
        timeout: Duration::from_secs(1),
        ..SignInOptions::default()
    };
    let err = signin::sign_in(
        &ctx,
        &session,
        &options,
        "ssobar login --sso-session corp",
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SignInError::TimedOut { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "no answer from the browser within 1 second; run \"ssobar login --sso-session corp\" again (add --device-code to sign in from another device)"
    );
    assert_eq!(browser.opened().len(), 1);
    assert!(!sandbox.token_path("corp").exists());

    // A device code nobody confirms: the same timeout, in the device flow's words.
    let options = SignInOptions {
        flow: Some(signin::SignInFlow::DeviceCode),
        ..options
    };
    let err = signin::sign_in(
        &ctx,
        &session,
        &options,
        "ssobar login --sso-session corp",
        &|_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the code was not confirmed within 1 second; run \"ssobar login --sso-session corp\" again"
    );
}
