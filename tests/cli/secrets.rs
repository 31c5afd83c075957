//! No secret leaks: each `ssobar` command is a test of its own, run at `RUST_LOG=trace` in a
//! world of its own against ssobar-fake-aws, and every secret the fake issued or was sent
//! (client secrets, access and refresh tokens, secret access keys, session tokens, signin
//! tokens, PKCE code verifiers) is searched for in what the command left behind: its stderr;
//! its stdout unless it is a format that exists to carry credentials (`credential-process`,
//! `env`, `exec`'s command, `console --print`'s login URL); every file under HOME but the AWS
//! CLI's token cache; and the command lines and environments of the ssobar process and of the
//! programs it starts (the `$BROWSER` and what it runs, the command `exec --server` runs), but
//! `exec`'s. A leak fails the test of the command that leaked it, and only that one.

// Processes are looked at through /proc.
#![cfg(target_os = "linux")]

use crate::SSOBAR;
use base64::Engine;
use ssobar_fake_aws::{FakeCluster, FakeConfig};
use ssobar_testkit::sweep::{
    files_outside_the_token_cache, leaks, read_in_background, sample, with_descendants,
};
use ssobar_testkit::{BrowserMode, World, require_secret_service};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a command's stdout is a format made to carry credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stdout {
    /// Searched like everything else.
    Searched,
    /// `credential-process`, `env`, `exec`'s command, `console --print`: credentials by design.
    CarriesCredentials,
}

/// Whether the programs a command starts are searched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Children {
    /// The `$BROWSER` and whatever else ssobar starts.
    Searched,
    /// `exec`'s command, which gets the credentials by design (ssobar becomes it).
    ExecsItsCommand,
}

/// A command line, its program and environment, as read in /proc.
type Process = (PathBuf, String, String);

/// One command's sweep: its own world, and the texts its runs left to search.
struct Sweep {
    w: World,
    /// (where, text) pairs to search.
    texts: Vec<(String, String)>,
    /// The command lines swept, for the messages.
    runs: Vec<String>,
    /// Runs whose ssobar process was never read in /proc while it ran.
    unsampled: Vec<String>,
}

impl Sweep {
    /// A world whose session is signed in as the AWS CLI leaves it (a token with a refresh
    /// token and the client registration), with EKS cluster `prod` in `dev`'s region.
    fn signed_in() -> Self {
        let sweep = Self::signed_out(BrowserMode::Ignore);
        sweep.w.seed_sign_in(8 * 3600);
        sweep
    }

    /// A world whose session was never signed in, with a browser that acts as `mode` says.
    fn signed_out(mode: BrowserMode) -> Self {
        require_secret_service();
        let w = World::start(SSOBAR, FakeConfig::default(), mode);
        let pem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
        let ca_data = base64::engine::general_purpose::STANDARD.encode(pem);
        w.fake.add_cluster(
            FakeCluster::new("prod", "https://127.0.0.1:6443", &ca_data).in_region("eu-west-1"),
        );
        Self {
            w,
            texts: Vec::new(),
            runs: Vec::new(),
            unsampled: Vec::new(),
        }
    }

    /// The session's name, for `--sso-session`.
    fn session(&self) -> String {
        self.w.session.clone()
    }

    /// Runs a command that puts the world in the state the swept one needs; what it leaves
    /// in HOME is searched with the rest, its output is its own test's.
    fn prepare(&self, args: &[&str]) {
        self.w.ssobar(args).success();
    }

    /// Runs `ssobar ARGS` at trace level to its end, keeping what it printed and the command
    /// lines and environments of it and of its descendants, read while it runs.
    fn run(&mut self, args: &[&str], stdout: Stdout, children: Children) {
        let mut child = self.start(args);
        let out = read_in_background(child.stdout.take().unwrap());
        let err = read_in_background(child.stderr.take().unwrap());
        let name = args.join(" ");
        let mut procs = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{name} hangs");
            read_processes(&child, children, &mut procs);
            std::thread::sleep(Duration::from_millis(2));
        }
        let status = child.wait().unwrap();
        let stdout_text = out.join().unwrap();
        let stderr_text = err.join().unwrap();
        assert!(
            status.success(),
            "{name} failed: {status}\n{}",
            tail(&stderr_text)
        );
        self.keep(&name, procs, stdout, stdout_text, stderr_text);
    }

    /// Runs `ssobar serve` at trace level, asks it for credentials with its token as an SDK
    /// does, and stops it with SIGTERM.
    fn serve(&mut self, args: &[&str]) {
        let mut child = self.start(args);
        let err = read_in_background(child.stderr.take().unwrap());
        let name = args.join(" ");
        let mut procs = BTreeSet::new();
        read_processes(&child, Children::Searched, &mut procs);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = String::new();
        while !lines.contains("export SSOBAR_PROFILE=") {
            assert!(
                stdout.read_line(&mut lines).unwrap() > 0,
                "{name} ended before its lines: {lines}"
            );
        }
        let value = |variable: &str| ssobar_testkit::exported(&lines, variable);
        let asked = self
            .w
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
        assert!(
            String::from_utf8_lossy(&asked.stdout).contains("AccessKeyId"),
            "{name} served no credentials: {}",
            String::from_utf8_lossy(&asked.stderr)
        );
        read_processes(&child, Children::Searched, &mut procs);
        let stopped = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        let status = child.wait().unwrap();
        let stderr_text = err.join().unwrap();
        assert!(
            status.success(),
            "{name} failed: {status}\n{}",
            tail(&stderr_text)
        );
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        lines.push_str(&rest);
        self.keep(&name, procs, Stdout::Searched, lines, stderr_text);
    }

    fn start(&self, args: &[&str]) -> Child {
        self.w
            .command()
            .args(args)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn keep(
        &mut self,
        name: &str,
        procs: BTreeSet<Process>,
        stdout: Stdout,
        stdout_text: String,
        stderr_text: String,
    ) {
        let ssobar = std::fs::canonicalize(SSOBAR).unwrap();
        if !procs.iter().any(|(exe, _, _)| *exe == ssobar) {
            self.unsampled.push(name.to_owned());
        }
        for (exe, cmdline, environ) in procs {
            let who = format!("{name}: {}", exe.display());
            self.texts.push((format!("{who} cmdline"), cmdline));
            self.texts.push((format!("{who} environ"), environ));
        }
        if stdout == Stdout::Searched {
            self.texts.push((format!("{name}: stdout"), stdout_text));
        }
        self.texts.push((format!("{name}: stderr"), stderr_text));
        self.runs.push(name.to_owned());
    }

    /// The text kept from `place` (`"ARGS: stderr"`, ...).
    fn text(&self, place: &str) -> &str {
        self.texts
            .iter()
            .find(|(p, _)| p == place)
            .map(|(_, text)| text.as_str())
            .unwrap_or_else(|| panic!("nothing kept from {place}"))
    }

    /// Searches everything kept, and HOME, for every secret the fake issued or received:
    /// the test fails naming each hit. Every run must have been read in /proc while it ran,
    /// and must have logged at trace level (`aws_calls`: it made AWS calls, whose SDK logs
    /// are where secrets would show).
    fn assert_no_leak(mut self, aws_calls: bool) {
        assert!(
            self.unsampled.is_empty(),
            "never read in /proc while it ran: {:?}",
            self.unsampled
        );
        if aws_calls {
            for run in &self.runs {
                let stderr = self.text(&format!("{run}: stderr"));
                assert!(stderr.contains("TRACE"), "{run} logged no trace: {stderr}");
            }
        }
        self.texts
            .extend(files_outside_the_token_cache(self.w.sandbox.home()));
        let secrets = self.w.fake.secrets();
        assert!(
            secrets.len() >= 3,
            "the fake issued only {} secrets",
            secrets.len()
        );
        let found = leaks(&self.texts, &secrets);
        assert!(
            found.is_empty(),
            "{} leaks from {:?} ({} texts, {} secrets):\n{}",
            found.len(),
            self.runs,
            self.texts.len(),
            secrets.len(),
            found.join("\n")
        );
    }
}

/// Reads the command lines and environments of `child` (and of its descendants, unless it
/// becomes its command) into `procs`.
fn read_processes(child: &Child, children: Children, procs: &mut BTreeSet<Process>) {
    let ssobar = std::fs::canonicalize(SSOBAR).unwrap();
    let pids = match children {
        Children::Searched => with_descendants(child.id()),
        Children::ExecsItsCommand => vec![child.id()],
    };
    for pid in pids {
        if let Some(process) = sample(pid) {
            // After exec, ssobar's process is the command's: not searched.
            if children == Children::Searched || process.0 == ssobar {
                procs.insert(process);
            }
        }
    }
}

fn tail(text: &str) -> String {
    let bytes = text.as_bytes();
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
}

/// One command on a signed-in world, and the sweep.
fn sweep_signed_in(args: &[&str], stdout: Stdout) {
    let mut sweep = Sweep::signed_in();
    sweep.run(args, stdout, Children::Searched);
    sweep.assert_no_leak(true);
}

const DEV: [&str; 2] = ["--profile", "dev"];
const DEPLOY: [&str; 2] = ["--profile", "deploy"];
const EKS_TOKEN: [&str; 5] = ["eks-token", "--profile", "dev", "--cluster-id", "prod"];

fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    [head, tail].concat()
}

// Signing in, renewing, signing out.

#[test]
fn login_with_the_browser() {
    let mut sweep = Sweep::signed_out(BrowserMode::Follow);
    sweep.run(
        &with(&["login"], &DEV),
        Stdout::Searched,
        Children::Searched,
    );
    // The browser was read while it ran: its command line is the authorization URL.
    assert!(
        sweep
            .texts
            .iter()
            .any(|(place, text)| place.contains("cmdline") && text.contains("code_challenge=")),
        "the browser's command line was read"
    );
    sweep.assert_no_leak(true);
}

#[test]
fn login_again_with_the_browser_and_a_registration_kept() {
    let mut sweep = Sweep::signed_out(BrowserMode::Follow);
    sweep.prepare(&with(&["login"], &DEV));
    sweep.run(
        &with(&["login", "--force"], &DEV),
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn login_with_a_device_code() {
    let mut sweep = Sweep::signed_out(BrowserMode::Follow);
    sweep.run(
        &with(&["login", "--device-code"], &DEV),
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn refresh() {
    sweep_signed_in(&with(&["refresh", "--force"], &DEV), Stdout::Searched);
}

#[test]
fn logout() {
    sweep_signed_in(&with(&["logout"], &DEV), Stdout::Searched);
}

// Status: no AWS call, files only.

#[test]
fn status() {
    let mut sweep = Sweep::signed_in();
    sweep.run(&["status"], Stdout::Searched, Children::Searched);
    sweep.assert_no_leak(false);
}

#[test]
fn status_as_json() {
    let mut sweep = Sweep::signed_in();
    sweep.run(&["status", "--json"], Stdout::Searched, Children::Searched);
    sweep.assert_no_leak(false);
}

#[test]
fn the_access_log_after_credentials_were_handed_out() {
    let mut sweep = Sweep::signed_in();
    sweep.prepare(&["credential-process", "--profile", "dev"]);
    sweep.run(&["log", "--json"], Stdout::Searched, Children::Searched);
    sweep.run(&["log"], Stdout::Searched, Children::Searched);
    sweep.assert_no_leak(false);
}

// A session's directory.

#[test]
fn accounts() {
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    sweep.run(
        &["accounts", "--sso-session", &session],
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn populate() {
    // The profiles written to ~/.aws/config are searched with HOME.
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    sweep.run(
        &["populate", "--sso-session", &session],
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

// Role credentials.

#[test]
fn credential_process() {
    sweep_signed_in(
        &with(&["credential-process"], &DEV),
        Stdout::CarriesCredentials,
    );
}

#[test]
fn credential_process_for_a_role_chain() {
    sweep_signed_in(
        &with(&["credential-process"], &DEPLOY),
        Stdout::CarriesCredentials,
    );
}

#[test]
fn env() {
    sweep_signed_in(&with(&["env"], &DEV), Stdout::CarriesCredentials);
}

#[test]
fn exec() {
    let mut sweep = Sweep::signed_in();
    sweep.run(
        &with(
            &with(&["exec"], &DEPLOY),
            &["--", "sh", "-c", "env; sleep 0.1"],
        ),
        Stdout::CarriesCredentials,
        Children::ExecsItsCommand,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn exec_with_a_credential_server() {
    // The command gets no key, only the server's URI and token: its process is searched too;
    // what it asks the server for is on its stdout.
    let mut sweep = Sweep::signed_in();
    let command = r#"curl -fsS -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; sleep 0.1"#;
    sweep.run(
        &with(
            &with(&["exec", "--server"], &DEPLOY),
            &["--", "sh", "-c", command],
        ),
        Stdout::CarriesCredentials,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn serve() {
    // Its stdout is the server's URI and token, not credentials: searched. A request with the
    // token is served while it runs.
    let mut sweep = Sweep::signed_in();
    sweep.serve(&with(&["serve", "--shell", "sh"], &DEPLOY));
    sweep.assert_no_leak(true);
}

// The console. The login URL signs whoever has it in, as credentials do; the call that makes
// it sends the credentials in its query, which the trace logs must not show.

#[test]
fn console_print() {
    sweep_signed_in(
        &with(&["console", "--print"], &DEV),
        Stdout::CarriesCredentials,
    );
}

#[test]
fn console_print_for_a_role_chain() {
    sweep_signed_in(
        &with(&["console", "--print"], &DEPLOY),
        Stdout::CarriesCredentials,
    );
}

#[test]
fn console_opened() {
    // Opened, the login URL reaches the browser only through a one-time link: nothing the
    // browser is started with, and nothing on stdout, carries it. The browser follows the
    // link, as the command waits for it to.
    let mut sweep = Sweep::signed_out(BrowserMode::Follow);
    sweep.w.seed_sign_in(8 * 3600);
    sweep.run(
        &with(&["console"], &DEV),
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

// EKS.

#[test]
fn eks_token() {
    sweep_signed_in(&EKS_TOKEN, Stdout::Searched);
}

#[test]
fn eks_token_from_its_cache() {
    let mut sweep = Sweep::signed_in();
    sweep.prepare(&EKS_TOKEN);
    sweep.run(&EKS_TOKEN, Stdout::Searched, Children::Searched);
    // Two small files and a print: it may end before /proc is first read, and calls nothing.
    sweep.unsampled.clear();
    sweep.assert_no_leak(false);
}

#[test]
fn eks_token_for_another_role() {
    let role = ["--role-arn", "arn:aws:iam::444455556666:role/EksAdmin"];
    sweep_signed_in(&with(&EKS_TOKEN, &role), Stdout::Searched);
}

#[test]
fn kubeconfig() {
    sweep_signed_in(
        &with(&["kubeconfig", "--cluster-id", "prod"], &DEV),
        Stdout::Searched,
    );
}

#[test]
fn aws_auth_with_a_group() {
    sweep_signed_in(
        &with(
            &[
                "aws-auth",
                "--cluster-id",
                "prod",
                "--group",
                "system:masters",
            ],
            &DEV,
        ),
        Stdout::Searched,
    );
}

#[test]
fn aws_auth_with_an_access_policy() {
    sweep_signed_in(
        &with(
            &[
                "aws-auth",
                "--cluster-id",
                "prod",
                "--access-policy",
                "view",
            ],
            &DEV,
        ),
        Stdout::Searched,
    );
}

#[test]
fn clusters() {
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    let args = [
        "clusters",
        "--sso-session",
        &session,
        "--regions",
        "eu-west-1",
    ];
    sweep.run(&args, Stdout::Searched, Children::Searched);
    assert!(
        sweep
            .text(&format!("{}: stdout", args.join(" ")))
            .contains("prod"),
        "the cluster was found"
    );
    sweep.assert_no_leak(true);
}

#[test]
fn clusters_as_json() {
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    sweep.run(
        &[
            "clusters",
            "--json",
            "--sso-session",
            &session,
            "--regions",
            "eu-west-1",
        ],
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn kubeconfig_for_every_cluster() {
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    sweep.run(
        &[
            "kubeconfig",
            "--all",
            "--sso-session",
            &session,
            "--regions",
            "eu-west-1",
        ],
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn setup() {
    let mut sweep = Sweep::signed_in();
    let session = sweep.session();
    let start_url = format!("{}/start", sweep.w.fake.url());
    sweep.run(
        &[
            "setup",
            "--start-url",
            &start_url,
            "--name",
            &session,
            "--yes",
        ],
        Stdout::Searched,
        Children::Searched,
    );
    sweep.assert_no_leak(true);
}

#[test]
fn doctor_fixing_the_legacy_profile() {
    let mut sweep = Sweep::signed_in();
    sweep.run(&["doctor", "--fix"], Stdout::Searched, Children::Searched);
    assert!(
        sweep.text("doctor --fix: stdout").contains("legacy"),
        "the world's legacy profile was found"
    );
    sweep.assert_no_leak(true);
}

#[test]
fn doctor_as_json() {
    let mut sweep = Sweep::signed_in();
    sweep.prepare(&["doctor", "--fix"]);
    sweep.run(&["doctor", "--json"], Stdout::Searched, Children::Searched);
    sweep.assert_no_leak(true);
}
