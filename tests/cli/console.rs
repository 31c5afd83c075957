//! `ssobar console`: the role's credentials traded at ssobar-fake-aws's federation endpoint
//! for a signin token, the login URL printed or handed to the scripted browser, destinations
//! passed through encoded, and the one-line errors.

use crate::SSOBAR;
use ssobar_fake_aws::{FakeConfig, Fault, Operation};
use ssobar_testkit::{BrowserMode, Ran, World, require_desktop, require_secret_service, wait_for};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The login URL's address and its decoded query, checked to be `/federation?Action=login`
/// on the fake with exactly the four parameters.
fn login_params(w: &World, url: &str) -> HashMap<String, String> {
    let (base, query) = url
        .split_once('?')
        .unwrap_or_else(|| panic!("no query: {url}"));
    assert_eq!(base, format!("{}/federation", w.fake.url()));
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["Action", "Issuer", "Destination", "SigninToken"],
        "{url}"
    );
    assert_eq!(pairs[0].1, "login");
    pairs.into_iter().collect()
}

/// `ssobar console --print ARGS` for `profile`: the one line it printed, its parameters.
fn printed(w: &World, profile: &str, extra: &[&str]) -> HashMap<String, String> {
    let mut args = vec!["console", "--profile", profile, "--print"];
    args.extend_from_slice(extra);
    let ran = w.ssobar(&args).success();
    assert_eq!(ran.stdout.lines().count(), 1, "{}", ran.stdout);
    assert!(ran.stdout.ends_with('\n'));
    assert_eq!(ran.stderr, "", "nothing but the URL, and only on stdout");
    login_params(w, ran.stdout.trim_end())
}

/// The access key id the signin token was issued for.
fn key_of_token(w: &World, token: &str) -> String {
    let issued = w.fake.signin_tokens();
    let found = issued
        .iter()
        .find(|t| t.signin_token == token)
        .expect("the URL carries a token the fake issued");
    found.access_key_id.clone()
}

fn one_line_error(ran: &Ran) -> &str {
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    ran.stderr.trim_end()
}

#[test]
fn print_gives_one_url_whose_token_was_issued_for_the_profiles_own_role_credentials() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let params = printed(&w, "dev", &[]);

    // The fake issued one set of credentials, to dev's role, and one signin token, for them.
    let issued = w.fake.credentials_issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].issued_by, Operation::GetRoleCredentials);
    assert!(
        issued[0]
            .role_arn
            .contains("AWSReservedSSO_ReadOnlyAccess_")
    );
    assert_eq!(w.fake.signin_tokens().len(), 1);
    assert_eq!(
        key_of_token(&w, &params["SigninToken"]),
        issued[0].access_key_id
    );
    assert_eq!(w.calls(Operation::GetSigninToken), 1);

    assert_eq!(params["Issuer"], "https://github.com/ssobar/ssobar");
    // dev's region is eu-west-1.
    assert_eq!(
        params["Destination"],
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    );

    // The credentials come from the keychain the second time; the token is new each time.
    let again = printed(&w, "dev", &[]);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
    assert_ne!(again["SigninToken"], params["SigninToken"]);
    assert_eq!(
        key_of_token(&w, &again["SigninToken"]),
        issued[0].access_key_id
    );
}

#[test]
fn a_service_destination_expands_in_the_region_given() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let params = printed(
        &w,
        "admin",
        &["--destination", "ec2", "--region", "eu-west-1"],
    );
    assert_eq!(
        params["Destination"],
        "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"
    );
    // admin has no region of its own: its session's (us-east-1) is the default.
    let params = printed(&w, "admin", &["--destination", "s3"]);
    assert_eq!(
        params["Destination"],
        "https://s3.console.aws.amazon.com/s3/home?region=us-east-1"
    );
}

#[test]
fn a_full_url_destination_is_passed_through_encoded_and_decodes_back_exactly() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let destination = "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1&x=a+b%2F#Instances:search=web&sort=desc";
    let ran = w
        .ssobar(&[
            "console",
            "-p",
            "dev",
            "--print",
            "--destination",
            destination,
        ])
        .success();
    let url = ran.stdout.trim_end();
    // Nothing of the destination is left unencoded to split the login URL's own query.
    let query = url.split_once('?').unwrap().1;
    assert_eq!(query.matches('&').count(), 3, "{url}");
    assert!(!url.contains('#') && !url.contains('+'), "{url}");
    assert_eq!(login_params(&w, url)["Destination"], destination);
}

/// Whether `url` is a one-time link: `http://127.0.0.1:PORT/` and 64 hex digits.
fn is_one_time_link(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://127.0.0.1:") else {
        return false;
    };
    let Some((port, path)) = rest.split_once('/') else {
        return false;
    };
    port.parse::<u16>().is_ok() && path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn without_print_the_browser_gets_a_one_time_link_and_lands_signed_in() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    let ran = w
        .ssobar(&["console", "-p", "dev", "--destination", "eks"])
        .success();
    assert_eq!(ran.stdout, "");
    assert_eq!(
        ran.stderr,
        "Opened the AWS console as ReadOnlyAccess in 111122223333 in your browser.\n"
    );
    // The browser was given a link to the login URL, not the URL, and had followed it by the
    // time the command ended.
    let opened = w.browser.opened();
    assert_eq!(opened.len(), 1);
    assert!(is_one_time_link(&opened[0]), "{}", opened[0]);

    // The scripted browser followed the link: the fake's console took the token.
    let logins = ssobar_testkit::wait_for(10, || {
        let logins = w.fake.console_logins();
        (!logins.is_empty()).then_some(logins)
    })
    .expect("the browser signed in to the console");
    assert_eq!(logins.len(), 1);
    assert_eq!(
        logins[0].access_key_id,
        w.fake.credentials_issued()[0].access_key_id
    );
    assert_eq!(
        logins[0].destination,
        "https://eu-west-1.console.aws.amazon.com/eks/home?region=eu-west-1"
    );
    assert_eq!(logins[0].issuer, "https://github.com/ssobar/ssobar");
}

/// A `$BROWSER` that writes down the URL it was given, waits `seconds` (long enough to be seen
/// in the process list), then follows it as a browser does; and the file it writes to.
fn slow_browser(w: &World, seconds: u32) -> (String, PathBuf) {
    let script = w.sandbox.home().join("slow-browser.sh");
    let log = w.sandbox.home().join("slow-browser.log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nsleep {seconds}\ncurl -fsS -L -o /dev/null \"$1\"\n",
            log.display()
        ),
    )
    .unwrap();
    crate::chmod(&script, 0o755);
    (script.display().to_string(), log)
}

/// Runs `args` as the user nobody (another local user): its status and stdout.
fn as_nobody(args: &[&str]) -> (bool, String) {
    let ran = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .args(args)
        .output()
        .unwrap();
    (
        ran.status.success(),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
    )
}

/// The first line of a file, once there is one.
fn first_line(path: &Path) -> String {
    wait_for(20, || {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
    })
    .unwrap_or_else(|| panic!("nothing was written to {}", path.display()))
}

#[test]
fn another_user_reading_every_command_line_finds_no_signin_token() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let (browser, log) = slow_browser(&w, 3);
    let console = w
        .command()
        .args(["console", "-p", "dev"])
        .env("BROWSER", &browser)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    first_line(&log);
    // While the browser sleeps, every command line on the machine, as another user reads them.
    let (read, listing) = as_nobody(&[
        "sh",
        "-c",
        r#"for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f" 2>/dev/null; echo; done"#,
    ]);
    assert!(read);
    assert!(
        listing.contains(&browser),
        "the browser's command line was read as nobody:\n{listing}"
    );
    let ran = Ran::wait(console).success();
    let tokens = w.fake.signin_tokens();
    assert_eq!(tokens.len(), 1);
    assert!(
        !listing.contains("SigninToken") && !listing.contains(&tokens[0].signin_token),
        "a command line holds the login URL:\n{}",
        listing
            .lines()
            .filter(|l| l.contains("SigninToken"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        ran.stderr,
        "Opened the AWS console as ReadOnlyAccess in 111122223333 in your browser.\n"
    );
    // ssobar ends once the link is followed; the browser's next request, to the login URL,
    // may still be on its way.
    wait_for(10, || (!w.fake.console_logins().is_empty()).then_some(()));
    assert_eq!(w.fake.console_logins().len(), 1, "the browser got in");
}

/// `curl` of `url` without following it: the status code, and where it was sent.
fn fetch(curl: &[&str], url: &str) -> (String, String) {
    let mut args = curl.to_vec();
    args.extend([
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "--max-time",
        "5",
        url,
    ]);
    let ran = Command::new(args[0]).args(&args[1..]).output().unwrap();
    let text = String::from_utf8_lossy(&ran.stdout).into_owned();
    let (status, location) = text.split_once(' ').unwrap_or((&text, ""));
    (status.to_owned(), location.to_owned())
}

#[test]
fn another_user_who_reads_the_link_is_refused_and_the_browser_still_gets_in_once() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let console = w.spawn(&["console", "-p", "dev"]);
    let link = wait_for(20, || w.browser.opened().pop()).expect("the browser was started");
    assert!(is_one_time_link(&link), "{link}");

    let nobody = [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
    ];
    for _ in 0..2 {
        let (status, location) = fetch(&nobody, &link);
        assert_eq!((status.as_str(), location.as_str()), ("403", ""));
    }
    let (status, location) = fetch(&[], &link);
    assert_eq!(status, "303");
    login_params(&w, &location);
    let ran = Ran::wait(console).success();
    assert_eq!(
        ran.stderr,
        "Opened the AWS console as ReadOnlyAccess in 111122223333 in your browser.\n"
    );
    // Followed once, the link leads nowhere.
    assert_eq!(fetch(&[], &link).0, "000");
}

#[test]
fn url_action_copy_puts_a_one_time_link_on_the_clipboard_never_the_login_url() {
    require_desktop();
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let mut console = w
        .command()
        .args(["console", "-p", "dev"])
        .env("SSOBAR_URL_ACTION", "copy")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(console.stderr.take().unwrap());
    let mut said = String::new();
    stderr.read_line(&mut said).unwrap();
    assert_eq!(
        said,
        "Copied a one-time link to the AWS console as ReadOnlyAccess in 111122223333 to the clipboard; open it in your browser within 120 seconds (it works once).\n"
    );
    let copied = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .unwrap();
    let copied = String::from_utf8(copied.stdout).unwrap();
    assert!(is_one_time_link(&copied), "{copied}");
    let followed = Command::new("curl")
        .args(["-fsS", "-L", "-o", "/dev/null", &copied])
        .status()
        .unwrap();
    assert!(followed.success());
    let status = console.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert_eq!(rest, "");
    assert_eq!(w.fake.console_logins().len(), 1);
    assert!(w.browser.opened().is_empty());
    // What is left on the clipboard leads nowhere.
    assert_eq!(fetch(&[], &copied).0, "000");
}

#[test]
fn a_role_chain_signs_in_as_the_role_at_its_end() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let params = printed(&w, "deploy", &[]);
    let key = key_of_token(&w, &params["SigninToken"]);
    let issued = w.fake.credentials(&key).unwrap();
    assert_eq!(issued.issued_by, Operation::AssumeRole);
    assert_eq!(issued.role_arn, "arn:aws:iam::444455556666:role/Deploy");
}

#[test]
fn a_destination_that_is_not_https_is_a_one_line_usage_error() {
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    let ran = w
        .ssobar(&[
            "console",
            "-p",
            "dev",
            "--destination",
            "http://console.aws.amazon.com/",
        ])
        .expect_code(2);
    assert_eq!(
        one_line_error(&ran),
        "ssobar: --destination http://console.aws.amazon.com/ is not a console destination: pass an https:// URL or a service name such as ec2, s3 or eks"
    );
    let ran = w
        .ssobar(&["console", "-p", "dev", "--region", "Europe"])
        .expect_code(2);
    assert!(one_line_error(&ran).contains("pass one such as eu-west-1"));
    assert_eq!(w.calls(Operation::GetRoleCredentials), 0);
}

#[test]
fn an_expired_session_with_no_app_and_no_terminal_fails_with_one_line_naming_login() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in_with(-60, &[]);
    let ran = w
        .ssobar(&["console", "-p", "dev", "--print"])
        .expect_code(1);
    let line = one_line_error(&ran);
    assert!(
        line.ends_with(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{line}"
    );
    assert_eq!(w.calls(Operation::GetSigninToken), 0);
    assert!(w.browser.opened().is_empty());
}

#[test]
fn credentials_the_endpoint_refuses_are_one_line_without_a_secret() {
    // Credentials that are expired by the time they reach the federation endpoint.
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            role_credentials_lifetime_seconds: 0,
            ..FakeConfig::default()
        },
    );
    let ran = w
        .ssobar(&["console", "-p", "dev", "--print"])
        .expect_code(1);
    let line = one_line_error(&ran);
    assert_eq!(
        line,
        format!(
            "ssobar: the AWS sign-in endpoint refused the role credentials of profile dev (HTTP 400: Bad Request); run \"ssobar login --sso-session {} --force\" to get new ones",
            w.session
        )
    );
    assert_eq!(w.calls(Operation::GetSigninToken), 1);
    for secret in w.fake.secrets() {
        assert!(!ran.stderr.contains(&secret));
    }
}

#[test]
fn a_federation_endpoint_failing_in_passing_is_retried_and_then_named() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    w.fake
        .inject_fault(Operation::GetSigninToken, Fault::ConnectionReset, 1);
    w.fake
        .inject_fault(Operation::GetSigninToken, Fault::Throttle, 1);
    printed(&w, "dev", &[]);
    assert_eq!(w.calls(Operation::GetSigninToken), 3);

    w.fake.reset_counters();
    w.fake
        .inject_fault(Operation::GetSigninToken, Fault::MalformedJson, 1);
    let ran = w
        .ssobar(&["console", "-p", "dev", "--print"])
        .expect_code(1);
    assert_eq!(
        one_line_error(&ran),
        format!(
            "ssobar: cannot get a console sign-in token for profile dev: {}/federation sent an answer that cannot be read; run \"ssobar console -p dev --print\" again",
            w.fake.url()
        )
    );
    assert_eq!(
        w.calls(Operation::GetSigninToken),
        1,
        "a garbled answer is not retried"
    );

    w.fake
        .inject_fault(Operation::GetSigninToken, Fault::ServerError, 3);
    let ran = w
        .ssobar(&["console", "-p", "dev", "--print"])
        .expect_code(1);
    assert_eq!(
        one_line_error(&ran),
        format!(
            "ssobar: cannot get a console sign-in token for profile dev: {}/federation failed on its side (HTTP 500); run \"ssobar console -p dev --print\" again",
            w.fake.url()
        )
    );
}

#[test]
fn with_no_browser_the_error_says_to_print_the_url_and_shows_none_of_it() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = Ran::run(
        w.command()
            .args(["console", "-p", "dev"])
            .env("BROWSER", "/nonexistent/browser")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY"),
    )
    .expect_code(1);
    let line = one_line_error(&ran);
    assert!(
        line.starts_with("ssobar: no browser opened the AWS console (/nonexistent/browser: "),
        "{line}"
    );
    assert!(
        line.ends_with("; run \"ssobar console --profile dev --print\" and open the URL it prints"),
        "{line}"
    );
    let tokens = w.fake.signin_tokens();
    assert_eq!(tokens.len(), 1, "the URL was made, then not opened");
    assert!(!line.contains(&tokens[0].signin_token));
    assert!(!line.contains("SigninToken"));
}

/// What the tray's "Open console" does for an account and role that no profile names: the
/// core entry with a GetRoleCredentials step built by hand.
#[tokio::test]
async fn the_core_entry_signs_in_as_a_role_no_profile_names() {
    use ssobar_core::context::Context;
    use ssobar_core::creds::Step;
    use ssobar_core::creds::console::{Destination, console_url};
    use ssobar_core::env::Env;

    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let mut env = Env::from_pairs(w.fake.endpoint_env());
    let home = w.sandbox.home();
    env.set("HOME", home.display().to_string());
    env.set("XDG_RUNTIME_DIR", home.join(".run").display().to_string());
    let ctx = Context::from_env(env).unwrap();
    let session = ctx.load_config().session_for_profile("dev").unwrap();
    let step = Step::Sso {
        session,
        profile: String::new(),
        account_id: "111122223333".to_owned(),
        role_name: "AdministratorAccess".to_owned(),
    };
    let url = console_url(
        &ctx,
        &[step],
        &Destination::Service("ec2".to_owned()),
        "eu-west-1",
    )
    .await
    .unwrap();
    let params = login_params(&w, url.expose());
    assert!(!format!("{url:?}").contains(&params["SigninToken"]));
    let key = key_of_token(&w, &params["SigninToken"]);
    let issued = w.fake.credentials(&key).unwrap();
    assert!(
        issued
            .role_arn
            .contains("AWSReservedSSO_AdministratorAccess_"),
        "{}",
        issued.role_arn
    );
    assert_eq!(
        params["Destination"],
        "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"
    );
}
