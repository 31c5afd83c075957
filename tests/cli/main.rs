//! The helper's end-to-end suites, one module each, linked into one test binary: each suite
//! links the whole AWS SDK, and one binary links it once instead of once per suite.
//!
//! Run one suite with its module name as the filter, e.g. `cargo test -p ssobar --test cli
//! kube::`.

// A test that cannot unwrap has failed; the panic message is the report.
#![allow(clippy::unwrap_used)]

mod accounts;
mod botocore_peer;
mod browser;
mod clusters;
mod console;
mod credentials;
mod doctor;
mod keychain;
mod kube;
mod layout;
mod packaging;
mod pipes;
mod populate;
mod prompt;
mod reliability;
mod secrets;
mod serve;
mod setup;
mod signin;
mod signin_api;
mod status;
mod tls;

/// The `ssobar` binary under test, built by cargo for this suite.
const SSOBAR: &str = env!("CARGO_BIN_EXE_ssobar");

/// Sets a file's or folder's permission bits, as `chmod` does.
#[cfg(unix)]
fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
