//! `ssobar login`, `refresh` and `logout` end to end: the real binary, ssobar-fake-aws reached
//! through `AWS_ENDPOINT_URL_*`, and a `$BROWSER` script that acts as the person's browser.

use crate::SSOBAR;
#[cfg(unix)]
use crate::chmod;
use serde_json::Value;
use ssobar_fake_aws::{FakeConfig, Fault, Operation};
use ssobar_testkit::root::NetNamespace;
use ssobar_testkit::webdriver::free_port;
use ssobar_testkit::{AwsConfig, BrowserMode, Ran, World, secret_tool_entries, wait_for};
use std::process::{Child, Command};

fn world_with(config: FakeConfig, mode: BrowserMode) -> World {
    World::start(SSOBAR, config, mode)
}

fn world(mode: BrowserMode) -> World {
    world_with(FakeConfig::default(), mode)
}

#[test]
fn browser_sign_in_writes_an_aws_cli_token() {
    let w = world(BrowserMode::Follow);
    let ran = w.ssobar(&["login", "--profile", "dev"]).success();
    assert!(
        ran.stdout
            .starts_with(&format!("Signed in to {} until ", w.session)),
        "{}",
        ran.stdout
    );
    let opened = w.browser.opened();
    assert_eq!(opened.len(), 1, "{opened:?}");
    let authorize = format!("{}/authorize?response_type=code&client_id=", w.fake.url());
    assert!(opened[0].starts_with(&authorize), "{}", opened[0]);
    assert!(opened[0].contains("&code_challenge_method=S256&"));
    assert!(opened[0].contains("&scopes=sso%3Aaccount%3Aaccess&"));
    assert!(
        ran.stderr.contains(&opened[0]),
        "the URL is printed for SSH users too:\n{}",
        ran.stderr
    );

    let token = w.token().expect("a token file");
    for field in [
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    ] {
        assert!(token.get(field).is_some(), "{field} missing in {token}");
    }
    assert_eq!(token["startUrl"], format!("{}/start", w.fake.url()));
    let expires = token["expiresAt"].as_str().unwrap();
    assert_eq!(expires.len(), "2024-05-01T12:00:00Z".len(), "{expires}");
    assert!(expires.ends_with('Z'));

    assert_eq!(w.calls(Operation::RegisterClient), 1);
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert_eq!(w.calls(Operation::CreateToken), 1);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&w.sandbox.token_path(&w.session)), 0o600);
        assert_eq!(mode(&w.sandbox.cache_dir()), 0o700);
    }
    let registrations: Vec<Value> = std::fs::read_dir(w.sandbox.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        // The AWS CLI's files; ssobar's locks sit in a folder beside them.
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
        .filter(|v: &Value| v.get("accessToken").is_none())
        .collect();
    assert_eq!(registrations.len(), 1);
    assert_eq!(
        registrations[0]["grantTypes"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );

    let status = w
        .ssobar(&["status", "--json", "--profile", "dev"])
        .success()
        .json();
    assert_eq!(status[0]["state"], "valid");
    assert_eq!(status[0]["refreshable"], true);
}

#[test]
fn a_valid_session_needs_no_network_call() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    w.fake.reset_counters();
    let ran = w.ssobar(&["login", "--sso-session", &w.session]).success();
    assert!(
        ran.stdout
            .starts_with(&format!("Already signed in to {} until ", w.session))
    );
    assert!(w.fake.requests().is_empty(), "{:?}", w.fake.requests());
}

/// Does by hand what a browser does after the person approves: the redirect `/authorize`
/// answers with, to ssobar's loopback listener (not followed yet).
fn approved_redirect(w: &World) -> String {
    let authorize = wait_for(20, || w.browser.opened().pop()).expect("ssobar opened the browser");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{redirect_url}",
            &authorize,
        ])
        .output()
        .unwrap();
    let redirect = String::from_utf8(out.stdout).unwrap();
    assert!(redirect.contains("/oauth/callback?"), "{redirect:?}");
    redirect
}

/// The HTTP status a GET of `url` gets, "000" when there is no answer within 5 seconds.
fn status_of(url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// `http://127.0.0.1:PORT` of the listener a redirect goes to.
fn listener_of(redirect: &str) -> &str {
    &redirect[..redirect.find("/oauth/callback").unwrap()]
}

/// A redirect with its `state` replaced.
fn with_state(redirect: &str, state: &str) -> String {
    let (head, tail) = redirect.split_once("state=").unwrap();
    let rest = tail.find('&').map_or("", |i| &tail[i..]);
    format!("{head}state={state}{rest}")
}

#[test]
fn a_stray_request_does_not_end_the_sign_in() {
    let w = world(BrowserMode::Ignore);
    let login = w.spawn(&["login", "--profile", "dev"]);
    let redirect = approved_redirect(&w);
    let listener = listener_of(&redirect);
    for stray in [
        format!("{listener}/oauth/callback?error=x"),
        format!("{listener}/oauth/callback?code=c"),
        with_state(&redirect, "forged"),
        format!("{listener}/oauth/callback?error=access_denied&state=forged"),
    ] {
        assert_eq!(status_of(&stray), "400", "{stray}");
    }
    assert_eq!(status_of(&format!("{listener}/favicon.ico")), "404");
    assert_eq!(
        w.calls(Operation::CreateToken),
        0,
        "no stray code is exchanged"
    );
    assert_eq!(status_of(&redirect), "200", "the real redirect still lands");
    let ran = Ran::wait(login).success();
    assert!(
        ran.stdout
            .starts_with(&format!("Signed in to {} until ", w.session)),
        "{}",
        ran.stdout
    );
    assert_eq!(w.calls(Operation::CreateToken), 1);
}

#[test]
fn an_idle_connection_does_not_delay_the_real_redirect() {
    let w = world(BrowserMode::Ignore);
    let login = w.spawn(&["login", "--profile", "dev"]);
    let redirect = approved_redirect(&w);
    let address = listener_of(&redirect).trim_start_matches("http://");
    // A client that connects and never sends a byte, held open past the real redirect.
    let idle = std::net::TcpStream::connect(address).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(status_of(&redirect), "200", "answered within 5 s");
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(1),
        "the redirect behind an idle connection took {took:?}"
    );
    Ran::wait(login).success();
    drop(idle);
}

#[test]
fn an_error_description_cannot_move_the_cursor() {
    let w = world(BrowserMode::Ignore);
    let login = w.spawn(&["login", "--profile", "dev"]);
    let redirect = approved_redirect(&w);
    let state = redirect
        .split_once("state=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap();
    let hostile = format!(
        "{}/oauth/callback?error=server_error&error_description=%1B%5B2Jwiped%0Aout&state={state}",
        listener_of(&redirect)
    );
    assert_eq!(status_of(&hostile), "400");
    let ran = Ran::wait(login).expect_code(1);
    assert!(!ran.stderr.contains('\x1b'), "{:?}", ran.stderr);
    assert_eq!(
        ran.stderr.lines().last().unwrap(),
        format!(
            "ssobar: the sign-in could not be completed: wiped out; run \"ssobar login --sso-session {}\" again",
            w.session
        )
    );
}

#[test]
fn a_denied_browser_sign_in_says_so() {
    let config = FakeConfig {
        deny: true,
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Follow);
    let ran = w.ssobar(&["login", "--profile", "dev"]).expect_code(1);
    assert!(
        ran.stderr.contains(&format!(
            "sign-in to {} was denied in the browser",
            w.session
        )),
        "{}",
        ran.stderr
    );
    assert!(w.token().is_none());
}

#[test]
fn registrations_are_reused_until_they_near_expiry() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    w.ssobar(&["login", "--profile", "dev", "--force"])
        .success();
    assert_eq!(
        w.calls(Operation::RegisterClient),
        1,
        "second sign-in reuses the client"
    );
    assert_eq!(w.calls(Operation::Authorize), 2);

    let short = FakeConfig {
        client_secret_lifetime_seconds: 10 * 60,
        ..FakeConfig::default()
    };
    let w = world_with(short, BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    w.ssobar(&["login", "--profile", "dev", "--force"])
        .success();
    assert_eq!(
        w.calls(Operation::RegisterClient),
        2,
        "a registration with less than 15 minutes left is replaced"
    );
}

#[cfg(unix)]
#[test]
fn a_registration_others_may_write_is_not_reused() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    let token = w.sandbox.token_path(&w.session);
    for entry in std::fs::read_dir(w.sandbox.cache_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path != token && path.is_file() {
            chmod(&path, 0o666);
        }
    }
    let ran = w
        .ssobar(&["login", "--profile", "dev", "--force"])
        .success();
    assert!(
        ran.stderr.contains("is writable by group or others"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        w.calls(Operation::RegisterClient),
        2,
        "the client is registered again"
    );
}

#[cfg(unix)]
#[test]
fn a_token_others_may_write_is_not_refreshed_and_the_error_says_what_to_run() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    let token = w.sandbox.token_path(&w.session);
    chmod(&token, 0o664);
    let ran = w.ssobar(&["refresh", "--profile", "dev", "--force"]);
    assert_ne!(ran.code, Some(0), "{}", ran.stdout);
    assert!(
        ran.stderr
            .contains(&format!("run \"chmod 600 {}\"", token.display())),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::CreateToken), 1, "no refresh was sent");
}

#[test]
fn a_device_registration_is_not_reused_for_pkce() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev", "--device-code"])
        .success();
    assert_eq!(w.calls(Operation::StartDeviceAuthorization), 1);
    w.ssobar(&["login", "--profile", "dev", "--force"])
        .success();
    assert_eq!(w.calls(Operation::RegisterClient), 2);
    assert_eq!(w.calls(Operation::Authorize), 1);
}

#[test]
fn device_code_polls_while_pending() {
    let config = FakeConfig {
        pending_polls_before_approval: Some(2),
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Ignore);
    let ran = w
        .ssobar(&["login", "--profile", "dev", "--device-code", "--no-browser"])
        .success();
    assert!(
        ran.stdout
            .starts_with(&format!("Signed in to {} until ", w.session))
    );
    assert!(ran.stderr.contains("Confirm this code in the browser: "));
    assert!(
        ran.stderr
            .contains(&format!("{}/device?user_code=", w.fake.url()))
    );
    assert!(w.browser.opened().is_empty(), "--no-browser opens nothing");
    assert_eq!(
        w.calls(Operation::CreateToken),
        3,
        "two pending, then the token"
    );
}

#[test]
fn with_no_way_to_open_a_browser_sign_in_uses_the_device_code() {
    let config = FakeConfig {
        pending_polls_before_approval: Some(0),
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Follow);
    // An SSH session: no $BROWSER and no display to open one on.
    let mut child = w
        .command()
        .args(["login", "--profile", "dev"])
        .env_remove("BROWSER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Had it chosen the browser, it would wait for one that never comes.
    if wait_for(30, || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
        panic!("still waiting for a browser after 30 s instead of using the device code");
    }
    let ran = Ran::wait(child).success();
    assert!(ran.stderr.contains("Confirm this code in the browser: "));
    // It says why, and how a browser elsewhere could still be used.
    assert!(
        ran.stderr.lines().next().unwrap().starts_with(
            "No browser can be opened here (no display, no $BROWSER, no browser setting), so this sign-in uses a device code."
        ) && ran.stderr.contains("--callback-port"),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::StartDeviceAuthorization), 1);
    assert_eq!(w.calls(Operation::Authorize), 0);
    assert!(w.browser.opened().is_empty());
}

#[cfg(unix)]
#[test]
fn a_killed_sign_in_leaves_no_lock_behind() {
    let config = FakeConfig {
        pending_polls_before_approval: Some(0),
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Ignore);
    // The first sign-in holds the session's lock while it waits for the browser...
    let mut first = w.spawn(&["login", "--profile", "dev"]);
    wait_for(20, || w.browser.opened().pop()).expect("the first sign-in is waiting");
    // ...and dies without a chance to let go of it.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = w.spawn(&["login", "--profile", "dev", "--device-code"]);
    if wait_for(30, || second.try_wait().ok().flatten()).is_none() {
        let _ = second.kill();
        panic!("the second sign-in still waits for the dead one's lock after 30 s");
    }
    Ran::wait(second).success();
    assert!(w.token().is_some());
}

#[test]
fn device_code_slows_down_when_told() {
    let config = FakeConfig {
        slow_down_polls: 1,
        pending_polls_before_approval: Some(0),
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Ignore);
    w.ssobar(&["login", "--profile", "dev", "--device-code"])
        .success();
    let polls: Vec<jiff::Timestamp> = w
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == Operation::CreateToken)
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(polls.len(), 2);
    let gap = polls[1].duration_since(polls[0]);
    assert!(
        gap >= jiff::SignedDuration::from_secs(5),
        "slow_down must add 5 s to the 1 s interval, waited {gap:?}"
    );
}

#[test]
fn device_code_denied_and_expired() {
    let config = FakeConfig {
        deny: true,
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Follow);
    let ran = w
        .ssobar(&["login", "--profile", "dev", "--device-code"])
        .expect_code(1);
    assert!(
        ran.stderr.contains("was denied in the browser"),
        "{}",
        ran.stderr
    );

    let config = FakeConfig {
        device_code_lifetime_seconds: 2,
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Ignore);
    let ran = w
        .ssobar(&["login", "--profile", "dev", "--device-code"])
        .expect_code(1);
    assert!(
        ran.stderr.contains(&format!(
            "the sign-in code for {} expired before it was confirmed",
            w.session
        )),
        "{}",
        ran.stderr
    );
    assert!(w.token().is_none());
}

#[test]
fn a_device_page_that_is_not_https_is_not_opened() {
    let config = FakeConfig {
        verification_uri: Some("http://device.example.com/device".into()),
        device_code_lifetime_seconds: 5,
        ..FakeConfig::default()
    };
    let w = world_with(config, BrowserMode::Follow);
    let ran = w
        .ssobar(&["login", "--profile", "dev", "--device-code"])
        .expect_code(1);
    assert!(w.browser.opened().is_empty(), "{:?}", w.browser.opened());
    assert_eq!(
        ran.stderr.lines().last().unwrap(),
        format!(
            "ssobar: not opening http://device.example.com/device in a browser: it is not https:// (plain http is allowed only on a loopback address); the sign-in service sent it (check AWS_ENDPOINT_URL_SSO_OIDC and sso_region), then run \"ssobar login --sso-session {}\" again",
            w.session
        )
    );
    assert_eq!(w.calls(Operation::CreateToken), 0, "no polling for it");
}

/// `http://evil\@127.0.0.1/` is `evil` to a browser (WHATWG reads the `\` as `/`), whatever
/// the text after the last `@` says: none of these pages may count as loopback.
#[test]
fn a_device_page_whose_host_only_looks_like_loopback_is_not_opened() {
    for page in [
        r"http://evil\@127.0.0.1/",
        r"http://evil.example\@localhost:80/device",
        r"http://evil\@[::1]/",
    ] {
        let config = FakeConfig {
            verification_uri: Some(page.into()),
            device_code_lifetime_seconds: 5,
            ..FakeConfig::default()
        };
        let w = world_with(config, BrowserMode::Follow);
        let ran = w
            .ssobar(&["login", "--profile", "dev", "--device-code"])
            .expect_code(1);
        assert!(
            w.browser.opened().is_empty(),
            "{page}: {:?}",
            w.browser.opened()
        );
        assert_eq!(
            ran.stderr.lines().collect::<Vec<_>>(),
            [format!(
                "ssobar: not opening {page} in a browser: it holds a backslash, which browsers read as '/'; the sign-in service sent it (check AWS_ENDPOINT_URL_SSO_OIDC and sso_region), then run \"ssobar login --sso-session {}\" again",
                w.session
            )],
            "{page}"
        );
        assert_eq!(
            w.calls(Operation::CreateToken),
            0,
            "{page}: no polling for it"
        );
    }
}

#[test]
fn legacy_profiles_sign_in_with_the_device_code() {
    let w = world(BrowserMode::Follow);
    let ran = w.ssobar(&["login", "--profile", "legacy"]).success();
    assert_eq!(
        ran.stderr.lines().next(),
        Some(
            "This session is written the legacy way (sso_start_url on the profile), which signs in only with a device code and cannot refresh; \"ssobar doctor --fix\" moves it to an [sso-session]."
        )
    );
    assert_eq!(w.calls(Operation::StartDeviceAuthorization), 1);
    assert_eq!(w.calls(Operation::Authorize), 0);
    let legacy_url = format!("{}/legacy", w.fake.url());
    let text =
        std::fs::read_to_string(w.sandbox.token_path(&legacy_url)).expect("token by start URL");
    let token: Value = serde_json::from_str(&text).unwrap();
    assert!(
        token.get("refreshToken").is_none(),
        "legacy sessions cannot refresh"
    );
}

#[test]
fn refresh_renews_inside_the_refresh_window_and_all_takes_every_session() {
    let w = world(BrowserMode::Ignore);
    // Ten minutes left: inside the default 15-minute window, outside a 5-minute one.
    let issued = w.seed_sign_in(600);
    let ran = Ran::run(
        w.command()
            .args(["refresh", "--profile", "dev"])
            .env("SSOBAR_REFRESH_MINUTES", "5"),
    )
    .success();
    assert!(
        ran.stdout.contains("not due for a refresh yet"),
        "{}",
        ran.stdout
    );
    assert_eq!(w.calls(Operation::CreateToken), 0);

    // A legacy session signed in too, but with nothing to refresh with.
    let legacy_url = format!("{}/legacy", w.fake.url());
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    w.sandbox.write_token(
        &legacy_url,
        &serde_json::json!({
            "startUrl": legacy_url,
            "region": "us-east-1",
            "accessToken": "aoa-legacy",
            "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }),
    );
    let ran = w.ssobar(&["refresh", "--all"]).expect_code(1);
    assert!(
        ran.stdout
            .contains(&format!("Refreshed {}: signed in until ", w.session)),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("ssobar login --profile legacy"),
        "{}",
        ran.stderr
    );
    assert_ne!(
        w.token().unwrap()["accessToken"],
        issued.access_token.as_str()
    );
}

#[test]
fn a_refresh_with_and_one_without_a_runtime_folder_make_one_create_token() {
    let w = world(BrowserMode::Ignore);
    // Expired a minute ago, with a refresh token: a silent refresh is due.
    w.seed_sign_in(-60);
    // The first refresh is slow enough for the second to start while it runs.
    w.fake.inject_fault(
        Operation::CreateToken,
        Fault::Latency(std::time::Duration::from_secs(2)),
        1,
    );
    let spawn = |command: &mut Command| {
        command
            .args(["refresh", "--sso-session", &w.session])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // A desktop shell has XDG_RUNTIME_DIR (the sandbox sets it); cron has none.
    let desktop = spawn(&mut w.command());
    let started = wait_for(10, || {
        (w.fake.peak_in_flight(Operation::CreateToken) > 0).then_some(())
    });
    assert!(
        started.is_some(),
        "the desktop's refresh reached CreateToken"
    );
    let cron = spawn(w.command().env_remove("XDG_RUNTIME_DIR"));
    let desktop = Ran::wait(desktop);
    let cron = Ran::wait(cron);
    assert_eq!(
        w.calls(Operation::CreateToken),
        1,
        "one refresh for both\n--- desktop\n{}{}\n--- cron\n{}{}",
        desktop.stdout,
        desktop.stderr,
        cron.stdout,
        cron.stderr
    );
    desktop.success();
    cron.success();
}

#[test]
fn refresh_rotates_the_token_without_a_browser() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    let before = w.token().unwrap();
    let ran = w.ssobar(&["refresh", "--profile", "dev"]).success();
    assert!(
        ran.stdout.contains("not due for a refresh yet"),
        "{}",
        ran.stdout
    );
    let ran = w
        .ssobar(&["refresh", "--profile", "dev", "--force"])
        .success();
    assert!(
        ran.stdout
            .starts_with(&format!("Refreshed {}: signed in until ", w.session)),
        "{}",
        ran.stdout
    );
    let after = w.token().unwrap();
    assert_ne!(before["accessToken"], after["accessToken"]);
    assert_ne!(before["refreshToken"], after["refreshToken"]);
    assert_eq!(before["clientId"], after["clientId"]);
    assert_eq!(w.browser.opened().len(), 1, "no second browser tab");
}

#[test]
fn a_revoked_refresh_token_leaves_the_old_token_and_asks_for_a_sign_in() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    let path = w.sandbox.token_path(&w.session);
    let before = std::fs::read(&path).unwrap();
    w.fake.revoke_refresh_tokens();
    let ran = w
        .ssobar(&["refresh", "--sso-session", &w.session, "--force"])
        .expect_code(1);
    assert_eq!(
        ran.stderr.trim(),
        format!(
            "ssobar: sign-in needed for {0}: the refresh was refused (signed out, or the session ended); run \"ssobar login --sso-session {0}\"",
            w.session
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        w.calls(Operation::CreateToken),
        2,
        "one sign-in, one refused refresh, no retries"
    );
}

#[test]
fn ten_concurrent_logins_open_one_browser_tab() {
    let w = world(BrowserMode::Follow);
    let children: Vec<Child> = (0..10)
        .map(|_| w.spawn(&["login", "--profile", "dev"]))
        .collect();
    for child in children {
        Ran::wait(child).success();
    }
    assert_eq!(w.browser.opened().len(), 1);
    assert_eq!(w.calls(Operation::RegisterClient), 1);
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert_eq!(w.calls(Operation::CreateToken), 1);
}

#[test]
fn logout_ends_the_session_and_deletes_the_token() {
    let w = world(BrowserMode::Follow);
    w.ssobar(&["login", "--profile", "dev"]).success();
    let ran = w.ssobar(&["logout", "--profile", "dev"]).success();
    assert_eq!(ran.stdout.trim(), format!("Signed out of {}.", w.session));
    assert_eq!(w.calls(Operation::Logout), 1);
    assert!(w.token().is_none());
    let ran = w.ssobar(&["logout", "--all"]).success();
    assert_eq!(ran.stdout.trim(), "No signed-in sessions.");
    let status = w
        .ssobar(&["status", "--json", "--profile", "dev"])
        .success()
        .json();
    assert_eq!(status[0]["state"], "missing");
}

#[test]
fn plain_http_start_urls_are_refused_off_loopback() {
    let w = world(BrowserMode::Follow);
    w.sandbox.write_config(AwsConfig::new().sso_session(
        "corp",
        "http://corp.example.com/start",
        "us-east-1",
    ));
    let ran = w.ssobar(&["login", "--sso-session", "corp"]).expect_code(1);
    assert!(
        ran.stderr
            .contains("refusing to sign in to http://corp.example.com/start"),
        "{}",
        ran.stderr
    );
    assert!(w.fake.requests().is_empty());
}

#[test]
fn an_unreachable_endpoint_is_named() {
    let mut w = world(BrowserMode::Follow);
    let dead = format!("http://127.0.0.1:{}", free_port());
    w.sandbox.set_env("AWS_ENDPOINT_URL_SSO_OIDC", &dead);
    let ran = w.ssobar(&["login", "--profile", "dev"]).expect_code(1);
    let last = ran.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("ssobar: cannot reach {dead}: ")),
        "{last}"
    );
}

#[test]
fn a_plain_http_endpoint_off_loopback_is_refused() {
    let mut w = world(BrowserMode::Follow);
    // Later variables win: this one replaces the fake's loopback endpoint.
    w.sandbox
        .set_env("AWS_ENDPOINT_URL_SSO_OIDC", "http://oidc.example.com");
    let ran = w.ssobar(&["login", "--profile", "dev"]).expect_code(1);
    assert_eq!(
        ran.stderr.lines().last().unwrap(),
        "ssobar: refusing AWS_ENDPOINT_URL_SSO_OIDC=http://oidc.example.com: an endpoint must be an https:// URL (plain http is allowed only on a loopback address); fix it or run \"unset AWS_ENDPOINT_URL_SSO_OIDC\""
    );
    assert!(w.fake.requests().is_empty());
    assert!(w.browser.opened().is_empty());
}

#[test]
fn throttling_is_retried_then_reported() {
    let w = world(BrowserMode::Follow);
    w.fake
        .inject_fault(Operation::RegisterClient, Fault::Throttle, 10);
    let ran = w.ssobar(&["login", "--profile", "dev"]).expect_code(1);
    assert!(
        ran.stderr.contains(
            "is throttling requests; wait a minute; run \"ssobar login --profile dev\" again"
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(
        w.calls(Operation::RegisterClient),
        3,
        "three attempts with backoff"
    );

    let w = world(BrowserMode::Follow);
    w.fake
        .inject_fault(Operation::RegisterClient, Fault::Throttle, 1);
    w.ssobar(&["login", "--profile", "dev"]).success();
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_cleanly() {
    let w = world(BrowserMode::Ignore);
    let child = w.spawn(&["login", "--profile", "dev"]);
    // The browser opens once the listener waits for it: Ctrl-C lands mid-sign-in.
    wait_for(20, || w.browser.opened().pop()).expect("ssobar opened the browser");
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ssobar: sign-in to {} cancelled; nothing was changed",
            w.session
        )),
        "{stderr}"
    );
    assert!(w.token().is_none());
    let leftovers: Vec<_> = std::fs::read_dir(w.sandbox.cache_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");
}

#[test]
fn a_token_left_in_the_store_not_in_use_is_moved_and_logout_clears_both() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let entry = format!("token/s:{}", w.session);
    let state_with = |store: &str| {
        let ran = Ran::run(
            w.command()
                .args(["status", "--json", "--profile", "dev"])
                .env("SSOBAR_TOKEN_STORE", store),
        )
        .success();
        ran.json()[0]["state"].as_str().unwrap().to_owned()
    };

    // Switched to the keychain by hand: the first command moves the CLI's token file into it,
    // so no refresh token is left in a plain file.
    assert_eq!(state_with("keychain"), "valid");
    assert!(w.token().is_none(), "the plain token file is gone");
    assert_eq!(secret_tool_entries(&entry), vec![entry.clone()]);

    // And back: the token follows.
    assert_eq!(state_with("aws-cli"), "valid");
    assert!(w.token().is_some());
    assert!(secret_tool_entries(&entry).is_empty());

    // A token in each store: signing out ends both.
    state_with("keychain");
    w.seed_sign_in(3600);
    w.ssobar(&["logout", "--profile", "dev"]).success();
    assert!(w.token().is_none());
    assert!(
        secret_tool_entries(&entry).is_empty(),
        "none left in the keychain"
    );
    assert_eq!(state_with("aws-cli"), "missing");
    assert_eq!(state_with("keychain"), "missing");
}

#[test]
fn a_fixed_callback_port_is_where_the_browser_comes_back() {
    // As `ssh -L PORT:127.0.0.1:PORT` needs it: the flag, or the setting.
    for by_setting in [false, true] {
        let w = world(BrowserMode::Follow);
        let port = free_port();
        let mut login = w.command();
        login.args(["login", "--profile", "dev", "--force"]);
        if by_setting {
            login.env("SSOBAR_CALLBACK_PORT", port.to_string());
        } else {
            login.args(["--callback-port", &port.to_string()]);
        }
        Ran::run(&mut login).success();
        let opened = w.browser.opened();
        assert_eq!(opened.len(), 1, "{opened:?}");
        assert!(
            opened[0].contains(&format!(
                "&redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Foauth%2Fcallback&"
            )),
            "{}",
            opened[0]
        );
        assert!(w.token().is_some());
    }
}

/// A word for `sh`, quoted.
#[cfg(target_os = "linux")]
fn quoted(word: &std::ffi::OsStr) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(target_os = "linux")]
#[test]
fn a_browser_on_another_machine_signs_in_through_a_forwarded_callback_port() {
    // The laptop's browser runs in a network namespace of its own, where only the forwards
    // listen: `ssh -L PORT:127.0.0.1:PORT` for the callback, and the way to AWS (the fake).
    // Were the listener on any other port, the redirect would find nothing there.
    let Some(netns) = NetNamespace::for_test(
        "a_browser_on_another_machine_signs_in_through_a_forwarded_callback_port",
        "(or user namespaces) to give the browser a network namespace of its own",
    ) else {
        return;
    };
    let w = world(BrowserMode::Ignore);
    let port = free_port().to_string();
    let fake_port = w.fake.port().to_string();
    let home = w.sandbox.home();
    let (callback, aws) = (home.join("callback.sock"), home.join("aws.sock"));
    let forward = ssobar_testkit::peer_script("port_forward.py");
    let python = ssobar_testkit::peer_python();
    let mut server = Command::new(&python)
        .arg(&forward)
        .arg("server")
        .arg("--serve")
        .arg(format!("{}={port}", callback.display()))
        .arg("--serve")
        .arg(format!("{}={fake_port}", aws.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the server's half of the forward");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");

    let log = home.join("forwarded.log");
    let mut laptop = netns.command();
    laptop
        .arg(&python)
        .arg(&forward)
        .arg("laptop")
        .arg("--forward")
        .arg(format!("{port}={}", callback.display()))
        .arg("--forward")
        .arg(format!("{fake_port}={}", aws.display()))
        .arg("--log")
        .arg(&log)
        .args(["--", "curl", "-fsS", "-L", "-o", "/dev/null"]);
    let words: Vec<String> = std::iter::once(laptop.get_program())
        .chain(laptop.get_args())
        .map(quoted)
        .collect();
    let browser = home.join("laptop-browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nexec {} \"$1\"\n", words.join(" ")),
    )
    .unwrap();
    chmod(&browser, 0o755);

    let mut login = w.command();
    login
        .env("BROWSER", &browser)
        .args(["login", "--profile", "dev", "--callback-port", &port])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let ended = wait_for(60, || child.try_wait().unwrap());
    if ended.is_none() {
        let _ = child.kill();
    }
    let _ = server.kill();
    let _ = server.wait();
    let output = child.wait_with_output().unwrap();
    assert!(
        ended.is_some_and(|status| status.success()),
        "the sign-in did not complete: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(w.token().is_some());
    let forwarded = std::fs::read_to_string(&log).unwrap();
    assert!(
        forwarded.lines().any(|line| line == port),
        "the browser came back through the forward: {forwarded:?}"
    );
}

#[test]
fn a_taken_callback_port_is_one_line_naming_it_and_the_flag() {
    let w = world(BrowserMode::Follow);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let ran = w
        .ssobar(&[
            "login",
            "--profile",
            "dev",
            "--callback-port",
            &port.to_string(),
        ])
        .expect_code(1);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "port {port} on 127.0.0.1, where the browser would come back, is taken by another program"
        )) && ran.stderr.contains("--callback-port"),
        "{}",
        ran.stderr
    );
    assert!(
        w.browser.opened().is_empty(),
        "no browser for a sign-in that cannot end"
    );
    drop(taken);
}
