//! `ssobar serve` and `ssobar exec --server`: the container credentials endpoint, asked by
//! botocore's own container provider (the AWS CLI's code) and by plain HTTP, with role
//! credentials from ssobar-fake-aws kept in the real Secret Service.

use crate::SSOBAR;
use serde_json::Value;
use ssobar_fake_aws::{FakeConfig, Operation};
use ssobar_testkit::{Ran, World, peer_python, peer_script, wait_for};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `ssobar serve` and what it printed on stdout.
struct Server {
    child: Option<Child>,
    uri: String,
    token: String,
    lines: Vec<String>,
}

impl Server {
    fn start(w: &World, profile: &str) -> Self {
        Self::start_with(w, &["--profile", profile])
    }

    fn start_with(w: &World, args: &[&str]) -> Self {
        let mut child = w
            .command()
            .args(["serve", "--shell", "sh"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "ssobar serve ended before printing its lines: {lines:?}"
            );
            lines.push(line.trim_end().to_owned());
            if line.starts_with("export SSOBAR_PROFILE=") {
                break;
            }
        }
        let printed = lines.join("\n");
        Self {
            uri: ssobar_testkit::exported(&printed, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            token: ssobar_testkit::exported(&printed, "AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            child: Some(child),
            lines,
        }
    }

    fn port(&self) -> u16 {
        self.uri
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback URI: {}", self.uri))
    }

    /// A `GET` of the server's URI with these extra header lines: the status code and body.
    fn get(&self, headers: &[String]) -> (u16, String) {
        http(self.port(), "GET", "/credentials", headers)
    }

    fn get_with_token(&self) -> (u16, String) {
        self.get(&[format!("Authorization: {}", self.token)])
    }

    /// SIGTERM, then what it printed on stderr and its exit code.
    fn stop(mut self) -> Ran {
        let child = self.child.take().unwrap();
        signal(&child, "TERM");
        Ran::wait(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// One HTTP/1.1 request to 127.0.0.1:`port`: the status code and body.
fn http(port: u16, method: &str, path: &str, headers: &[String]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    (status, body.to_owned())
}

/// A `GET` of the credentials with `token`, given one second for the whole exchange: the
/// status code and how long it took, or what went wrong.
fn get_within_a_second(port: u16, token: &str) -> Result<(u16, Duration), String> {
    let started = Instant::now();
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET /credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer within a second ({e})"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {answer:?}"))?;
    Ok((status, started.elapsed()))
}

fn world_with_role_credentials_for(seconds: i64) -> World {
    World::signed_in(
        SSOBAR,
        FakeConfig {
            role_credentials_lifetime_seconds: seconds,
            ..FakeConfig::default()
        },
    )
}

#[test]
fn botocore_keeps_getting_credentials_through_exec_server_across_two_expiries() {
    let w = world_with_role_credentials_for(60);
    let ran = Ran::run(
        w.command()
            .args(["exec", "--server", "--profile", "dev", "--"])
            .arg(peer_python())
            .arg(peer_script("botocore_peer.py"))
            .args(["caller-identity-loop", "--seconds", "150", "--every", "5"]),
    )
    .success();
    let seen = ran.json();
    assert_eq!(seen["method"], "container-role", "{seen}");
    let calls = seen["calls"].as_array().unwrap();
    assert!(calls.len() >= 30, "{} calls", calls.len());
    let mut keys = BTreeSet::new();
    for call in calls {
        assert!(call.get("error").is_none(), "a call failed: {call}");
        assert!(
            call["arn"]
                .as_str()
                .unwrap()
                .contains(":assumed-role/AWSReservedSSO_ReadOnlyAccess_"),
            "{call}"
        );
        let key = call["accessKeyId"].as_str().unwrap();
        w.fake.credentials(key).expect("issued by the fake");
        keys.insert(key.to_owned());
    }
    let span = calls.last().unwrap()["at"].as_f64().unwrap() - calls[0]["at"].as_f64().unwrap();
    assert!(span >= 145.0, "the calls spanned {span} s");
    assert!(keys.len() >= 3, "two expiries crossed: {keys:?}");
    // botocore asks on every call for credentials this short-lived; each ask is one fetch.
    let fetches = w.calls(Operation::GetRoleCredentials);
    assert!(
        fetches <= calls.len() + 2,
        "{fetches} fetches for {} calls",
        calls.len()
    );
    eprintln!(
        "{} calls over {span:.0} s, signed with {} access keys; {fetches} GetRoleCredentials",
        calls.len(),
        keys.len()
    );
}

#[test]
fn a_wrong_or_missing_token_is_refused_with_401_and_no_credentials() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    let (status, body) = server.get_with_token();
    assert_eq!(status, 200, "{body}");
    let creds: Value = serde_json::from_str(&body).unwrap();
    let secret = creds["SecretAccessKey"].as_str().unwrap().to_owned();

    // The token with its last character changed.
    let last = if server.token.ends_with('0') {
        '1'
    } else {
        '0'
    };
    let wrong = format!("{}{last}", &server.token[..63]);
    for headers in [
        vec![],
        vec![format!("Authorization: {wrong}")],
        vec![format!("Authorization: Bearer {}", server.token)],
        vec!["Authorization: ".to_owned()],
    ] {
        let (status, body) = server.get(&headers);
        assert_eq!(status, 401, "{headers:?}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["code"], "Unauthorized");
        assert!(!body.contains(&secret) && !body.contains("AccessKeyId"));
    }
    let authorized = format!("Authorization: {}", server.token);
    assert_eq!(
        http(server.port(), "GET", "/", std::slice::from_ref(&authorized)).0,
        404
    );
    assert_eq!(
        http(server.port(), "POST", "/credentials", &[authorized]).0,
        405
    );

    // botocore's container provider, given the wrong token, gets nothing.
    let seen = Ran::run(
        w.sandbox
            .command(peer_python())
            .arg(peer_script("botocore_peer.py"))
            .arg("caller-identity-loop")
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.uri)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &wrong),
    )
    .success()
    .json();
    let error = seen["error"].as_str().unwrap_or_default();
    assert!(error.contains("401"), "{seen}");
    assert_eq!(w.calls(Operation::GetCallerIdentity), 0);
}

#[test]
fn exec_server_gives_the_command_the_uri_and_token_and_no_key() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let script = r#"env > "$HOME/child.env"
curl -fsS -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"
exit 7"#;
    let ran = Ran::run(
        w.command()
            .args([
                "exec",
                "--server",
                "--profile",
                "dev",
                "--",
                "sh",
                "-c",
                script,
            ])
            .env("AWS_PROFILE", "admin")
            .env("AWS_ACCESS_KEY_ID", "AKIAOTHERIDENTITY")
            .env("AWS_SECRET_ACCESS_KEY", "other-secret")
            .env("AWS_SESSION_TOKEN", "other-token"),
    )
    .expect_code(7);
    let creds: Value = serde_json::from_str(&ran.stdout).unwrap();
    let key = creds["AccessKeyId"].as_str().unwrap();
    let issued = w.fake.credentials(key).expect("issued by the fake");
    assert_eq!(creds["SecretAccessKey"], issued.secret_access_key.as_str());
    assert_eq!(creds["Token"], issued.session_token.as_str());

    let env = std::fs::read_to_string(w.sandbox.home().join("child.env")).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert_eq!(var(name), None, "{name} reached the command");
    }
    assert!(!env.contains(&issued.secret_access_key));
    assert!(!env.contains(&issued.session_token));
    let uri = var("AWS_CONTAINER_CREDENTIALS_FULL_URI").unwrap();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap();
    assert_eq!(token.len(), 64, "{token}");
    assert_eq!(var("AWS_REGION").as_deref(), Some("eu-west-1"));
    assert_eq!(var("SSOBAR_PROFILE").as_deref(), Some("dev"));

    // Inside it, another exec is refused as for plain exec.
    let nested = Ran::run(
        w.command()
            .args(["exec", "--server", "--profile", "dev", "--", "true"])
            .env("SSOBAR_PROFILE", "dev"),
    )
    .expect_code(1);
    assert!(nested.stderr.contains("--force"), "{}", nested.stderr);
}

#[test]
fn serve_prints_the_lines_answers_and_stops_on_sigterm() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    assert!(
        server.lines.contains(&"unset AWS_ACCESS_KEY_ID".to_owned()),
        "{:?}",
        server.lines
    );
    assert!(
        server
            .lines
            .contains(&"export AWS_REGION='eu-west-1'".to_owned()),
        "{:?}",
        server.lines
    );
    let (status, body) = server.get_with_token();
    assert_eq!(status, 200, "{body}");
    let creds: Value = serde_json::from_str(&body).unwrap();
    let issued = w
        .fake
        .credentials(creds["AccessKeyId"].as_str().unwrap())
        .expect("issued by the fake");
    assert_eq!(
        creds["Expiration"],
        issued.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    let (again, _) = server.get_with_token();
    assert_eq!(again, 200);
    assert_eq!(
        w.calls(Operation::GetRoleCredentials),
        1,
        "an hour's credentials are served from the keychain"
    );

    let port = server.port();
    let stopped = server.stop().expect_code(0);
    assert!(
        stopped.stderr.contains(&format!(
            "serving credentials for profile dev on http://127.0.0.1:{port}/credentials"
        )),
        "{}",
        stopped.stderr
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_session_that_needs_a_sign_in_gets_an_error_naming_login_and_the_server_goes_on() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    // No refresh token: only a sign-in renews it.
    w.seed_sign_in_with(8 * 3600, &[]);
    let server = Server::start(&w, "dev");
    assert_eq!(server.get_with_token().0, 200);

    w.seed_sign_in_with(-60, &[]);
    let (status, body) = server.get_with_token();
    assert_eq!(status, 503, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("ssobar login"), "{message}");
    assert!(!body.contains("AccessKeyId"));

    w.seed_sign_in_with(8 * 3600, &[]);
    let (status, body) = server.get_with_token();
    assert_eq!(status, 200, "the next request after a sign-in: {body}");

    let stopped = server.stop().expect_code(0);
    let failures: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains("cannot serve credentials"))
        .collect();
    assert_eq!(failures.len(), 1, "{}", stopped.stderr);
    assert!(failures[0].contains("ssobar login"), "{}", failures[0]);
}

#[test]
fn the_server_listens_on_127_0_0_1_only() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    let port = server.port();
    // The kernel's own list of listening sockets: 0100007F is 127.0.0.1.
    let listening = wait_for(5, || {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let tcp6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
        let suffix = format!(":{port:04X}");
        let local = |table: &str| -> Vec<String> {
            table
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let mut fields = l.split_whitespace();
                    let local = fields.nth(1)?;
                    // State 0A: listening.
                    (local.ends_with(&suffix) && fields.nth(1)? == "0A").then(|| local.to_owned())
                })
                .collect()
        };
        let found = [local(&tcp), local(&tcp6)].concat();
        (!found.is_empty()).then_some(found)
    })
    .expect("the server's socket is listed");
    assert_eq!(listening, [format!("0100007F:{port:04X}")]);
}

#[test]
fn exec_server_passes_sigterm_on_and_exits_as_the_command_did() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    // Ends by itself after 20 s, so a failing run leaves nothing behind.
    let script = "trap 'echo got-term; exit 42' TERM; echo ready; i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; exit 3";
    let mut child = w
        .command()
        .args([
            "exec",
            "--server",
            "--profile",
            "dev",
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    signal(&child, "TERM");
    let status = wait_for(10, || child.try_wait().unwrap());
    let _ = child.kill();
    let status = status.expect("the command ended after SIGTERM");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(42), "the command's own exit status");

    let killed = Ran::run(w.command().args([
        "exec",
        "--server",
        "--profile",
        "dev",
        "--",
        "sh",
        "-c",
        "kill -KILL $$",
    ]));
    assert_eq!(killed.code, Some(128 + 9), "128 + the signal's number");
}

#[test]
fn serve_listens_on_the_port_asked_for_and_says_when_it_is_taken() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start_with(&w, &["--profile", "dev", "--port", &port.to_string()]);
    assert_eq!(server.uri, format!("http://127.0.0.1:{port}/credentials"));
    assert_eq!(server.get_with_token().0, 200);

    let taken = w
        .ssobar(&["serve", "--profile", "dev", "--port", &port.to_string()])
        .expect_code(1);
    assert!(
        taken
            .stderr
            .starts_with(&format!("ssobar: cannot listen on 127.0.0.1:{port}: ")),
        "{}",
        taken.stderr
    );
    assert_eq!(taken.stdout, "", "no lines for a server that did not start");
}

#[test]
fn an_edit_to_the_profile_is_served_from_the_next_request() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    let arn_served = || {
        let (status, body) = server.get_with_token();
        assert_eq!(status, 200, "{body}");
        let creds: Value = serde_json::from_str(&body).unwrap();
        w.fake
            .credentials(creds["AccessKeyId"].as_str().unwrap())
            .expect("issued by the fake")
            .arn
    };
    assert!(arn_served().contains("AWSReservedSSO_ReadOnlyAccess_"));
    let edited = w.config().text().replacen(
        "sso_role_name = ReadOnlyAccess",
        "sso_role_name = AdministratorAccess",
        1,
    );
    w.sandbox.write_config(edited);
    assert!(arn_served().contains("AWSReservedSSO_AdministratorAccess_"));
}

#[test]
fn an_expired_session_with_a_refresh_token_is_renewed_silently_for_a_request() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    assert_eq!(server.get_with_token().0, 200);
    let before = w.calls(Operation::CreateToken);

    w.seed_sign_in(-60);
    let (status, body) = server.get_with_token();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        w.calls(Operation::CreateToken),
        before + 1,
        "one refresh with the refresh token"
    );
    assert!(w.token().unwrap()["refreshToken"].is_string());
    let stopped = server.stop().expect_code(0);
    assert!(
        !stopped.stderr.contains("cannot serve"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn idle_connections_of_another_user_do_not_starve_the_server() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = Server::start(&w, "dev");
    assert_eq!(server.get_with_token().0, 200);
    // Another local user opens 256 connections and sends nothing on them.
    let script = format!(
        "for i in $(seq 256); do exec {{fd}}<>/dev/tcp/127.0.0.1/{}; done; echo ready; sleep 30",
        server.port()
    );
    let mut idle = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "bash",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(idle.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n", "nobody could not open its connections");
    let answers: Vec<_> = (0..10)
        .map(|_| get_within_a_second(server.port(), &server.token))
        .collect();
    let _ = idle.kill();
    let _ = idle.wait();
    for (i, answer) in answers.iter().enumerate() {
        match answer {
            Ok((200, took)) => assert!(*took < Duration::from_secs(1), "request {i} took {took:?}"),
            other => panic!("request {i} behind 256 idle connections: {other:?}"),
        }
    }
    eprintln!(
        "10 requests behind 256 idle connections, the slowest in {:?}",
        answers.iter().flatten().map(|(_, took)| *took).max()
    );
}
