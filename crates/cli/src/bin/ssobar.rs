//! `ssobar`: the helper that scripts, `credential_process` and kubectl's exec hook call. All of
//! it is in the library, which also holds the command line's definition for the completions
//! and man pages.

fn main() -> std::process::ExitCode {
    ssobar::run()
}
