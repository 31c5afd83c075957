//! Composes the version the crate exports: the package's, with the git commit when the source is
//! a git checkout. Without git, outside a checkout or before the first commit it is the
//! package's version alone; nothing here fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/describe.rs"]
mod describe;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = git(&dir, &["rev-parse", "--short=7", "HEAD"]);
    if commit.is_some() {
        watch_head(&dir);
    }
    println!(
        "cargo:rustc-env=SSOBAR_VERSION={}",
        describe::describe(&version, commit.as_deref())
    );
}

/// Runs the build script again when HEAD moves: a checkout or a detached HEAD rewrites HEAD,
/// a commit rewrites the branch's ref or, once refs are packed, `packed-refs`. The paths come
/// from git, so a linked worktree (whose `.git` is a file) is watched too. Whether the tree
/// has uncommitted changes is not shown: no file git keeps changes when a source file is
/// edited, so such a mark would go stale.
fn watch_head(dir: &Path) {
    let mut names = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(reference) = git(dir, &["rev-parse", "--symbolic-full-name", "HEAD"])
        && reference.starts_with("refs/")
    {
        names.push(reference);
    }
    for name in names {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            // A path that does not exist would make cargo run the script on every build.
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// git's one-line answer, or `None` when git is missing or says no.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
