//! `ssobar prompt`: the shell prompt's segment, from the config and the token cache only.

use crate::SSOBAR;
use ssobar_fake_aws::FakeConfig;
use ssobar_testkit::{AwsConfig, Ran, Sandbox, World, utc_in};

const START_URL: &str = "https://corp.awsapps.com/start";

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        AwsConfig::new()
            .sso_session("corp", START_URL, "us-east-1")
            .sso_profile("dev", "corp", "111122223333", "ReadOnlyAccess")
            .sso_profile("ops", "corp", "111122223333", "Admin")
            .section(
                "profile keys",
                &[
                    ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                    (
                        "aws_secret_access_key",
                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    ),
                ],
            ),
    );
    sandbox
}

/// Writes the session's token, expiring `seconds` from now (negative: in the past).
fn token_expiring_in(sandbox: &Sandbox, seconds: i64) {
    sandbox.write_token(
        "corp",
        &serde_json::json!({
            "startUrl": START_URL,
            "region": "us-east-1",
            "accessToken": "prompt-test-access-token",
            "expiresAt": utc_in(seconds),
        }),
    );
}

fn prompt(sandbox: &Sandbox, args: &[&str], vars: &[(&str, &str)]) -> Ran {
    let mut cmd = sandbox.command(SSOBAR);
    cmd.arg("prompt").args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let ran = Ran::run(&mut cmd).success();
    assert_eq!(ran.stderr, "", "a prompt never prints an error");
    ran
}

#[test]
fn a_valid_session_shows_the_profile_and_the_time_left() {
    let sandbox = sandbox();
    token_expiring_in(&sandbox, 2 * 3600 + 13 * 60 + 30);
    let ran = prompt(&sandbox, &["-p", "dev"], &[]);
    assert_eq!(ran.stdout, "dev 2h13m\n");
}

#[test]
fn an_expiring_session_is_marked() {
    let sandbox = sandbox();
    token_expiring_in(&sandbox, 4 * 60 + 30);
    assert_eq!(prompt(&sandbox, &["-p", "dev"], &[]).stdout, "dev 4m!\n");
}

#[test]
fn an_expired_session_says_expired() {
    let sandbox = sandbox();
    token_expiring_in(&sandbox, -60);
    assert_eq!(
        prompt(&sandbox, &["-p", "dev"], &[]).stdout,
        "dev expired\n"
    );
}

#[test]
fn a_session_never_signed_in_says_signed_out() {
    let sandbox = sandbox();
    assert_eq!(
        prompt(&sandbox, &["-p", "dev"], &[]).stdout,
        "dev signed out\n"
    );
}

#[test]
fn no_profile_a_profile_without_sso_or_an_unknown_one_prints_nothing() {
    let sandbox = sandbox();
    token_expiring_in(&sandbox, 3600);
    assert_eq!(prompt(&sandbox, &[], &[]).stdout, "");
    assert_eq!(prompt(&sandbox, &["-p", "keys"], &[]).stdout, "");
    assert_eq!(prompt(&sandbox, &["-p", "nowhere"], &[]).stdout, "");
}

#[test]
fn the_profile_exec_set_wins_over_aws_profile() {
    let sandbox = sandbox();
    token_expiring_in(&sandbox, 3600 + 5 * 60 + 30);
    assert_eq!(
        prompt(&sandbox, &[], &[("AWS_PROFILE", "dev")]).stdout,
        "dev 1h5m\n"
    );
    assert_eq!(
        prompt(
            &sandbox,
            &[],
            &[("AWS_PROFILE", "dev"), ("SSOBAR_PROFILE", "ops")]
        )
        .stdout,
        "ops 1h5m\n"
    );
}

#[test]
fn a_broken_config_or_token_still_prints_one_segment_and_no_error() {
    let sandbox = sandbox();
    sandbox.write_token_bytes("corp", b"{not json");
    assert_eq!(
        prompt(&sandbox, &["-p", "dev"], &[]).stdout,
        "dev invalid\n"
    );
    let settings = sandbox.home().join(".config/ssobar");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(settings.join("settings.toml"), "warning_minutes = soon\n").unwrap();
    assert_eq!(
        prompt(&sandbox, &["-p", "dev"], &[]).stdout,
        "dev invalid\n"
    );
}

#[test]
fn env_sets_the_profile_and_expiry_that_the_prompt_and_other_tools_read() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let script = format!(
        "eval \"$({SSOBAR} env --profile dev --shell sh)\" && printf '%s|%s|%s|%s' \"$AWS_ACCESS_KEY_ID\" \"$SSOBAR_PROFILE\" \"$AWS_CREDENTIAL_EXPIRATION\" \"$({SSOBAR} prompt)\""
    );
    let ran = Ran::run(
        w.sandbox
            .command("sh")
            .args(["-c", &script])
            .env("AWS_PROFILE", "admin"),
    )
    .success();
    let fields: Vec<&str> = ran.stdout.split('|').collect();
    let issued = w.fake.credentials(fields[0]).expect("real credentials");
    assert_eq!(fields[1], "dev");
    assert_eq!(
        fields[2],
        issued.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "RFC 3339, as the AWS CLI's export-credentials writes it"
    );
    assert!(fields[3].starts_with("dev 7h"), "{}", ran.stdout);
}
