//! The helper joined to the running app: a command that finds its session expired asks the
//! tray app to sign in, waits, and goes on once the person clicks once. The real kubectl and
//! botocore call `ssobar`; the channel's hostile peers are raw sockets.

use super::*;
use ssobar_testkit::KubeApiServer;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `ssobar` beside the app under test. `cargo test --workspace` (scripts/test) builds both;
/// `cargo test -p ssobar-app` alone does not rebuild it, so build it first then.
pub(super) fn ssobar() -> String {
    let path = Path::new(APP).with_file_name("ssobar");
    assert!(
        path.exists(),
        "{} is missing: build it with cargo build -p ssobar",
        path.display()
    );
    path.display().to_string()
}

/// A world whose session expired and has no refresh token: only a sign-in brings it back.
pub(super) fn expired_world(mode: BrowserMode) -> World {
    let w = World::start(&ssobar(), FakeConfig::default(), mode);
    w.seed_sign_in_with(-60, &[]);
    w
}

pub(super) fn socket(w: &World) -> PathBuf {
    w.sandbox.home().join(".run/ssobar/app.sock")
}

/// The app, started in the world, once it serves sign-in requests.
pub(super) fn serving_app(w: &World) -> Running {
    let app = Running::app(w);
    let up = wait_for(20, || UnixStream::connect(socket(w)).ok());
    assert!(up.is_some(), "the app serves {}", socket(w).display());
    app
}

/// A command run in the background, its stderr collected line by line as it is written.
struct Helper {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Helper {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn is_waiting(&self) -> bool {
        self.stderr().contains("waiting for sign-in to")
    }

    /// Waits for the end: (success, stdout, stderr).
    fn finish(&mut self) -> (bool, String, String) {
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let stderr = self.stderr();
        (status.success(), stdout, stderr)
    }

    /// Whether it has ended.
    fn ended(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }
}

fn all_waiting(helpers: &[Helper]) {
    let waiting = wait_for(30, || helpers.iter().all(Helper::is_waiting).then_some(()));
    let not: Vec<String> = helpers
        .iter()
        .filter(|h| !h.is_waiting())
        .map(Helper::stderr)
        .collect();
    assert!(waiting.is_some(), "not all waiting: {not:?}");
}

pub(super) fn displayed_notifications() -> u32 {
    let out = Command::new("dunstctl")
        .args(["count", "displayed"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The calls the app makes to the notification daemon, as `dbus-monitor` sees them.
pub(super) struct NotificationCalls {
    log: PathBuf,
    _monitor: Running,
}

impl NotificationCalls {
    /// Starts listening (earlier notifications closed first, so that only this test's count).
    pub(super) fn start(dir: &Path) -> Self {
        let _ = Command::new("dunstctl").arg("close-all").status();
        let log = dir.join("notifications.log");
        let monitor = Running(
            Command::new("dbus-monitor")
                .args([
                    "--session",
                    "type='method_call',interface='org.freedesktop.Notifications'",
                ])
                .stdout(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        let listening = wait_for(10, || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (!text.is_empty()).then_some(())
        });
        assert!(listening.is_some(), "dbus-monitor is listening");
        Self {
            log,
            _monitor: monitor,
        }
    }

    /// Everything the app sent the daemon so far, as `dbus-monitor` printed it.
    pub(super) fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many times the app called `member`.
    fn count(&self, member: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches(&format!("member={member}\n"))
            .count()
    }

    /// Asserts that the app took its notification off the screen (CloseNotification) within
    /// a few seconds: well before the daemon's own timeout would.
    fn assert_withdrawn(&self) {
        let gone = wait_for(3, || {
            (self.count("CloseNotification") == 1 && displayed_notifications() == 0).then_some(())
        });
        assert!(
            gone.is_some(),
            "the notification was not withdrawn: {} CloseNotification call(s), {} displayed",
            self.count("CloseNotification"),
            displayed_notifications()
        );
    }
}

/// `credential-process` for profile dev as the AWS CLI's own code runs it.
fn with_credential_process_profile(w: &World) {
    let mut config = std::fs::read_to_string(w.sandbox.home().join(".aws/config")).unwrap();
    config.push_str(&format!(
        "\n[profile via-ssobar]\ncredential_process = {} credential-process --profile dev\n",
        ssobar()
    ));
    w.sandbox.write_config(&config);
}

fn botocore_caller(w: &World) -> Helper {
    Helper::spawn(
        w.sandbox
            .command(ssobar_testkit::peer_python())
            .arg(ssobar_testkit::peer_script("botocore_peer.py"))
            .args(["role-credentials", "--profile", "via-ssobar"]),
    )
}

fn credential_process(w: &World) -> Helper {
    Helper::spawn(w.command().args(["credential-process", "--profile", "dev"]))
}

#[test]
fn twenty_kubectls_wait_for_one_click_and_all_go_on() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = expired_world(BrowserMode::Follow);
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let kubeconfig = w.kubeconfig_for(&server);
    let _app = serving_app(&w);

    let kubectls: Vec<Helper> = (0..20)
        .map(|_| {
            Helper::spawn(
                w.sandbox
                    .command("kubectl")
                    .env("KUBECONFIG", &kubeconfig)
                    .args(["get", "--raw", "/version"]),
            )
        })
        .collect();
    all_waiting(&kubectls);
    assert_eq!(
        displayed_notifications(),
        1,
        "one notification for 20 callers"
    );
    assert!(w.browser.opened().is_empty(), "no browser before the click");

    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());
    for mut kubectl in kubectls {
        let (ok, stdout, stderr) = kubectl.finish();
        assert!(ok, "kubectl failed: {stderr}");
        assert!(stdout.contains("v1.31.0-eks-stand-in"), "{stdout}");
    }
    assert_eq!(w.calls(Operation::Authorize), 1, "one authorization");
    assert_eq!(w.calls(Operation::CreateToken), 1, "one CreateToken");
    assert_eq!(w.browser.opened().len(), 1, "the browser opened once");
    assert!(server.requests().iter().all(|r| r["ok"] == true));
}

#[test]
fn twenty_aws_cli_callers_sign_in_with_no_click_when_the_browser_opens_at_once() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let mut w = expired_world(BrowserMode::Follow);
    w.sandbox.set_env("SSOBAR_ON_SIGN_IN_REQUEST", "browser");
    with_credential_process_profile(&w);
    let _app = serving_app(&w);

    let callers: Vec<Helper> = (0..20).map(|_| botocore_caller(&w)).collect();
    for mut caller in callers {
        let (ok, stdout, stderr) = caller.finish();
        assert!(ok, "botocore failed: {stderr}");
        assert!(
            stdout.contains("AWSReservedSSO_ReadOnlyAccess_"),
            "{stdout}"
        );
    }
    assert_eq!(w.calls(Operation::Authorize), 1, "one authorization");
    assert_eq!(w.calls(Operation::CreateToken), 1, "one CreateToken");
    assert_eq!(w.browser.opened().len(), 1, "the browser opened once");
}

#[test]
fn twenty_aws_cli_callers_wait_for_one_click() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = expired_world(BrowserMode::Follow);
    with_credential_process_profile(&w);
    let _app = serving_app(&w);

    let callers: Vec<Helper> = (0..20).map(|_| botocore_caller(&w)).collect();
    // botocore keeps its credential_process's stderr to itself: wait until each runs ssobar,
    // and a moment more for them to ask.
    let running = wait_for(30, || {
        callers
            .iter()
            .all(|c| with_descendants(c.child.id()).len() > 1)
            .then_some(())
    });
    assert!(running.is_some(), "botocore ran ssobar");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        displayed_notifications(),
        1,
        "one notification for 20 callers"
    );
    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());
    for mut caller in callers {
        let (ok, _, stderr) = caller.finish();
        assert!(ok, "botocore failed: {stderr}");
    }
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert_eq!(w.calls(Operation::CreateToken), 1);
    assert_eq!(w.browser.opened().len(), 1);
}

#[test]
fn cancel_in_the_window_fails_every_waiter_at_once() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let calls = NotificationCalls::start(w.sandbox.home());
    let driver = Driver::start(
        w.sandbox.command(tauri_driver()),
        Path::new(APP),
        &["--window"],
    );
    let up = wait_for(20, || UnixStream::connect(socket(&w)).ok());
    assert!(up.is_some(), "the app serves sign-in requests");
    let waiters: Vec<Helper> = (0..5).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    let card = format!("[data-session=\"s:{}\"]", w.session);
    let cancel = wait_for(20, || {
        let list = driver.find(&format!("{card} .callers"))?;
        // Every waiter is listed, by its parent's command name and pid.
        (driver.text(&list).matches("(pid ").count() == 5).then_some(())?;
        driver.find(&format!("{card} button.cancel-requests"))
    })
    .unwrap_or_else(|| {
        driver.screenshot(&screenshot_path("window-waiting-failed.png"));
        let shown = driver
            .find(&card)
            .map(|c| driver.text(&c))
            .unwrap_or_default();
        panic!("the window lists no 5 waiting commands with a Cancel: {shown}")
    });
    assert!(
        driver
            .text(&driver.find(&format!("{card} .waiting")).unwrap())
            .contains("waiting for"),
    );
    driver.screenshot(&screenshot_path("window-waiting.png"));
    // Each waiter's arrival re-rendered the card: let the last render land, then click the
    // button it drew.
    drop(cancel);
    std::thread::sleep(Duration::from_secs(1));
    let cancel = driver
        .find(&format!("{card} button.cancel-requests"))
        .unwrap();
    let clicked = Instant::now();
    driver.click(&cancel);
    let mut waiters = waiters;
    let ended = wait_for(5, || waiters.iter_mut().all(Helper::ended).then_some(()));
    let took = clicked.elapsed();
    assert!(ended.is_some(), "the waiters did not end");
    assert!(
        took < Duration::from_secs(1),
        "they ended {took:?} after the click"
    );
    for mut waiter in waiters {
        let (ok, stdout, stderr) = waiter.finish();
        assert!(!ok);
        assert_eq!(stdout, "");
        assert!(
            stderr.contains(&format!(
                "the sign-in to \"{}\" was cancelled in ssobar-app; run \"ssobar login --sso-session {}\"",
                w.session, w.session
            )),
            "{stderr}"
        );
    }
    calls.assert_withdrawn();
    assert!(w.browser.opened().is_empty());
}

#[test]
fn a_killed_app_fails_its_waiters_and_the_next_one_replaces_its_socket() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let mut app = serving_app(&w);
    let mut waiters: Vec<Helper> = (0..5).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    signal(&app.0, "KILL");
    let killed = Instant::now();
    let ended = wait_for(5, || waiters.iter_mut().all(Helper::ended).then_some(()));
    let took = killed.elapsed();
    assert!(
        ended.is_some() && took < Duration::from_secs(2),
        "ended after {took:?}"
    );
    for mut waiter in waiters {
        let (ok, _, stderr) = waiter.finish();
        assert!(!ok);
        assert!(
            stderr.contains("ssobar-app stopped before the sign-in to")
                && stderr.contains("run \"ssobar login --sso-session"),
            "{stderr}"
        );
    }
    let _ = app.0.wait();
    assert!(socket(&w).exists(), "the dead app's socket is left behind");
    // Nobody answers on it: a helper finds no app and fails at once, as with none.
    let ran = w.ssobar(&["credential-process", "--profile", "dev"]);
    assert!(ran.stderr.contains("run \"ssobar login"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("waiting"), "{}", ran.stderr);

    drop(app);
    let _again = serving_app(&w);
    let waiter = credential_process(&w);
    let waiting = wait_for(10, || waiter.is_waiting().then_some(()));
    assert!(
        waiting.is_some(),
        "the new app answers: {}",
        waiter.stderr()
    );
}

/// Sends `bytes` on a fresh connection and returns the app's reply line.
fn exchange(path: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The app may close before reading a huge message to its end: that is its answer too.
    let _ = stream.write_all(bytes);
    let mut reply = String::new();
    let _ = BufReader::new(stream).read_line(&mut reply);
    reply
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn hostile_peers_get_an_error_and_the_app_carries_on() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let app = serving_app(&w);
    let path = socket(&w);
    let red = wait_for(20, || {
        let (x, y, width, height) = tray_icon_geometry().filter(|g| g.2 > 1 && g.3 > 1)?;
        icon_colours(x, y, width, height)
            .contains("#D64545")
            .then_some(())
    });
    assert!(red.is_some(), "the expired session's red icon");
    let before = resident_kib(app.0.id());

    let huge = vec![b'x'; 10 * 1024 * 1024];
    let reply = exchange(&path, &huge);
    assert!(reply.contains("longer than 4096 bytes"), "{reply}");
    let reply = exchange(&path, b"{\"v\":1,\"type\":\"sign-in\",\n");
    assert!(reply.contains("not JSON"), "{reply}");
    let reply = exchange(&path, b"\xff\xfe\n");
    assert!(reply.contains("not UTF-8"), "{reply}");
    let reply = exchange(
        &path,
        b"{\"v\":9,\"type\":\"sign-in\",\"session\":\"s:x\",\"start\":\"now\"}\n",
    );
    assert!(reply.contains("protocol version 9"), "{reply}");
    let reply = exchange(&path, b"{\"v\":1,\"type\":\"give-me-a-token\"}\n");
    assert!(reply.contains("\"type\":\"error\""), "{reply}");

    let idle: Vec<UnixStream> = (0..1000)
        .filter_map(|_| UnixStream::connect(&path).ok())
        .collect();
    assert!(idle.len() >= 100, "only {} connections", idle.len());
    // A real request still gets its answer while they idle.
    let started = Instant::now();
    let waiter = credential_process(&w);
    let waiting = wait_for(10, || waiter.is_waiting().then_some(()));
    assert!(
        waiting.is_some(),
        "no answer under load: {}",
        waiter.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(waiter);

    // The tray still follows the files: a sign-in elsewhere turns the icon green.
    w.seed_sign_in(8 * 3600);
    let green = wait_for(20, || {
        let (x, y, width, height) = tray_icon_geometry().filter(|g| g.2 > 1 && g.3 > 1)?;
        icon_colours(x, y, width, height)
            .contains("#2E9D5B")
            .then_some(())
    });
    assert!(green.is_some(), "the tray did not update under load");
    let after = resident_kib(app.0.id());
    assert!(
        after < before + 64 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    drop(idle);
}

#[test]
fn a_connection_from_another_user_is_refused() {
    // Another user's client runs as nobody, which takes root (or sudo) to become.
    let Some(root) = ssobar_testkit::root::Root::for_test(
        "handoff::a_connection_from_another_user_is_refused",
        "to run a client as another user (setpriv --reuid=nobody)",
    ) else {
        return;
    };
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let _app = serving_app(&w);
    let path = socket(&w);
    // Open the way to the socket for everyone, as a careless chmod would: the peer check is
    // what must refuse the other user then.
    use std::os::unix::fs::PermissionsExt;
    let mut opened = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == Path::new("/") || d == Path::new("/tmp") {
            break;
        }
        let mode = std::fs::metadata(d).unwrap().permissions().mode();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o711)).unwrap();
        opened.push((d.to_owned(), mode));
        dir = d.parent();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let request = r#"{"v":1,"type":"sign-in","session":"s:x","start":"now"}"#;
    let client = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect({path:?})\ntry:\n    s.sendall(b'{request}\\n')\nexcept OSError:\n    pass\nsys.stdout.write(s.makefile().readline())"
    );
    let ran = root
        .command("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(&client)
        .output()
        .unwrap();
    for (d, mode) in opened {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let reply = String::from_utf8_lossy(&ran.stdout);
    assert!(
        reply.contains("refused: ssobar-app serves only the user it runs as"),
        "{reply} {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(w.browser.opened().is_empty(), "nothing started for it");
}

#[test]
fn an_app_whose_socket_folder_others_may_enter_runs_its_tray_without_the_channel() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let folder = socket(&w).parent().unwrap().to_owned();
    std::fs::create_dir_all(&folder).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();

    let mut app = w
        .sandbox
        .command(APP)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = app.stderr.take().unwrap();
    let app = Running(app);
    let said = Arc::new(Mutex::new(String::new()));
    let sink = said.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    let fix = format!("run \"chmod 700 {}\"", folder.display());
    let line = wait_for(20, || {
        said.lock()
            .unwrap()
            .lines()
            .find(|line| line.contains("cannot serve sign-in requests"))
            .map(str::to_owned)
    })
    .unwrap_or_else(|| panic!("no line about the channel: {}", said.lock().unwrap()));
    assert!(line.contains(&fix), "{line}");
    assert!(wait_for(20, tray_icon_geometry).is_some(), "the tray runs");
    assert!(!socket(&w).exists(), "nothing bound in the folder");

    // A helper refuses the folder too, and fails at once as with no app.
    let ran = w.ssobar(&["credential-process", "--profile", "dev"]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains(&fix), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    drop(app);
}

#[test]
fn login_in_a_terminal_goes_through_the_app_and_frees_its_waiters() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = expired_world(BrowserMode::Follow);
    let _app = serving_app(&w);
    let waiters: Vec<Helper> = (0..3).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    let login = w.ssobar(&["login", "--sso-session", &w.session]).success();
    assert!(
        login
            .stdout
            .starts_with(&format!("Signed in to {} until", w.session)),
        "{}",
        login.stdout
    );
    for mut waiter in waiters {
        let (ok, stdout, stderr) = waiter.finish();
        assert!(ok, "{stderr}");
        assert!(stdout.contains("AccessKeyId"));
    }
    assert_eq!(w.calls(Operation::Authorize), 1, "one sign-in for all four");
    assert_eq!(w.browser.opened().len(), 1);
    // --force signs in again although the session is valid, which the app would not.
    w.ssobar(&["login", "--sso-session", &w.session, "--force"])
        .success();
    assert_eq!(w.calls(Operation::Authorize), 2);
}

#[test]
fn a_sign_in_from_elsewhere_lets_the_waiters_go_on() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let _app = serving_app(&w);
    let waiters: Vec<Helper> = (0..3).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    // As `aws sso login` in another terminal would: a new token in the cache.
    w.seed_sign_in(8 * 3600);
    for mut waiter in waiters {
        let (ok, _, stderr) = waiter.finish();
        assert!(ok, "{stderr}");
    }
    assert!(w.browser.opened().is_empty(), "the app opened nothing");
}

#[test]
fn the_waiting_notification_goes_when_a_sign_in_from_elsewhere_answers_its_waiters() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let calls = NotificationCalls::start(w.sandbox.home());
    let _app = serving_app(&w);
    let waiters: Vec<Helper> = (0..3).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    let shown = wait_for(10, || (displayed_notifications() == 1).then_some(()));
    assert!(shown.is_some(), "the waiting notification is on screen");
    // As `aws sso login` in another terminal would: a new token in the cache, which the
    // app's loop sees.
    w.seed_sign_in(8 * 3600);
    for mut waiter in waiters {
        let (ok, _, stderr) = waiter.finish();
        assert!(ok, "{stderr}");
    }
    calls.assert_withdrawn();
    assert_eq!(calls.count("Notify"), 1, "one notification, and no other");
}

#[test]
fn the_waiting_notification_goes_when_its_click_signs_in() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Follow);
    let calls = NotificationCalls::start(w.sandbox.home());
    let _app = serving_app(&w);
    let waiters: Vec<Helper> = (0..3).map(|_| credential_process(&w)).collect();
    all_waiting(&waiters);
    let shown = wait_for(10, || (displayed_notifications() == 1).then_some(()));
    assert!(shown.is_some(), "the waiting notification is on screen");
    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());
    for mut waiter in waiters {
        let (ok, _, stderr) = waiter.finish();
        assert!(ok, "{stderr}");
    }
    calls.assert_withdrawn();
    assert_eq!(w.calls(Operation::Authorize), 1);
}

#[test]
fn a_wait_that_runs_out_fails_with_the_command_to_run() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Ignore);
    let calls = NotificationCalls::start(w.sandbox.home());
    let _app = serving_app(&w);
    let started = Instant::now();
    let ran = w
        .ssobar(&["credential-process", "--profile", "dev", "--wait", "1"])
        .expect_code(1);
    let took = started.elapsed();
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.contains(&format!(
            "no sign-in to \"{}\" within 1 second; run \"ssobar login --sso-session {}\"",
            w.session, w.session
        )),
        "{}",
        ran.stderr
    );
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
    // Nobody waits any more: the notification that asked for them goes too.
    calls.assert_withdrawn();
}

#[test]
fn a_credential_server_whose_session_ends_asks_the_app_and_serves_again_after_one_click() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let w = World::start(&ssobar(), FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    let _app = serving_app(&w);
    let mut server = Helper::spawn(w.command().args(["serve", "--profile", "dev"]));
    // It prints its lines, then serves on: read lines, not to the end.
    let mut stdout = BufReader::new(server.child.stdout.take().unwrap());
    let mut lines = String::new();
    while !(lines.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI=")
        && lines.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN="))
    {
        let mut line = String::new();
        let read = stdout.read_line(&mut line).unwrap();
        assert!(read > 0, "serve ended: {}", server.stderr());
        lines.push_str(&line);
    }
    let value = |name: &str| ssobar_testkit::exported(&lines, name);
    let (uri, token) = (
        value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    );
    let request = || {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: {token}"))
            .arg(&uri)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(request(), "200");

    // The session ends with no way to refresh it, as after a day's work.
    w.seed_sign_in_with(-60, &[]);
    assert_eq!(request(), "503", "unavailable until someone signs in");
    let asked = wait_for(20, || (displayed_notifications() == 1).then_some(()));
    assert!(
        asked.is_some(),
        "the app shows one notification: {}",
        server.stderr()
    );
    assert_eq!(request(), "503");
    assert_eq!(
        displayed_notifications(),
        1,
        "asked once, however many requests"
    );
    let clicked = Command::new("dunstctl")
        .args(["action", "0"])
        .status()
        .unwrap();
    assert!(clicked.success());
    let served = wait_for(30, || (request() == "200").then_some(()));
    assert!(
        served.is_some(),
        "served again after the click: {}",
        server.stderr()
    );
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert!(!server.ended(), "the server keeps serving");
}
