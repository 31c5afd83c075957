/// The version line's text after the program's name: the package's version, and the commit it
/// was built from when there is one (`0.1.0 (abc1234)`).
pub fn describe(version: &str, commit: Option<&str>) -> String {
    match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_owned(),
    }
}
