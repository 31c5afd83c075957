//! Where everything lives: the AWS files shared with other tools, and ssobar's own folders.

use crate::env::Env;
use std::path::{Path, PathBuf};

/// Every path ssobar reads or writes, derived from an [`Env`].
///
/// ssobar's own folders follow the platform convention (XDG on Linux, `Library` on macOS,
/// `APPDATA` on Windows); they are computed from the captured environment rather than through
/// a platform crate so that a test's `HOME` is honoured in-process too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// `AWS_CONFIG_FILE` or `~/.aws/config`.
    pub config_file: PathBuf,
    /// `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`.
    pub credentials_file: PathBuf,
    /// `~/.aws/sso/cache`: SSO tokens and client registrations, shared with the AWS CLI.
    pub sso_cache_dir: PathBuf,
    /// ssobar's settings file.
    pub settings_file: PathBuf,
    /// Per-user, non-persistent state: the EKS token cache and the app's socket.
    /// `$XDG_RUNTIME_DIR/ssobar`, or `~/.cache/ssobar/run` where that is not set (cron,
    /// systemd timers, some SSH logins), so two processes of one user may see two of them:
    /// nothing that must be shared lives here. Locks do not: each lies beside what it guards
    /// ([`crate::util::lock::KeyLock::guarding`]).
    pub runtime_dir: PathBuf,
    /// ssobar's cache folder: what can be fetched again at any time (a session's accounts
    /// and roles), kept across restarts.
    pub cache_dir: PathBuf,
    /// The access log: which program got which role's credentials, kept across restarts in
    /// the user's state folder (`$XDG_STATE_HOME/ssobar`, `~/.local/state/ssobar`).
    pub access_log: PathBuf,
    /// The kernel's release text (`/proc/sys/kernel/osrelease`), which says whether this is
    /// WSL; fixed, but a path here so that nothing else names it.
    pub kernel_release: PathBuf,
    /// `SSOBAR_AGENT`: the app's channel forwarded from another machine (`ssh -R`). When set,
    /// this is a remote shell: helpers ask that app for everything and read no keychain,
    /// token or AWS profile of their own ([`crate::app::channel::helper_socket`]).
    pub agent_socket: Option<PathBuf>,
}

/// The home directory could not be determined.
#[derive(Debug, thiserror::Error)]
#[error("cannot tell your home directory: set HOME (USERPROFILE on Windows)")]
pub struct NoHomeDir;

impl Paths {
    /// The paths for this environment.
    pub fn from_env(env: &Env) -> Result<Self, NoHomeDir> {
        let home = env.home().ok_or(NoHomeDir)?;
        let aws_dir = home.join(".aws");
        let config_file = env
            .get("AWS_CONFIG_FILE")
            .map(|p| expand_tilde(p, &home))
            .unwrap_or_else(|| aws_dir.join("config"));
        let credentials_file = env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(|p| expand_tilde(p, &home))
            .unwrap_or_else(|| aws_dir.join("credentials"));
        let PlatformDirs {
            config: config_dir,
            runtime: runtime_dir,
            cache: cache_dir,
            state: state_dir,
        } = platform_dirs(env, &home);
        Ok(Self {
            config_file,
            credentials_file,
            sso_cache_dir: aws_dir.join("sso").join("cache"),
            settings_file: config_dir.join("settings.toml"),
            runtime_dir,
            cache_dir,
            access_log: state_dir.join("access.log"),
            kernel_release: PathBuf::from("/proc/sys/kernel/osrelease"),
            agent_socket: env.get("SSOBAR_AGENT").map(|p| expand_tilde(p, &home)),
        })
    }
}

impl Paths {
    /// The folders to watch, each on its own and not recursively, to see every change of the
    /// files the status is made of: the config's folder and the SSO cache, or, until one of
    /// them exists, its nearest ancestor that does (which sees it appear). Never anything
    /// below them: with `AWS_CONFIG_FILE=~/aws.cfg` that would be all of HOME.
    pub fn watch_folders(&self, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
        let mut folders: Vec<PathBuf> = [
            self.config_file.parent(),
            Some(self.sso_cache_dir.as_path()),
        ]
        .into_iter()
        .flatten()
        .filter_map(|wanted| wanted.ancestors().find(|dir| exists(dir)))
        .map(Path::to_path_buf)
        .collect();
        folders.sort();
        folders.dedup();
        folders
    }

    /// Whether a change at `path` (in one of the [`Self::watch_folders`]) can change the
    /// status: the config or credentials file, a file of the SSO cache, or a folder on the way
    /// to one of them appearing.
    pub fn affects_status(&self, path: &Path) -> bool {
        let on_the_way = |wanted: Option<&Path>| {
            wanted.is_some_and(|wanted| wanted != path && wanted.starts_with(path))
        };
        path == self.config_file
            || path == self.credentials_file
            || path.parent() == Some(self.sso_cache_dir.as_path())
            || on_the_way(Some(self.sso_cache_dir.as_path()))
            || on_the_way(self.config_file.parent())
    }

    /// An empty file whose presence says SSO tokens have been kept in the keychain: only then
    /// does a command that keeps them in the AWS CLI cache look for tokens left there, so that
    /// nobody who never used the keychain pays a keychain call for a session never signed in.
    pub fn keychain_tokens_marker(&self) -> PathBuf {
        self.settings_file.with_file_name("tokens-in-keychain")
    }
}

/// Expands a leading `~` the way the AWS SDKs do for `AWS_CONFIG_FILE`.
fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '\\']) => {
            home.join(rest.trim_start_matches(['/', '\\']))
        }
        _ => PathBuf::from(path),
    }
}

/// ssobar's own folders as the platform lays them out.
struct PlatformDirs {
    config: PathBuf,
    runtime: PathBuf,
    cache: PathBuf,
    state: PathBuf,
}

#[cfg(target_os = "macos")]
fn platform_dirs(_env: &Env, home: &Path) -> PlatformDirs {
    let library = home.join("Library");
    let caches = library.join("Caches").join("ssobar");
    PlatformDirs {
        config: library.join("Application Support").join("ssobar"),
        runtime: caches.clone(),
        cache: caches,
        state: library.join("Logs").join("ssobar"),
    }
}

#[cfg(windows)]
fn platform_dirs(env: &Env, home: &Path) -> PlatformDirs {
    let roaming = env
        .get("APPDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join("AppData").join("Roaming"));
    let local = env
        .get("LOCALAPPDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join("AppData").join("Local"));
    PlatformDirs {
        config: roaming.join("ssobar"),
        runtime: local.join("ssobar"),
        cache: local.join("ssobar").join("cache"),
        state: local.join("ssobar").join("state"),
    }
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_dirs(env: &Env, home: &Path) -> PlatformDirs {
    let xdg = |var: &str, fallback: &str| {
        env.get(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(fallback))
    };
    let config = xdg("XDG_CONFIG_HOME", ".config").join("ssobar");
    let cache = xdg("XDG_CACHE_HOME", ".cache").join("ssobar");
    let state = xdg("XDG_STATE_HOME", ".local/state").join("ssobar");
    let runtime = match env.get("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("ssobar"),
        _ => cache.join("run"),
    };
    PlatformDirs {
        config,
        runtime,
        cache,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_of_the_status_are_watched_and_nothing_below_them() {
        let env = Env::from_pairs([("HOME", "/h"), ("AWS_CONFIG_FILE", "~/aws.cfg")]);
        let paths = Paths::from_env(&env).unwrap();
        let all = |_: &Path| true;
        assert_eq!(
            paths.watch_folders(all),
            [PathBuf::from("/h"), PathBuf::from("/h/.aws/sso/cache")]
        );
        let no_cache_yet = |p: &Path| !p.starts_with("/h/.aws");
        assert_eq!(paths.watch_folders(no_cache_yet), [PathBuf::from("/h")]);

        assert!(paths.affects_status(Path::new("/h/aws.cfg")));
        assert!(paths.affects_status(Path::new("/h/.aws/sso/cache/abc.json")));
        assert!(
            paths.affects_status(Path::new("/h/.aws")),
            "the cache on its way"
        );
        assert!(!paths.affects_status(Path::new("/h/notes.txt")));
        assert!(!paths.affects_status(Path::new("/h/project/src/main.rs")));
        assert!(!paths.affects_status(Path::new("/h/.aws/sso/cache/sub/x.json")));
    }

    #[test]
    fn aws_paths_follow_home_and_overrides() {
        let env = Env::from_pairs([("HOME", "/h"), ("AWS_CONFIG_FILE", "~/cfg/aws")]);
        let paths = Paths::from_env(&env).unwrap();
        assert_eq!(paths.config_file, PathBuf::from("/h/cfg/aws"));
        assert_eq!(paths.credentials_file, PathBuf::from("/h/.aws/credentials"));
        assert_eq!(paths.sso_cache_dir, PathBuf::from("/h/.aws/sso/cache"));
    }

    #[test]
    fn no_home_is_an_error_not_a_panic() {
        assert!(Paths::from_env(&Env::default()).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn xdg_dirs_are_honoured() {
        let env = Env::from_pairs([
            ("HOME", "/h"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("XDG_RUNTIME_DIR", "/run/user/7"),
        ]);
        let paths = Paths::from_env(&env).unwrap();
        assert_eq!(
            paths.settings_file,
            PathBuf::from("/cfg/ssobar/settings.toml")
        );
        assert_eq!(paths.runtime_dir, PathBuf::from("/run/user/7/ssobar"));
        let paths = Paths::from_env(&Env::from_pairs([("HOME", "/h")])).unwrap();
        assert_eq!(paths.runtime_dir, PathBuf::from("/h/.cache/ssobar/run"));
        assert_eq!(paths.cache_dir, PathBuf::from("/h/.cache/ssobar"));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CACHE_HOME", "/c")]);
        let paths = Paths::from_env(&env).unwrap();
        assert_eq!(paths.cache_dir, PathBuf::from("/c/ssobar"));
    }
}
