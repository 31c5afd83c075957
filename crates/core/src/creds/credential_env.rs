//! Role credentials as a process environment: the variables `ssobar exec` sets, and the lines
//! `ssobar env` and the tray's "Copy export lines" print for a shell to evaluate.

use crate::creds::AwsCredentials;
use crate::util::time::format_timestamp;

/// Set in the environment of a command run with a profile's credentials; naming the profile,
/// it lets `ssobar exec` refuse to nest.
pub const MARKER: &str = "SSOBAR_PROFILE";

/// Variables that choose or carry credentials. Those of them that [`variables`] does not set
/// are removed, so that the command uses the credentials given and nothing else: a leftover
/// `AWS_SECURITY_TOKEN` (read by older tools) or container-credentials URI would mix another
/// identity into it.
const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// The credential variables to remove from a command that gets `set`: every one it does not
/// set itself.
pub fn removed(set: &[(&'static str, String)]) -> Vec<&'static str> {
    CREDENTIAL_VARIABLES
        .iter()
        .copied()
        .filter(|name| !set.iter().any(|(set, _)| set == name))
        .collect()
}

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

/// The variables a command gets that asks a credential server (`ssobar serve`, `exec
/// --server`) for credentials: the server's URI and token, region, and the [`MARKER`]. No key:
/// the SDKs ask the server, and get fresh credentials from it for as long as they run.
pub fn server_variables(
    profile: &str,
    uri: &str,
    token: &str,
    region: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.to_owned()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_owned()),
    ];
    if let Some(region) = region {
        vars.push(("AWS_REGION", region.to_owned()));
        vars.push(("AWS_DEFAULT_REGION", region.to_owned()));
    }
    vars.push((MARKER, profile.to_owned()));
    vars
}

/// The lines that give a shell these credentials: [`removed`] unset, [`variables`] exported.
pub fn export_script(
    shell: Shell,
    profile: &str,
    creds: &AwsCredentials,
    region: Option<&str>,
) -> String {
    script(shell, variables(profile, creds, region))
}

/// The lines that point a shell at a credential server: [`removed`] unset,
/// [`server_variables`] exported.
pub fn server_export_script(
    shell: Shell,
    profile: &str,
    uri: &str,
    token: &str,
    region: Option<&str>,
) -> String {
    script(shell, server_variables(profile, uri, token, region))
}

fn script(shell: Shell, set: Vec<(&'static str, String)>) -> String {
    let mut out = String::new();
    for name in removed(&set) {
        out.push_str(&unset_line(shell, name));
    }
    for (name, value) in set {
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
    fn every_credential_variable_not_set_is_removed() {
        let set = vec![
            ("AWS_ACCESS_KEY_ID", "AKIA".to_owned()),
            ("AWS_SESSION_TOKEN", "t".to_owned()),
        ];
        let removed = removed(&set);
        for name in [
            "AWS_PROFILE",
            "AWS_SECURITY_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            assert!(removed.contains(&name), "{name} in {removed:?}");
        }
        assert!(!removed.contains(&"AWS_ACCESS_KEY_ID"));
        assert!(!removed.contains(&"AWS_SESSION_TOKEN"));
    }

    #[test]
    fn a_server_command_gets_the_uri_and_token_and_no_key() {
        let set = server_variables("dev", "http://127.0.0.1:1/credentials", "tok", Some("r"));
        let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                MARKER
            ]
        );
        let removed = removed(&set);
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
            assert!(removed.contains(&name), "{name} in {removed:?}");
        }
        let script = server_export_script(Shell::Sh, "dev", "http://u", "tok", None);
        assert!(script.contains("unset AWS_ACCESS_KEY_ID\n"), "{script}");
        assert!(
            script.contains("export AWS_CONTAINER_AUTHORIZATION_TOKEN='tok'\n"),
            "{script}"
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
