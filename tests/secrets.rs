//! No secret leaks: every `ssobar` command runs at `RUST_LOG=trace` against ssobar-fake-aws,
//! and every secret the fake issued or was sent (client secrets, access and refresh tokens,
//! secret access keys, session tokens, PKCE code verifiers) is searched for in what the
//! commands left behind: every stderr; every stdout but those of the formats that exist to
//! carry credentials (`credential-process`, `env`, and `exec`'s command); every file under
//! HOME but the AWS CLI's token cache; and the command lines and environments of the ssobar
//! processes and of the programs they start (the `$BROWSER` and what it runs), but `exec`'s.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]
// Processes are looked at through /proc.
#![cfg(target_os = "linux")]

use base64::Engine;
use ssobar_fake_aws::{FakeCluster, FakeConfig};
use ssobar_testkit::{BrowserMode, KubeApiServer, World, require_secret_service};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const SSOBAR: &str = env!("CARGO_BIN_EXE_ssobar");

/// Whether a command's stdout is a format made to carry credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stdout {
    /// Searched like everything else.
    Searched,
    /// `credential-process`, `env`, `exec`'s command: credentials by design.
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

/// What was seen of one run: text to search, each with where it came from.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
    runs: usize,
    /// Runs whose ssobar process was read in /proc while it ran.
    sampled: usize,
}

impl Seen {
    /// Runs `ssobar ARGS` at trace level to its end, keeping what it printed and the command
    /// lines and environments of it and of its descendants, sampled while it runs.
    fn run(&mut self, w: &World, args: &[&str], stdout: Stdout, children: Children) {
        let mut child = w
            .command()
            .args(args)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = read_in_background(child.stdout.take().unwrap());
        let err = read_in_background(child.stderr.take().unwrap());
        let name = args.join(" ");
        let ssobar = std::fs::canonicalize(SSOBAR).unwrap();
        let mut procs = BTreeSet::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "{name} hangs");
            let pids = match children {
                Children::Searched => with_descendants(child.id()),
                Children::ExecsItsCommand => vec![child.id()],
            };
            for pid in pids {
                if let Some(sample) = sample(pid) {
                    // After exec, ssobar's process is the command's: not searched.
                    if children == Children::Searched || sample.0 == ssobar {
                        procs.insert(sample);
                    }
                }
            }
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
        // A warm eks-token may end before the first look at it.
        if procs.iter().any(|(exe, _, _)| *exe == ssobar) {
            self.sampled += 1;
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
        self.runs += 1;
    }

    /// Every file under HOME but the AWS CLI's token cache.
    fn files(&mut self, home: &Path) {
        let cache = home.join(".aws/sso/cache");
        let mut stack = vec![home.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() && path != cache {
                    stack.push(path);
                } else if kind.is_file() {
                    let bytes = std::fs::read(&path).unwrap();
                    self.texts.push((
                        path.display().to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    ));
                }
            }
        }
    }

    /// Where each secret was found, in its own spelling or URL-encoded.
    fn leaks(&self, secrets: &[String]) -> Vec<String> {
        let mut found = Vec::new();
        for secret in secrets {
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            for (place, text) in &self.texts {
                if text.contains(secret.as_str()) || text.contains(&encoded) {
                    found.push(format!(
                        "{}... in {place}: {}",
                        &secret[..8],
                        around(text, secret, &encoded)
                    ));
                }
            }
        }
        found
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `pid` and every process below it, from the kernel's lists of children.
fn with_descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() {
        let tasks = format!("/proc/{}/task", all[next]);
        next += 1;
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// A process's program, command line and environment, when one program was running
/// throughout the reading (a process that execs in between is read again later).
fn sample(pid: u32) -> Option<(PathBuf, String, String)> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let exe = std::fs::read_link(dir.join("exe")).ok()?;
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let environ = std::fs::read(dir.join("environ")).ok()?;
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).replace('\0', " ");
    (std::fs::read_link(dir.join("exe")).ok()? == exe).then(|| (exe, text(cmdline), text(environ)))
}

/// The text around the first hit, with the secret masked, for the failure message.
fn around(text: &str, secret: &str, encoded: &str) -> String {
    let at = text
        .find(secret)
        .or_else(|| text.find(encoded))
        .unwrap_or(0);
    let bytes = text.as_bytes();
    let end = (at + secret.len() + 40).min(bytes.len());
    String::from_utf8_lossy(&bytes[at.saturating_sub(120)..end])
        .replace(secret, "<SECRET>")
        .replace(encoded, "<SECRET>")
}

fn tail(text: &str) -> String {
    let bytes = text.as_bytes();
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
}

#[test]
fn no_command_leaks_a_secret_at_the_most_verbose_log_level() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let ca_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&server.ca_file).unwrap());
    w.fake
        .add_cluster(FakeCluster::new("prod", &server.url, &ca_data).in_region("eu-west-1"));
    let role_arn = "arn:aws:iam::444455556666:role/EksAdmin";
    let eks = ["eks-token", "--profile", "dev", "--cluster-id", "prod"];
    let eks_as_role = [&eks[..], &["--role-arn", role_arn]].concat();
    let (searched, carries) = (Stdout::Searched, Stdout::CarriesCredentials);
    let children = Children::Searched;

    let mut seen = Seen::default();
    seen.run(&w, &["login", "--profile", "dev"], searched, children);
    seen.run(
        &w,
        &["login", "--profile", "dev", "--device-code", "--force"],
        searched,
        children,
    );
    seen.run(
        &w,
        &["login", "--profile", "dev", "--force"],
        searched,
        children,
    );
    seen.run(
        &w,
        &["refresh", "--profile", "dev", "--force"],
        searched,
        children,
    );
    seen.run(&w, &["status"], searched, children);
    seen.run(&w, &["status", "--json"], searched, children);
    for profile in ["dev", "deploy"] {
        seen.run(
            &w,
            &["credential-process", "--profile", profile],
            carries,
            children,
        );
    }
    seen.run(
        &w,
        &[
            "exec",
            "--profile",
            "deploy",
            "--",
            "sh",
            "-c",
            "env; sleep 0.1",
        ],
        carries,
        Children::ExecsItsCommand,
    );
    seen.run(&w, &["env", "--profile", "dev"], carries, children);
    // Cold, then warm from the token cache.
    seen.run(&w, &eks, searched, children);
    seen.run(&w, &eks, searched, children);
    seen.run(&w, &eks_as_role, searched, children);
    seen.run(
        &w,
        &["kubeconfig", "--profile", "dev", "--cluster-id", "prod"],
        searched,
        children,
    );
    seen.run(
        &w,
        &[
            "aws-auth",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--group",
            "system:masters",
        ],
        searched,
        children,
    );
    seen.run(
        &w,
        &[
            "aws-auth",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--access-policy",
            "view",
        ],
        searched,
        children,
    );
    seen.run(&w, &["logout", "--profile", "dev"], searched, children);
    seen.files(w.sandbox.home());

    // The sweep searched something: trace logs, and the sign-in's browser.
    let stderr = |name: &str| {
        seen.texts
            .iter()
            .find(|(place, _)| place == &format!("{name}: stderr"))
            .map(|(_, text)| text.clone())
            .unwrap()
    };
    assert!(stderr("refresh --profile dev --force").contains("TRACE"));
    assert!(
        seen.texts
            .iter()
            .any(|(place, text)| place.contains("cmdline") && text.contains("code_challenge=")),
        "the browser's command line was sampled"
    );
    assert!(
        seen.sampled * 2 > seen.runs,
        "only {} of {} runs were read in /proc",
        seen.sampled,
        seen.runs
    );
    let secrets = w.fake.secrets();
    let kinds = secrets.len();
    assert!(kinds >= 12, "the fake issued {kinds} secrets");
    let leaks = seen.leaks(&secrets);
    assert!(
        leaks.is_empty(),
        "{} leaks over {} runs and {kinds} secrets:\n{}",
        leaks.len(),
        seen.runs,
        leaks.join("\n")
    );
    eprintln!(
        "swept {} runs ({} read in /proc), {} texts, {kinds} secrets: no leak",
        seen.runs,
        seen.sampled,
        seen.texts.len()
    );
}
