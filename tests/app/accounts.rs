//! The window's accounts view: every role of a signed-in session's 300 accounts, narrowed as
//! you type, and what each role offers run from it against the fake AWS.

use super::{APP, clipboard_text, one_app_at_a_time};
use serde_json::Value;
use ssobar_fake_aws::{FakeAccount, FakeCluster, FakeConfig, Operation};
use ssobar_testkit::webdriver::{Driver, tauri_driver};
use ssobar_testkit::{
    BrowserMode, World, require_desktop, require_secret_service, screenshot_path, sha1_hex,
    wait_for,
};
use std::path::Path;

/// A world signed in for eight hours whose browser follows what it is given (the console's
/// one-time links among them).
fn signed_in_following(config: FakeConfig) -> World {
    require_secret_service();
    let w = World::start(APP, config, BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    w
}

/// A signed-in world whose person reaches 300 accounts with three roles each.
fn organisation() -> World {
    signed_in_following(FakeConfig {
        accounts: FakeAccount::generated(300, &["Admin", "Billing", "ReadOnly"]),
        ..FakeConfig::default()
    })
}

/// Whether `url` is a one-time link to a secret URL: `http://127.0.0.1:PORT/` and 64 hex
/// digits.
fn is_one_time_link(url: &str) -> bool {
    url.strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(port, path)| {
            port.parse::<u16>().is_ok()
                && path.len() == 64
                && path.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// The window, switched to its accounts view once the app has listed the accounts (`listed`
/// is what the view then says, "900 roles").
fn accounts_view(w: &World, listed: &str) -> Driver {
    accounts_view_with(w, listed, &[])
}

/// [`accounts_view`] of an app started with these variables.
fn accounts_view_with(w: &World, listed: &str, vars: &[(&str, &str)]) -> Driver {
    let mut command = w.sandbox.command(tauri_driver());
    command.envs(vars.iter().copied());
    let driver = Driver::start(command, Path::new(APP), &["--window"]);
    let tab = wait_for(20, || driver.find("#show-accounts")).expect("the window");
    driver.click(&tab);
    let count = driver.find("#account-count").unwrap();
    let shown = wait_for(30, || (driver.text(&count) == listed).then_some(()));
    assert!(
        shown.is_some(),
        "the accounts view says {:?}",
        driver.text(&count)
    );
    driver
}

/// The keys (`ACCOUNT|ROLE|SESSION`) of the rows on show.
fn shown(driver: &Driver) -> Vec<String> {
    let keys = driver.execute_async(
        "const done = arguments[arguments.length - 1];
         done([...document.querySelectorAll('#role-list li:not([hidden])')].map((li) => li.dataset.key));",
    );
    keys.as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_search_box_narrows_nine_hundred_roles_as_you_type() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = organisation();
    let driver = accounts_view(&w, "900 roles");
    assert_eq!(shown(&driver).len(), 900);
    // The app listed them once (ListAccounts is paged): opening the view again asks nobody.
    let listed = w.calls(Operation::ListAccounts);
    assert!(listed > 0);
    driver.click(&driver.find("#show-sessions").unwrap());
    driver.click(&driver.find("#show-accounts").unwrap());
    assert_eq!(shown(&driver).len(), 900);
    assert_eq!(w.calls(Operation::ListAccounts), listed);

    let search = driver.find("#account-search").unwrap();
    let count = driver.find("#account-count").unwrap();
    driver.fill(&search, "account-0042");
    assert_eq!(driver.text(&count), "3 of 900 roles");
    let rows = shown(&driver);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|k| k.starts_with("100000000042|")),
        "{rows:?}"
    );

    driver.fill(&search, "Account-0042 billing");
    assert_eq!(
        shown(&driver),
        [format!("100000000042|Billing|s:{}", w.session)]
    );
    driver.screenshot(&screenshot_path("window-accounts-search.png"));

    // An account id and an email address are found as well as names.
    driver.fill(&search, "100000000299 readonly");
    assert_eq!(shown(&driver).len(), 1);
    driver.fill(&search, "aws+0007@example.com");
    assert_eq!(shown(&driver).len(), 3);
    driver.fill(&search, "no-such-account");
    assert_eq!(driver.text(&count), "0 of 900 roles");
    // Typed away with Backspace, as a person empties the box.
    driver.fill(&search, "a\u{E003}");
    assert_eq!(shown(&driver).len(), 900);
    assert_eq!(driver.text(&count), "900 roles");

    // For the record: how long one keystroke's filtering of 900 rows takes in this webview.
    let took = driver.execute_async(
        "const done = arguments[arguments.length - 1];
         const input = document.querySelector('#account-search');
         const start = performance.now();
         input.value = 'account-01';
         input.dispatchEvent(new Event('input'));
         done(performance.now() - start);",
    );
    eprintln!("filtering 900 roles took {took} ms");
}

#[test]
fn a_role_copies_its_exports_opens_the_console_and_becomes_a_profile() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = organisation();
    let driver = accounts_view(&w, "900 roles");
    let role = format!("100000000007|Billing|s:{}", w.session);
    let run = |action: &str| {
        driver.execute_async(&format!(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('role_action', {{ role: '{role}', action: '{action}' }})
               .then((said) => done('ok: ' + said), (e) => done('failed: ' + e));"
        ))
    };

    let copied = run("copy-exports");
    assert_eq!(
        copied,
        "ok: Copied the export lines for account-0007/Billing"
    );
    let clipboard = clipboard_text();
    let key = clipboard
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_ACCESS_KEY_ID="))
        .expect("export lines on the clipboard")
        .trim_matches('\'');
    let issued = w
        .fake
        .credentials(key)
        .expect("credentials the fake issued");
    assert_eq!(issued.account_id, "100000000007");
    assert!(
        issued.role_arn.contains("/AWSReservedSSO_Billing_"),
        "{}",
        issued.role_arn
    );

    let opened = run("open-console");
    assert_eq!(opened, "ok: Opened the AWS console as account-0007/Billing");
    // The browser's command line held a one-time link, never the login URL; it followed the
    // link into the console as the role.
    let opened = w.browser.opened();
    assert_eq!(opened.len(), 1);
    assert!(is_one_time_link(&opened[0]), "{}", opened[0]);
    let logins = w.fake.console_logins();
    assert_eq!(logins.len(), 1);
    let signed_in_as = w.fake.credentials(&logins[0].access_key_id).unwrap();
    assert_eq!(signed_in_as.account_id, "100000000007");
    assert!(signed_in_as.role_arn.contains("/AWSReservedSSO_Billing_"));

    let added = run("add-profile");
    assert!(
        added.as_str().unwrap().starts_with("ok: Added profile "),
        "{added}"
    );
    let config = std::fs::read_to_string(w.sandbox.home().join(".aws/config")).unwrap();
    assert!(config.contains("sso_account_id = 100000000007"), "{config}");
    // The row now names its profile and no longer offers to add one.
    let row = format!("#role-list li[data-key=\"{role}\"]");
    let named = wait_for(10, || {
        let el = driver.find(&row)?;
        let text = driver.text(&el);
        (text.contains("profile ") && driver.find(&format!("{row} button.add-profile")).is_none())
            .then_some(text)
    });
    assert!(named.is_some(), "the row did not show its new profile");
}

/// Runs one of the window's commands and returns what it answered, or why it failed.
fn invoke(driver: &Driver, command: &str, args: &str) -> String {
    let answer: Value = driver.execute_async(&format!(
        "const done = arguments[arguments.length - 1];
         window.__TAURI__.core.invoke('{command}', {args})
           .then((said) => done('ok: ' + said), (e) => done('failed: ' + e));"
    ));
    answer.as_str().unwrap().to_owned()
}

#[test]
fn clusters_found_from_the_window_are_searched_opened_and_added_to_the_kubeconfig() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let cluster = |name: &str, account: &str, region: &str| {
        FakeCluster::new(name, "https://127.0.0.1:6443", "LS0tLS1CRUdJTg==")
            .in_region(region)
            .in_account(account)
    };
    let w = signed_in_following(FakeConfig {
        accounts: FakeAccount::generated(20, &["Admin", "ReadOnly"]),
        clusters: vec![
            cluster("prod-3", "100000000003", "us-east-1"),
            cluster("lab-7", "100000000007", "us-east-1"),
        ],
        ..FakeConfig::default()
    });
    let driver = accounts_view(&w, "40 roles");
    let count = driver.find("#account-count").unwrap();
    let find = driver.find("#find-clusters button").expect("a Find button");
    driver.click(&find);
    let found = wait_for(60, || {
        (driver.text(&count) == "40 roles and 2 clusters").then_some(())
    });
    assert!(found.is_some(), "the view says {:?}", driver.text(&count));

    let search = driver.find("#account-search").unwrap();
    driver.fill(&search, "account-0003");
    assert_eq!(driver.text(&count), "3 of 42 roles and clusters");
    driver.screenshot(&screenshot_path("window-accounts-clusters.png"));
    driver.fill(&search, "prod");
    let prod = format!("100000000003|us-east-1|prod-3|s:{}", w.session);
    assert_eq!(shown(&driver), std::slice::from_ref(&prod));
    // No profile stands for the role that found it yet: the kubeconfig is not offered.
    let row = format!("#role-list li[data-key=\"{prod}\"]");
    assert!(driver.find(&format!("{row} button.open-console")).is_some());
    assert!(
        driver
            .find(&format!("{row} button.add-to-kubeconfig"))
            .is_none()
    );

    let opened = invoke(
        &driver,
        "cluster_action",
        &format!("{{ cluster: '{prod}', action: 'open-console' }}"),
    );
    assert_eq!(opened, "ok: Opened cluster prod-3 in the AWS console");
    let link = w.browser.opened().pop().expect("the browser was opened");
    assert!(is_one_time_link(&link), "{link}");
    // "Opened" comes once the link is followed; the browser's login after its redirect may
    // land a moment later.
    wait_for(10, || (!w.fake.console_logins().is_empty()).then_some(()));
    let logins = w.fake.console_logins();
    assert_eq!(logins.len(), 1);
    assert!(
        logins[0].destination.ends_with("#/clusters/prod-3"),
        "{}",
        logins[0].destination
    );

    // Admin, the first role tried, found it: once it is a profile, the cluster can be added.
    let role = format!("100000000003|Admin|s:{}", w.session);
    let added = invoke(
        &driver,
        "role_action",
        &format!("{{ role: '{role}', action: 'add-profile' }}"),
    );
    assert!(added.starts_with("ok: Added profile "), "{added}");
    let again = invoke(
        &driver,
        "find_clusters",
        &format!("{{ session: 's:{}' }}", w.session),
    );
    assert_eq!(again, "ok: Found 2 clusters");
    // The kept list edited behind the app's back (the file stays the user's own, 0600): the
    // window lists what the file says, but the kubeconfig gets what EKS answers now.
    let kept = w
        .sandbox
        .home()
        .join(".cache/ssobar/clusters")
        .join(format!("{}.json", sha1_hex(&w.session)));
    let planted = std::fs::read_to_string(&kept)
        .unwrap()
        .replace("https://127.0.0.1:6443", "https://planted.example");
    std::fs::write(&kept, planted).unwrap();
    assert!(invoke(&driver, "accounts", "{}").starts_with("ok: "));
    let described = w.calls(Operation::DescribeCluster);
    let context = invoke(
        &driver,
        "cluster_action",
        &format!("{{ cluster: '{prod}', action: 'add-to-kubeconfig' }}"),
    );
    assert!(
        context.starts_with("ok: Added context account-0003/prod-3 to "),
        "{context}"
    );
    let kubeconfig = std::fs::read_to_string(w.sandbox.home().join(".kube/config")).unwrap();
    assert!(
        kubeconfig.contains("name: account-0003/prod-3"),
        "{kubeconfig}"
    );
    assert!(kubeconfig.contains("eks-token"), "{kubeconfig}");
    assert!(!kubeconfig.contains("planted.example"), "{kubeconfig}");
    assert!(
        kubeconfig.contains("server: https://127.0.0.1:6443"),
        "{kubeconfig}"
    );
    assert_eq!(
        w.calls(Operation::DescribeCluster),
        described + 1,
        "described again before it was written"
    );
    let helper = Path::new(APP).with_file_name("ssobar");
    assert!(
        kubeconfig.contains(&helper.display().to_string()),
        "the exec hook runs the ssobar beside the app: {kubeconfig}"
    );
}

#[test]
fn the_app_lists_a_session_from_the_cache_ssobar_accounts_filled() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::signed_in(
        APP,
        FakeConfig {
            accounts: FakeAccount::generated(10, &["Admin", "ReadOnly"]),
            ..FakeConfig::default()
        },
    );
    let helper = Path::new(APP).with_file_name("ssobar");
    let listed = w
        .sandbox
        .command(&helper)
        .args(["accounts", "--sso-session", &w.session, "--json"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let calls = w.calls(Operation::ListAccounts);
    assert!(calls > 0);
    let _driver = accounts_view(&w, "20 roles");
    assert_eq!(
        w.calls(Operation::ListAccounts),
        calls,
        "the app took the helper's list from the cache"
    );
}

#[test]
fn a_console_link_copied_from_the_window_works_once_and_leaves_the_clipboard() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::signed_in(
        APP,
        FakeConfig {
            accounts: FakeAccount::generated(2, &["Admin"]),
            ..FakeConfig::default()
        },
    );
    let driver = accounts_view_with(
        &w,
        "2 roles",
        &[
            ("SSOBAR_URL_ACTION", "copy"),
            ("SSOBAR_CLIPBOARD_CLEAR_SECONDS", "3"),
        ],
    );
    let role = format!("100000000001|Admin|s:{}", w.session);
    let copied = invoke(
        &driver,
        "role_action",
        &format!("{{ role: '{role}', action: 'open-console' }}"),
    );
    assert_eq!(
        copied,
        "ok: Copied a one-time link to the AWS console as account-0001/Admin; open it within 120 seconds"
    );
    // The clipboard holds the link, never the login URL that signs whoever has it in.
    let link = clipboard_text();
    assert!(is_one_time_link(&link), "{link}");
    let followed = std::process::Command::new("curl")
        .args(["-fsS", "-L", "-o", "/dev/null", &link])
        .status()
        .unwrap();
    assert!(followed.success());
    let logins = w.fake.console_logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(
        w.fake
            .credentials(&logins[0].access_key_id)
            .unwrap()
            .account_id,
        "100000000001"
    );
    let gone = wait_for(10, || (clipboard_text() != link).then_some(()));
    assert!(gone.is_some(), "the link is still on the clipboard");
    assert!(w.browser.opened().is_empty());
}
