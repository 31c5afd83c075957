//! Which browser a sign-in opens: the `browser`, `url_action` and `firefox_container`
//! settings, and WSL's openers, end to end with ssobar-fake-aws and scripts that log the
//! arguments they are given (and follow the URL, as a person's browser would, where the
//! sign-in should finish).

use crate::SSOBAR;
#[cfg(unix)]
use crate::chmod;
use ssobar_fake_aws::{FakeConfig, Operation};
use ssobar_testkit::{BrowserMode, Ran, World, wait_for};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A world whose `$BROWSER` script only records what it is given, so that a test sees
/// whether anything other than the settings' browser was used.
fn world() -> World {
    World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore)
}

fn write_settings(w: &World, text: &str) {
    let dir = w.sandbox.home().join(".config/ssobar");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings.toml"), text).unwrap();
}

/// The absolute path of `program` on the test's own PATH: the scripts run with a PATH that
/// holds nothing else than themselves.
fn which(program: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!path.is_empty(), "{program} is needed by this test");
    path
}

/// What a browser script does with its last argument once it has logged its arguments.
#[derive(Clone, Copy)]
enum Then {
    /// Follow it, so the sign-in finishes.
    Follow,
    /// Undo cmd's caret escapes first, as cmd.exe does, then follow it.
    UnescapeAndFollow,
    /// Nothing: the person never comes back.
    Nothing,
}

/// Writes an executable script `dir/name` that logs each argument on its own line, between
/// brackets, to `dir/name.log`, then does what `then` says; returns the log's path.
#[cfg(unix)]
fn logging_script(dir: &Path, name: &str, then: Then) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join(format!("{name}.log"));
    let curl = which("curl");
    let sed = which("sed");
    let act = match then {
        // `--new-tab=URL`: the URL is what follows the option's `=`.
        Then::Follow => format!(
            r#"case $last in --*=*) last=${{last#*=}};; esac
{curl} -fsS -L -o /dev/null "$last""#
        ),
        Then::UnescapeAndFollow => format!(
            r#"{curl} -fsS -L -o /dev/null "$(printf '%s' "$last" | {sed} 's/\^\(.\)/\1/g')""#
        ),
        Then::Nothing => ":".to_owned(),
    };
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\" >> '{}'; last=$a; done\n{act}\n",
            log.display()
        ),
    )
    .unwrap();
    chmod(&script, 0o755);
    log
}

fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The URL ssobar printed for the person to open (the indented line after "visit:").
fn printed_url(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("http://") || line.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL on stderr:\n{stderr}"))
        .to_owned()
}

/// Reads a running command's stderr line by line until a line holds `needle`; returns what
/// was read so far (the rest is read on in the background so the command never blocks).
fn stderr_until(child: &mut Child, needle: &str, seconds: u64) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end even once nobody listens: a closed pipe would make ssobar's next
        // line on stderr fail, and the sign-in with it.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    panic!("no line with {needle:?} within {seconds} s; stderr so far:\n{seen}");
}

/// `encodeURIComponent`, written out here so the test does not take core's word for it.
fn encode_uri_component(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn a_browser_template_with_spaces_and_quotes_reaches_the_browser_as_separate_arguments() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    let log = logging_script(&bin, "my browser", Then::Follow);
    write_settings(
        &w,
        &format!(
            "browser = \"/nonexistent/browser {{url}}\"\n\n[sessions.{}]\nbrowser = '''\"{}\" --profile-directory=\"Profile 2\" 'a b' --new-tab={{url}}'''\n",
            w.session,
            bin.join("my browser").display()
        ),
    );
    let ran = w.ssobar(&["login", "--profile", "dev"]).success();
    let url = printed_url(&ran.stderr);
    assert_eq!(
        logged(&log),
        [
            "[--profile-directory=Profile 2]".to_owned(),
            "[a b]".to_owned(),
            format!("[--new-tab={url}]")
        ]
    );
    assert!(
        w.browser.opened().is_empty(),
        "the session's browser comes before $BROWSER"
    );
    assert!(w.token().is_some());
}

#[cfg(unix)]
#[test]
fn a_template_that_does_not_split_is_a_warning_and_the_next_browser_opens() {
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    write_settings(&w, "browser = \"firefox -P 'work {url}\"\n");
    let ran = w.ssobar(&["login", "--profile", "dev"]).success();
    assert!(
        ran.stderr.contains(
            "settings.toml: browser = `firefox -P 'work {url}` cannot be split into arguments: a ' quote is not closed; keeping the next way to open a URL\n"
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(w.browser.opened().len(), 1, "$BROWSER opened it");
}

#[cfg(unix)]
#[test]
fn a_browser_named_in_a_settings_file_others_may_write_is_not_run() {
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    let bin = w.sandbox.home().join("bin");
    let log = logging_script(&bin, "planted", Then::Follow);
    write_settings(
        &w,
        &format!("browser = \"{} {{url}}\"\n", bin.join("planted").display()),
    );
    let settings = w.sandbox.home().join(".config/ssobar/settings.toml");
    chmod(&settings, 0o666);
    let ran = w.ssobar(&["login", "--profile", "dev"]).success();
    assert!(logged(&log).is_empty(), "the planted browser ran");
    assert_eq!(w.browser.opened().len(), 1, "$BROWSER opened it");
    let warnings: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|line| line.starts_with("ssobar: warning: "))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "ssobar: warning: {0} is writable by group or others, so its browser, firefox_container, https_proxy, no_proxy and ca_bundle settings are ignored: run \"chmod 600 {0}\"",
            settings.display()
        )],
        "{}",
        ran.stderr
    );

    // Once only its owner may write it, its browser is the one.
    chmod(&settings, 0o600);
    w.ssobar(&["login", "--profile", "dev", "--force"])
        .success();
    assert_eq!(logged(&log).len(), 1, "the settings' browser ran");
}

#[test]
fn url_action_print_opens_nothing_and_the_printed_url_still_signs_in() {
    let w = world();
    let mut login = w
        .command()
        .args(["login", "--profile", "dev"])
        .env("SSOBAR_URL_ACTION", "print")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = stderr_until(&mut login, "/authorize?", 30);
    assert!(
        seen.contains("Open this URL in a browser to sign in:"),
        "{seen}"
    );
    let url = printed_url(&seen);
    let followed = Command::new("curl")
        .args(["-fsS", "-L", "-o", "/dev/null", &url])
        .status()
        .unwrap();
    assert!(followed.success());
    let ran = Ran::wait(login).success();
    assert!(ran.stdout.starts_with("Signed in to "), "{}", ran.stdout);
    assert!(w.browser.opened().is_empty(), "{:?}", w.browser.opened());
}

#[cfg(unix)]
#[test]
fn a_firefox_container_gets_an_exactly_encoded_link() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    let log = logging_script(&bin, "firefox", Then::Nothing);
    write_settings(
        &w,
        &format!(
            "[sessions.{}]\nbrowser = \"{}\"\nfirefox_container = \"Work Stuff\"\n",
            w.session,
            bin.join("firefox").display()
        ),
    );
    let mut login = w.spawn(&["login", "--profile", "dev"]);
    let seen = stderr_until(&mut login, "/authorize?", 30);
    let url = printed_url(&seen);
    assert!(
        wait_for(20, || (!logged(&log).is_empty()).then_some(())).is_some(),
        "the container's browser never ran"
    );
    login.kill().unwrap();
    let _ = login.wait();
    assert_eq!(
        logged(&log),
        [format!(
            "[ext+container:name=Work%20Stuff&url={}]",
            encode_uri_component(&url)
        )]
    );
    assert!(url.contains('&') && url.contains("%3A"), "{url}");
    assert!(w.browser.opened().is_empty());
}

/// A login under WSL (`WSL_DISTRO_NAME`), with no `$BROWSER` and a PATH of only `bin`.
fn wsl_login(w: &World, bin: &Path, hint_seconds: &str) -> Child {
    w.command()
        .args(["login", "--profile", "dev"])
        .env_remove("BROWSER")
        .env("WSL_DISTRO_NAME", "Debian")
        .env("PATH", bin)
        .env("SSOBAR_NO_REDIRECT_HINT_SECONDS", hint_seconds)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn on_wsl_explorer_exe_opens_the_url_when_there_is_no_wslview() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    let explorer = logging_script(&bin, "explorer.exe", Then::Follow);
    let cmd = logging_script(&bin, "cmd.exe", Then::Nothing);
    let ran = Ran::wait(wsl_login(&w, &bin, "0")).success();
    let url = printed_url(&ran.stderr);
    assert_eq!(logged(&explorer), [format!("[{url}]")]);
    assert!(logged(&cmd).is_empty(), "only the first opener found runs");
    assert_eq!(w.calls(Operation::Authorize), 1);
}

#[cfg(unix)]
#[test]
fn on_wsl_with_only_cmd_exe_it_starts_the_url_escaped_for_cmd() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    let cmd = logging_script(&bin, "cmd.exe", Then::UnescapeAndFollow);
    let ran = Ran::wait(wsl_login(&w, &bin, "0")).success();
    let url = printed_url(&ran.stderr);
    assert!(url.contains('&') && url.contains('%'), "{url}");
    // A caret before each of cmd.exe's specials and after each `%`, so no `%NAME%` expands.
    let mut escaped = String::new();
    let mut after_percent = false;
    for c in url.chars() {
        if after_percent || "^&|()%".contains(c) {
            escaped.push('^');
        }
        escaped.push(c);
        after_percent = c == '%';
    }
    assert_eq!(
        logged(&cmd),
        [
            "[/c]".to_owned(),
            "[start]".to_owned(),
            "[]".to_owned(),
            format!("[{escaped}]")
        ]
    );
    assert!(ran.stdout.starts_with("Signed in to "), "{}", ran.stdout);
}

#[cfg(unix)]
#[test]
fn when_no_redirect_comes_back_the_sign_in_names_the_device_code() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    let explorer = logging_script(&bin, "explorer.exe", Then::Nothing);
    let mut login = wsl_login(&w, &bin, "1");
    let seen = stderr_until(&mut login, "no redirect reached", 30);
    // The sign-in is still waiting: the hint does not end it.
    assert!(login.try_wait().unwrap().is_none(), "{seen}");
    login.kill().unwrap();
    let _ = login.wait();
    let hint = seen
        .lines()
        .find(|l| l.contains("no redirect reached"))
        .unwrap();
    assert!(
        hint.starts_with("ssobar: no redirect reached 127.0.0.1:"),
        "{hint}"
    );
    assert!(
        hint.ends_with(&format!(
            "press Ctrl-C and run \"ssobar login --sso-session {} --device-code\"",
            w.session
        )),
        "{hint}"
    );
    assert_eq!(logged(&explorer).len(), 1);
}

#[cfg(unix)]
#[test]
fn url_action_copy_puts_the_sign_in_link_on_the_clipboard_and_opens_nothing() {
    let w = world();
    let bin = w.sandbox.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let clipboard = w.sandbox.home().join("clipboard");
    let xclip = bin.join("xclip");
    std::fs::write(
        &xclip,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > '{0}.args'\n{1} > '{0}'\n",
            clipboard.display(),
            which("cat")
        ),
    )
    .unwrap();
    chmod(&xclip, 0o755);
    let mut login = w
        .command()
        .args(["login", "--profile", "dev"])
        .env("SSOBAR_URL_ACTION", "copy")
        .env("DISPLAY", ":99")
        .env_remove("WAYLAND_DISPLAY")
        .env("PATH", &bin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = stderr_until(&mut login, "/authorize?", 30);
    assert!(
        seen.contains("Copied the sign-in link to the clipboard"),
        "{seen}"
    );
    let url = printed_url(&seen);
    assert_eq!(std::fs::read_to_string(&clipboard).unwrap(), url);
    assert_eq!(
        std::fs::read_to_string(clipboard.with_extension("args")).unwrap(),
        "-selection clipboard\n"
    );
    let followed = Command::new("curl")
        .args(["-fsS", "-L", "-o", "/dev/null", &url])
        .status()
        .unwrap();
    assert!(followed.success());
    Ran::wait(login).success();
    assert!(w.browser.opened().is_empty(), "{:?}", w.browser.opened());
}

#[test]
fn the_console_under_url_action_print_prints_its_login_url_on_stdout_only() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    write_settings(
        &w,
        &format!("[sessions.{}]\nurl_action = \"print\"\n", w.session),
    );
    let ran = w.ssobar(&["console", "--profile", "dev"]).success();
    assert_eq!(ran.stderr, "", "the login URL is a secret: stdout only");
    assert_eq!(ran.stdout.lines().count(), 1, "{}", ran.stdout);
    assert!(
        ran.stdout
            .starts_with(&format!("{}/federation?Action=login&", w.fake.url())),
        "{}",
        ran.stdout
    );
    assert!(w.browser.opened().is_empty(), "{:?}", w.browser.opened());
}
