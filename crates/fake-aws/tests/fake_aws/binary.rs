//! The `ssobar-fake-aws` binary: exports on stdout, serving until SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::http;

#[test]
fn binary_prints_exports_seeds_and_stops_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let config_file = home.path().join("fake.json");
    std::fs::write(&config_file, r#"{"user_name": "ops@example.com"}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssobar-fake-aws"))
        .arg("--config")
        .arg(&config_file)
        .arg("--demo-home")
        .arg(home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..6 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_owned());
    }
    let url = lines[5]
        .strip_prefix("export SSOBAR_FAKE_AWS_URL=")
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(
        lines[..5],
        [
            format!("export AWS_ENDPOINT_URL_SSO_OIDC={url}"),
            format!("export AWS_ENDPOINT_URL_SSO={url}"),
            format!("export AWS_ENDPOINT_URL_STS={url}"),
            format!("export AWS_ENDPOINT_URL_EKS={url}"),
            format!("export AWS_ENDPOINT_URL_SIGNIN={url}"),
        ]
    );

    let state = http::get(&url, "/_fake/state").json();
    assert_eq!(state["config"]["user_name"], "ops@example.com");
    assert!(home.path().join(".aws/config").is_file());
    assert_eq!(
        std::fs::read_dir(home.path().join(".aws/sso/cache"))
            .unwrap()
            .count(),
        3
    );

    let terminated = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the fake did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
}
