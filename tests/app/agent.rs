//! The app as a credential agent: with the app running, helpers get role credentials from its
//! memory over the channel; without it (or with it stuck) they read the keychain themselves.
//! A helper whose session bus leads nowhere cannot reach the Secret Service, so whatever it
//! prints came from the app.

use super::handoff::{serving_app, ssobar};
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
