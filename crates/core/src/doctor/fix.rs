//! `ssobar doctor --fix`: the fixes that change nothing a profile or kubeconfig user stands
//! for. [`config_fixes`] and [`kubeconfig_fixes`] are pure; [`fix`] applies them, the config
//! under its lock (`config::edit`), the kubeconfig under kubectl's.
//!
//! A config fix is written only if, read back as the SDKs read it, every profile it touches
//! resolves to the same account, role and assumed roles as before (and a legacy profile to the
//! same start URL and region, now through its `[sso-session]`); a fix that would not is left,
//! and said so.

use super::{
    Finding, UserMove, doorway_line, kubeconfig_users, legacy_profiles, role_of,
    sessions_without_refresh_scope, tool_credential_processes,
};
use crate::config::edit::{self, Document, Edit, EditError};
use crate::config::populate::sanitize_profile_name;
use crate::config::start_url::{self, StartUrl};
use crate::config::{AwsConfig, ConfigText, FileKind, SessionId};
use crate::context::Context;
use crate::doctor::commands::{ToolTarget, credential_tool};
use crate::kube::kubeconfig::{self, ExecPlugin, KubeconfigError, Update};
use crate::setup::refresh_scope_edit;
use crate::sso::signin::DEFAULT_SCOPE;
use serde::Serialize;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A fix applied (or, in a pure computation, to apply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "fix", rename_all = "kebab-case")]
pub enum Fixed {
    /// Legacy profiles pointed at an `[sso-session]` of their start URL.
    LegacyProfiles {
        /// The session.
        session: String,
        /// Whether it was added (else it was there).
        added: bool,
        /// Its start URL.
        start_url: String,
        /// The profiles.
        profiles: Vec<String>,
    },
    /// A session given `sso:account:access`.
    RefreshScope {
        /// The session.
        session: String,
    },
    /// A `credential_process` pointed at ssobar.
    CredentialProcess {
        /// The profile.
        profile: String,
        /// Its new line.
        line: String,
    },
    /// A kubeconfig user's exec rewritten to `ssobar eks-token`.
    KubeconfigUser {
        /// The user.
        user: String,
        /// Its new command line.
        runs: String,
    },
}

impl Fixed {
    /// What was done, in one line, with the sign-in it needs once where it needs one.
    pub fn message(&self) -> String {
        match self {
            Self::LegacyProfiles {
                session,
                added,
                start_url,
                profiles,
            } => {
                let what = if *added {
                    format!("added [sso-session {session}] for {start_url} and pointed")
                } else {
                    "pointed".to_owned()
                };
                format!(
                    "{what} {} at [sso-session {session}]; sign in to it once: ssobar login --sso-session {session}",
                    profiles.join(", ")
                )
            }
            Self::RefreshScope { session } => format!(
                "gave [sso-session {session}] the scope {DEFAULT_SCOPE}; sign in once more for a refresh token: ssobar login --sso-session {session} --force"
            ),
            Self::CredentialProcess { profile, line } => format!("profile {profile}: {line}"),
            Self::KubeconfigUser { user, runs } => {
                format!("kubeconfig user {user} now runs {runs}")
            }
        }
    }
}

/// A fix that was not applied, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Left {
    /// What it was about.
    pub what: String,
    /// Why it was left.
    pub why: String,
}

/// What one fix is made of, before it is checked.
struct Unit {
    edits: Vec<Edit>,
    fixed: Fixed,
    what: String,
    /// Profiles that must resolve as before, and the session a legacy one must now name.
    keeps: Vec<(String, Expected)>,
}

/// What a profile must resolve to after a fix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expected {
    role: Option<(String, String, Vec<String>)>,
    /// For legacy profiles: the session they now name, its start URL and region.
    session: Option<(String, String, String)>,
}

/// Both files read as the SDKs read them.
fn parse(path: &Path, config: &[u8], credentials: &[u8]) -> AwsConfig {
    AwsConfig::parse(&[
        ConfigText {
            path: path.to_owned(),
            kind: FileKind::Config,
            text: String::from_utf8_lossy(config).into_owned(),
        },
        ConfigText {
            path: path.with_file_name("credentials"),
            kind: FileKind::Credentials,
            text: String::from_utf8_lossy(credentials).into_owned(),
        },
    ])
}

/// The config fixes of `bytes` (the config at `path`; `credentials` is the credentials file):
/// the new bytes, the fixes in them, and those left. Pure.
pub fn config_fixes(
    path: &Path,
    bytes: &[u8],
    credentials: &[u8],
    ssobar: &str,
) -> (Vec<u8>, Vec<Fixed>, Vec<Left>) {
    let config = parse(path, bytes, credentials);
    let doc = Document::parse(bytes);
    let mut left = Vec::new();
    let mut units = legacy_units(&config, &doc, &mut left);
    units.extend(scope_units(&config, &doc));
    units.extend(tool_units(&config, &doc, ssobar, &mut left));
    loop {
        let edits: Vec<Edit> = units.iter().flat_map(|u| u.edits.clone()).collect();
        let after = doc.apply(&edits);
        let after_config = parse(path, &after, credentials);
        let (kept, broken): (Vec<Unit>, Vec<Unit>) = units.into_iter().partition(|unit| {
            unit.keeps
                .iter()
                .all(|(p, e)| resolves_as(&after_config, p, e))
        });
        if broken.is_empty() {
            let fixed = kept.into_iter().map(|u| u.fixed).collect();
            return (after, fixed, left);
        }
        left.extend(broken.into_iter().map(|unit| Left {
            what: unit.what,
            why: "read back, a profile would not resolve to the same account and role; left as it is".to_owned(),
        }));
        units = kept;
    }
}

/// What profile `name` resolves to in `config`, as [`Expected`] compares it.
fn expected(config: &AwsConfig, name: &str, session: Option<(String, String, String)>) -> Expected {
    Expected {
        role: config
            .profile(name)
            .and_then(|p| role_of(&config.resolve(p))),
        session,
    }
}

fn resolves_as(config: &AwsConfig, name: &str, want: &Expected) -> bool {
    let Some(profile) = config.profile(name) else {
        return false;
    };
    let resolution = config.resolve(profile);
    if role_of(&resolution) != want.role {
        return false;
    }
    match (&want.session, &resolution.session) {
        (None, _) => true,
        (Some((session, url, region)), Ok(root)) => {
            root.sso.session.id == SessionId::Named(session.clone())
                && start_url::same_portal(&root.sso.session.start_url, url)
                && root.sso.session.region == *region
        }
        (Some(_), Err(_)) => false,
    }
}

/// One unit per start URL of legacy profiles: a session (found or added) and the profiles
/// pointed at it.
fn legacy_units(config: &AwsConfig, doc: &Document<'_>, left: &mut Vec<Left>) -> Vec<Unit> {
    let mut planned: BTreeSet<String> = config.sessions().map(|s| s.name.clone()).collect();
    let mut units = Vec::new();
    for finding in legacy_profiles(config) {
        let Finding::LegacyProfiles {
            start_url: raw_url,
            profiles,
        } = finding
        else {
            continue;
        };
        let what = format!("profiles {} on {raw_url}", profiles.join(", "));
        let regions: BTreeSet<&str> = profiles
            .iter()
            .filter_map(|p| config.profile(p)?.get("sso_region"))
            .collect();
        let region = match regions.iter().collect::<Vec<_>>().as_slice() {
            [one] => (**one).to_owned(),
            [] => {
                left.push(Left {
                    what,
                    why: "they name no sso_region; add it, then run ssobar doctor --fix again"
                        .to_owned(),
                });
                continue;
            }
            many => {
                left.push(Left {
                    what,
                    why: format!(
                        "they name different sso_regions ({}); make them agree, then run ssobar doctor --fix again",
                        many.iter().map(|r| **r).collect::<Vec<_>>().join(", ")
                    ),
                });
                continue;
            }
        };
        let url = start_url::canonical(&raw_url);
        let existing = config.sessions().find(|s| {
            s.get("sso_start_url")
                .is_some_and(|u| start_url::same_portal(u, &url))
                && s.get("sso_region") == Some(region.as_str())
        });
        let (session, added) = match existing {
            Some(s) => (s.name.clone(), false),
            None => {
                let base = match start_url::parse(&url) {
                    Ok(StartUrl::Portal(portal)) => sanitize_profile_name(&portal.name),
                    Ok(StartUrl::Elsewhere(other)) => start_url::loopback_portal(&other)
                        .map(|portal| sanitize_profile_name(&portal.name))
                        .unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let base = if base.is_empty() {
                    "sso".to_owned()
                } else {
                    base
                };
                let name = std::iter::once(base.clone())
                    .chain((2..).map(|n| format!("{base}-{n}")))
                    .find(|n| !planned.contains(n))
                    .unwrap_or(base);
                planned.insert(name.clone());
                (name, true)
            }
        };
        let mut edits = Vec::new();
        if added {
            edits.push(Edit::Append {
                lines: vec![
                    format!("[sso-session {session}]"),
                    format!("sso_start_url = {url}"),
                    format!("sso_region = {region}"),
                    format!("sso_registration_scopes = {DEFAULT_SCOPE}"),
                ],
            });
        }
        let mut in_credentials = Vec::new();
        for profile in &profiles {
            let mut pointed = false;
            for section in doc.profile(profile) {
                for (n, line) in section.key_lines("sso_start_url").enumerate() {
                    edits.push(if n == 0 && !pointed {
                        pointed = true;
                        Edit::Replace {
                            line: line.line,
                            text: format!("sso_session = {session}"),
                        }
                    } else {
                        Edit::Remove { line: line.line }
                    });
                }
                edits.extend(
                    section
                        .key_lines("sso_region")
                        .map(|line| Edit::Remove { line: line.line }),
                );
            }
            if !pointed {
                in_credentials.push(profile.clone());
            }
        }
        if !in_credentials.is_empty() {
            left.push(Left {
                what,
                why: format!(
                    "{} not in the AWS config (the credentials file?); move them there, then run ssobar doctor --fix again",
                    in_credentials.join(", ")
                ),
            });
            continue;
        }
        let keeps = profiles
            .iter()
            .map(|p| {
                let want = Some((session.clone(), url.clone(), region.clone()));
                (p.clone(), expected(config, p, want))
            })
            .collect();
        units.push(Unit {
            edits,
            fixed: Fixed::LegacyProfiles {
                session,
                added,
                start_url: url,
                profiles,
            },
            what,
            keeps,
        });
    }
    units
}

/// One unit per session without the refresh scope.
fn scope_units(config: &AwsConfig, doc: &Document<'_>) -> Vec<Unit> {
    sessions_without_refresh_scope(config)
        .into_iter()
        .filter_map(|finding| {
            let Finding::SessionWithoutRefreshScope { session } = finding else {
                return None;
            };
            let section = doc.sso_session(&session).last()?;
            Some(Unit {
                edits: vec![refresh_scope_edit(section)],
                what: format!("[sso-session {session}]"),
                fixed: Fixed::RefreshScope { session },
                keeps: Vec::new(),
            })
        })
        .collect()
}

/// One unit per `credential_process` that runs another tool for a role ssobar can serve.
fn tool_units(
    config: &AwsConfig,
    doc: &Document<'_>,
    ssobar: &str,
    left: &mut Vec<Left>,
) -> Vec<Unit> {
    let mut units = Vec::new();
    for finding in tool_credential_processes(config, ssobar) {
        let Finding::ToolCredentialProcess {
            profile,
            replacement: Ok(to),
            ..
        } = finding
        else {
            continue;
        };
        let what = format!("profile {profile}");
        let line_at = doc
            .profile(&profile)
            .filter_map(|s| s.key_lines("credential_process").last())
            .last();
        let Some(line_at) = line_at else {
            left.push(Left {
                what,
                why: "its credential_process is not in the AWS config (the credentials file?)"
                    .to_owned(),
            });
            continue;
        };
        let target = config
            .profile(&profile)
            .and_then(|p| p.get("credential_process"))
            .and_then(credential_tool)
            .map(|process| process.target);
        let role = match target {
            Some(ToolTarget::Role {
                account_id,
                role_name,
            }) => Some((account_id, role_name, Vec::new())),
            _ => config
                .profile(&to)
                .and_then(|p| role_of(&config.resolve(p))),
        };
        let line = doorway_line(ssobar, &to);
        units.push(Unit {
            edits: vec![Edit::Replace {
                line: line_at.line,
                text: line.clone(),
            }],
            what,
            keeps: vec![(
                profile.clone(),
                Expected {
                    role,
                    session: None,
                },
            )],
            fixed: Fixed::CredentialProcess { profile, line },
        });
    }
    units
}

/// The kubeconfig users to rewrite and what each becomes. Pure.
pub fn kubeconfig_fixes(
    doc: &Value,
    config: &AwsConfig,
    gone: &dyn Fn(&str) -> bool,
    ssobar: &str,
) -> (Vec<(String, ExecPlugin)>, Vec<Fixed>) {
    kubeconfig_users(doc, config, gone, ssobar)
        .into_iter()
        .filter_map(|finding| match finding {
            Finding::KubeconfigUser {
                user,
                change: UserMove::To(plugin),
                ..
            } => {
                let runs = std::iter::once(plugin.command.as_str())
                    .chain(plugin.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(((user.clone(), plugin), Fixed::KubeconfigUser { user, runs }))
            }
            _ => None,
        })
        .unzip()
}

/// What [`fix`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FixReport {
    /// The fixes applied.
    pub fixed: Vec<Fixed>,
    /// The fixes left, and why.
    pub left: Vec<Left>,
}

/// Why the fixes could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// The config could not be changed.
    #[error(transparent)]
    Config(#[from] EditError),
    /// The credentials file could not be read.
    #[error("cannot read {}: {source}; check its permissions", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be changed.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
}

/// Applies the safe fixes: the config's under its lock, then (with the config as it now is)
/// the kubeconfig's under kubectl's lock. `ssobar` is the program the new lines run.
pub fn fix(
    ctx: &Context,
    kubeconfig_path: Option<&Path>,
    ssobar: &str,
) -> Result<FixReport, FixError> {
    let paths = &ctx.paths;
    let credentials = match std::fs::read(&paths.credentials_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(FixError::Credentials {
                path: paths.credentials_file.clone(),
                source,
            });
        }
    };
    let edited = edit::edit_file(paths, |before| {
        let (after, fixed, left) = config_fixes(&paths.config_file, before, &credentials, ssobar);
        Ok::<_, EditError>((after, (fixed, left)))
    })?;
    let (mut fixed, left) = edited.outcome;
    if let Some(path) = kubeconfig_path.filter(|p| p.exists()) {
        let config = ctx.load_config();
        let gone = |command: &str| Path::new(command).is_absolute() && !Path::new(command).exists();
        let (update, users) = kubeconfig::modify(path, kubeconfig::LOCK_WAIT, |doc| {
            let (execs, users) = kubeconfig_fixes(doc, &config, &gone, ssobar);
            if execs.is_empty() {
                return Ok((None, users));
            }
            let (after, _) = kubeconfig::replace_user_execs(doc.clone(), &execs)?;
            Ok((Some(after), users))
        })?;
        if update == Update::Written {
            fixed.extend(users);
        }
    }
    Ok(FixReport { fixed, left })
}
