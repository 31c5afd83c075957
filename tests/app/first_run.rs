//! The app's first run: from a HOME with no `~/.aws` the window opens on "Add your AWS access
//! portal", and the start URL leads, one offered step at a time, through the sign-in to a
//! profile for every role and a kubeconfig context that the real kubectl reaches a cluster
//! through. The tray meanwhile is neutral and offers "Set up ssobar…".

use super::{
    APP, icon_colours, one_app_at_a_time, single_instance_owner, tray_icon_geometry, tray_menu_item,
};
use ssobar_fake_aws::{FakeAccount, FakeCluster, FakeConfig, Operation};
use ssobar_testkit::webdriver::{Driver, tauri_driver};
use ssobar_testkit::{
    BrowserMode, KubeApiServer, Ran, World, require_desktop, screenshot_path, wait_for,
};
use std::path::Path;

/// The text of the element `css` finds, once it is `wanted` (within `seconds`).
fn wait_for_text(driver: &Driver, css: &str, wanted: &str, seconds: u64) {
    let mut last = String::new();
    let seen = wait_for(seconds, || {
        last = driver
            .find(css)
            .map(|el| driver.text(&el))
            .unwrap_or_default();
        (last == wanted).then_some(())
    });
    assert!(seen.is_some(), "{css} says {last:?}, not {wanted:?}");
}

/// Clicks the first-run view's offered button once it reads `label`.
fn click_offer(driver: &Driver, action: &str, label: &str, seconds: u64) {
    let css = format!("#setup-next button[data-action=\"{action}\"]");
    wait_for_text(driver, &css, label, seconds);
    // The sign-in dialog is modal: the button is reachable once it has closed.
    let closed = wait_for(20, || {
        driver.find("#sign-in-dialog[open]").is_none().then_some(())
    });
    assert!(closed.is_some(), "the sign-in dialog stayed open");
    driver.click(&driver.find(&css).unwrap());
}

#[test]
fn the_first_run_goes_from_a_start_url_to_a_context_the_real_kubectl_uses() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(
        APP,
        FakeConfig {
            accounts: FakeAccount::generated(2, &["Admin", "Billing", "ReadOnly"]),
            ..FakeConfig::default()
        },
        BrowserMode::Follow,
    );
    // A newcomer: no AWS config at all.
    std::fs::remove_dir_all(w.sandbox.home().join(".aws")).unwrap();
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let ca = Ran::run(
        std::process::Command::new("base64")
            .arg("-w0")
            .arg(&server.ca_file),
    )
    .success()
    .stdout;
    w.fake
        .add_cluster(FakeCluster::new("prod", &server.url, &ca).in_account("100000000001"));

    // No --window: with no SSO session the app shows its window by itself.
    let driver = Driver::start(w.sandbox.command(tauri_driver()), Path::new(APP), &[]);
    wait_for_text(&driver, "#setup-title", "Add your AWS access portal", 20);
    assert!(driver.find("#setup-view:not([hidden])").is_some());
    assert!(driver.find("#sessions-view[hidden]").is_some());
    assert!(driver.find("#setup-region-field[hidden]").is_some());
    let steps = driver.execute_async(
        "const done = arguments[arguments.length - 1];
         done([...document.querySelectorAll('#setup-steps .step-title')].map((s) => s.textContent));",
    );
    assert_eq!(
        steps,
        serde_json::json!([
            "Add the SSO session to the AWS config",
            "Sign in",
            "Add a profile for every account and role",
            "Find EKS clusters",
            "Add them to the kubeconfig"
        ])
    );

    // The tray: neutral (nothing is valid), its menu offering the setup.
    let pid = wait_for(10, single_instance_owner).expect("the app on the session bus");
    let offered = wait_for(20, || tray_menu_item(pid, "Set up ssobar…"));
    assert!(offered.is_some(), "the tray menu offers \"Set up ssobar…\"");
    let neutral = wait_for(15, || {
        let (x, y, width, height) = tray_icon_geometry().filter(|g| g.2 > 1 && g.3 > 1)?;
        // The neutral icon is a grey clock face (#8A9099 in icons/tray/neutral.png).
        icon_colours(x, y, width, height)
            .contains("#8A9099")
            .then_some(())
    });
    assert!(neutral.is_some(), "the tray icon is not the neutral one");

    // The fake's portal is on loopback: its URL names no region, so the form asks for it.
    let start_url = format!("{}/start", w.fake.url());
    driver.fill(&driver.find("#setup-start-url").unwrap(), &start_url);
    driver.click(&driver.find("#setup-submit").unwrap());
    let asked = wait_for(10, || driver.find("#setup-region-field:not([hidden])"));
    assert!(asked.is_some(), "the region field is shown");
    wait_for_text(
        &driver,
        "#setup-error",
        &format!(
            "{start_url} does not say which region its IAM Identity Center is in: give the region (like us-east-1)"
        ),
        5,
    );
    driver.screenshot(&screenshot_path("first-run-region.png"));
    assert!(!w.sandbox.home().join(".aws/config").exists());
    driver.fill(&driver.find("#setup-region").unwrap(), "us-east-1");
    driver.click(&driver.find("#setup-submit").unwrap());

    // The session is written and the sign-in runs (the scripted browser completes it); then
    // the accounts are listed and a profile is offered for each of the 6 roles.
    click_offer(&driver, "add-profiles", "Add profiles for all 6 roles", 60);
    let session = format!("127.0.0.1-{}", w.fake.port());
    let token: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.sandbox.token_path(&session)).unwrap())
            .unwrap();
    assert!(
        token["refreshToken"].is_string(),
        "a session that refreshes"
    );
    assert_eq!(w.browser.opened().len(), 1);
    assert_eq!(w.calls(Operation::Authorize), 1);

    click_offer(&driver, "find-clusters", "Find EKS clusters", 30);
    let config = std::fs::read_to_string(w.sandbox.home().join(".aws/config")).unwrap();
    assert!(
        config.starts_with(&format!(
            "[sso-session {session}]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
        )),
        "{config}"
    );
    assert_eq!(config.matches("[profile account-").count(), 6, "{config}");

    click_offer(
        &driver,
        "add-to-kubeconfig",
        "Add 1 cluster to kubeconfig",
        60,
    );
    wait_for_text(
        &driver,
        "#setup-next button[data-action=\"close\"]",
        "Done",
        30,
    );
    let commands = driver.text(&driver.find("#setup-commands").unwrap());
    assert!(
        commands.contains("kubectl --context account-0001/prod get nodes"),
        "{commands}"
    );
    driver.screenshot(&screenshot_path("first-run-done.png"));

    // The real kubectl, with the context written, reaches the cluster as the role.
    let kubectl = Ran::run(w.sandbox.command("kubectl").args([
        "--context",
        "account-0001/prod",
        "get",
        "--raw",
        "/version",
    ]))
    .success();
    let version: serde_json::Value = serde_json::from_str(&kubectl.stdout).unwrap();
    let caller = version["caller"].as_str().unwrap();
    assert!(
        caller.starts_with("arn:aws:sts::100000000001:assumed-role/AWSReservedSSO_Admin_"),
        "{caller}"
    );

    // Done: the sessions view, with the new session signed in; the tray no longer offers it.
    driver.click(
        &driver
            .find("#setup-next button[data-action=\"close\"]")
            .unwrap(),
    );
    let card = format!("[data-session=\"s:{session}\"] .state");
    wait_for_text(&driver, &card, "valid", 10);
    assert!(driver.find("#setup-view[hidden]").is_some());
    let gone = wait_for(10, || {
        (tray_menu_item(pid, "Sign out").is_some()
            && tray_menu_item(pid, "Set up ssobar…").is_none())
        .then_some(())
    });
    assert!(gone.is_some(), "the tray still offers the setup");
}
