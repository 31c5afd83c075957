//! The version every ssobar binary and the window show: the package's version, followed by the
//! git commit when it was built from a checkout (`0.1.0 (abc1234)`), else the version alone.

// The rule build.rs composes `VERSION` with; here for its tests.
#[cfg(test)]
mod describe;

/// This build's version, as `ssobar --version`, `ssobar-app --version` and the window's
/// Settings show it after the program's name.
pub const VERSION: &str = env!("SSOBAR_VERSION");

/// `VERSION` after a program's name, as its `--version` prints it.
pub fn line(program: &str) -> String {
    format!("{program} {VERSION}")
}

#[cfg(test)]
mod tests {
    use super::describe::describe;
    use super::*;

    #[test]
    fn the_version_names_the_commit_in_parentheses_when_there_is_one() {
        assert_eq!(describe("0.1.0", Some("abc1234")), "0.1.0 (abc1234)");
        assert_eq!(describe("0.1.0", None), "0.1.0");
    }

    #[test]
    fn this_build_shows_the_package_version_first() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")), "{VERSION}");
        assert_eq!(line("ssobar"), format!("ssobar {VERSION}"));
    }
}
