//! Role credentials as a process environment: the variables `ssobar exec` sets, and the lines
//! `ssobar env` and the tray's "Copy export lines" print for a shell to evaluate.

use crate::credentials::AwsCredentials;
use crate::time::format_timestamp;

/// Set in the environment of a command run with a profile's credentials; naming the profile,
/// it lets `ssobar exec` refuse to nest.
pub const MARKER: &str = "SSOBAR_PROFILE";

/// Variables removed so that the command uses the credentials given and nothing else.
pub const REMOVED: &[&str] = &["AWS_PROFILE", "AWS_DEFAULT_PROFILE"];

/// The shells export lines are written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// POSIX sh, bash, zsh.
    Sh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
}

impl Shell {
    /// The shell a `$SHELL` path names, sh when it names none ssobar knows.
    pub fn from_login_shell(path: Option<&str>) -> Self {
        match path.and_then(|s| s.rsplit('/').next()).unwrap_or_default() {
            "fish" => Self::Fish,
            "pwsh" | "powershell" => Self::Powershell,
            _ => Self::Sh,
        }
    }
}

/// The variables a command gets: credentials, region, expiry, and the [`MARKER`].
pub fn variables(
    profile: &str,
    creds: &AwsCredentials,
    region: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            creds.secret_access_key.expose().to_owned(),
        ),
    ];
    if let Some(token) = &creds.session_token {
        vars.push(("AWS_SESSION_TOKEN", token.expose().to_owned()));
    }
    if let Some(region) = region {
        vars.push(("AWS_REGION", region.to_owned()));
        vars.push(("AWS_DEFAULT_REGION", region.to_owned()));
    }
    vars.push((
        "AWS_CREDENTIAL_EXPIRATION",
        format_timestamp(creds.expiration),
    ));
    vars.push((MARKER, profile.to_owned()));
    vars
}

/// The lines that give a shell these credentials: [`REMOVED`] unset, [`variables`] exported.
pub fn export_script(
    shell: Shell,
    profile: &str,
    creds: &AwsCredentials,
    region: Option<&str>,
) -> String {
    let mut out = String::new();
    for name in REMOVED {
        out.push_str(&unset_line(shell, name));
    }
    for (name, value) in variables(profile, creds, region) {
        out.push_str(&export_line(shell, name, &value));
    }
    out
}

fn export_line(shell: Shell, name: &str, value: &str) -> String {
    match shell {
        Shell::Sh => format!("export {name}='{}'\n", value.replace('\'', r"'\''")),
        Shell::Fish => format!(
            "set -gx {name} '{}';\n",
            value.replace('\\', r"\\").replace('\'', r"\'")
        ),
        Shell::Powershell => format!("$env:{name} = '{}'\n", value.replace('\'', "''")),
    }
}

fn unset_line(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Sh => format!("unset {name}\n"),
        Shell::Fish => format!("set -e {name};\n"),
        Shell::Powershell => format!("Remove-Item Env:{name} -ErrorAction SilentlyContinue\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        assert_eq!(export_line(Shell::Sh, "A", "it's"), "export A='it'\\''s'\n");
        assert_eq!(
            export_line(Shell::Fish, "A", r"it's\"),
            "set -gx A 'it\\'s\\\\';\n"
        );
        assert_eq!(
            export_line(Shell::Powershell, "A", "it's"),
            "$env:A = 'it''s'\n"
        );
    }

    #[test]
    fn the_login_shell_picks_the_syntax() {
        assert_eq!(Shell::from_login_shell(Some("/usr/bin/fish")), Shell::Fish);
        assert_eq!(
            Shell::from_login_shell(Some("/opt/pwsh")),
            Shell::Powershell
        );
        assert_eq!(Shell::from_login_shell(Some("/bin/zsh")), Shell::Sh);
        assert_eq!(Shell::from_login_shell(None), Shell::Sh);
    }
}
