//! A closed stdout or stderr: every command, `--help`, `--version` and each shell's
//! completions run with one of the two streams a pipe whose reader is gone before ssobar
//! starts (so its first write fails, every time), and none may panic. A closed stdout ends a
//! command quietly with exit status 141 (what a shell shows for a program a closed pipe
//! stopped); a closed stderr changes nothing: the command does its work, a sign-in included,
//! and exits as it would have. The programs ssobar starts get SIGPIPE at its default.

// Exit statuses and signals are Unix's.
#![cfg(unix)]

use crate::SSOBAR;
use base64::Engine;
use ssobar_fake_aws::{FakeCluster, FakeConfig, Operation};
use ssobar_testkit::{BrowserMode, World, require_secret_service};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

/// The exit status of a command whose stdout closed early.
const CLOSED_STDOUT: i32 = 141;
const SIGPIPE: i32 = 13;

/// The stream that is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    Stdout,
    Stderr,
    /// Both, one pipe: `ssobar login 2>&1 | head -1` once `head` has its line.
    Both,
}

/// How a run must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// This exit status.
    Exit(i32),
    /// Killed by this signal (only `exec`, which becomes its command).
    Signal(i32),
}

impl End {
    fn of(status: ExitStatus) -> Self {
        match status.signal() {
            Some(signal) => Self::Signal(signal),
            None => Self::Exit(status.code().unwrap_or(-1)),
        }
    }
}

/// One command line and how it ends with each stream closed.
struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// With stdout closed.
    stdout_closed: End,
    /// With stderr closed.
    stderr_closed: End,
    /// What stdout shows when only stderr is closed ("" where it shows nothing).
    shows: String,
}

/// A command that prints on stdout: 141 without it, success without stderr.
fn prints(args: &[&str], shows: &str) -> Case {
    Case {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
        stdout_closed: End::Exit(CLOSED_STDOUT),
        stderr_closed: End::Exit(0),
        shows: shows.to_owned(),
    }
}

impl Case {
    /// A command that prints nothing on stdout: the same `end` either way.
    fn quiet(args: &[&str], end: i32) -> Self {
        Self {
            stdout_closed: End::Exit(end),
            stderr_closed: End::Exit(end),
            ..prints(args, "")
        }
    }

    fn with_env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    fn with_stdout_closed(mut self, end: End) -> Self {
        self.stdout_closed = end;
        self
    }
}

/// A pipe whose reader is gone: every write to it fails with EPIPE, the first one included.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

/// Runs `command` with `closed` a closed pipe and answers how it ended and the other stream.
fn run_closed(mut command: Command, closed: Closed) -> (End, String) {
    command.stdin(Stdio::null()).env_remove("RUST_BACKTRACE");
    match closed {
        Closed::Stdout => command.stdout(closed_pipe()),
        Closed::Stderr => command.stderr(closed_pipe()),
        Closed::Both => {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            command.stdout(writer.try_clone().unwrap()).stderr(writer)
        }
    };
    let output = command.output().unwrap();
    let other = match closed {
        Closed::Stdout => output.stderr,
        Closed::Stderr | Closed::Both => output.stdout,
    };
    (
        End::of(output.status),
        String::from_utf8_lossy(&other).into_owned(),
    )
}

/// A signed-in world with a browser that follows the sign-in, an EKS cluster in the `dev`
/// profile's region, and a CA file for `kubeconfig --server`.
fn world() -> (World, String) {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in(8 * 3600);
    let pem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
    let ca = w.sandbox.home().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let ca_data = base64::engine::general_purpose::STANDARD.encode(pem);
    w.fake.add_cluster(
        FakeCluster::new("prod", "https://127.0.0.1:6443", &ca_data).in_region("eu-west-1"),
    );
    (w, ca.display().to_string())
}

/// Every command, in an order that leaves each one's session as it needs it (sign-out last).
fn every_command(w: &World, ca: &str) -> Vec<Case> {
    let session = w.session.as_str();
    let dev = ["--profile", "dev"];
    fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
        [head, tail].concat()
    }
    let mut cases = vec![
        prints(&["--help"], "Usage: ssobar"),
        prints(&["--version"], "ssobar "),
        prints(&["login", "--help"], "Usage: ssobar login"),
        Case::quiet(&["status", "--no-such-flag"], 2),
        Case::quiet(&["credential-process", "--profile", "nope"], 1),
    ];
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        cases.push(prints(&["completions", shell], "ssobar"));
    }
    cases.extend([
        prints(&["status"], "PROFILE"),
        prints(&["status", "--json"], "\"profile\""),
        prints(&["status"], "PROFILE").with_env("RUST_LOG", "trace"),
        prints(&with(&["prompt"], &dev), "dev "),
        prints(&["accounts", "--sso-session", session], "ACCOUNT"),
        prints(
            &["accounts", "--sso-session", session, "--json"],
            "111122223333",
        ),
        prints(
            &["populate", "--sso-session", session, "--dry-run"],
            "+++ b/",
        ),
        Case::quiet(&["populate", "--sso-session", session], 0),
        prints(&with(&["credential-process"], &dev), "AccessKeyId"),
        prints(&with(&["env"], &dev), "AWS_SECRET_ACCESS_KEY"),
        // exec becomes its command, which gets SIGPIPE at its default: the closed pipe ends it.
        prints(&with(&["exec"], &dev), "ran")
            .with_stdout_closed(End::Signal(SIGPIPE))
            .with_args(&["--", "sh", "-c", "echo ran"]),
        // exec --server's command dies the same way, and ssobar exits as it did: 128 + 13.
        prints(&with(&["exec", "--server"], &dev), "ran")
            .with_args(&["--", "sh", "-c", "echo ran"]),
        prints(&with(&["console", "--print"], &dev), "Action=login"),
        // The world's browser follows the one-time link, which the command waits for.
        Case::quiet(&with(&["console"], &dev), 0),
        prints(
            &with(&["eks-token", "--cluster-id", "prod"], &dev),
            "ExecCredential",
        ),
        prints(
            &with(
                &["kubeconfig", "--cluster-id", "prod", "--server"],
                &[
                    "https://127.0.0.1:6443",
                    "--certificate-authority",
                    ca,
                    "--profile",
                    "dev",
                ],
            ),
            "context dev@prod",
        ),
        prints(
            &[
                "clusters",
                "--sso-session",
                session,
                "--regions",
                "eu-west-1",
            ],
            "prod",
        ),
        prints(
            &[
                "kubeconfig",
                "--all",
                "--sso-session",
                session,
                "--regions",
                "eu-west-1",
            ],
            "context",
        ),
        prints(
            &with(
                &[
                    "aws-auth",
                    "--cluster-id",
                    "prod",
                    "--group",
                    "system:masters",
                ],
                &dev,
            ),
            "mapRoles",
        ),
        // serve prints its lines first: without stdout it ends before serving (with stderr
        // closed it serves, see below).
        Case {
            stderr_closed: End::Exit(0),
            ..prints(&with(&["serve"], &dev), "")
        },
        prints(&with(&["refresh", "--force"], &dev), "Refreshed"),
        // A sign-in through the scripted browser: the token is written before the last line.
        prints(&with(&["login", "--force"], &dev), "Signed in to"),
        prints(&with(&["logout"], &dev), "Signed out of"),
    ]);
    cases
}

impl Case {
    fn with_args(mut self, more: &[&str]) -> Self {
        self.args.extend(more.iter().map(|a| (*a).to_owned()));
        self
    }
}

/// Runs every case with `closed` closed and answers one line per case that went wrong.
fn failures(w: &World, cases: &[Case], closed: Closed) -> Vec<String> {
    let mut failed = Vec::new();
    for case in cases {
        if closed == Closed::Stderr && case.args.first().is_some_and(|a| a == "serve") {
            continue;
        }
        let mut command = w.command();
        command.args(&case.args);
        for (key, value) in &case.env {
            command.env(key, value);
        }
        let (end, other) = run_closed(command, closed);
        let expected = match closed {
            Closed::Stdout | Closed::Both => case.stdout_closed,
            Closed::Stderr => case.stderr_closed,
        };
        let name = case.args.join(" ");
        // Enough to see what went wrong, not a whole credential format.
        let shown: String = other.trim().chars().take(300).collect();
        if end != expected {
            failed.push(format!(
                "{name}: ended {end:?}, not {expected:?}; other stream: {shown}"
            ));
        }
        let panicked = [
            "panicked",
            "RUST_BACKTRACE",
            "Broken pipe",
            "stdout was closed",
        ]
        .iter()
        .find(|text| other.contains(*text));
        if let Some(text) = panicked {
            failed.push(format!("{name}: its stderr says {text:?}: {shown}"));
        }
        if closed == Closed::Stderr && !other.contains(&case.shows) {
            failed.push(format!("{name}: stdout lacks {:?}: {shown}", case.shows));
        }
    }
    failed
}

#[test]
fn every_command_ends_quietly_with_status_141_when_its_stdout_is_closed() {
    let (w, ca) = world();
    let cases = every_command(&w, &ca);
    let failed = failures(&w, &cases, Closed::Stdout);
    assert!(
        failed.is_empty(),
        "{} of {} commands:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
    // The sign-in whose last line found no reader had written its token before it.
    assert_eq!(w.calls(Operation::CreateToken), 2, "refresh and sign-in");
}

#[test]
fn every_command_does_its_work_when_its_stderr_is_closed() {
    let (w, ca) = world();
    let cases = every_command(&w, &ca);
    let failed = failures(&w, &cases, Closed::Stderr);
    assert!(
        failed.is_empty(),
        "{} of {} commands:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
fn a_sign_in_whose_stderr_is_closed_finishes_and_writes_its_token() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    let mut login = w.command();
    login.args(["login", "--profile", "dev"]);
    let (end, stdout) = run_closed(login, Closed::Stderr);
    assert_eq!(end, End::Exit(0), "{stdout}");
    assert!(
        stdout.starts_with(&format!("Signed in to {} until", w.session)),
        "{stdout}"
    );
    let token = w.token().expect("the token is written");
    assert!(token["accessToken"].is_string(), "{token}");
    assert_eq!(w.browser.opened().len(), 1);
    assert_eq!(w.calls(Operation::CreateToken), 1);

    // Without stdout, the same sign-in: only its last line is lost.
    std::fs::remove_file(w.sandbox.token_path(&w.session)).unwrap();
    let mut login = w.command();
    login.args(["login", "--profile", "dev"]);
    let (end, stderr) = run_closed(login, Closed::Stdout);
    assert_eq!(end, End::Exit(CLOSED_STDOUT), "{stderr}");
    assert!(stderr.contains("Opened the sign-in page"), "{stderr}");
    assert!(w.token().is_some(), "the token is written");
    assert_eq!(w.calls(Operation::CreateToken), 2);

    // Both on one pipe whose reader has gone: the same.
    std::fs::remove_file(w.sandbox.token_path(&w.session)).unwrap();
    let mut login = w.command();
    login.args(["login", "--profile", "dev"]);
    let (end, _) = run_closed(login, Closed::Both);
    assert_eq!(end, End::Exit(CLOSED_STDOUT));
    assert!(w.token().is_some(), "the token is written");
    assert_eq!(w.calls(Operation::CreateToken), 3);
}

#[test]
fn a_server_whose_stderr_is_closed_serves_and_stops_on_sigterm() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let mut child = w
        .command()
        .args(["serve", "--profile", "dev", "--shell", "sh"])
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(closed_pipe())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.starts_with("export SSOBAR_PROFILE="))
    {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve ended before its lines: {lines:?} ({:?})",
            child.wait()
        );
        lines.push(line);
    }
    let printed = lines.concat();
    let value = |name: &str| ssobar_testkit::exported(&printed, name);
    let answer = w
        .sandbox
        .command("curl")
        .args(["-fsS", "-H"])
        .arg(format!(
            "Authorization: {}",
            value("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        ))
        .arg(value("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&answer.stdout);
    assert!(body.contains("AccessKeyId"), "{body}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(End::of(child.wait().unwrap()), End::Exit(0));
}
