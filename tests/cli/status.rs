//! `ssobar status` end to end: the real binary over a throwaway HOME with every kind of
//! profile and every state of token.

use crate::SSOBAR;
#[cfg(unix)]
use crate::chmod;
use serde_json::{Value, json};
use ssobar_testkit::{AwsConfig, Ran, Sandbox, format_utc, freeze_clock, utc_in};

/// Every kind of profile: SSO through a session (one per state of token), legacy SSO, a role
/// chain, a credential process and static keys.
fn config() -> AwsConfig {
    let mut config = AwsConfig::new()
        .section("default", &[("region", "eu-west-1")])
        .sso_session("corp", "https://corp.awsapps.com/start", "us-east-1")
        .with("sso_registration_scopes", "sso:account:access");
    for name in ["sandbox", "lab", "fresh", "corrupt"] {
        config = config.sso_session(
            name,
            &format!("https://{name}.awsapps.com/start"),
            "eu-west-1",
        );
    }
    config
        .sso_profile("dev", "corp", "111111111111", "AdministratorAccess")
        .with("region", "eu-west-1")
        .sso_profile("sandbox", "sandbox", "222222222222", "PowerUser")
        .sso_profile("lab", "lab", "333333333333", "ReadOnly")
        .sso_profile("fresh", "fresh", "444444444444", "ReadOnly")
        .sso_profile("corrupt", "corrupt", "555555555555", "ReadOnly")
        .section(
            "profile legacy",
            &[
                ("sso_start_url", "https://legacy.awsapps.com/start"),
                ("sso_region", "us-west-2"),
                ("sso_account_id", "666666666666"),
                ("sso_role_name", "Legacy"),
            ],
        )
        .section(
            "profile deploy",
            &[
                ("role_arn", "arn:aws:iam::777777777777:role/Deploy"),
                ("source_profile", "dev"),
            ],
        )
        .section(
            "profile proc",
            &[("credential_process", "/opt/bin/get-creds")],
        )
        .section(
            "profile static",
            &[
                ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                (
                    "aws_secret_access_key",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                ),
            ],
        )
}

fn token(start_url: &str, expires_at: &str, refresh: bool) -> Value {
    let mut t = json!({
        "startUrl": start_url,
        "region": "us-east-1",
        "accessToken": "aoa-token",
        "expiresAt": expires_at,
    });
    if refresh {
        t["clientId"] = json!("client");
        t["clientSecret"] = json!("secret");
        t["registrationExpiresAt"] = json!(utc_in(80 * 86_400));
        t["refreshToken"] = json!("aor-token");
    }
    t
}

fn sandbox() -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    sandbox.write_config(config());
    let corp_expiry = utc_in(3 * 3600);
    sandbox.write_token(
        "corp",
        &token("https://corp.awsapps.com/start", &corp_expiry, true),
    );
    sandbox.write_token(
        "sandbox",
        &token("https://sandbox.awsapps.com/start", &utc_in(5 * 60), false),
    );
    sandbox.write_token(
        "lab",
        &token("https://lab.awsapps.com/start", &utc_in(-3600), false),
    );
    sandbox.write_token_bytes("corrupt", b"{\"accessToken\": \"trunc");
    sandbox.write_token(
        "https://legacy.awsapps.com/start",
        &token("https://legacy.awsapps.com/start", &utc_in(-60), false),
    );
    (sandbox, corp_expiry)
}

fn status_json(sandbox: &Sandbox, args: &[&str]) -> Vec<Value> {
    let ran = Ran::run(
        sandbox
            .command(SSOBAR)
            .args(["status", "--json"])
            .args(args),
    )
    .success();
    ran.json().as_array().expect("a JSON array").clone()
}

fn by_profile(rows: &[Value], name: &str) -> Value {
    rows.iter()
        .find(|r| r["profile"] == name)
        .unwrap_or_else(|| panic!("no row for {name} in {rows:?}"))
        .clone()
}

#[test]
fn json_reports_every_kind_and_state() {
    let (sandbox, corp_expiry) = sandbox();
    let rows = status_json(&sandbox, &[]);
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["profile"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("corrupt", "sso-session", "invalid"),
        ("default", "other", "n/a"),
        ("deploy", "role-chain", "valid"),
        ("dev", "sso-session", "valid"),
        ("fresh", "sso-session", "missing"),
        ("lab", "sso-session", "expired"),
        ("legacy", "sso-legacy", "expired"),
        ("proc", "credential-process", "n/a"),
        ("sandbox", "sso-session", "expiring"),
        ("static", "static", "n/a"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect();
    assert_eq!(summary, expected);

    assert_eq!(
        by_profile(&rows, "dev"),
        json!({
            "profile": "dev", "kind": "sso-session", "sso_session": "corp",
            "start_url": "https://corp.awsapps.com/start", "sso_region": "us-east-1",
            "account_id": "111111111111", "role_name": "AdministratorAccess",
            "region": "eu-west-1", "state": "valid", "expires_at": corp_expiry,
            "refreshable": true, "detail": null
        })
    );
    let deploy = by_profile(&rows, "deploy");
    assert_eq!(deploy["sso_session"], "corp");
    assert_eq!(deploy["account_id"], "777777777777");
    assert_eq!(deploy["role_name"], "Deploy");
    assert_eq!(deploy["expires_at"], corp_expiry.as_str());

    let corrupt = by_profile(&rows, "corrupt");
    let path = sandbox.token_path("corrupt");
    assert!(
        corrupt["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}: not valid JSON", path.display())),
        "{corrupt}"
    );
    let fresh = by_profile(&rows, "fresh");
    assert_eq!(
        fresh["detail"],
        "not signed in: run \"ssobar login --sso-session fresh\""
    );
    assert_eq!(by_profile(&rows, "legacy")["refreshable"], false);
    assert_eq!(by_profile(&rows, "sandbox")["refreshable"], false);
}

#[test]
fn table_shows_local_expiry_and_time_left() {
    let (sandbox, _) = sandbox();
    // ssobar's clock stands still at a whole second, and dev's session ends exactly three hours
    // later: the time left is "3h 0m" and nothing else.
    let now = jiff::Timestamp::now().as_second();
    sandbox.write_token(
        "corp",
        &token(
            "https://corp.awsapps.com/start",
            &format_utc(now + 3 * 3600),
            true,
        ),
    );
    let ran = Ran::run(freeze_clock(
        sandbox.command(SSOBAR).arg("status").env("TZ", "UTC"),
        now,
    ))
    .success();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "PROFILE", "SESSION", "ACCOUNT", "ROLE", "STATE", "EXPIRES", "LEFT"
        ]
    );
    let dev: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("dev "))
        .expect("a dev row")
        .split_whitespace()
        .collect();
    assert_eq!(
        dev[..5],
        [
            "dev",
            "corp",
            "111111111111",
            "AdministratorAccess",
            "valid"
        ]
    );
    // Three hours minus the second or two the test took: "2h 59m" (or "3h 0m" on a fast run).
    // The last two words: the expiry before them is two words ("Sun 00:10") after 21:00.
    let left = dev[dev.len() - 2..].join(" ");
    assert!(left == "2h 59m" || left == "3h 0m", "{left}");
    assert!(
        ran.stdout.contains("lab: expired 1h 0m ago: "),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("run \"ssobar login --sso-session lab\"")
    );
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let (sandbox, _) = sandbox();
    // `script` (bsdutils, on every Debian) gives ssobar a terminal. The sandbox sets
    // NO_COLOR for every command; the first case takes it away.
    let on_terminal = |no_color: bool| {
        let mut cmd = sandbox.command("script");
        cmd.args(["-qec", &format!("{SSOBAR} status"), "/dev/null"]);
        if !no_color {
            cmd.env_remove("NO_COLOR");
        }
        Ran::run(&mut cmd).success().stdout
    };
    assert!(on_terminal(false).contains('\x1b'), "colour on a terminal");
    assert!(!on_terminal(true).contains('\x1b'), "none with NO_COLOR");
    let piped = Ran::run(sandbox.command(SSOBAR).arg("status").env_remove("NO_COLOR")).success();
    assert!(!piped.stdout.contains('\x1b'), "none into a pipe");
}

#[test]
fn check_exits_3_only_when_a_selected_session_needs_a_sign_in() {
    let (sandbox, _) = sandbox();
    let check = |args: &[&str]| {
        Ran::run(
            sandbox
                .command(SSOBAR)
                .args(["status", "--check", "--quiet"])
                .args(args),
        )
    };
    let all = check(&[]).expect_code(3);
    assert_eq!(all.stdout, "");
    check(&["--profile", "dev"]).expect_code(0);
    check(&["--profile", "sandbox"]).expect_code(0);
    check(&["--profile", "static"]).expect_code(0);
    check(&["--profile", "lab"]).expect_code(3);
    check(&["--profile", "fresh"]).expect_code(3);
    check(&["--profile", "corrupt"]).expect_code(3);
    check(&["--profile", "dev", "--profile", "legacy"]).expect_code(3);
}

#[test]
fn profile_filter_and_unknown_profiles() {
    let (sandbox, _) = sandbox();
    let rows = status_json(&sandbox, &["--profile", "dev", "--profile", "static"]);
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["profile"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "static"]);

    let ran = Ran::run(
        sandbox
            .command(SSOBAR)
            .args(["status", "--profile", "sandbx"]),
    )
    .expect_code(1);
    assert_eq!(
        ran.stderr.trim(),
        "ssobar: there is no profile sandbx; did you mean sandbox?"
    );
    assert_eq!(ran.stdout, "");
}

#[test]
fn a_malformed_line_marks_its_profile_and_spares_the_rest() {
    let (sandbox, _) = sandbox();
    let broken = config().text().replace(
        "sso_role_name = ReadOnly\n\n[profile fresh]",
        "sso_role_name = ReadOnly\nthis is not a property\n\n[profile fresh]",
    );
    sandbox.write_config(&broken);
    let line = broken
        .lines()
        .position(|l| l == "this is not a property")
        .unwrap()
        + 1;
    let rows = status_json(&sandbox, &[]);
    assert_eq!(rows.len(), 10);
    let lab = by_profile(&rows, "lab");
    assert_eq!(lab["state"], "misconfigured");
    let config_path = sandbox.home().join(".aws/config");
    assert_eq!(
        lab["detail"],
        format!(
            "{}:{line}: Expected an '=' sign defining a property",
            config_path.display()
        )
    );
    assert_eq!(by_profile(&rows, "dev")["state"], "valid");
    assert_eq!(by_profile(&rows, "fresh")["state"], "missing");
}

#[test]
fn twenty_thousand_bad_lines_still_give_the_good_profile() {
    let sandbox = Sandbox::new();
    let mut text = String::from("[profile junk]\n");
    for i in 0..20_000 {
        text.push_str(&format!("garbage {i} without an equals sign\n"));
    }
    sandbox.write_config(
        AwsConfig::new()
            .raw(&text)
            .sso_session("corp", "https://corp.awsapps.com/start", "us-east-1")
            .sso_profile("good", "corp", "111111111111", "R"),
    );
    let rows = status_json(&sandbox, &[]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(by_profile(&rows, "good")["state"], "missing");
    let junk = by_profile(&rows, "junk");
    assert_eq!(junk["state"], "misconfigured");
    assert_eq!(
        junk["detail"],
        format!(
            "{}:2: Expected an '=' sign defining a property",
            sandbox.home().join(".aws/config").display()
        )
    );
}

#[test]
fn a_region_that_is_no_region_name_is_misconfigured() {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        AwsConfig::new()
            .sso_session("corp", "https://corp.awsapps.com/start", "us-east-1")
            .sso_profile("typo", "corp", "1", "R")
            .with("region", "eu-west-1.amazonaws.com")
            .sso_profile("china", "corp", "1", "R")
            .with("region", "cn-north-1"),
    );
    let rows = status_json(&sandbox, &[]);
    let typo = by_profile(&rows, "typo");
    assert_eq!(typo["state"], "misconfigured");
    assert_eq!(
        typo["detail"],
        "profile typo has region = eu-west-1.amazonaws.com, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config"
    );
    assert_eq!(by_profile(&rows, "china")["state"], "missing");
}

#[test]
fn a_profile_naming_a_missing_session_is_misconfigured() {
    let sandbox = Sandbox::new();
    sandbox.write_config(AwsConfig::new().sso_profile("p", "nowhere", "1", "R"));
    let rows = status_json(&sandbox, &[]);
    assert_eq!(rows[0]["state"], "misconfigured");
    assert!(
        rows[0]["detail"]
            .as_str()
            .unwrap()
            .contains("sso-session nowhere")
    );
}

#[test]
fn no_aws_folder_is_an_empty_status() {
    let sandbox = Sandbox::new();
    assert!(status_json(&sandbox, &[]).is_empty());
    let ran = Ran::run(sandbox.command(SSOBAR).arg("status")).success();
    assert_eq!(ran.stdout, "");
    assert!(ran.stderr.contains("No AWS profiles"), "{}", ran.stderr);
    Ran::run(sandbox.command(SSOBAR).args(["status", "--check"])).expect_code(0);
}

#[test]
fn aws_config_file_overrides_the_path() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.home().join("elsewhere.ini");
    std::fs::write(&elsewhere, "[profile moved]\naws_access_key_id = AKIA\n").unwrap();
    let ran = Ran::run(
        sandbox
            .command(SSOBAR)
            .args(["status", "--json"])
            .env("AWS_CONFIG_FILE", &elsewhere),
    )
    .success();
    assert_eq!(ran.json()[0]["profile"], "moved");
}

#[cfg(unix)]
#[test]
fn a_token_others_may_write_is_invalid_and_warned_about_with_the_chmod_to_run() {
    let (sandbox, _) = sandbox();
    let path = sandbox.token_path("corp");
    chmod(&path, 0o666);
    let ran = Ran::run(sandbox.command(SSOBAR).args(["status", "--json"])).success();
    let dev = by_profile(ran.json().as_array().unwrap(), "dev");
    assert_eq!(dev["state"], "invalid", "{dev}");
    let detail = dev["detail"].as_str().unwrap();
    let chmod_line = format!("run \"chmod 600 {}\"", path.display());
    assert!(detail.contains(&chmod_line), "{detail}");
    assert_eq!(
        ran.stderr,
        format!(
            "ssobar: warning: {} is writable by group or others, so it is not used: {chmod_line}\n",
            path.display()
        )
    );

    chmod(&path, 0o600);
    chmod(&sandbox.cache_dir(), 0o777);
    let ran = Ran::run(sandbox.command(SSOBAR).args(["status", "--json"])).success();
    let rows = ran.json().as_array().unwrap().clone();
    for profile in ["dev", "sandbox", "lab", "legacy"] {
        assert_eq!(by_profile(&rows, profile)["state"], "invalid", "{profile}");
    }
    assert!(
        by_profile(&rows, "dev")["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("chmod 700 {}", sandbox.cache_dir().display()))
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("chmod 700"), "{}", ran.stderr);
}

#[cfg(unix)]
#[test]
fn a_cache_as_the_aws_cli_writes_it_is_trusted_without_a_word() {
    let (sandbox, corp_expiry) = sandbox();
    // The AWS CLI writes 0600 files in a 0700 folder.
    chmod(&sandbox.cache_dir(), 0o700);
    for entry in std::fs::read_dir(sandbox.cache_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            chmod(&path, 0o600);
        }
    }
    let ran = Ran::run(sandbox.command(SSOBAR).args(["status", "--json"])).success();
    assert_eq!(ran.stderr, "");
    let dev = by_profile(ran.json().as_array().unwrap(), "dev");
    assert_eq!(dev["state"], "valid");
    assert_eq!(dev["expires_at"], corp_expiry.as_str());
}
