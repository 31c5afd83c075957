//! Demo mode: ssobar-fake-aws inside the app, serving a throwaway HOME with three sessions
//! (valid for hours, expiring in three minutes, expired), so a newcomer sees everything work
//! without an AWS account.
//!
//! The demo is sealed off from the person's real setup: the process runs in an environment
//! of its own (`sealed_env`), so neither ssobar, nor GTK and WebKit, nor the browser it
//! opens can reach real AWS or the person's folders; its keychain entries live under a service
//! name of their own, and it runs beside a real instance instead of handing over to it. A
//! build without the `demo` feature has no fake AWS in it at all.

use ssobar_core::creds::keychain::Keychain;

/// Where the demo keeps its (fake) role credentials: never among the person's real ones.
pub const KEYCHAIN: Keychain = Keychain::named("ssobar-demo");

#[cfg(feature = "demo")]
mod sealed {
    use ssobar_core::env::Env;
    use std::path::{Path, PathBuf};

    /// The variables that name one of the person's own folders, each with the demo's folder
    /// in its place (under the demo's HOME): where ssobar keeps its settings, caches and
    /// socket (`Paths`), and where GTK, WebKit and the programs the demo starts keep their
    /// configuration, data, caches, state and runtime files.
    pub(super) fn own_folders() -> Vec<(&'static str, &'static str)> {
        let mut folders = vec![
            ("HOME", ""),
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_CACHE_HOME", ".cache"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_RUNTIME_DIR", ".run"),
        ];
        // Where `Paths` finds ssobar's folders on Windows.
        if cfg!(windows) {
            folders.extend([
                ("USERPROFILE", ""),
                ("APPDATA", "AppData/Roaming"),
                ("LOCALAPPDATA", "AppData/Local"),
            ]);
        }
        folders
    }

    /// Whether a variable of the person's environment must not reach the demo: every AWS and
    /// ssobar setting could point it at real AWS (`AWS_ENDPOINT_URL*`,
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, `AWS_PROFILE`) or at real stores
    /// (`SSOBAR_TOKEN_STORE`, `AWS_SHARED_CREDENTIALS_FILE`), and every XDG variable that names
    /// a folder of the person's (`XDG_DESKTOP_DIR`, ...) would lead it there. The system's
    /// search paths (`XDG_DATA_DIRS`, `XDG_CONFIG_DIRS`) and what describes the desktop
    /// session (`XDG_CURRENT_DESKTOP`, `XDG_SESSION_TYPE`) stay.
    pub(super) fn is_sealed_off(variable: &str) -> bool {
        variable.starts_with("AWS_")
            || variable.starts_with("SSOBAR_")
            || (variable.starts_with("XDG_")
                && (variable.ends_with("_HOME") || variable.ends_with("_DIR")))
    }

    /// The demo's environment: the person's `person`, with HOME and every per-user folder
    /// ([`own_folders`]) in the demo's folder `home`, and none of the variables
    /// [`is_sealed_off`] names. What reached the desktop only through one of those folders
    /// is named outright, so that the window, the tray and notifications still work: the
    /// session bus at `$XDG_RUNTIME_DIR/bus`, a Wayland socket named relative to
    /// `$XDG_RUNTIME_DIR`, the X server's `~/.Xauthority` (`exists` says which files are
    /// there). Sealing twice changes nothing: a sealed process knows itself by that.
    pub fn sealed_env(person: &Env, home: &Path, exists: impl Fn(&Path) -> bool) -> Env {
        let mut env = person.clone();
        let runtime = person
            .get("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute());
        let display = |path: PathBuf| path.display().to_string();
        if person.get("DBUS_SESSION_BUS_ADDRESS").is_none()
            && let Some(bus) = runtime.as_ref().map(|dir| dir.join("bus"))
            && exists(&bus)
        {
            env.set(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", bus.display()),
            );
        }
        if let Some(wayland) = person.get("WAYLAND_DISPLAY")
            && !Path::new(wayland).is_absolute()
            && let Some(runtime) = &runtime
        {
            env.set("WAYLAND_DISPLAY", display(runtime.join(wayland)));
        }
        if person.get("XAUTHORITY").is_none()
            && let Some(cookie) = person.home().map(|h| h.join(".Xauthority"))
            && exists(&cookie)
        {
            env.set("XAUTHORITY", display(cookie));
        }
        env.remove_where(is_sealed_off);
        for (variable, under) in own_folders() {
            let folder = if under.is_empty() {
                home.to_path_buf()
            } else {
                home.join(under)
            };
            env.set(variable, display(folder));
        }
        env
    }
}

#[cfg(feature = "demo")]
pub use with_fake::{Demo, start};

#[cfg(feature = "demo")]
mod with_fake {
    use super::sealed::{own_folders, sealed_env};
    use ssobar_core::config::SessionId;
    use ssobar_core::context::Context;
    use ssobar_core::creds::Vault;
    use ssobar_core::env::Env;
    use ssobar_core::util::fsutil::ensure_private_dir;
    use ssobar_fake_aws::{FakeAws, FakeConfig, demo};
    use std::io;
    use std::path::{Path, PathBuf};

    /// The file that marks a folder as made for a demo by the launch before this one.
    const MARKER: &str = ".ssobar-demo";

    /// The running demo; dropping it stops the fake and deletes its folder.
    pub struct Demo {
        /// Serves while the app runs; dropped, it stops.
        _fake: FakeAws,
        /// The demo's HOME, which holds every folder of its own.
        folder: PathBuf,
        sessions: Vec<String>,
    }

    /// Starts the demo. A launch from the person's environment makes the demo's folder and
    /// starts the app again in it, sealed ([`sealed_env`]), in this process's place: this
    /// returns only in the sealed process (or on failure), which starts the fake, seeds the
    /// HOME, and returns the environment the app runs in.
    pub fn start() -> io::Result<(Demo, Env)> {
        let process = Env::from_process();
        let Some(folder) = sealed_folder(&process) else {
            return Err(start_sealed(&process));
        };
        let fake = FakeAws::start(FakeConfig::default())?;
        let world = demo::seed(&folder, &fake)?;
        let mut env = process;
        env.set("AWS_CONFIG_FILE", world.config_file.display().to_string());
        for (key, value) in fake.endpoint_env() {
            env.set(key, value);
        }
        eprintln!(
            "ssobar-app: demo mode, AWS is {} and HOME is {}",
            fake.url(),
            folder.display()
        );
        let sessions = world.sessions.iter().map(|s| s.name.clone()).collect();
        Ok((
            Demo {
                _fake: fake,
                folder,
                sessions,
            },
            env,
        ))
    }

    /// The demo's folder, when this process already runs sealed in it: HOME carries the
    /// marker, and sealing the environment again would change nothing.
    fn sealed_folder(process: &Env) -> Option<PathBuf> {
        let home = process.home()?;
        let sealed =
            home.join(MARKER).is_file() && sealed_env(process, &home, Path::exists) == *process;
        sealed.then_some(home)
    }

    /// Makes the demo's folder and runs this app again in it, sealed, in this process's
    /// place. Returns only what went wrong.
    fn start_sealed(person: &Env) -> io::Error {
        let folder = match make_folder() {
            Ok(folder) => folder,
            Err(e) => return e,
        };
        let env = sealed_env(person, &folder, Path::exists);
        let failed = run_in_place(&env);
        let _ = std::fs::remove_dir_all(&folder);
        failed
    }

    /// A new private folder in the temporary folder, with the demo's own folders in it
    /// (private too: XDG_RUNTIME_DIR must be) and the marker.
    fn make_folder() -> io::Result<PathBuf> {
        let folder = tempfile::Builder::new()
            .prefix("ssobar-demo.")
            .tempdir()?
            .keep();
        let made = own_folders()
            .into_iter()
            .try_for_each(|(_, under)| ensure_private_dir(&folder.join(under)))
            .and_then(|()| std::fs::write(folder.join(MARKER), b""));
        match made {
            Ok(()) => Ok(folder),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&folder);
                Err(e)
            }
        }
    }

    /// Replaces this process with the same command in `env` (same pid, so whoever started
    /// it, WebDriver included, still holds it). Returns only what went wrong.
    #[cfg(unix)]
    fn run_in_place(env: &Env) -> io::Error {
        use std::os::unix::process::CommandExt;
        match std::env::current_exe() {
            Ok(program) => std::process::Command::new(program)
                .args(std::env::args_os().skip(1))
                .env_clear()
                .envs(env.vars())
                .exec(),
            Err(e) => e,
        }
    }

    /// Runs the same command in `env` and ends with its exit code: there is no exec here.
    /// Returns only what went wrong.
    #[cfg(not(unix))]
    fn run_in_place(env: &Env) -> io::Error {
        let ran = std::env::current_exe().and_then(|program| {
            std::process::Command::new(program)
                .args(std::env::args_os().skip(1))
                .env_clear()
                .envs(env.vars())
                .status()
        });
        match ran {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(e) => e,
        }
    }

    impl Demo {
        /// Ends the demo as the app quits: deletes its role credentials from the keychain
        /// (they are fake, and it is the person's keychain, under the demo's own service name,
        /// so a real session of the same name is never touched) and its folder.
        pub fn end(&self, ctx: &Context) {
            let config = ctx.load_config();
            let vault = Vault::new(ctx);
            for name in &self.sessions {
                let _ = vault.forget_session(&config, &SessionId::Named(name.clone()));
            }
            let _ = std::fs::remove_dir_all(&self.folder);
        }
    }

    impl Drop for Demo {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.folder);
        }
    }
}

#[cfg(not(feature = "demo"))]
pub use without_fake::{Demo, start};

#[cfg(not(feature = "demo"))]
mod without_fake {
    use ssobar_core::context::Context;
    use ssobar_core::env::Env;

    /// Never made: this build has no demo.
    pub enum Demo {}

    /// Says that this build has no demo.
    pub fn start() -> std::io::Result<(Demo, Env)> {
        Err(std::io::Error::other(
            "this ssobar-app was built without its demo (the `demo` feature)",
        ))
    }

    impl Demo {
        /// Nothing to end.
        pub fn end(&self, _ctx: &Context) {
            match *self {}
        }
    }
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::sealed::{is_sealed_off, sealed_env};
    use ssobar_core::env::Env;
    use std::path::Path;

    /// A person's desktop session, with AWS and ssobar settings of their own.
    fn person() -> Env {
        Env::from_pairs([
            ("HOME", "/home/p"),
            ("PATH", "/usr/bin"),
            ("DISPLAY", ":0"),
            ("WAYLAND_DISPLAY", "wayland-0"),
            ("BROWSER", "firefox"),
            ("XDG_CONFIG_HOME", "/home/p/.config"),
            ("XDG_CACHE_HOME", "/home/p/.cache"),
            ("XDG_DATA_HOME", "/home/p/.local/share"),
            ("XDG_STATE_HOME", "/home/p/.local/state"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("XDG_DESKTOP_DIR", "/home/p/Desktop"),
            ("XDG_DATA_DIRS", "/usr/local/share:/usr/share"),
            ("XDG_CURRENT_DESKTOP", "GNOME"),
            ("AWS_PROFILE", "prod"),
            ("AWS_ENDPOINT_URL_SSO", "https://sso.example.com"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("SSOBAR_TOKEN_STORE", "keychain"),
        ])
    }

    #[test]
    fn every_aws_and_ssobar_setting_is_kept_from_the_demo() {
        for variable in [
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_ENDPOINT_URL_SSO",
            "AWS_PROFILE",
            "SSOBAR_TOKEN_STORE",
            "SSOBAR_LOCK_WAIT_SECONDS",
            "XDG_DESKTOP_DIR",
        ] {
            assert!(is_sealed_off(variable), "{variable}");
        }
        for variable in [
            "DISPLAY",
            "DBUS_SESSION_BUS_ADDRESS",
            "PATH",
            "BROWSER",
            "XDG_DATA_DIRS",
            "XDG_CONFIG_DIRS",
            "XDG_CURRENT_DESKTOP",
        ] {
            assert!(!is_sealed_off(variable), "{variable}");
        }
    }

    #[test]
    fn the_demo_sees_no_folder_of_the_person_and_still_reaches_the_desktop() {
        let there = |p: &Path| p == Path::new("/run/user/1000/bus");
        let sealed = sealed_env(&person(), Path::new("/tmp/ssobar-demo.x"), there);
        for (variable, folder) in [
            ("HOME", "/tmp/ssobar-demo.x"),
            ("XDG_CONFIG_HOME", "/tmp/ssobar-demo.x/.config"),
            ("XDG_CACHE_HOME", "/tmp/ssobar-demo.x/.cache"),
            ("XDG_DATA_HOME", "/tmp/ssobar-demo.x/.local/share"),
            ("XDG_STATE_HOME", "/tmp/ssobar-demo.x/.local/state"),
            ("XDG_RUNTIME_DIR", "/tmp/ssobar-demo.x/.run"),
        ] {
            assert_eq!(sealed.get(variable), Some(folder), "{variable}");
        }
        for (variable, value) in sealed.vars() {
            assert!(
                !variable.starts_with("AWS_") && !variable.starts_with("SSOBAR_"),
                "{variable}"
            );
            if !["DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY"].contains(&variable) {
                assert!(
                    !value.contains("/home/p") && !value.contains("/run/user/1000"),
                    "{variable}={value}"
                );
            }
        }
        assert_eq!(sealed.get("XDG_DESKTOP_DIR"), None);
        for kept in [
            "PATH",
            "DISPLAY",
            "BROWSER",
            "XDG_DATA_DIRS",
            "XDG_CURRENT_DESKTOP",
        ] {
            assert_eq!(sealed.get(kept), person().get(kept), "{kept}");
        }
        // Found through the person's runtime folder before, named outright now.
        assert_eq!(
            sealed.get("DBUS_SESSION_BUS_ADDRESS"),
            Some("unix:path=/run/user/1000/bus")
        );
        assert_eq!(
            sealed.get("WAYLAND_DISPLAY"),
            Some("/run/user/1000/wayland-0")
        );
        assert_eq!(sealed.get("XAUTHORITY"), None, "no ~/.Xauthority there");
        // A sealed process knows itself: sealing again changes nothing.
        let again = sealed_env(&sealed, Path::new("/tmp/ssobar-demo.x"), there);
        assert_eq!(again, sealed);
    }

    #[test]
    fn a_bus_address_or_x_cookie_the_person_set_is_kept_as_it_is() {
        let mut person = person();
        person.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/dbus-abc");
        person.set("XAUTHORITY", "/run/user/1000/gdm/Xauthority");
        let sealed = sealed_env(&person, Path::new("/tmp/d"), |_| true);
        assert_eq!(
            sealed.get("DBUS_SESSION_BUS_ADDRESS"),
            Some("unix:path=/tmp/dbus-abc")
        );
        assert_eq!(
            sealed.get("XAUTHORITY"),
            Some("/run/user/1000/gdm/Xauthority")
        );
        person.remove("XAUTHORITY");
        let sealed = sealed_env(&person, Path::new("/tmp/d"), |_| true);
        assert_eq!(sealed.get("XAUTHORITY"), Some("/home/p/.Xauthority"));
    }
}
