//! No secret leaks: every `ssobar` command runs at `RUST_LOG=trace` against ssobar-fake-aws,
//! and every secret the fake issued or was sent (client secrets, access and refresh tokens,
//! secret access keys, session tokens, PKCE code verifiers) is searched for in what the
//! commands left behind: every stderr; every stdout but those of the formats that exist to
//! carry credentials (`credential-process`, `env`, and `exec`'s command); every file under
//! HOME but the AWS CLI's token cache; and the command lines and environments of the ssobar
//! processes and of the programs they start (the `$BROWSER` and what it runs, the command
//! `exec --server` runs), but `exec`'s.

// Processes are looked at through /proc.
#![cfg(target_os = "linux")]

use crate::SSOBAR;
use base64::Engine;
use ssobar_fake_aws::{FakeCluster, FakeConfig};
use ssobar_testkit::sweep::{
    files_outside_the_token_cache, leaks, read_in_background, sample, with_descendants,
};
use ssobar_testkit::{BrowserMode, KubeApiServer, World, require_secret_service};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

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
    // The command gets no key, only the server's URI and token: its process is searched too;
    // what it asks the server for is on its stdout.
    seen.run(
        &w,
        &[
            "exec",
            "--server",
            "--profile",
            "deploy",
            "--",
            "sh",
            "-c",
            r#"curl -fsS -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; sleep 0.1"#,
        ],
        carries,
        children,
    );
    seen.run(&w, &["env", "--profile", "dev"], carries, children);
    // The login URL signs whoever has it in, as credentials do; the call that makes it sends
    // the credentials in its query, which the trace logs must not show.
    for profile in ["dev", "deploy"] {
        seen.run(
            &w,
            &["console", "--profile", profile, "--print"],
            carries,
            children,
        );
    }
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
    let session = [
        "--sso-session",
        w.session.as_str(),
        "--regions",
        "eu-west-1",
    ];
    seen.run(
        &w,
        &[&["clusters", "--json"][..], &session].concat(),
        searched,
        children,
    );
    seen.run(
        &w,
        &[&["kubeconfig", "--all"][..], &session].concat(),
        searched,
        children,
    );
    seen.run(&w, &["logout", "--profile", "dev"], searched, children);
    seen.texts
        .extend(files_outside_the_token_cache(w.sandbox.home()));

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
    let leaks = leaks(&seen.texts, &secrets);
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
