//! The app as a credential agent: with the app running, helpers get role credentials from its
//! memory over the channel; without it (or with it stuck) they read the keychain themselves.
//! A helper whose session bus leads nowhere cannot reach the Secret Service, so whatever it
//! prints came from the app.

use super::handoff::{displayed_notifications, serving_app, ssobar};
use super::*;
use ssobar_testkit::{Ran, require_secret_service};

/// A session bus address with nobody behind it: the Secret Service is out of reach.
const NO_BUS: &str = "unix:path=/nonexistent/ssobar-test-bus";

/// A world signed in for eight hours whose helper binary is `ssobar`.
fn signed_in_world() -> World {
    require_secret_service();
    let w = World::start(&ssobar(), FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    w
}

/// `credential-process` for profile `dev`, its session bus as given.
fn credential_process(w: &World, bus: Option<&str>) -> Ran {
    let mut command = w.command();
    command.args(["credential-process", "--profile", "dev"]);
    if let Some(bus) = bus {
        command.env("DBUS_SESSION_BUS_ADDRESS", bus);
    }
    Ran::run(&mut command)
}

fn access_key(ran: &Ran) -> String {
    ran.json()["AccessKeyId"].as_str().unwrap().to_owned()
}

#[test]
fn with_the_app_running_a_helper_gets_credentials_without_the_keychain() {
    let _turn = one_app_at_a_time();
    let w = signed_in_world();
    let app = serving_app(&w);

    let first = credential_process(&w, None).success();
    let key = access_key(&first);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);

    let from_memory = credential_process(&w, Some(NO_BUS)).success();
    assert_eq!(access_key(&from_memory), key);
    assert_eq!(
        w.calls(Operation::GetRoleCredentials),
        1,
        "the app answered from memory, not from the portal"
    );

    // Both requests are in the access log as the app's, naming this test as the program.
    let log = w.ssobar(&["log", "--json"]).success().stdout;
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{log}");
    for record in &records {
        assert_eq!(record["by"], "app", "{record}");
        assert_eq!(record["outcome"], "handed-out", "{record}");
        assert_eq!(record["pid"], std::process::id(), "{record}");
        assert_eq!(record["role"], "ReadOnlyAccess", "{record}");
    }
    assert!(!log.contains(&key), "no credentials in the log");

    // The same helper without the app: it must read the keychain, which it cannot reach.
    drop(app);
    let alone = credential_process(&w, Some(NO_BUS));
    assert!(
        alone.code != Some(0),
        "without the app the keychain is needed: {}",
        alone.stdout
    );
}

#[test]
fn the_app_does_not_answer_for_a_profile_of_another_config_file() {
    let _turn = one_app_at_a_time();
    let w = signed_in_world();
    let _app = serving_app(&w);
    credential_process(&w, None).success();

    // The same profile name in another file: the app must not hand out its own "dev".
    let other = w.sandbox.home().join("other-config");
    std::fs::copy(w.sandbox.home().join(".aws/config"), &other).unwrap();
    let mut command = w.command();
    command
        .args(["credential-process", "--profile", "dev"])
        .env("AWS_CONFIG_FILE", &other)
        .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS);
    let ran = Ran::run(&mut command);
    assert!(
        ran.code != Some(0),
        "the app answered for another config file: {}",
        ran.stdout
    );
}

#[test]
fn a_new_sign_in_retires_what_the_app_holds() {
    let _turn = one_app_at_a_time();
    let w = signed_in_world();
    let _app = serving_app(&w);
    let before = access_key(&credential_process(&w, None).success());

    w.ssobar(&["logout", "--profile", "dev"]).success();
    w.seed_sign_in(8 * 3600);
    let after = credential_process(&w, Some(NO_BUS));
    // The app fetched them again under the new sign-in: new keys, a second call.
    assert_eq!(after.code, Some(0), "{}", after.stderr);
    assert_ne!(access_key(&after), before);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 2);
}

#[test]
fn a_stopped_or_killed_app_leaves_helpers_on_the_keychain_path() {
    let _turn = one_app_at_a_time();
    let w = signed_in_world();
    let app = serving_app(&w);
    let key = access_key(&credential_process(&w, None).success());

    // Stopped: it accepts the connection (the kernel does) but never answers.
    signal(&app.0, "STOP");
    let mut helper = w
        .command()
        .args(["credential-process", "--profile", "dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_for(20, || helper.try_wait().unwrap());
    signal(&app.0, "CONT");
    assert!(ended.is_some(), "the helper hangs on a stopped app");
    let ran = Ran::wait(helper);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(access_key(&ran), key, "from the keychain");

    // Killed: its socket is left behind, and nobody answers on it.
    signal(&app.0, "KILL");
    let ran = credential_process(&w, None).success();
    assert_eq!(access_key(&ran), key);
    drop(app);
}

/// Writes settings.toml (private, as it must be to be trusted) asking approval for `dev`.
fn approve_dev(w: &World, how: &str) {
    let file = w.sandbox.home().join(".config/ssobar/settings.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("[profiles.dev]\napprove = \"{how}\"\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `credential-process` for `dev`, started in the background with its output piped.
fn spawn_credential_process(w: &World) -> Child {
    w.command()
        .args(["credential-process", "--profile", "dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until exactly one notification is on screen, and a moment more to see that no
/// second one follows.
fn one_question_shown() {
    let shown = wait_for(20, || (displayed_notifications() >= 1).then_some(()));
    assert!(shown.is_some(), "the question is on screen");
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(displayed_notifications(), 1, "one question");
}

#[test]
fn five_callers_of_a_profile_approved_each_time_are_one_question_and_one_click_serves_all() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = signed_in_world();
    approve_dev(&w, "each");
    let _app = serving_app(&w);

    let callers: Vec<Child> = (0..5).map(|_| spawn_credential_process(&w)).collect();
    one_question_shown();
    // A click on the notification is its default action: Allow.
    assert!(
        Command::new("dunstctl")
            .args(["action", "0"])
            .status()
            .unwrap()
            .success()
    );
    for caller in callers {
        let ran = Ran::wait(caller);
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        let key = access_key(&ran);
        assert!(w.fake.credentials(&key).is_some(), "issued by the fake");
    }
    let log = w.ssobar(&["log", "--json"]).success().stdout;
    assert_eq!(log.matches("\"handed-out\"").count(), 5, "{log}");

    // Each time: the next request is asked again; dismissing it denies, in one line.
    let caller = spawn_credential_process(&w);
    one_question_shown();
    assert!(
        Command::new("dunstctl")
            .arg("close")
            .status()
            .unwrap()
            .success()
    );
    let ran = Ran::wait(caller);
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("was denied in ssobar-app"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.is_empty());
    let log = w.ssobar(&["log", "--json"]).success().stdout;
    assert_eq!(log.matches("\"denied\"").count(), 1, "{log}");
}

#[test]
fn a_program_approved_for_an_hour_is_not_asked_again() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = signed_in_world();
    approve_dev(&w, "hour");
    let app = serving_app(&w);

    let caller = spawn_credential_process(&w);
    one_question_shown();
    assert!(
        Command::new("dunstctl")
            .args(["action", "0"])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(Ran::wait(caller).code, Some(0));
    let _ = Command::new("dunstctl").arg("close-all").status();

    // The same program (this test, the helpers' parent) asks again: no question.
    let again = credential_process(&w, None);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(displayed_notifications(), 0, "asked again");
    let listed = wait_for(10, || tray_menu_item(app.0.id(), "Approved (1)"));
    assert!(
        listed.is_some(),
        "the tray lists the approval with its Revoke"
    );
}

#[test]
fn a_profile_that_needs_approval_fails_closed_without_the_app() {
    let w = signed_in_world();
    approve_dev(&w, "each");
    let ran = credential_process(&w, None);
    assert_eq!(
        ran.code,
        Some(1),
        "handed out without the app: {}",
        ran.stdout
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("needs approval in ssobar-app")
            && ran.stderr.contains("start ssobar-app"),
        "{}",
        ran.stderr
    );
}

#[test]
fn the_window_s_activity_view_lists_who_took_which_role() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = signed_in_world();
    // A helper on its own (no app yet) hands out dev's credentials: one line in the log.
    credential_process(&w, None).success();
    let driver = Driver::start(
        w.sandbox.command(tauri_driver()),
        Path::new(APP),
        &["--window"],
    );
    let tab = wait_for(20, || driver.find("#show-activity")).expect("the window");
    driver.click(&tab);
    let row = wait_for(10, || {
        let cell = driver.find("#activity-table tbody tr")?;
        let text = driver.text(&cell);
        text.contains("ReadOnlyAccess").then_some(text)
    });
    let row = row.expect("a row for the credentials handed out");
    assert!(
        row.contains("dev") && row.contains("helper") && row.contains("handed out"),
        "{row}"
    );
}
