//! Role credentials in the OS keychain, end to end: the real binary, the real Secret Service
//! (gnome-keyring in the D-Bus session that scripts/test starts), ssobar-fake-aws, and botocore
//! as the peer that runs `credential_process`.

use crate::SSOBAR;
use serde_json::Value;
use ssobar_fake_aws::{FakeConfig, Operation};
use ssobar_testkit::{
    BrowserMode, Ran, World, botocore, files_containing, require_secret_service, secret_tool_search,
};

fn process_json(w: &World, profile: &str) -> Value {
    w.ssobar(&["credential-process", "--profile", profile])
        .success()
        .json()
}

#[test]
fn credentials_live_in_the_keychain_and_nowhere_else() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let json = process_json(&w, "dev");
    assert_eq!(json["Version"], 1);
    let key = json["AccessKeyId"].as_str().unwrap();
    let secret = json["SecretAccessKey"].as_str().unwrap();
    let token = json["SessionToken"].as_str().unwrap();
    let issued = w.fake.credentials(key).expect("issued by the fake");
    assert_eq!(issued.secret_access_key, secret);
    assert_eq!(
        json["Expiration"],
        issued.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );

    let entry = format!("sso/{}/111122223333/ReadOnlyAccess", w.session);
    let found = secret_tool_search(&entry);
    assert!(
        found.contains(&format!("attribute.username = {entry}")),
        "{found}"
    );
    assert!(
        found.contains(key),
        "the entry holds the credentials: {found}"
    );

    assert!(files_containing(w.sandbox.home(), secret).is_empty());
    assert!(files_containing(w.sandbox.home(), token).is_empty());
}

#[test]
fn stored_credentials_are_reused_then_replaced_near_expiry() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let first = process_json(&w, "dev");
    let second = process_json(&w, "dev");
    assert_eq!(first["AccessKeyId"], second["AccessKeyId"]);
    assert_eq!(
        w.calls(Operation::GetRoleCredentials),
        1,
        "the second call is served from the keychain"
    );

    // Credentials with four minutes left are inside the five-minute margin: fetch new ones.
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            role_credentials_lifetime_seconds: 240,
            ..FakeConfig::default()
        },
    );
    let first = process_json(&w, "dev");
    let second = process_json(&w, "dev");
    assert_ne!(first["AccessKeyId"], second["AccessKeyId"]);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 2);
}

#[test]
fn fifty_concurrent_callers_make_one_portal_call() {
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            latency_ms: 200,
            ..FakeConfig::default()
        },
    );
    let children: Vec<_> = (0..50)
        .map(|_| w.spawn(&["credential-process", "--profile", "admin"]))
        .collect();
    let mut keys = Vec::new();
    for child in children {
        let json = Ran::wait(child).success().json();
        keys.push(json["AccessKeyId"].as_str().unwrap().to_owned());
    }
    keys.dedup();
    assert_eq!(keys.len(), 1, "everyone got the same credentials");
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
}

#[test]
fn a_two_level_chain_assumes_twice_then_comes_from_the_keychain() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let json = process_json(&w, "deeper");
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
    assert_eq!(w.calls(Operation::AssumeRole), 2);
    let issued = w
        .fake
        .credentials(json["AccessKeyId"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        issued.arn,
        "arn:aws:sts::444455556666:assumed-role/Deeper/ssobar-deeper"
    );
    let again = process_json(&w, "deeper");
    assert_eq!(again["AccessKeyId"], json["AccessKeyId"]);
    assert_eq!(
        w.calls(Operation::AssumeRole),
        2,
        "served from the keychain"
    );
    // The middle of the chain was kept too.
    process_json(&w, "deploy");
    assert_eq!(w.calls(Operation::AssumeRole), 2);
}

#[test]
fn botocore_runs_ssobar_as_its_credential_process() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    w.sandbox.write_config(w.config().section(
        "profile via-ssobar",
        &[(
            "credential_process",
            &format!("{SSOBAR} credential-process --profile dev"),
        )],
    ));
    let seen = botocore(&w.sandbox, &["role-credentials", "--profile", "via-ssobar"]);
    assert!(
        seen["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnlyAccess_"),
        "{seen}"
    );
    assert_eq!(w.calls(Operation::GetCallerIdentity), 1);

    let status = w
        .ssobar(&["status", "--json", "--profile", "via-ssobar"])
        .success()
        .json();
    assert_eq!(status[0]["kind"], "credential-process");
    assert_eq!(status[0]["sso_session"], w.session.as_str());
    assert_eq!(status[0]["state"], "valid");
}

#[test]
fn a_profile_pointing_at_itself_is_explained() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    w.sandbox.write_config(w.config().section(
        "profile loop",
        &[(
            "credential_process",
            "ssobar credential-process --profile loop",
        )],
    ));
    let ran = w
        .ssobar(&["credential-process", "--profile", "loop"])
        .expect_code(1);
    assert!(
        ran.stderr.contains("which would call itself"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
}

#[test]
fn exec_passes_credentials_and_the_exit_code() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let script = "printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' \"$AWS_ACCESS_KEY_ID\" \"$AWS_REGION\" \"$AWS_DEFAULT_REGION\" \"${AWS_PROFILE-unset}\" \"$SSOBAR_PROFILE\" \"$AWS_CREDENTIAL_EXPIRATION\" \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\"; exit 7";
    let ran = Ran::run(
        w.command()
            .args(["exec", "--profile", "dev", "--", "sh", "-c", script])
            .env("AWS_PROFILE", "dev"),
    )
    .expect_code(7);
    let fields: Vec<&str> = ran.stdout.trim().split('|').collect();
    let issued = w.fake.credentials(fields[0]).expect("real credentials");
    assert_eq!(fields[1..5], ["eu-west-1", "eu-west-1", "unset", "dev"]);
    assert_eq!(
        fields[5],
        issued.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(fields[6], issued.secret_access_key);
    assert_eq!(fields[7], issued.session_token);

    // Credentials of another identity left in the environment do not reach the command.
    let leftovers = Ran::run(
        w.command()
            .args(["exec", "--profile", "dev", "--", "sh", "-c"])
            .arg("printf '%s|%s|%s' \"${AWS_SECURITY_TOKEN-unset}\" \"${AWS_CONTAINER_CREDENTIALS_FULL_URI-unset}\" \"${AWS_WEB_IDENTITY_TOKEN_FILE-unset}\"")
            .env("AWS_SECURITY_TOKEN", "old-token")
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", "/elsewhere/token"),
    )
    .success();
    assert_eq!(leftovers.stdout, "unset|unset|unset");

    let nested = Ran::run(
        w.command()
            .args(["exec", "--profile", "dev", "--", "true"])
            .env("SSOBAR_PROFILE", "admin"),
    )
    .expect_code(1);
    assert!(
        nested
            .stderr
            .contains("already inside \"ssobar exec\" for profile admin")
    );
    Ran::run(
        w.command()
            .args(["exec", "--force", "--profile", "dev", "--", "true"])
            .env("SSOBAR_PROFILE", "admin"),
    )
    .success();
}

#[test]
fn aws_profile_names_the_profile_when_none_is_given() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let json = Ran::run(
        w.command()
            .arg("credential-process")
            .env("AWS_PROFILE", "admin"),
    )
    .success()
    .json();
    let issued = w
        .fake
        .credentials(json["AccessKeyId"].as_str().unwrap())
        .expect("credentials the fake issued");
    assert!(issued.arn.contains("AdministratorAccess"), "{}", issued.arn);
}

#[cfg(unix)]
#[test]
fn exec_hands_signals_to_the_command() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    // ssobar exec replaces itself with the command, so the signal reaches it directly.
    let child = w.spawn(&["exec", "--profile", "dev", "--", "sleep", "30"]);
    let started = std::time::Instant::now();
    // Signal only once the process is `sleep` itself: a signal that reached ssobar before
    // the exec would end it the same way and prove nothing.
    let pid = child.id().to_string();
    let replaced = ssobar_testkit::wait_for(20, || {
        let out = std::process::Command::new("ps")
            .args(["-o", "comm=", "-p", &pid])
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout).trim() == "sleep").then_some(())
    });
    assert!(
        replaced.is_some(),
        "ssobar exec became the command, same pid"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(15), "the command died of SIGTERM");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn env_output_evaluates_in_sh() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let script = format!(
        "eval \"$({SSOBAR} env --profile dev --shell sh)\" && printf '%s|%s' \"$AWS_ACCESS_KEY_ID\" \"${{AWS_PROFILE-unset}}\""
    );
    let ran = Ran::run(
        w.sandbox
            .command("sh")
            .args(["-c", &script])
            .env("AWS_PROFILE", "dev"),
    )
    .success();
    let (key, profile) = ran.stdout.split_once('|').unwrap();
    assert!(w.fake.credentials(key).is_some(), "{}", ran.stdout);
    assert_eq!(profile, "unset");
    let fish = w
        .ssobar(&["env", "--profile", "dev", "--shell", "fish"])
        .success();
    assert!(
        fish.stdout
            .contains(&format!("set -gx AWS_ACCESS_KEY_ID '{key}';"))
    );
}

#[test]
fn an_expired_session_names_the_command_to_run() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    // No refresh token: only a browser sign-in brings it back.
    w.seed_sign_in_with(-3600, &[]);
    let ran = w
        .command()
        .args(["credential-process", "--profile", "dev"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1));
    assert!(ran.stdout.is_empty());
    let line = stderr.trim();
    assert!(
        line.starts_with(&format!(
            "ssobar: SSO session \"{}\" expired at ",
            w.session
        )),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            ": run \"ssobar login --sso-session {}\"",
            w.session
        )),
        "{line}"
    );
    assert_eq!(stderr.lines().count(), 1);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 0);
    assert!(
        w.browser.opened().is_empty(),
        "no browser from a credential_process"
    );
}

#[test]
fn logout_deletes_the_keychain_entries() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    process_json(&w, "deploy");
    let entry = format!("sso/{}/111122223333/ReadOnlyAccess", w.session);
    assert!(secret_tool_search(&entry).contains(&entry));
    let chained = format!("role/{}/deploy", w.session);
    assert!(secret_tool_search(&chained).contains(&chained));
    w.ssobar(&["logout", "--profile", "dev"]).success();
    assert!(!secret_tool_search(&entry).contains(&entry));
    assert!(!secret_tool_search(&chained).contains(&chained));
}

#[test]
fn no_secret_service_means_an_error_not_a_plain_file() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = Ran::run(
        w.command()
            .args(["credential-process", "--profile", "dev"])
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
    )
    .expect_code(1);
    let line = ran.stderr.trim();
    assert!(
        line.starts_with("ssobar: cannot use the Secret Service (D-Bus) to keep credentials: "),
        "{line}"
    );
    assert!(
        line.ends_with("ssobar never falls back to plain files"),
        "{line}"
    );
    assert_eq!(ran.stdout, "");
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to `pid` with the real `kill`.
#[cfg(unix)]
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits until a lock file whose name starts with `prefix` names `pid` as its holder.
#[cfg(unix)]
fn wait_until_holding(w: &World, prefix: &str, pid: u32) {
    // Beside the SSO cache, whatever the environment: a session's lock guards its token file.
    let locks = w.sandbox.cache_dir().join(".ssobar-locks");
    let held = ssobar_testkit::wait_for(20, || {
        std::fs::read_dir(&locks).ok()?.flatten().find(|entry| {
            entry.file_name().to_string_lossy().starts_with(prefix)
                && std::fs::read_to_string(entry.path())
                    .is_ok_and(|text| text.starts_with(&format!("{pid}\n")))
        })
    });
    assert!(held.is_some(), "process {pid} never took a {prefix} lock");
}

/// Runs `args` with a one-second lock wait, killing it if it is still waiting after 30 s.
#[cfg(unix)]
fn run_with_short_lock_wait(w: &World, args: &[&str]) -> Ran {
    let mut child = w
        .command()
        .args(args)
        .env("SSOBAR_LOCK_WAIT_SECONDS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if ssobar_testkit::wait_for(30, || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
        panic!(
            "`ssobar {}` still waits for a stopped holder after 30 s",
            args.join(" ")
        );
    }
    Ran::wait(child)
}

/// Checks that a waiter that gave up said so in one line naming the holder and the remedy.
#[cfg(unix)]
fn assert_names_the_holder(ran: Ran, pid: u32, holder_command: &str) {
    let ran = ran.expect_code(1);
    let stderr = ran.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&format!("process {pid} (")), "{stderr}");
    assert!(stderr.contains(holder_command), "{stderr}");
    assert!(stderr.contains(&format!("kill {pid}")), "{stderr}");
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
}

#[cfg(unix)]
#[test]
fn a_stopped_credential_fetch_makes_later_callers_give_up_and_name_it() {
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            latency_ms: 20_000,
            ..FakeConfig::default()
        },
    );
    // A fetch that is mid-call when the person presses Ctrl-Z on the `aws` that started it.
    let mut holder = w.spawn(&["credential-process", "--profile", "dev"]);
    wait_until_holding(&w, "creds-", holder.id());
    signal(holder.id(), "STOP");

    let waited = run_with_short_lock_wait(&w, &["credential-process", "--profile", "dev"]);
    assert_names_the_holder(
        waited,
        holder.id(),
        "ssobar credential-process --profile dev",
    );
    let waited = run_with_short_lock_wait(
        &w,
        &["eks-token", "--profile", "dev", "--cluster-id", "demo"],
    );
    assert_names_the_holder(
        waited,
        holder.id(),
        "ssobar credential-process --profile dev",
    );

    signal(holder.id(), "KILL");
    holder.wait().unwrap();
}

#[cfg(unix)]
#[test]
fn a_stopped_sign_in_makes_refresh_and_logout_give_up_and_name_it() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    // A forced sign-in holds the session while it waits for the browser; then it is stopped.
    let mut holder = w.spawn(&["login", "--profile", "dev", "--force"]);
    wait_until_holding(&w, &ssobar_testkit::sha1_hex(&w.session), holder.id());
    signal(holder.id(), "STOP");

    for args in [
        &["refresh", "--profile", "dev", "--force"][..],
        &["logout", "--profile", "dev"][..],
    ] {
        let waited = run_with_short_lock_wait(&w, args);
        assert_names_the_holder(waited, holder.id(), "ssobar login --profile dev --force");
    }
    assert!(w.token().is_some(), "the waiters changed nothing");

    signal(holder.id(), "KILL");
    holder.wait().unwrap();
}

#[test]
fn a_sign_out_done_elsewhere_stops_the_fast_paths() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let eks_token = ["eks-token", "--profile", "dev", "--cluster-id", "demo"];
    process_json(&w, "dev");
    w.ssobar(&eks_token).success();
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);

    // What `aws sso logout` does locally: the token file goes.
    std::fs::remove_file(w.sandbox.token_path(&w.session)).unwrap();
    for args in [
        &["credential-process", "--profile", "dev"][..],
        &eks_token[..],
    ] {
        let ran = w.ssobar(args).expect_code(1);
        assert!(ran.stdout.is_empty(), "nothing served: {}", ran.stdout);
        assert!(
            ran.stderr
                .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
            "{}",
            ran.stderr
        );
    }

    // A new sign-in gets new credentials rather than the old sign-in's.
    w.seed_sign_in(3600);
    process_json(&w, "dev");
    assert_eq!(w.calls(Operation::GetRoleCredentials), 2);
}

#[test]
fn an_expired_session_with_a_refresh_token_is_renewed_without_a_browser() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    let issued = w.seed_sign_in(-60);
    let ran = w
        .ssobar(&["credential-process", "--profile", "dev"])
        .success();
    assert!(ran.json()["AccessKeyId"].is_string(), "{}", ran.stdout);
    assert_eq!(ran.stderr, "");
    assert_eq!(w.calls(Operation::CreateToken), 1, "one refresh");
    assert_eq!(w.calls(Operation::Authorize), 0);
    assert!(w.browser.opened().is_empty(), "no browser");
    assert_ne!(
        w.token().unwrap()["accessToken"],
        issued.access_token.as_str()
    );
}

/// Runs `ssobar ARGS` on a pseudo-terminal (`script`), as from a shell, and returns how it
/// ended and what it printed (stdout and stderr mixed, as a terminal shows them).
fn on_a_terminal(w: &World, args: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = w.sandbox.command("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{SSOBAR} {args}"))
        .arg("/dev/null");
    for (key, value) in env {
        command.env(key, value);
    }
    let ran = command.output().unwrap();
    (
        ran.status.success(),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
    )
}

#[test]
fn with_no_app_a_terminal_signs_in_itself_and_the_command_goes_on() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in_with(-60, &[]);
    let (ok, shown) = on_a_terminal(&w, "credential-process --profile dev", &[]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("Opened the sign-in page in your browser"),
        "{shown}"
    );
    assert!(shown.contains("\"AccessKeyId\""), "{shown}");
    assert_eq!(w.browser.opened().len(), 1);
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
}

#[test]
fn on_expired_fail_fails_even_on_a_terminal() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in_with(-60, &[]);
    let (ok, shown) = on_a_terminal(
        &w,
        "credential-process --profile dev",
        &[("SSOBAR_ON_EXPIRED", "fail")],
    );
    assert!(!ok);
    assert!(
        shown.contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{shown}"
    );
    assert!(w.browser.opened().is_empty());
}
