//! The access log end to end: every request a helper answers on its own is one line naming
//! the program that asked, with no secret; `ssobar log` shows and filters them.

use crate::SSOBAR;
use serde_json::Value;
use ssobar_fake_aws::FakeConfig;
use ssobar_testkit::{Ran, World};

fn records(w: &World, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["log", "--json"];
    all.extend_from_slice(args);
    w.ssobar(&all)
        .success()
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn every_request_a_helper_answers_is_logged_with_its_program_and_no_secret() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let project = w.sandbox.home().join("infra/prod");
    std::fs::create_dir_all(&project).unwrap();
    // A shell that stays the helper's parent (it has more to do after), in its own folder.
    let ran = Ran::run(
        w.sandbox
            .command("sh")
            .args([
                "-c",
                &format!("{SSOBAR} credential-process --profile dev; true"),
            ])
            .current_dir(&project),
    );
    let creds: Value = serde_json::from_str(&ran.stdout).unwrap();
    w.ssobar(&["credential-process", "--profile", "nope"])
        .expect_code(1);

    let all = records(&w, &[]);
    assert_eq!(all.len(), 2, "{all:?}");
    let handed = &all[0];
    assert_eq!(handed["profile"], "dev");
    assert_eq!(handed["account"], "111122223333");
    assert_eq!(handed["role"], "ReadOnlyAccess");
    assert!(
        handed["program"].as_str().unwrap().starts_with("sh -c "),
        "{handed}"
    );
    assert_eq!(handed["cwd"], project.display().to_string());
    assert_eq!(handed["by"], "helper");
    assert_eq!(handed["outcome"], "handed-out");
    let failed = &all[1];
    assert_eq!(failed["profile"], "nope");
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["detail"].as_str().unwrap().contains("nope"),
        "{failed}"
    );

    assert_eq!(records(&w, &["--profile", "dev"]).len(), 1);
    let table = w.ssobar(&["log"]).success().stdout;
    assert!(
        table.contains("handed out") && table.contains("ReadOnlyAccess"),
        "{table}"
    );

    let log = w.sandbox.home().join(".local/state/ssobar/access.log");
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        let value = creds[secret].as_str().unwrap();
        assert!(!text.contains(value), "{secret} is in the log");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_span_that_is_not_one_is_one_line_naming_the_forms() {
    let w = World::start(
        SSOBAR,
        FakeConfig::default(),
        ssobar_testkit::BrowserMode::Ignore,
    );
    let ran = w.ssobar(&["log", "--since", "yesterday"]).expect_code(2);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("write e.g. 30m"), "{}", ran.stderr);
}
