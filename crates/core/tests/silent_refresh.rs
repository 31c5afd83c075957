//! The tray app's silent refresh is never a loop: for a session whose refresh fails for a
//! passing reason (AWS answers 500, the network is down), `due_refreshes` asks for one try, then
//! none for the next minute, then one again; read through the public API, on a clock the test
//! sets, as the app's loop calls it once a second or on every file change.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use ssobar_core::app::activity::Activity;
use ssobar_core::app::monitor::{REFRESH_RETRY_SECONDS, due_refreshes};
use ssobar_core::config::{AwsConfig, ConfigText, FileKind, SessionId};
use ssobar_core::settings::Settings;
use ssobar_core::sso::token_cache::{CachedToken, parse_token};
use ssobar_core::status::{Status, TokenSnapshot, compute};

fn start() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// Session `corp`, signed in with a refresh token that expired a minute before [`start`], as
/// the token file the AWS CLI writes.
fn status_at(now: Timestamp) -> Status {
    let config = AwsConfig::parse(&[ConfigText {
        path: "/h/.aws/config".into(),
        kind: FileKind::Config,
        text: "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
               sso_region = us-east-1\n\
               [profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n\
               sso_role_name = ReadOnly\n"
            .into(),
    }]);
    let token = parse_token(
        br#"{"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1",
             "accessToken": "aoa", "expiresAt": "2024-05-01T11:59:00Z",
             "refreshToken": "aor", "clientId": "client", "clientSecret": "secret",
             "registrationExpiresAt": "2024-07-01T00:00:00Z"}"#,
    )
    .unwrap();
    let tokens: TokenSnapshot = [(corp(), CachedToken::Present(token))]
        .into_iter()
        .collect();
    compute(&config, &tokens, now, &Settings::default())
}

fn corp() -> SessionId {
    SessionId::Named("corp".into())
}

#[test]
fn a_failing_refresh_is_tried_once_a_minute_and_no_more() {
    assert_eq!(REFRESH_RETRY_SECONDS, 60);
    let settings = Settings::default();
    let mut activity = Activity::default();
    let at = |seconds: i64| start() + SignedDuration::from_secs(seconds);

    assert_eq!(
        due_refreshes(&status_at(at(0)), &mut activity, at(0), &settings),
        [corp()],
        "an expired session with a refresh token is refreshed at once"
    );
    // The refresh failed for a passing reason: no refusal is noted and the token is unchanged;
    // the app looks again every second (and on every file change) all the same.
    for second in 1..60 {
        assert_eq!(
            due_refreshes(&status_at(at(second)), &mut activity, at(second), &settings),
            Vec::<SessionId>::new(),
            "tried again {second} s after the first try"
        );
    }
    assert_eq!(
        due_refreshes(&status_at(at(60)), &mut activity, at(60), &settings),
        [corp()],
        "tried again once the minute is over"
    );
    for second in 61..120 {
        assert!(
            due_refreshes(&status_at(at(second)), &mut activity, at(second), &settings).is_empty(),
            "tried a third time {second} s after the first try"
        );
    }
}
