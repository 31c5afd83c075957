//! What packages and people who install by hand rely on: `--version`, `ssobar completions`.

use crate::SSOBAR;
use ssobar_testkit::{Ran, Sandbox};
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

#[test]
fn bash_loads_the_completions_and_completes_ssobar_with_them() {
    let ran = Ran::run(Command::new(SSOBAR).args(["completions", "bash"])).success();
    let sandbox = Sandbox::new();
    let script = sandbox.home().join("ssobar.bash");
    std::fs::write(&script, &ran.stdout).unwrap();
    // What the shell does with the file installed in its completions folder: source it, then
    // ask which function completes `ssobar`.
    let loaded = Ran::run(
        Command::new("bash")
            .args([
                "--norc",
                "--noprofile",
                "-c",
                "source \"$1\" && complete -p ssobar",
                "bash",
            ])
            .arg(&script),
    )
    .success();
    assert!(loaded.stdout.contains("_ssobar"), "{}", loaded.stdout);
    assert_eq!(loaded.stderr, "");
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error_naming_the_shells() {
    let ran = Ran::run(Command::new(SSOBAR).args(["completions", "tcsh"])).expect_code(2);
    assert!(
        ran.stderr.contains("bash") && ran.stderr.contains("powershell"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
}
