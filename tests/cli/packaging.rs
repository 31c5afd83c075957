//! What packages and people who install by hand rely on: `--version`.

use crate::SSOBAR;
use ssobar_testkit::Ran;
use std::process::Command;

/// The commit git says the source is at, as `--version` shows it; `None` outside a checkout.
fn checkout_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

#[test]
fn version_prints_the_package_version_and_the_commit_it_was_built_from() {
    let ran = Ran::run(Command::new(SSOBAR).arg("--version")).success();
    let expected = match checkout_commit() {
        Some(commit) => format!("ssobar {} ({commit})\n", env!("CARGO_PKG_VERSION")),
        None => format!("ssobar {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(ran.stdout, expected);
}
