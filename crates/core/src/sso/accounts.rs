//! A session's directory: every account the signed-in person can reach and the roles they may
//! use in each, fetched from the SSO portal and cached for an hour.
//!
//! The cache holds names and ids only (never a token), one file per session in
//! [`Paths::cache_dir`](crate::paths::Paths::cache_dir)`/accounts/`.

use crate::aws::CallError;
use crate::aws::portal::PortalClient;
use crate::aws::window::{self, Window};
use crate::config::{RoleAssignment, SsoSessionConfig};
use crate::context::Context;
use crate::paths::Paths;
use crate::util::fsutil::{self, ReadError, write_private};
use crate::util::secret::Secret;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinSet;

/// How long a fetched directory is used before it is fetched again: accounts and role
/// assignments change rarely, and a large organisation's directory costs hundreds of calls.
pub const DIRECTORY_LIFETIME_SECONDS: i64 = 3600;

/// Every account of a session with its roles, and when the portal said so. Its JSON form is
/// what `ssobar accounts --json` prints and what the cache file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// When the portal was asked.
    #[serde(with = "crate::util::time::serde_timestamp")]
    pub fetched_at: Timestamp,
    /// The accounts, by name (then id).
    pub accounts: Vec<DirectoryAccount>,
}

/// One account and the roles the person may use in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAccount {
    /// The 12-digit account id.
    pub account_id: String,
    /// The account's name, when the portal gives one.
    pub account_name: Option<String>,
    /// The account's root email address, when the portal gives one.
    pub email_address: Option<String>,
    /// The role (permission set) names, sorted.
    pub roles: Vec<String>,
}

impl Directory {
    /// Every role of every account, as `ssobar populate` writes them.
    pub fn assignments(&self) -> Vec<RoleAssignment> {
        self.accounts
            .iter()
            .flat_map(|account| account.roles.iter().map(|role| account.assignment(role)))
            .collect()
    }
}

impl DirectoryAccount {
    /// One of the account's roles, as the tray's "Add profile" writes it.
    pub fn assignment(&self, role: &str) -> RoleAssignment {
        RoleAssignment {
            account_id: self.account_id.clone(),
            account_name: self.account_name.clone(),
            role_name: role.to_owned(),
        }
    }
}

/// Whether a directory fetched at some time may still be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than [`DIRECTORY_LIFETIME_SECONDS`]: used as it is.
    Fresh,
    /// Older, or stamped in the future (a clock that was wrong then or is now): fetched again.
    Stale,
}

/// The freshness rule: a directory is fresh for an hour after it was fetched.
pub fn freshness(fetched_at: Timestamp, now: Timestamp) -> Freshness {
    let age = now.as_second() - fetched_at.as_second();
    if (0..DIRECTORY_LIFETIME_SECONDS).contains(&age) {
        Freshness::Fresh
    } else {
        Freshness::Stale
    }
}

/// Whether a cached directory may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// A fresh cached directory answers without a call.
    CachedWhenFresh,
    /// The portal is asked whatever the cache holds (`--refresh`).
    Refetch,
}

/// Why there is no directory.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The session needs a sign-in first.
    #[error("SSO session \"{session}\" {state}: run \"{command}\"")]
    SignInNeeded {
        /// The session's name (or start URL).
        session: String,
        /// "expired at 14:02", "is not signed in", ...
        state: String,
        /// The command that fixes it.
        command: String,
    },
    /// A portal call failed.
    #[error("{what} failed: {error}")]
    Call {
        /// The call, as people read it.
        what: String,
        /// Why.
        #[source]
        error: CallError,
    },
    /// The cache file could not be written.
    #[error("cannot write {}: {source}; check that folder's permissions", path.display())]
    Cache {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl AccountsError {
    /// Whether running the same command later may work: a portal call failed in passing.
    pub fn worth_running_again(&self) -> bool {
        match self {
            Self::Call { error, .. } => error.is_transient(),
            Self::SignInNeeded { .. } | Self::Cache { .. } => false,
        }
    }
}

/// The cache file of a session's directory.
pub fn cache_path(paths: &Paths, session: &SsoSessionConfig) -> PathBuf {
    paths
        .cache_dir
        .join("accounts")
        .join(format!("{}.json", session.id.cache_key()))
}

/// The cached directory of a session; `Ok(None)` when there is none or it does not parse
/// (then it is simply fetched again). `Err` with one line saying why and what to run when
/// someone else may have written the file or its folder: such a file is not used, as the
/// token cache's files are not ([`fsutil::read_trusted`]).
pub fn read_cached(paths: &Paths, session: &SsoSessionConfig) -> Result<Option<Directory>, String> {
    let path = cache_path(paths, session);
    match fsutil::read_trusted(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(ReadError::Untrusted(why)) => Err(format!(
            "{}: {why}; the accounts are listed from the portal instead",
            path.display()
        )),
        Err(ReadError::Missing | ReadError::Io(_)) => Ok(None),
    }
}

/// Writes a session's directory to its cache file, atomically and privately.
pub fn write_cached(
    paths: &Paths,
    session: &SsoSessionConfig,
    directory: &Directory,
) -> Result<(), AccountsError> {
    let path = cache_path(paths, session);
    let cache_error = |source| AccountsError::Cache {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(directory).map_err(|e| cache_error(e.into()))?;
    write_private(&path, &json).map_err(cache_error)
}

/// The directory of `session`: the cached one while it is fresh (unless `reuse` says
/// otherwise), else fetched from the portal and cached. `login` is the command a sign-in
/// error names.
pub async fn directory(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    reuse: Reuse,
) -> Result<Listed, AccountsError> {
    let now = ctx.now();
    let mut untrusted_cache = None;
    if reuse == Reuse::CachedWhenFresh {
        match read_cached(&ctx.paths, session) {
            Ok(Some(cached)) if freshness(cached.fetched_at, now) == Freshness::Fresh => {
                return Ok(Listed {
                    directory: cached,
                    not_cached: None,
                    untrusted_cache: None,
                });
            }
            Ok(_) => {}
            Err(why) => untrusted_cache = Some(why),
        }
    }
    let token = access_token(ctx, session, login)?;
    let fetched = fetch(ctx, session, login, &token, now).await?;
    // A list that could not be kept is still the right list: show it, and say why the next
    // call asks the portal again.
    let not_cached = write_cached(&ctx.paths, session, &fetched).err();
    Ok(Listed {
        directory: fetched,
        not_cached,
        untrusted_cache,
    })
}

/// A directory, and why it could not be cached when that failed.
#[derive(Debug)]
pub struct Listed {
    /// The accounts and roles.
    pub directory: Directory,
    /// The cache write that failed, if one did.
    pub not_cached: Option<AccountsError>,
    /// Why the cache file was not used, when someone else may have written it.
    pub untrusted_cache: Option<String>,
}

/// The session's access token while it is valid.
fn access_token(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
) -> Result<Secret, AccountsError> {
    ctx.valid_access_token(&session.id)
        .map_err(|state| sign_in_needed(session, login, state))
}

fn sign_in_needed(session: &SsoSessionConfig, login: &str, state: String) -> AccountsError {
    AccountsError::SignInNeeded {
        session: session.id.to_string(),
        state,
        command: login.to_owned(),
    }
}

/// Asks the portal: ListAccounts, then ListAccountRoles for every account at once, within a
/// congestion [`Window`] that widens while the portal answers and narrows when it throttles.
async fn fetch(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    token: &Secret,
    now: Timestamp,
) -> Result<Directory, AccountsError> {
    let failed = |what: String| {
        move |error: CallError| match error.code() {
            Some("UnauthorizedException") => {
                sign_in_needed(session, login, "was signed out or has ended".into())
            }
            _ => AccountsError::Call { what, error },
        }
    };
    let portal =
        PortalClient::new(&ctx.env, &session.region).map_err(failed("ListAccounts".to_owned()))?;
    let accounts = portal
        .accounts(token)
        .await
        .map_err(failed("ListAccounts".to_owned()))?;

    let window = Arc::new(Window::new(window::START, window::MAX));
    let mut calls = JoinSet::new();
    for (index, account) in accounts.iter().enumerate() {
        let (portal, token, window) = (portal.clone(), token.clone(), window.clone());
        let account_id = account.account_id.clone();
        calls.spawn(async move {
            let listed = window::call(&window, || portal.account_roles(&token, &account_id)).await;
            (index, listed)
        });
    }
    let mut roles: Vec<Vec<String>> = vec![Vec::new(); accounts.len()];
    while let Some(joined) = calls.join_next().await {
        let (index, listed) = joined.map_err(|e| AccountsError::Call {
            what: "ListAccountRoles".to_owned(),
            error: CallError::Other(e.to_string()),
        })?;
        let account_id = &accounts[index].account_id;
        let mut listed = listed.map_err(failed(format!("ListAccountRoles for {account_id}")))?;
        listed.sort();
        roles[index] = listed;
    }

    let mut directory: Vec<DirectoryAccount> = accounts
        .into_iter()
        .zip(roles)
        .map(|(account, roles)| DirectoryAccount {
            account_id: account.account_id,
            account_name: account.account_name,
            email_address: account.email_address,
            roles,
        })
        .collect();
    directory.sort_by(|a, b| {
        let name = |x: &DirectoryAccount| x.account_name.as_deref().map(str::to_lowercase);
        name(a)
            .cmp(&name(b))
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    Ok(Directory {
        fetched_at: now,
        accounts: directory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SessionId;
    use crate::env::Env;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_directory_is_fresh_for_an_hour_and_not_a_second_longer() {
        let fetched = at("2024-05-01T12:00:00Z");
        assert_eq!(freshness(fetched, fetched), Freshness::Fresh);
        assert_eq!(
            freshness(fetched, at("2024-05-01T12:59:59Z")),
            Freshness::Fresh
        );
        assert_eq!(
            freshness(fetched, at("2024-05-01T13:00:00Z")),
            Freshness::Stale
        );
        assert_eq!(
            freshness(fetched, at("2024-05-01T11:59:00Z")),
            Freshness::Stale,
            "stamped in the future"
        );
    }

    fn session() -> SsoSessionConfig {
        SsoSessionConfig {
            id: SessionId::Named("corp".into()),
            start_url: "https://corp.awsapps.com/start".into(),
            region: "us-east-1".into(),
            registration_scopes: None,
        }
    }

    fn paths_in(home: &std::path::Path) -> Paths {
        let home = home.to_str().unwrap();
        Paths::from_env(&Env::from_pairs([
            ("HOME", home),
            ("XDG_CACHE_HOME", &format!("{home}/cache")),
        ]))
        .unwrap()
    }

    #[test]
    fn the_cache_file_reads_back_what_was_written_and_is_private() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let directory = Directory {
            fetched_at: at("2024-05-01T12:00:00Z"),
            accounts: vec![DirectoryAccount {
                account_id: "111122223333".into(),
                account_name: Some("Prod".into()),
                email_address: None,
                roles: vec!["Admin".into(), "ReadOnly".into()],
            }],
        };
        assert_eq!(read_cached(&paths, &session()), Ok(None));
        write_cached(&paths, &session(), &directory).unwrap();
        assert_eq!(read_cached(&paths, &session()), Ok(Some(directory)));
        let path = cache_path(&paths, &session());
        assert!(path.starts_with(home.path().join("cache/ssobar/accounts")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn every_role_of_every_account_is_one_assignment() {
        let account = |id: &str, name: Option<&str>, roles: &[&str]| DirectoryAccount {
            account_id: id.into(),
            account_name: name.map(str::to_owned),
            email_address: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        let directory = Directory {
            fetched_at: at("2024-05-01T12:00:00Z"),
            accounts: vec![
                account("111122223333", Some("prod"), &["Admin", "ReadOnly"]),
                account("444455556666", None, &[]),
                account("777788889999", None, &["Billing"]),
            ],
        };
        let pairs: Vec<_> = directory
            .assignments()
            .into_iter()
            .map(|a| (a.account_id, a.account_name, a.role_name))
            .collect();
        assert_eq!(
            pairs,
            [
                ("111122223333".into(), Some("prod".into()), "Admin".into()),
                (
                    "111122223333".into(),
                    Some("prod".into()),
                    "ReadOnly".into()
                ),
                ("777788889999".into(), None, "Billing".into()),
            ]
        );
    }

    #[test]
    fn a_cache_file_that_does_not_parse_is_no_cache() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let path = cache_path(&paths, &session());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{\"fetched_at\": 12").unwrap();
        assert_eq!(read_cached(&paths, &session()), Ok(None));
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_others_may_write_is_not_used_and_says_what_to_run() {
        use std::os::unix::fs::PermissionsExt;
        let chmod = |path: &std::path::Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let directory = Directory {
            fetched_at: at("2024-05-01T12:00:00Z"),
            accounts: vec![],
        };
        write_cached(&paths, &session(), &directory).unwrap();
        let path = cache_path(&paths, &session());
        let folder = path.parent().unwrap();
        chmod(&path, 0o666);
        assert_eq!(
            read_cached(&paths, &session()),
            Err(format!(
                "{0}: writable by group or others, so not trusted: run \"chmod 600 {0}\"; the accounts are listed from the portal instead",
                path.display()
            ))
        );
        chmod(&path, 0o600);
        chmod(folder, 0o777);
        let why = read_cached(&paths, &session()).unwrap_err();
        assert!(
            why.contains(&format!("chmod 700 {}", folder.display())),
            "{why}"
        );
        chmod(folder, 0o700);
        std::os::unix::fs::chown(&path, Some(65534), None)
            .expect("chown to nobody (the test runs as root)");
        assert!(read_cached(&paths, &session()).is_err(), "nobody's file");
        // Written again by the user, it is trusted again.
        write_cached(&paths, &session(), &directory).unwrap();
        assert_eq!(read_cached(&paths, &session()), Ok(Some(directory)));
    }
}
