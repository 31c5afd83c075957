//! `ssobar accounts`: an organisation of hundreds of accounts listed in full with a bounded
//! number of portal calls in flight, throttling survived, the hour's cache, and the one-line
//! error when the session needs a sign-in nobody can give.

use crate::SSOBAR;
use serde_json::Value;
use ssobar_fake_aws::{FakeAccount, FakeConfig, Fault, Operation};
use ssobar_testkit::{BrowserMode, World, sha1_hex};

/// The most calls ssobar may have in flight at once (core's `aws::window::MAX`).
const BOUND: usize = 128;

/// The ListAccountRoles calls in flight when that was a fixed number: a listing now runs wider.
const FORMER_BOUND: usize = 8;

/// A signed-in world whose person reaches `count` accounts with three roles each; every call
/// takes a little while, so that calls overlap as they do against the real portal.
fn organisation(count: usize) -> World {
    let config = FakeConfig {
        accounts: FakeAccount::generated(count, &["Admin", "Billing", "ReadOnly"]),
        latency_ms: 5,
        ..FakeConfig::default()
    };
    let w = World::start(SSOBAR, config, BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    w
}

fn listed(w: &World, extra: &[&str]) -> Value {
    let mut args = vec!["accounts", "--sso-session", &w.session, "--json"];
    args.extend_from_slice(extra);
    w.ssobar(&args).success().json()
}

fn role_count(json: &Value) -> usize {
    json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["roles"].as_array().unwrap().len())
        .sum()
}

fn cache_file(w: &World) -> std::path::PathBuf {
    w.sandbox
        .home()
        .join(".cache/ssobar/accounts")
        .join(format!("{}.json", sha1_hex(&w.session)))
}

#[test]
fn three_hundred_accounts_are_listed_in_full_with_a_bounded_number_of_calls_in_flight() {
    let w = organisation(300);
    let json = listed(&w, &[]);
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 300);
    assert_eq!(role_count(&json), 900);
    let first = &accounts[0];
    assert_eq!(first["account_id"], "100000000000");
    assert_eq!(first["account_name"], "account-0000");
    assert_eq!(first["email_address"], "aws+0000@example.com");
    assert_eq!(
        first["roles"],
        serde_json::json!(["Admin", "Billing", "ReadOnly"])
    );

    // Pages of 100, the most the portal sends; one ListAccountRoles per account.
    assert_eq!(w.calls(Operation::ListAccounts), 3);
    assert_eq!(w.calls(Operation::ListAccountRoles), 300);
    let peak = w.fake.peak_in_flight(Operation::ListAccountRoles);
    assert!(peak <= BOUND, "{peak} calls in flight");
    assert!(
        peak > FORMER_BOUND,
        "{peak} calls in flight: no wider than a fixed bound"
    );

    // The cache holds names and ids, never the token.
    let cached = std::fs::read_to_string(cache_file(&w)).unwrap();
    assert!(cached.contains("account-0299"));
    let token = w.token().unwrap();
    assert!(!cached.contains(token["accessToken"].as_str().unwrap()));
}

#[test]
fn a_throttling_burst_is_survived() {
    let w = organisation(300);
    w.fake
        .inject_fault(Operation::ListAccounts, Fault::Throttle, 2);
    w.fake
        .inject_fault(Operation::ListAccountRoles, Fault::Throttle, 2);
    let json = listed(&w, &[]);
    assert_eq!(json["accounts"].as_array().unwrap().len(), 300);
    assert_eq!(role_count(&json), 900);
    assert_eq!(w.calls(Operation::ListAccounts), 3 + 2);
    assert_eq!(w.calls(Operation::ListAccountRoles), 300 + 2);
}

#[test]
fn throttling_longer_than_the_sdk_retries_is_waited_out() {
    let w = organisation(300);
    // More throttled answers than the SDK's three tries of each call in flight absorb.
    w.fake
        .inject_fault(Operation::ListAccountRoles, Fault::Throttle, 60);
    let json = listed(&w, &[]);
    assert_eq!(json["accounts"].as_array().unwrap().len(), 300);
    assert_eq!(role_count(&json), 900);
    assert_eq!(w.calls(Operation::ListAccountRoles), 300 + 60);
}

#[test]
fn within_the_hour_the_cache_answers_and_refresh_asks_again() {
    let w = organisation(30);
    let first = listed(&w, &[]);
    w.fake.reset_counters();

    assert_eq!(listed(&w, &[]), first);
    assert_eq!(w.calls(Operation::ListAccounts), 0);
    assert_eq!(w.calls(Operation::ListAccountRoles), 0);

    let again = listed(&w, &["--refresh"]);
    assert_eq!(again["accounts"], first["accounts"]);
    assert_eq!(w.calls(Operation::ListAccounts), 1);
    assert_eq!(w.calls(Operation::ListAccountRoles), 30);
}

#[test]
fn a_cache_file_that_does_not_parse_is_fetched_again() {
    let w = organisation(3);
    listed(&w, &[]);
    std::fs::write(cache_file(&w), b"{\"fetched_at\": ").unwrap();
    w.fake.reset_counters();
    let json = listed(&w, &[]);
    assert_eq!(json["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(w.calls(Operation::ListAccounts), 1);
}

#[cfg(unix)]
#[test]
fn a_cache_others_may_write_is_not_used_and_warned_about_with_the_chmod_to_run() {
    let w = organisation(3);
    listed(&w, &[]);
    // Another account slipped into a cache file group or others may write.
    let path = cache_file(&w);
    let planted = std::fs::read_to_string(&path)
        .unwrap()
        .replace("account-0001", "planted-account");
    std::fs::write(&path, planted).unwrap();
    crate::chmod(&path, 0o666);
    w.fake.reset_counters();
    let ran = w
        .ssobar(&["accounts", "--sso-session", &w.session, "--json"])
        .success();
    assert!(!ran.stdout.contains("planted-account"), "{}", ran.stdout);
    assert_eq!(ran.json()["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(
        w.calls(Operation::ListAccounts),
        1,
        "listed from the portal"
    );
    assert_eq!(
        ran.stderr,
        format!(
            "ssobar: warning: {0}: writable by group or others, so not trusted: run \"chmod 600 {0}\"; the accounts are listed from the portal instead\n",
            path.display()
        )
    );
    // The list written again is the user's own: the next call takes it without a word.
    w.fake.reset_counters();
    let ran = w
        .ssobar(&["accounts", "--sso-session", &w.session, "--json"])
        .success();
    assert_eq!(ran.stderr, "");
    assert_eq!(w.calls(Operation::ListAccounts), 0);
}

#[test]
fn the_table_has_a_row_per_account_with_its_roles() {
    let w = organisation(2);
    let ran = w.ssobar(&["accounts", "-p", "dev"]).success();
    assert_eq!(
        ran.stdout,
        "ACCOUNT       NAME          EMAIL                 ROLES\n\
         100000000000  account-0000  aws+0000@example.com  Admin,Billing,ReadOnly\n\
         100000000001  account-0001  aws+0001@example.com  Admin,Billing,ReadOnly\n"
    );
}

#[test]
fn an_expired_session_with_no_app_and_no_terminal_fails_with_one_line_naming_login() {
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in_with(-60, &[]);
    let ran = w
        .ssobar(&["accounts", "--sso-session", &w.session])
        .expect_code(1);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::ListAccounts), 0);
    assert!(w.browser.opened().is_empty());
}

#[test]
fn a_list_that_cannot_be_cached_is_still_shown_with_a_warning() {
    let w = organisation(3);
    // A file where the cache folder should be: the write fails whoever runs the test.
    let folder = cache_file(&w).parent().unwrap().to_owned();
    std::fs::create_dir_all(folder.parent().unwrap()).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let ran = w
        .ssobar(&["accounts", "--sso-session", &w.session, "--json"])
        .success();
    assert_eq!(ran.json()["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with("ssobar: warning: the list was not cached (cannot write "),
        "{}",
        ran.stderr
    );
}
