//! The tray app end to end, headless: the real binary under Xvfb, with a real tray host
//! (trayer), notification daemon (dunst) and Secret Service (gnome-keyring) on a private
//! D-Bus session that scripts/test starts; the window driven through WebDriver (tauri-driver
//! with WebKitWebDriver). Screenshots are kept in target/screenshots/.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]

use ssobar_fake_aws::{FakeConfig, Fault, Operation};
use ssobar_testkit::sweep::{
    files_outside_the_token_cache, leaks, read_in_background, sample, with_descendants,
};
use ssobar_testkit::webdriver::{Driver, tauri_driver};
use ssobar_testkit::{
    BrowserMode, LIBFAKETIME, World, require_desktop, screenshot_path, secret_tool_entries,
    wait_for,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

#[path = "app/accounts.rs"]
mod accounts;
#[path = "app/agent.rs"]
mod agent;
#[path = "app/first_run.rs"]
mod first_run;
#[path = "app/handoff.rs"]
mod handoff;
#[path = "app/remote.rs"]
mod remote;

const APP: &str = env!("CARGO_BIN_EXE_ssobar-app");

/// The app is a single instance per D-Bus session: tests take turns.
fn one_app_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kills the app when the test ends, however it ends.
struct Running(Child);

impl Running {
    /// The app, started in the world's HOME.
    fn app(w: &World) -> Self {
        Self(
            w.sandbox
                .command(APP)
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // The bus releases a dead app's name a moment later; the next test starts clean.
        let pid = self.0.id();
        wait_for(10, || (single_instance_owner() != Some(pid)).then_some(()));
    }
}

/// The D-Bus name by which a running app is found (the tauri identifier + ".SingleInstance").
const SINGLE_INSTANCE_NAME: &str = "dev.ssobar.app.SingleInstance";

/// The process id of the app that owns the single-instance name on the session bus, if any.
fn single_instance_owner() -> Option<u32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &format!("string:{SINGLE_INSTANCE_NAME}"),
        ])
        .output()
        .ok()?;
    // The reply's last line is e.g. "   uint32 4242"; with no owner dbus-send fails.
    let reply = String::from_utf8_lossy(&out.stdout);
    reply.split_whitespace().last()?.parse().ok()
}

/// Sends a signal (by name, as `kill -s` takes it) to a process.
fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -s {name}");
}

#[test]
fn the_app_prints_its_version_and_starts_nothing() {
    // No desktop needed: the version is printed before anything starts.
    let ran = Command::new(APP).arg("--version").output().unwrap();
    assert!(ran.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        format!("{}\n", ssobar_version::line("ssobar-app"))
    );
}

#[test]
fn the_window_signs_in_to_an_expired_session() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Follow);
    // No refresh token: only a sign-in can bring it back.
    w.seed_sign_in_with(-60, &[]);
    let driver = Driver::start(
        w.sandbox.command(tauri_driver()),
        Path::new(APP),
        &["--window"],
    );
    assert_eq!(driver.title(), "ssobar");
    let card = format!("[data-session=\"s:{}\"]", w.session);
    let state =
        wait_for(20, || driver.find(&format!("{card} .state"))).expect("the session's card");
    assert_eq!(driver.text(&state), "expired");
    driver.screenshot(&screenshot_path("window-expired.png"));

    // Every status the window is sent from here on, as (the session's state, whether the
    // profile "barrier" is there): an older status that reached the window after a newer one
    // shows in this list however briefly it was on screen.
    let recording = driver.execute_async(&format!(
        "const done = arguments[arguments.length - 1];
         window.__statuses = [];
         window.__TAURI__.event.listen('status-changed', (e) => {{
           const session = e.payload.sessions.find((s) => s.id === 's:{session}');
           const barrier = e.payload.other_profiles.some((p) => p.name === 'barrier');
           window.__statuses.push([session ? session.state : null, barrier]);
         }}).then(() => done('recording'), (e) => done('refused: ' + e));",
        session = w.session
    ));
    assert_eq!(recording, "recording");

    let sign_in = driver
        .find(&format!("{card} button.sign-in"))
        .expect("a Sign in button");
    driver.click(&sign_in);
    let valid = wait_for(10, || {
        let state = driver.find(&format!("{card} .state"))?;
        (driver.text(&state) == "valid").then_some(())
    });
    assert!(valid.is_some(), "the row did not turn valid within 10 s");
    // A config change after the sign-in ended: the app sends a status after every one it sent
    // for the sign-in, so once it arrives the list holds them all.
    w.sandbox.write_config(w.config().section(
        "profile barrier",
        &[
            ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            ("aws_secret_access_key", "barrier"),
        ],
    ));
    let statuses = wait_for(10, || {
        let statuses = driver.execute_async(
            "const done = arguments[arguments.length - 1]; done(window.__statuses);",
        );
        let list = statuses.as_array()?.clone();
        list.iter().any(|s| s[1] == true).then_some(list)
    })
    .expect("the window got the status with the new profile within 10 s");
    let states: Vec<&str> = statuses.iter().filter_map(|s| s[0].as_str()).collect();
    let first_valid = states
        .iter()
        .position(|s| *s == "valid")
        .unwrap_or_else(|| panic!("no valid status reached the window: {states:?}"));
    assert!(
        states[first_valid..].iter().all(|s| *s == "valid"),
        "an older status followed the new one: {states:?}"
    );
    let state = driver.find(&format!("{card} .state")).unwrap();
    assert_eq!(driver.text(&state), "valid");
    driver.screenshot(&screenshot_path("window-signed-in.png"));

    let token = w.token().expect("the AWS CLI cache file");
    let expires: jiff::Timestamp = token["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > jiff::Timestamp::now());
    assert_eq!(w.browser.opened().len(), 1, "one browser tab");
    assert_eq!(w.calls(Operation::Authorize), 1);
}

#[test]
fn the_window_shows_the_device_code_until_it_is_confirmed() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let mut w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.sandbox.set_env("SSOBAR_SIGN_IN_FLOW", "device-code");
    w.seed_sign_in_with(-60, &[]);
    let driver = Driver::start(
        w.sandbox.command(tauri_driver()),
        Path::new(APP),
        &["--window"],
    );
    let card = format!("[data-session=\"s:{}\"]", w.session);
    let sign_in =
        wait_for(20, || driver.find(&format!("{card} button.sign-in"))).expect("a Sign in button");
    driver.click(&sign_in);
    let code = wait_for(10, || {
        let element = driver.find("#device-code")?;
        let text = driver.text(&element);
        (text.len() == 9 && text.as_bytes()[4] == b'-').then_some(text)
    })
    .expect("the device code, large, in the window");
    driver.screenshot(&screenshot_path("window-device-code.png"));
    // The person confirms the code on another device.
    assert!(
        w.fake.approve_device(&code),
        "the fake knows the code {code}"
    );
    let valid = wait_for(10, || {
        let state = driver.find(&format!("{card} .state"))?;
        (driver.text(&state) == "valid").then_some(())
    });
    assert!(valid.is_some(), "signed in once the code was confirmed");
    assert_eq!(w.calls(Operation::StartDeviceAuthorization), 1);
    assert_eq!(w.calls(Operation::Authorize), 0);
}

#[test]
fn settings_are_saved_from_the_window() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    // A proxy the app was started with, which its calls to the fake are exempt from.
    let mut command = w.sandbox.command(tauri_driver());
    command
        .env("HTTPS_PROXY", "http://proxy.example.com:3128")
        .env("NO_PROXY", "127.0.0.1");
    let driver = Driver::start(command, Path::new(APP), &["--window"]);
    let show = wait_for(20, || driver.find("#show-settings")).expect("a Settings button");
    driver.click(&show);
    // Settings says what the AWS calls go through and trust, and where each comes from.
    let network = wait_for(10, || {
        let proxy = driver.text(&driver.find("#network-proxy")?);
        let bundle = driver.text(&driver.find("#network-ca-bundle")?);
        (!proxy.is_empty()).then_some((proxy, bundle))
    });
    assert_eq!(
        network,
        Some((
            "http://proxy.example.com:3128 (from the environment (HTTPS_PROXY)); not for 127.0.0.1"
                .to_owned(),
            "none: the system's certificates only".to_owned()
        ))
    );
    let minutes = wait_for(10, || {
        driver.find("#settings input[name=\"warning_minutes\"]")
    })
    .expect("the warning threshold field");
    driver.fill(&minutes, "30");
    // Each SSO profile has its approval choice; dev is asked about each time from now on.
    let chose = wait_for(10, || {
        let answer = driver.execute_async(
            "const done = arguments[arguments.length - 1];
             const select = document.querySelector('#approval-rows select[data-profile=\"dev\"]');
             if (!select) { done('none'); return; }
             select.value = 'each';
             done('chosen');",
        );
        (answer == "chosen").then_some(())
    });
    assert!(chose.is_some(), "an approval choice for dev");
    let save = driver
        .find("#settings button[type=\"submit\"]")
        .expect("a Save button");
    driver.click(&save);
    let saved = wait_for(10, || {
        let result = driver.find("#settings-result")?;
        (driver.text(&result) == "Saved").then_some(())
    });
    driver.screenshot(&screenshot_path("window-settings.png"));
    assert!(saved.is_some(), "the window said Saved");
    // Settings shows the version as `ssobar --version` prints it.
    let expected = ssobar_version::line("ssobar");
    let version = wait_for(10, || {
        let text = driver.text(&driver.find("#version")?);
        (text == expected).then_some(())
    });
    assert!(version.is_some(), "Settings shows {expected:?}");
    let file = w.sandbox.home().join(".config/ssobar/settings.toml");
    let text = std::fs::read_to_string(&file).expect("the settings file");
    assert!(text.contains("warning_minutes = 30"), "{text}");
    assert!(
        text.contains("[profiles.dev]\napprove = \"each\""),
        "{text}"
    );
    assert!(
        !text.contains("[profiles.admin]"),
        "defaults are not written: {text}"
    );

    // The window may call the app's own commands, and nothing of Tauri's it does not use.
    let call = |command: &str| {
        driver.execute_async(&format!(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('{command}').then(
               () => done('allowed'), (e) => done('refused: ' + e));"
        ))
    };
    assert_eq!(call("get_settings"), "allowed");
    for command in [
        "plugin:app|version",
        "plugin:window|title",
        "plugin:path|resolve_directory",
    ] {
        let answer = call(command);
        assert!(
            answer.as_str().is_some_and(|a| a.starts_with("refused")),
            "{command}: {answer}"
        );
    }
}

#[test]
fn an_expired_refreshable_session_is_renewed_without_a_browser() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Follow);
    let issued = w.seed_sign_in(-60);
    let _app = Running::app(&w);
    let renewed = wait_for(15, || {
        let token = w.token()?;
        (token["accessToken"] != issued.access_token.as_str()).then_some(token)
    })
    .expect("the app refreshed the token");
    let expires: jiff::Timestamp = renewed["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > jiff::Timestamp::now());
    assert!(
        w.browser.opened().is_empty(),
        "no browser for a silent refresh"
    );
    assert_eq!(w.calls(Operation::Authorize), 0);
}

/// The tray icon's window in `xwininfo -root -tree`: (x, y, width, height) on the screen.
fn tray_icon_geometry() -> Option<(i64, i64, i64, i64)> {
    let out = Command::new("xwininfo")
        .args(["-root", "-tree"])
        .output()
        .ok()?;
    let tree = String::from_utf8_lossy(&out.stdout);
    // e.g.  0x600028 "ssobar-app": ("tray-icon tray app ssobar" ...)  32x30+0+0  +1246+1
    let line = tree
        .lines()
        .find(|l| l.contains("\"tray-icon tray app ssobar\""))?;
    let mut fields = line.split_whitespace().rev();
    let absolute = fields.next()?;
    let size = fields.next()?;
    let (w, h) = size.split('+').next()?.split_once('x')?;
    let mut at = absolute.trim_start_matches('+').split('+');
    Some((
        at.next()?.parse().ok()?,
        at.next()?.parse().ok()?,
        w.parse().ok()?,
        h.parse().ok()?,
    ))
}

#[test]
fn the_tray_icon_docks_in_the_tray_host() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let _app = Running::app(&w);
    // The icon's window exists (1x1 at 0,0) a moment before the tray host docks and
    // sizes it, and is painted a moment after; poll for the painted, docked icon.
    let mut last = String::new();
    let green = wait_for(15, || {
        let (x, y, width, height) = tray_icon_geometry().filter(|g| g.2 > 1 && g.3 > 1)?;
        let colours = icon_colours(x, y, width, height);
        // The "all valid" icon is a green clock face (#2E9D5B in icons/tray/ok.png).
        let found = colours.contains("#2E9D5B");
        last = format!("{width}x{height}+{x}+{y}:\n{colours}");
        found.then_some(())
    });
    assert!(green.is_some(), "no green icon docked in the tray: {last}");
}

/// The unique colours on screen inside the given rectangle, as ImageMagick's text listing.
fn icon_colours(x: i64, y: i64, width: i64, height: i64) -> String {
    let shot = screenshot_path("tray.png");
    let taken = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .status()
        .unwrap();
    assert!(taken.success());
    let colours = Command::new("convert")
        .arg(&shot)
        .args([
            "-crop",
            &format!("{width}x{height}+{x}+{y}"),
            "-unique-colors",
            "txt:-",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&colours.stdout).into_owned()
}

/// True when a top-level window titled "ssobar" (the app's window) is mapped.
fn window_is_open() -> bool {
    // Mapped, not only present: a closed window is kept hidden (unmapped) for the next opening.
    Command::new("xwininfo")
        .args(["-name", "ssobar"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("Map State: IsViewable"))
        .unwrap_or(false)
}

/// Closes the window as a window manager's close button does (`WM_DELETE_WINDOW`).
fn close_window() {
    let closed = Command::new("/usr/bin/python3")
        .arg(ssobar_testkit::peer_script("close_window.py"))
        .args(["ssobar", "ssobar-app"])
        .status()
        .unwrap();
    assert!(closed.success(), "a window to close");
}

/// The app's WebKit web processes (one while a page is loaded).
fn web_processes(app: u32) -> usize {
    with_descendants(app)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.starts_with("WebKitWebProces"))
        })
        .count()
}

/// WebKit's shared-memory descriptors the app holds (`memfd:WebKitSharedMemory`).
fn webkit_shared_memory(app: u32) -> usize {
    std::fs::read_dir(format!("/proc/{app}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("WebKitSharedMemory"))
        .count()
}

#[test]
fn a_second_launch_opens_the_first_ones_window() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let _app = Running::app(&w);
    wait_for(15, tray_icon_geometry).expect("the first instance's tray icon");
    assert!(!window_is_open(), "no window until asked for");
    let mut second = Running::app(&w);
    let exited = wait_for(10, || second.0.try_wait().ok().flatten());
    assert!(
        exited.is_some_and(|status| status.success()),
        "the second launch hands over and exits: {exited:?}"
    );
    assert!(
        wait_for(10, || window_is_open().then_some(())).is_some(),
        "the running app opened its window"
    );
    assert!(
        tray_icon_geometry().is_some(),
        "still one app, still in the tray"
    );
}

#[test]
fn opening_and_closing_the_window_again_and_again_holds_no_more_descriptors() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let app = Running::app(&w);
    let pid = app.0.id();
    wait_for(15, tray_icon_geometry).expect("the tray icon");
    let mut held = Vec::new();
    for round in 1..=8 {
        let mut second = Running::app(&w);
        let exited = wait_for(10, || second.0.try_wait().ok().flatten());
        assert!(
            exited.is_some_and(|s| s.success()),
            "round {round}: {exited:?}"
        );
        wait_for(15, || {
            (window_is_open() && web_processes(pid) == 1).then_some(())
        })
        .unwrap_or_else(|| panic!("round {round}: the window and its web process"));
        // Looked at for a moment, as a person would: the page loads in its web process.
        std::thread::sleep(std::time::Duration::from_secs(1));
        // A close sent while the toolkit is still setting the new window up can be lost, as a
        // click on a window not yet drawn would be: it is sent again, as a person would click
        // again. What is checked is what a close leaves behind.
        let closed = (0..3).find_map(|_| {
            close_window();
            wait_for(5, || {
                (!window_is_open() && web_processes(pid) == 0).then_some(())
            })
        });
        if closed.is_none() {
            panic!(
                "round {round}: a closed window keeps no web process (window shown: {}, web processes: {})",
                window_is_open(),
                web_processes(pid)
            );
        }
        held.push(webkit_shared_memory(pid));
    }
    // The count moves by one while a web process is torn down; a leak adds one per window.
    assert!(
        held[7] <= held[1] + 1,
        "WebKit shared memory held after each of eight closes: {held:?}"
    );
}

#[test]
fn the_expiring_demo_session_notifies_once() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let sandbox = ssobar_testkit::Sandbox::new();
    let log = sandbox.home().join("notify.log");
    let monitor = Running(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The demo makes its HOME with the temporary-file library, in TMPDIR: a folder of the
    // test's own holds it and nothing else, so the test finds it without reading the log.
    let tmp = sandbox.home().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let app = Running(
        sandbox
            .command(APP)
            .arg("--demo")
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(sandbox.home().join("app.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let announced = "string \"SSO session acme-sandbox expires in";
    let count = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(announced)
            .count()
    };
    assert!(
        wait_for(20, || (count() > 0).then_some(())).is_some(),
        "no notification"
    );

    // Make the app look again: a second expiring session added to the config is announced
    // at once, and the first one is not announced a second time.
    let homes: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join(".aws/config").is_file())
        .collect();
    let [home] = homes.as_slice() else {
        panic!(
            "one demo HOME with an AWS config in {}: {homes:?}",
            tmp.display()
        );
    };
    // Let the start settle: the two signed-in sessions' account lists arrive and wake the
    // app once more.
    let lists = || {
        std::fs::read_dir(home.join(".cache/ssobar/accounts"))
            .map(|dir| {
                dir.flatten()
                    .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
                    .count()
            })
            .unwrap_or(0)
    };
    let settled = wait_for(20, || (lists() == 2).then(jiff::Timestamp::now));
    let settled = settled.expect("the demo listed its two signed-in sessions' accounts");
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    // Only the file watcher may make the app look within BOUND of the change: the change is
    // made where no wake of the app's clock falls from a second before it to QUIET after it
    // (the next minute, or any session's expiry, warning or refresh time, as `next_wake` has
    // them), nor of the start's last wake.
    const BOUND: std::time::Duration = std::time::Duration::from_secs(3);
    const QUIET: i64 = 5_000;
    let settings = ssobar_core::settings::Settings::default();
    let before = |at: jiff::Timestamp, minutes: u32| {
        at - jiff::SignedDuration::from_mins(i64::from(minutes))
    };
    let cache = home.join(".aws/sso/cache");
    let mut wakes: Vec<i64> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let token: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
            token["expiresAt"].as_str()?.parse::<jiff::Timestamp>().ok()
        })
        .chain([expires])
        .flat_map(|at| {
            [
                at,
                before(at, settings.warning_minutes),
                before(at, settings.refresh_minutes),
            ]
        })
        .map(|at| at.as_millisecond())
        .collect();
    wakes.push(settled.as_millisecond() + 1_000);
    let quiet = |t: i64| {
        let next_minute = (t - 1_000).div_euclid(60_000) * 60_000 + 60_000;
        next_minute > t + QUIET && !wakes.iter().any(|w| (t - 1_000..=t + QUIET).contains(w))
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let at = (0..120_000)
        .step_by(100)
        .map(|after| now + after)
        .find(|t| quiet(*t))
        .expect("a quiet moment within two minutes");
    std::thread::sleep(std::time::Duration::from_millis(
        u64::try_from(at - now).unwrap(),
    ));
    let token = serde_json::json!({
        "startUrl": "https://extra.awsapps.com/start",
        "region": "us-east-1",
        "accessToken": "aoa-extra",
        "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    let token_file = cache.join(format!("{}.json", ssobar_testkit::sha1_hex("extra")));
    std::fs::write(token_file, token.to_string()).unwrap();
    let config = home.join(".aws/config");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[sso-session extra]\nsso_start_url = https://extra.awsapps.com/start\n\
             sso_region = us-east-1\n[profile extra-dev]\nsso_session = extra\n\
             sso_account_id = 111122223333\nsso_role_name = ReadOnlyAccess\n"
        ),
    )
    .unwrap();
    let changed = std::time::Instant::now();
    let extra = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("string \"SSO session extra expires in")
    };
    let announced = wait_for(BOUND.as_secs(), || extra().then(|| changed.elapsed()));
    assert!(
        announced.is_some_and(|took| took <= BOUND),
        "the file watcher did not make the app announce the new session within {BOUND:?} \
         ({announced:?})"
    );
    assert_eq!(
        count(),
        1,
        "exactly one notification for the expiring session"
    );
    drop(app);
    drop(monitor);
}

#[test]
fn a_launch_while_the_running_app_dies_takes_its_place() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let mut first = Running::app(&w);
    wait_for(15, tray_icon_geometry).expect("the first instance's tray icon");
    // Freeze the first app so that the second launch's handover waits on it, then let it die
    // mid-call, as when the app is launched while the previous one is quitting.
    let calls = w.sandbox.home().join("handover.log");
    let _monitor = Running(
        Command::new("dbus-monitor")
            .args(["--session", "type='method_call',member='ExecuteCallback'"])
            .stdout(std::fs::File::create(&calls).unwrap())
            .spawn()
            .unwrap(),
    );
    let monitoring = wait_for(10, || {
        let log = std::fs::read_to_string(&calls).unwrap_or_default();
        (!log.is_empty()).then_some(())
    });
    assert!(monitoring.is_some(), "dbus-monitor is listening");
    signal(&first.0, "STOP");
    let mut second = Running::app(&w);
    let handing_over = wait_for(15, || {
        let log = std::fs::read_to_string(&calls).unwrap_or_default();
        log.contains("member=ExecuteCallback").then_some(())
    });
    assert!(handing_over.is_some(), "the second launch called the first");
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let docked = wait_for(15, || {
        assert!(
            second.0.try_wait().unwrap().is_none(),
            "the second launch gave up instead of taking the tray"
        );
        tray_icon_geometry()
    });
    assert!(docked.is_some(), "the second launch docked its own icon");
    assert_eq!(
        single_instance_owner(),
        Some(second.0.id()),
        "and is now the running app"
    );
}

#[test]
fn clicking_the_expiry_notification_signs_in() {
    let _turn = one_app_at_a_time();
    require_desktop();
    // Notifications of earlier tests would be first in line for the click.
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Follow);
    // Expiring in 10 minutes, inside the 15-minute warning, and with no refresh token: the
    // app warns instead of refreshing.
    let issued = w.seed_sign_in_with(600, &[]);
    let _app = Running::app(&w);
    let shown = wait_for(20, || {
        let out = Command::new("dunstctl")
            .args(["count", "displayed"])
            .output()
            .ok()?;
        let count: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        (count > 0).then_some(())
    });
    assert!(shown.is_some(), "the expiry notification is on screen");
    assert!(w.browser.opened().is_empty(), "no sign-in before the click");
    // A click on the notification runs its default action, as dunstctl does here.
    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());
    let renewed = wait_for(15, || {
        let token = w.token()?;
        (token["accessToken"] != issued.access_token.as_str()).then_some(())
    });
    assert!(renewed.is_some(), "the click signed in again");
    assert_eq!(w.browser.opened().len(), 1, "one browser tab");
    assert_eq!(w.calls(Operation::Authorize), 1);
}

/// The tray menu's item labelled `label`, as the app serves it over D-Bus (dbusmenu, which
/// libayatana-appindicator serves beside the XEmbed icon): (the app's bus name, the item id).
fn tray_menu_item(pid: u32, label: &str) -> Option<(String, i32)> {
    let names = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.ListNames",
        ])
        .output()
        .ok()?;
    let names = String::from_utf8_lossy(&names.stdout).into_owned();
    let wanted = format!("'label': <'{label}'>");
    names
        .split('"')
        .filter(|name| name.starts_with(":1."))
        .filter(|name| {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.GetConnectionUnixProcessID",
                    &format!("string:{name}"),
                ])
                .output();
            out.is_ok_and(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .last()
                    == Some(&pid.to_string())
            })
        })
        .find_map(|name| {
            let layout = Command::new("gdbus")
                .args(["call", "--session", "--timeout", "2", "--dest", name])
                .args(["--object-path", TRAY_MENU])
                .args([
                    "--method",
                    "com.canonical.dbusmenu.GetLayout",
                    "--",
                    "0",
                    "-1",
                    "[]",
                ])
                .output()
                .ok()?;
            // e.g. <(52, {'label': <'Refresh now'>}, @av [])>
            let layout = String::from_utf8_lossy(&layout.stdout).into_owned();
            let before = &layout[..layout.find(&wanted)?];
            let item = &before[before.rfind("<(")? + 2..];
            Some((name.to_owned(), item.split(',').next()?.parse().ok()?))
        })
}

/// Where libayatana-appindicator serves the tray menu.
const TRAY_MENU: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_ssobar/Menu";

/// A `&` or `<` in a notification's body (here in the endpoint a failed refresh names)
/// reaches dunst escaped, so that it is shown as written rather than read as markup.
#[test]
fn a_notification_body_reaches_dunst_escaped_for_its_markup() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let mut w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    // Nothing listens there: "Refresh now" fails, naming it.
    let dead = format!(
        "http://127.0.0.1:{}/a&b",
        ssobar_testkit::webdriver::free_port()
    );
    w.sandbox.set_env("AWS_ENDPOINT_URL_SSO_OIDC", &dead);
    let app = Running::app(&w);
    let (name, item) =
        wait_for(20, || tray_menu_item(app.0.id(), "Refresh now")).expect("the tray menu on D-Bus");
    let clicked = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            &name,
            "--object-path",
            TRAY_MENU,
        ])
        .args(["--method", "com.canonical.dbusmenu.Event", "--"])
        .args([&item.to_string(), "clicked", "<0>", "0"])
        .output()
        .unwrap();
    assert!(clicked.status.success(), "{clicked:?}");
    // dunst lists a notification in its history once it is closed.
    let port = dead.trim_end_matches("/a&b");
    let notification = wait_for(20, || {
        let _ = Command::new("dunstctl").arg("close-all").status();
        let out = Command::new("dunstctl").arg("history").output().ok()?;
        let history: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        history["data"][0]
            .as_array()?
            .iter()
            .find(|n| n["body"]["data"].as_str().is_some_and(|b| b.contains(port)))
            .cloned()
    })
    .expect("a notification naming the endpoint");
    assert_eq!(notification["summary"]["data"], "Refresh failed");
    let body = notification["body"]["data"].as_str().unwrap();
    assert!(body.contains(&format!("{port}/a&amp;b")), "{body}");
    assert!(
        body.match_indices('&').all(|(at, _)| {
            ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|entity| body[at..].starts_with(entity))
        }),
        "{body}"
    );
}

/// The app tries a silent refresh while AWS fails, opens no browser for it, and keeps to
/// `due_refreshes`' rule of at most one try per session per `REFRESH_RETRY_SECONDS`, which a
/// retry loop would break within seconds (the rule itself is proved on a clock the test sets
/// in crates/core/tests/silent_refresh.rs).
#[test]
fn a_failing_refresh_is_tried_silently() {
    use ssobar_core::app::refresh::REFRESH_RETRY_SECONDS;
    use std::time::{Duration, Instant};
    // One try is the SDK's three attempts (`aws::retry_config`, standard retries).
    const ATTEMPTS_PER_TRY: u64 = 3;
    const WINDOW: Duration = Duration::from_secs(15);
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(-60);
    // AWS answers 500 to every refresh, as an outage (or a captive portal) would.
    w.fake
        .inject_fault(Operation::CreateToken, Fault::ServerError, 1000);
    let _app = Running::app(&w);
    let calls = || w.calls(Operation::CreateToken) as u64;
    let first = wait_for(20, || (calls() > 0).then(Instant::now));
    assert!(first.is_some(), "the app tried no silent refresh");
    // Over a window from the first call, at most the tries the rule allows, each its
    // attempts: watched all along, so that a loop fails as soon as it shows.
    let tries_allowed = 1 + WINDOW.as_secs() / REFRESH_RETRY_SECONDS.unsigned_abs();
    let most = ATTEMPTS_PER_TRY * tries_allowed;
    let looped = wait_for(WINDOW.as_secs(), || (calls() > most).then(calls));
    assert_eq!(
        looped, None,
        "CreateToken called more than {most} times within {WINDOW:?}: a retry loop"
    );
    assert_eq!(
        calls(),
        ATTEMPTS_PER_TRY,
        "one silent refresh, its three attempts"
    );
    assert_eq!(w.browser.opened(), Vec::<String>::new(), "no browser tab");
}

#[test]
fn start_at_login_follows_the_setting_however_it_was_set() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let home = w.sandbox.home();
    let autostart = home.join(".config/autostart");
    let settings = home.join(".config/ssobar/settings.toml");
    // The login items: each desktop entry's Exec line.
    let entries = || -> Vec<String> {
        std::fs::read_dir(&autostart)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
                    .map(|text| {
                        text.lines()
                            .find(|line| line.starts_with("Exec="))
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let registered = |how: &str| {
        let found = wait_for(15, || {
            let entries = entries();
            (entries.len() == 1).then_some(entries)
        });
        let found = found.unwrap_or_else(|| panic!("{how}: no autostart entry: {:?}", entries()));
        assert!(
            found[0].contains(APP),
            "{how}: an entry that starts another program: {found:?}"
        );
    };
    let unregistered = |how: &str| {
        let gone = wait_for(15, || entries().is_empty().then_some(()));
        assert!(
            gone.is_some(),
            "{how}: an autostart entry is left: {:?}",
            entries()
        );
    };

    // The settings file.
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "start_at_login = true\n").unwrap();
    let app = Running::app(&w);
    registered("start_at_login = true in settings.toml");
    drop(app);
    std::fs::remove_file(&settings).unwrap();
    // The default (off): the entry goes.
    let app = Running::app(&w);
    unregistered("the default");
    drop(app);
    // The variable.
    let app = Running(
        w.sandbox
            .command(APP)
            .env("SSOBAR_START_AT_LOGIN", "true")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    registered("SSOBAR_START_AT_LOGIN=true");
    drop(app);

    // The window: the app starts with the default (off), then the box is ticked and saved,
    // then cleared and saved.
    let driver = Driver::start(
        w.sandbox.command(tauri_driver()),
        Path::new(APP),
        &["--window"],
    );
    unregistered("the default, with the window open");
    let show = wait_for(20, || driver.find("#show-settings")).expect("a Settings button");
    driver.click(&show);
    let save_with_the_box_clicked = || {
        let checkbox = wait_for(10, || {
            driver.find("#settings input[name=\"start_at_login\"]")
        })
        .expect("the start at login box");
        driver.click(&checkbox);
        let save = driver
            .find("#settings button[type=\"submit\"]")
            .expect("a Save button");
        driver.click(&save);
        let saved = wait_for(10, || {
            let result = driver.find("#settings-result")?;
            (driver.text(&result) == "Saved").then_some(())
        });
        assert!(saved.is_some(), "the window said Saved");
    };
    save_with_the_box_clicked();
    registered("the box ticked in the window");
    save_with_the_box_clicked();
    unregistered("the box cleared in the window");
}

/// The inode numbers of everything a process watches with inotify, from /proc.
fn inotify_watched_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    fds.flatten()
        .flat_map(|fd| {
            let text = std::fs::read_to_string(fd.path()).unwrap_or_default();
            text.lines()
                .filter(|line| line.starts_with("inotify wd:"))
                .filter_map(|line| {
                    let ino = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("ino:"))?;
                    u64::from_str_radix(ino, 16).ok()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_config_file_in_home_does_not_make_the_app_watch_all_of_home() {
    use std::os::unix::fs::MetadataExt;
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let home = w.sandbox.home();
    let config = home.join("aws.cfg");
    std::fs::copy(home.join(".aws/config"), &config).unwrap();
    let project = home.join("project/src/deep/er");
    std::fs::create_dir_all(&project).unwrap();
    let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();

    let app = Running(
        w.sandbox
            .command(APP)
            .env("AWS_CONFIG_FILE", &config)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = app.0.id();
    let watched = wait_for(15, || {
        let watched = inotify_watched_inodes(pid);
        watched.contains(&inode(home)).then_some(watched)
    })
    .expect("the app watches the config file's folder");
    assert!(
        watched.contains(&inode(&w.sandbox.cache_dir())),
        "and the SSO cache"
    );
    for dir in project.ancestors().take_while(|d| *d != home) {
        assert!(
            !watched.contains(&inode(dir)),
            "{} is watched, though nothing of the status is there",
            dir.display()
        );
    }
}

/// The clipboard's text, as another program reads it.
fn clipboard_text() -> String {
    let out = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("run xclip (Debian package xclip)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn copied_credentials_leave_the_clipboard_after_the_delay() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::signed_in(APP, FakeConfig::default());
    let mut driver_command = w.sandbox.command(tauri_driver());
    driver_command.env("SSOBAR_CLIPBOARD_CLEAR_SECONDS", "2");
    let driver = Driver::start(driver_command, Path::new(APP), &["--window"]);
    wait_for(20, || driver.find("#show-settings")).expect("the window");
    let copy = || {
        driver.execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('copy_export_lines', { profile: 'dev' }).then(
               () => done('copied'), (e) => done('failed: ' + e));",
        )
    };

    assert_eq!(copy(), "copied");
    assert!(clipboard_text().contains("export AWS_ACCESS_KEY_ID="));
    let cleared = wait_for(10, || {
        (!clipboard_text().contains("AWS_SECRET_ACCESS_KEY")).then_some(())
    });
    assert!(
        cleared.is_some(),
        "the credentials are still on the clipboard"
    );

    // Something copied since is the person's own: it stays.
    assert_eq!(copy(), "copied");
    let mut other = Command::new("xclip")
        .args(["-i", "-selection", "clipboard"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        other
            .stdin
            .take()
            .unwrap()
            .write_all(b"kubectl get pods")
            .unwrap();
    }
    other.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(clipboard_text(), "kubectl get pods");
}

/// Every file, folder and socket under `dir`, recursively (links not followed).
fn everything_under(dir: &Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                stack.push(entry.path());
            }
            found.insert(entry.path());
        }
    }
    found
}

#[test]
fn a_demo_runs_beside_the_real_app_and_keeps_out_of_its_stores() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::signed_in(APP, FakeConfig::default());
    let home = w.sandbox.home();
    // The person's own folders, each named by its variable as a desktop session names them.
    let folders = [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_RUNTIME_DIR", ".run"),
    ];
    let person = |command: &mut Command| {
        for (variable, folder) in folders {
            command.env(variable, home.join(folder));
        }
    };
    let mut real = w.sandbox.command(APP);
    person(&mut real);
    let real = Running(real.stdout(Stdio::null()).spawn().unwrap());
    let owner = wait_for(15, single_instance_owner).expect("the real app owns the name");
    assert_eq!(owner, real.0.id());
    // The real app lists its session's accounts at start: from then on, whatever appears in
    // the person's folders is the demo's.
    // (Each list is written to a temporary file first, then renamed: only the lists count.)
    let accounts = |cache: &Path| {
        let mut lists = everything_under(&cache.join("ssobar/accounts"));
        lists.retain(|path| path.extension().is_some_and(|e| e == "json"));
        lists
    };
    let settled = wait_for(20, || {
        (!accounts(&home.join(".cache")).is_empty()).then_some(())
    });
    assert!(settled.is_some(), "the real app listed its accounts");
    let before = everything_under(home);

    // The person's environment asks for tokens in the keychain and for no endpoint overrides,
    // and names a profile: the demo must heed none of them, or its fake tokens land among the
    // real ones. The demo makes its folder in TMPDIR: one of the test's own.
    let tmp = ssobar_testkit::Sandbox::new();
    let mut demo = w.sandbox.command(APP);
    person(&mut demo);
    let mut demo = Running(
        demo.args(["--demo", "--window"])
            .env("TMPDIR", tmp.home())
            .env("SSOBAR_TOKEN_STORE", "keychain")
            .env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
            .env("AWS_PROFILE", "dev")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let demo_home = wait_for(15, || {
        std::fs::read_dir(tmp.home())
            .ok()?
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.join(".aws/config").is_file())
    })
    .expect("the demo's HOME, with its AWS config, in TMPDIR");
    // The demo lists its signed-in sessions' accounts at start: wait for the first list,
    // wherever it lands.
    let demo_cache = demo_home.join(".cache");
    let listed = wait_for(30, || {
        let persons = accounts(&home.join(".cache"));
        let new_in_persons = persons.difference(&before).count();
        (new_in_persons + accounts(&demo_cache).len() > 0).then_some(())
    });
    assert!(listed.is_some(), "the demo listed no accounts");
    assert!(
        !accounts(&demo_cache).is_empty(),
        "the demo's accounts are not in its own cache folder: {:?}",
        everything_under(home)
            .difference(&before)
            .collect::<Vec<_>>()
    );
    let new: Vec<_> = everything_under(home)
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(
        new,
        Vec::<std::path::PathBuf>::new(),
        "the demo wrote into the person's folders"
    );
    // Nothing of the person's reaches the process (nor what it starts, which inherits it).
    let environ = std::fs::read(format!("/proc/{}/environ", demo.0.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    for variable in environ.split('\0') {
        assert!(
            !variable.starts_with("AWS_") && !variable.starts_with("SSOBAR_"),
            "the demo runs with {variable}"
        );
    }
    for (name, _) in folders {
        let value = environ
            .split('\0')
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("the demo runs without {name}"));
        assert!(
            Path::new(value).starts_with(&demo_home),
            "the demo runs with {name}={value}"
        );
    }
    // Its window works in its own folders.
    let shown = wait_for(15, || window_is_open().then_some(()));
    assert!(shown.is_some(), "the demo's window is not shown");
    assert!(
        demo.0.try_wait().unwrap().is_none(),
        "the demo handed its launch to the real app and quit"
    );
    assert_eq!(single_instance_owner(), Some(real.0.id()));
    assert_eq!(
        secret_tool_entries("token/"),
        Vec::<String>::new(),
        "the demo's tokens are in the real keychain"
    );
}

#[test]
fn a_session_that_expired_while_the_machine_slept_is_shown_expired_on_wake() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Ignore);
    // Forty minutes left, and no refresh token: only a sign-in renews it.
    w.seed_sign_in_with(40 * 60, &[]);
    let home = w.sandbox.home();

    // A system bus of the test's own, where logind would announce the wake-up.
    let socket = home.join("system_bus_socket");
    let address = format!("unix:path={}", socket.display());
    let _system_bus = Running(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", &format!("--address={address}")])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, || socket.exists().then_some(())).expect("the test's system bus");

    let notices = home.join("notify.log");
    let _monitor = Running(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(std::fs::File::create(&notices).unwrap())
            .spawn()
            .unwrap(),
    );
    // The app's wall clock moves when this file says so; its monotonic clock does not, as
    // in a suspend.
    let clock = home.join("clock");
    std::fs::write(&clock, "+0").unwrap();
    let _app = Running(
        w.sandbox
            .command(APP)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME_TIMESTAMP_FILE", &clock)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("FAKETIME_CACHE_DURATION", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.join("app.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for(15, tray_icon_geometry).expect("the app's tray icon");
    std::thread::sleep(std::time::Duration::from_secs(2));

    // The machine sleeps for an hour, then wakes up.
    std::fs::write(&clock, "+1h").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let woke = Command::new("dbus-send")
        .args([
            // --bus registers on the bus, as logind is; --address would not, and the bus
            // would drop the signal.
            &format!("--bus={address}"),
            "--type=signal",
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager.PrepareForSleep",
            "boolean:false",
        ])
        .status()
        .unwrap();
    assert!(woke.success(), "dbus-send the wake-up");
    let expired = format!("string \"SSO session {} expired", w.session);
    let shown = wait_for(5, || {
        std::fs::read_to_string(&notices)
            .unwrap_or_default()
            .contains(&expired)
            .then_some(())
    });
    assert!(
        shown.is_some(),
        "no \"expired\" notice within 5 s of waking up; the app said: {}; notices: {}",
        std::fs::read_to_string(home.join("app.log")).unwrap_or_default(),
        std::fs::read_to_string(&notices).unwrap_or_default()
    );
}

#[test]
fn a_silent_refresh_at_trace_level_leaks_no_secret() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = World::start(APP, FakeConfig::default(), BrowserMode::Follow);
    let issued = w.seed_sign_in(-60);
    let mut child = w
        .sandbox
        .command(APP)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let app = Running(child);
    wait_for(15, || {
        let token = w.token()?;
        (token["accessToken"] != issued.access_token.as_str()).then_some(())
    })
    .expect("the app refreshed the token");
    let mut texts: Vec<(String, String)> = with_descendants(app.0.id())
        .into_iter()
        .filter_map(sample)
        .flat_map(|(exe, cmdline, environ)| {
            let who = exe.display().to_string();
            [
                (format!("{who} cmdline"), cmdline),
                (format!("{who} environ"), environ),
            ]
        })
        .collect();
    drop(app);
    texts.push(("stdout".into(), stdout.join().unwrap()));
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains("TRACE"),
        "the app logged at trace:\n{stderr}"
    );
    texts.push(("stderr".into(), stderr));
    texts.extend(files_outside_the_token_cache(w.sandbox.home()));

    let secrets = w.fake.secrets();
    assert!(secrets.len() >= 5, "{} secrets", secrets.len());
    let leaks = leaks(&texts, &secrets);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
