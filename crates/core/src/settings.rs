//! ssobar's own settings: one small TOML file, each key overridable by `SSOBAR_<KEY>`.
//!
//! A bad value never stops ssobar: it is reported and the default is used, so a typo in the
//! settings file cannot lock anyone out of their sessions.

use crate::env::Env;
use crate::util::fsutil;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Where SSO tokens are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenStoreKind {
    /// The AWS CLI cache (`~/.aws/sso/cache`), shared with `aws` and every SDK.
    #[default]
    AwsCli,
    /// Only the OS keychain: no bearer token in a plain file.
    Keychain,
}

impl TokenStoreKind {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsCli => "aws-cli",
            Self::Keychain => "keychain",
        }
    }
}

/// How to sign in when a browser is available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignInFlowKind {
    /// Authorization code with PKCE: the browser returns to a loopback port.
    #[default]
    Browser,
    /// Device authorization: a code to confirm on any device.
    DeviceCode,
}

impl SignInFlowKind {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::DeviceCode => "device-code",
        }
    }
}

/// What a helper (`eks-token`, `credential-process`, `exec`, `env`, `login`) does when a
/// session needs a sign-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExpired {
    /// Ask the running tray app and wait; with no app, sign in from the terminal if there is
    /// one, else fail.
    #[default]
    App,
    /// Never ask the app: sign in from the terminal if there is one, else fail.
    Terminal,
    /// Fail at once with the command to run.
    Fail,
}

impl OnExpired {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Terminal => "terminal",
            Self::Fail => "fail",
        }
    }
}

/// What the app does when a helper asks it for a sign-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnSignInRequest {
    /// Show one notification per session with a "Sign in" action.
    #[default]
    Notify,
    /// Open the browser at once.
    Browser,
}

impl OnSignInRequest {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Browser => "browser",
        }
    }
}

/// What the app does with requests from a remote shell (a helper on another machine that
/// reaches the app through `ssh -R`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteRequests {
    /// Take them, each approved per host and profile (see [`Approve::for_remote`]).
    #[default]
    Ask,
    /// Refuse them all.
    Refuse,
}

impl RemoteRequests {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Refuse => "refuse",
        }
    }
}

/// When the app asks the person before handing a profile's credentials to a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approve {
    /// Never: any program of this user gets them.
    #[default]
    Never,
    /// Once per program and profile, remembered for an hour.
    Hour,
    /// Every request.
    Each,
}

impl Approve {
    /// The rule for a request from a remote shell: never unasked; "hour" (per host and
    /// profile) unless the profile asks each time. A remote machine's programs cannot be told
    /// apart from here, and anyone with root there may use the forwarded channel.
    pub fn for_remote(self) -> Self {
        match self {
            Self::Never | Self::Hour => Self::Hour,
            Self::Each => Self::Each,
        }
    }

    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Hour => "hour",
            Self::Each => "each",
        }
    }
}

/// The keys of a `[profiles.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSettings {
    /// When the app asks before handing the profile's credentials out.
    #[serde(default)]
    pub approve: Approve,
}

/// What happens to a URL a person should open (a sign-in page, the console).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlAction {
    /// Open it in the browser.
    #[default]
    Open,
    /// Only show it, for the person to open where they like.
    Print,
    /// Put it on the clipboard.
    Copy,
}

impl UrlAction {
    /// The name used in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Print => "print",
            Self::Copy => "copy",
        }
    }
}

/// How URLs are opened, globally or for one session; an unset field falls back to the
/// global value, then to `$BROWSER` and the platform's opener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrowserSettings {
    /// A command template such as `firefox -P work {url}`, split into arguments without a
    /// shell; `{url}` stands for the URL inside its argument, else the URL is appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Open, print or copy the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_action: Option<UrlAction>,
    /// A Firefox container the URL opens in (through the "Open external links in a
    /// container" extension's `ext+container:` links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firefox_container: Option<String>,
}

/// The keys of a `[sessions.NAME]` table.
pub const SESSION_KEYS: &[&str] = &["browser", "url_action", "firefox_container"];

/// The keys only a file the user alone may write can set: `browser` names a program ssobar
/// runs, `firefox_container` runs `firefox` where no `browser` is set, and `https_proxy`,
/// `no_proxy` and `ca_bundle` decide where AWS calls go and whom they trust. A settings file
/// someone else may write could make ssobar run their program or hand its tokens to their
/// proxy, so from such a file these are ignored, globally and in every `[sessions.NAME]`
/// table.
pub const TRUSTED_ONLY_KEYS: &[&str] = &[
    "browser",
    "firefox_container",
    "https_proxy",
    "no_proxy",
    "ca_bundle",
];

impl BrowserSettings {
    /// `self`'s values where set, else `fallback`'s.
    pub fn or(&self, fallback: &Self) -> Self {
        Self {
            browser: self.browser.clone().or_else(|| fallback.browser.clone()),
            url_action: self.url_action.or(fallback.url_action),
            firefox_container: self
                .firefox_container
                .clone()
                .or_else(|| fallback.firefox_container.clone()),
        }
    }

    /// Sets one of [`SESSION_KEYS`] from its text form; an empty text unsets it.
    pub fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        let text = (!raw.is_empty()).then(|| raw.to_owned());
        match key {
            "browser" => {
                let words = crate::util::words::split_words(raw).map_err(|why| {
                    format!(
                        "{key} = `{raw}` cannot be split into arguments: {why}; keeping {}",
                        self.browser
                            .as_deref()
                            .unwrap_or("the next way to open a URL")
                    )
                })?;
                if words.first().is_some_and(String::is_empty) {
                    return Err(format!(
                        "{key} = `{raw}` names no program; keeping {}",
                        self.browser
                            .as_deref()
                            .unwrap_or("the next way to open a URL")
                    ));
                }
                self.browser = text;
            }
            "firefox_container" => self.firefox_container = text,
            "url_action" => {
                self.url_action = match raw {
                    "" => None,
                    "open" => Some(UrlAction::Open),
                    "print" => Some(UrlAction::Print),
                    "copy" => Some(UrlAction::Copy),
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not open, print or copy; keeping {}",
                            self.url_action.unwrap_or_default().as_str()
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unknown setting `{key}`; a session's settings are {}",
                    SESSION_KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Every setting, with its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// A session counts as expiring (and is announced) this many minutes before it expires.
    pub warning_minutes: u32,
    /// Refresh sessions that allow it in the background, without a browser.
    pub silent_refresh: bool,
    /// Refresh a session this many minutes before it expires.
    pub refresh_minutes: u32,
    /// Reuse stored role credentials until this many minutes before they expire.
    pub credential_margin_minutes: u32,
    /// Where SSO tokens are kept.
    pub token_store: TokenStoreKind,
    /// The sign-in flow used when a browser is available.
    pub sign_in_flow: SignInFlowKind,
    /// Start the tray app when the user logs in.
    pub start_at_login: bool,
    /// How long to wait for another process's credential fetch, refresh or sign-out before
    /// giving up and naming it: a little longer than one AWS call may take
    /// ([`crate::aws::CALL_BUDGET`]). Waits for another sign-in last as long as a sign-in.
    pub lock_wait_seconds: u32,
    /// "Copy export lines" takes the credentials off the clipboard after this many seconds,
    /// if nothing else was copied since; 0 leaves them there.
    pub clipboard_clear_seconds: u32,
    /// What a helper does when a session needs a sign-in.
    pub on_expired: OnExpired,
    /// What the app does when a helper asks it for a sign-in.
    pub on_sign_in_request: OnSignInRequest,
    /// What the app does with requests from remote shells (`ssh -R`).
    pub remote_requests: RemoteRequests,
    /// How many seconds a helper waits for the app's sign-in (`--wait` overrides it).
    pub sign_in_wait: u32,
    /// Say that the browser's redirect has not come back after this many seconds of a
    /// browser sign-in (a browser outside WSL or on another machine cannot reach the
    /// loopback port); 0 never says it.
    pub no_redirect_hint_seconds: u32,
    /// The port on 127.0.0.1 a browser sign-in listens on; 0: one the system picks. A fixed
    /// port lets a browser on another machine reach a sign-in started on a remote shell
    /// through `ssh -L PORT:127.0.0.1:PORT`.
    pub callback_port: u16,
    /// The proxy for AWS calls when the environment names none (`HTTPS_PROXY`): an app the
    /// desktop starts has none of the shell's variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_proxy: Option<String>,
    /// Hosts the proxy is not used for, as `NO_PROXY` has them, when the environment has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// A PEM file of CA certificates to trust besides the system's, when `AWS_CA_BUNDLE` is
    /// not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// How URLs are opened when no session says otherwise.
    #[serde(flatten)]
    pub browser: BrowserSettings,
    /// How URLs are opened for one sso-session (`[sessions.NAME]`), by session name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sessions: BTreeMap<String, BrowserSettings>,
    /// Per profile (`[profiles.NAME]`): when to ask before its credentials are handed out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, ProfileSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            warning_minutes: 15,
            silent_refresh: true,
            refresh_minutes: 15,
            credential_margin_minutes: 5,
            token_store: TokenStoreKind::AwsCli,
            sign_in_flow: SignInFlowKind::Browser,
            start_at_login: false,
            lock_wait_seconds: 35,
            clipboard_clear_seconds: 60,
            on_expired: OnExpired::App,
            on_sign_in_request: OnSignInRequest::Notify,
            remote_requests: RemoteRequests::Ask,
            sign_in_wait: 120,
            no_redirect_hint_seconds: 30,
            callback_port: 0,
            https_proxy: None,
            no_proxy: None,
            ca_bundle: None,
            browser: BrowserSettings::default(),
            sessions: BTreeMap::new(),
            profiles: BTreeMap::new(),
        }
    }
}

/// The setting keys, as in the file; the environment variable is `SSOBAR_` + upper case.
pub const KEYS: &[&str] = &[
    "warning_minutes",
    "silent_refresh",
    "refresh_minutes",
    "credential_margin_minutes",
    "token_store",
    "sign_in_flow",
    "start_at_login",
    "lock_wait_seconds",
    "clipboard_clear_seconds",
    "on_expired",
    "on_sign_in_request",
    "remote_requests",
    "sign_in_wait",
    "no_redirect_hint_seconds",
    "callback_port",
    "https_proxy",
    "no_proxy",
    "ca_bundle",
    "browser",
    "url_action",
    "firefox_container",
];

impl Settings {
    /// How long to wait for another process's credential fetch, refresh or sign-out.
    pub fn lock_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.lock_wait_seconds))
    }

    /// How long a helper waits for the app's sign-in.
    pub fn sign_in_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.sign_in_wait))
    }

    /// How long a browser sign-in waits before saying no redirect came back; `None`: never.
    pub fn no_redirect_hint(&self) -> Option<std::time::Duration> {
        (self.no_redirect_hint_seconds > 0)
            .then(|| std::time::Duration::from_secs(u64::from(self.no_redirect_hint_seconds)))
    }

    /// `env` with the network settings filled in where it has none of the variables the AWS
    /// tools read (`HTTPS_PROXY` and its kin, `NO_PROXY`, `AWS_CA_BUNDLE`): the environment
    /// wins, as it does for the AWS CLI. The AWS calls read only the context's `Env`.
    /// Returns the variables it set.
    pub fn fill_network_env(&self, env: &mut Env) -> Vec<&'static str> {
        let has = |env: &Env, names: &[&str]| names.iter().any(|name| env.get(name).is_some());
        let mut filled = Vec::new();
        let proxies = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
        for (value, variable, family) in [
            (&self.https_proxy, "HTTPS_PROXY", &proxies[..]),
            (&self.no_proxy, "NO_PROXY", &["NO_PROXY", "no_proxy"][..]),
            (&self.ca_bundle, "AWS_CA_BUNDLE", &["AWS_CA_BUNDLE"][..]),
        ] {
            if let Some(value) = value
                && !has(env, family)
            {
                env.set(variable, value.clone());
                filled.push(variable);
            }
        }
        filled
    }

    /// How URLs are opened for `session` (a sso-session's name; `None` for a legacy one):
    /// its own table's values, else the global ones.
    pub fn browser_for(&self, session: Option<&str>) -> BrowserSettings {
        session
            .and_then(|name| self.sessions.get(name))
            .map_or_else(|| self.browser.clone(), |own| own.or(&self.browser))
    }

    /// Reads the settings file (absent: defaults) and applies `SSOBAR_*` overrides.
    /// Returns the settings and one warning per value that was ignored. From a file that
    /// someone else may write, or in a folder someone else may write, the
    /// [`TRUSTED_ONLY_KEYS`] are ignored with one warning naming the `chmod` to run; the other keys still apply.
    pub fn load(file: &Path, env: &Env) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let read = std::fs::File::open(file).and_then(|mut opened| {
            use std::io::Read;
            let mut text = String::new();
            opened.read_to_string(&mut text)?;
            // The mode of the file read, not of whatever the name points to by now.
            Ok((text, opened.metadata()?))
        });
        let text = match read {
            Ok((text, meta)) => {
                let loose = untrusted_file(file, &meta);
                if let Some(why) = &loose {
                    warnings.push(why.clone());
                }
                Some((text, loose.is_none()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                warnings.push(format!(
                    "{}: cannot read: {e}; using defaults",
                    file.display()
                ));
                None
            }
        };
        let mut settings = Self::default();
        if let Some((text, trusted)) = text {
            let mut from_file = Self::default();
            from_file.apply_file(&text, &file.display().to_string(), &mut warnings);
            if !trusted {
                from_file.forget_trusted_only();
            }
            settings = from_file;
        }
        let settings = settings.with_env(env, &mut warnings);
        (settings, warnings)
    }

    /// Drops the [`TRUSTED_ONLY_KEYS`] everywhere, back to their defaults (unset).
    fn forget_trusted_only(&mut self) {
        self.https_proxy = None;
        self.no_proxy = None;
        self.ca_bundle = None;
        for browser in std::iter::once(&mut self.browser).chain(self.sessions.values_mut()) {
            browser.browser = None;
            browser.firefox_container = None;
        }
    }

    /// Writes the settings file atomically (0600, in a folder made 0700).
    pub fn save(&self, file: &Path) -> io::Result<()> {
        // A profile left at the defaults (`approve = "never"`) needs no table.
        let mut kept = self.clone();
        kept.profiles
            .retain(|_, p| *p != ProfileSettings::default());
        let text = toml::to_string(&kept).map_err(io::Error::other)?;
        fsutil::write_private(file, text.as_bytes())
    }

    fn apply_file(&mut self, text: &str, origin: &str, warnings: &mut Vec<String>) {
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(e) => {
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                warnings.push(format!(
                    "{origin}{at}: {}; using defaults",
                    e.message().trim()
                ));
                return;
            }
        };
        for (key, value) in table {
            if key == "sessions" {
                self.apply_sessions(&value, origin, warnings);
                continue;
            }
            if key == "profiles" {
                self.apply_profiles(&value, origin, warnings);
                continue;
            }
            let raw = match &value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Err(why) = self.set(&key, &raw) {
                warnings.push(format!("{origin}: {why}"));
            }
        }
    }

    /// The `[sessions.NAME]` tables.
    fn apply_sessions(&mut self, value: &toml::Value, origin: &str, warnings: &mut Vec<String>) {
        let Some(sessions) = value.as_table() else {
            warnings.push(format!(
                "{origin}: sessions must be tables such as [sessions.corp]; ignoring it"
            ));
            return;
        };
        for (name, table) in sessions {
            let Some(table) = table.as_table() else {
                warnings.push(format!(
                    "{origin}: sessions.{name} must be a table ([sessions.{name}]); ignoring it"
                ));
                continue;
            };
            let own = self.sessions.entry(name.clone()).or_default();
            for (key, value) in table {
                let raw = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Err(why) = own.set(key, &raw) {
                    warnings.push(format!("{origin}: sessions.{name}: {why}"));
                }
            }
        }
    }

    /// The `[profiles.NAME]` tables.
    fn apply_profiles(&mut self, value: &toml::Value, origin: &str, warnings: &mut Vec<String>) {
        let Some(profiles) = value.as_table() else {
            warnings.push(format!(
                "{origin}: profiles must be tables such as [profiles.prod]; ignoring it"
            ));
            return;
        };
        for (name, table) in profiles {
            let Some(table) = table.as_table() else {
                warnings.push(format!(
                    "{origin}: profiles.{name} must be a table ([profiles.{name}]); ignoring it"
                ));
                continue;
            };
            let own = self.profiles.entry(name.clone()).or_default();
            for (key, value) in table {
                let raw = value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string());
                let set = match (key.as_str(), raw.as_str()) {
                    ("approve", "never") => Ok(Approve::Never),
                    ("approve", "hour") => Ok(Approve::Hour),
                    ("approve", "each") => Ok(Approve::Each),
                    ("approve", _) => Err(format!(
                        "approve = `{raw}` is not never, hour or each; keeping {}",
                        own.approve.as_str()
                    )),
                    _ => Err(format!(
                        "unknown setting `{key}`; a profile's settings are approve"
                    )),
                };
                match set {
                    Ok(approve) => own.approve = approve,
                    Err(why) => warnings.push(format!("{origin}: profiles.{name}: {why}")),
                }
            }
        }
    }

    /// When the app asks before handing `profile`'s credentials to a program.
    pub fn approve(&self, profile: &str) -> Approve {
        self.profiles
            .get(profile)
            .map(|p| p.approve)
            .unwrap_or_default()
    }

    fn with_env(mut self, env: &Env, warnings: &mut Vec<String>) -> Self {
        for key in KEYS {
            let var = format!("SSOBAR_{}", key.to_ascii_uppercase());
            if let Some(raw) = env.get(&var)
                && let Err(why) = self.set(key, raw)
            {
                warnings.push(format!("{var}: {why}"));
            }
        }
        self
    }

    /// Sets one key from its text form (as in the file or an environment variable).
    pub fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        let whole = |slot: &mut u32, unit: &str| {
            raw.parse::<u32>().map(|v| *slot = v).map_err(|_| {
                format!("{key} = `{raw}` is not a whole number of {unit}; keeping {slot}")
            })
        };
        let minutes = |slot: &mut u32| whole(slot, "minutes");
        let flag = |slot: &mut bool| match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => {
                *slot = true;
                Ok(())
            }
            "false" | "0" | "no" | "off" => {
                *slot = false;
                Ok(())
            }
            _ => Err(format!(
                "{key} = `{raw}` is not true or false; keeping {slot}"
            )),
        };
        match key {
            "warning_minutes" => minutes(&mut self.warning_minutes),
            "refresh_minutes" => minutes(&mut self.refresh_minutes),
            "credential_margin_minutes" => minutes(&mut self.credential_margin_minutes),
            "lock_wait_seconds" => whole(&mut self.lock_wait_seconds, "seconds"),
            "clipboard_clear_seconds" => whole(&mut self.clipboard_clear_seconds, "seconds"),
            "sign_in_wait" => whole(&mut self.sign_in_wait, "seconds"),
            "no_redirect_hint_seconds" => whole(&mut self.no_redirect_hint_seconds, "seconds"),
            "https_proxy" | "no_proxy" | "ca_bundle" => {
                let value = (!raw.is_empty()).then(|| raw.to_owned());
                match key {
                    "https_proxy" => self.https_proxy = value,
                    "no_proxy" => self.no_proxy = value,
                    _ => self.ca_bundle = value,
                }
                Ok(())
            }
            "callback_port" => raw
                .parse::<u16>()
                .map(|port| self.callback_port = port)
                .map_err(|_| {
                    format!(
                        "{key} = `{raw}` is not a port (1 to 65535, or 0 for one the system picks); keeping {}",
                        self.callback_port
                    )
                }),
            "browser" | "url_action" | "firefox_container" => self.browser.set(key, raw),
            "on_expired" => {
                self.on_expired = match raw {
                    "app" => OnExpired::App,
                    "terminal" => OnExpired::Terminal,
                    "fail" => OnExpired::Fail,
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not app, terminal or fail; keeping {}",
                            self.on_expired.as_str()
                        ));
                    }
                };
                Ok(())
            }
            "on_sign_in_request" => {
                self.on_sign_in_request = match raw {
                    "notify" => OnSignInRequest::Notify,
                    "browser" => OnSignInRequest::Browser,
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not notify or browser; keeping {}",
                            self.on_sign_in_request.as_str()
                        ));
                    }
                };
                Ok(())
            }
            "remote_requests" => {
                self.remote_requests = match raw {
                    "ask" => RemoteRequests::Ask,
                    "refuse" => RemoteRequests::Refuse,
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not ask or refuse; keeping {}",
                            self.remote_requests.as_str()
                        ));
                    }
                };
                Ok(())
            }
            "silent_refresh" => flag(&mut self.silent_refresh),
            "start_at_login" => flag(&mut self.start_at_login),
            "token_store" => {
                self.token_store = match raw {
                    "aws-cli" => TokenStoreKind::AwsCli,
                    "keychain" => TokenStoreKind::Keychain,
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not aws-cli or keychain; keeping {}",
                            self.token_store.as_str()
                        ));
                    }
                };
                Ok(())
            }
            "sign_in_flow" => {
                self.sign_in_flow = match raw {
                    "browser" => SignInFlowKind::Browser,
                    "device-code" => SignInFlowKind::DeviceCode,
                    _ => {
                        return Err(format!(
                            "{key} = `{raw}` is not browser or device-code; keeping {}",
                            self.sign_in_flow.as_str()
                        ));
                    }
                };
                Ok(())
            }
            _ => Err(format!(
                "unknown setting `{key}`; the settings are {}",
                KEYS.join(", ")
            )),
        }
    }
}

/// Why the settings file at `file` runs no program of its own (someone else may write it or
/// its folder), with the command that fixes it; `None` when it is missing or only the user may
/// write it. What [`Settings::load`] warns about, for callers that look without loading.
pub fn untrusted_settings(file: &Path) -> Option<String> {
    untrusted_file(file, &std::fs::metadata(file).ok()?)
}

/// The warning for a settings file that someone else may write, or whose folder someone else
/// may write ([`fsutil::others_may_write`]), with the command that fixes it; `None` when only
/// the user may.
fn untrusted_file(file: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let (last, others) = TRUSTED_ONLY_KEYS.split_last()?;
    let keys = format!("{} and {last}", others.join(", "));
    if let Some(writers) = fsutil::others_may_write(meta) {
        return Some(format!(
            "{} is {}, so its {keys} settings are ignored: run \"{}\"",
            file.display(),
            writers.describe(),
            writers.fix(file, fsutil::Kind::File)
        ));
    }
    let folder = file.parent().filter(|d| !d.as_os_str().is_empty())?;
    let writers = fsutil::others_may_write(&std::fs::metadata(folder).ok()?)?;
    Some(format!(
        "{} is in {}, which is {}, so its {keys} settings are ignored: run \"{}\"",
        file.display(),
        folder.display(),
        writers.describe(),
        writers.fix(folder, fsutil::Kind::Folder)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(
            &file,
            "warning_minutes = 30\ntoken_store = \"keychain\"\nsilent_refresh = false\n",
        )
        .unwrap();
        let env = Env::from_pairs([("SSOBAR_WARNING_MINUTES", "5")]);
        let (s, warnings) = Settings::load(&file, &env);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.warning_minutes, 5);
        assert_eq!(s.token_store, TokenStoreKind::Keychain);
        assert!(!s.silent_refresh);
        assert_eq!(s.refresh_minutes, 15);
    }

    #[test]
    fn bad_values_are_reported_and_defaults_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "warning_minutes = \"soon\"\ncolour = 3\n").unwrap();
        let env = Env::from_pairs([("SSOBAR_TOKEN_STORE", "disk")]);
        let (s, warnings) = Settings::load(&file, &env);
        assert_eq!(s, Settings::default());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
        assert!(has("warning_minutes = `soon` is not a whole number"));
        assert!(has("unknown setting `colour`"));
        assert!(has(
            "SSOBAR_TOKEN_STORE: token_store = `disk` is not aws-cli or keychain"
        ));
    }

    #[test]
    fn sign_in_requests_are_set_by_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "on_expired = \"terminal\"\nsign_in_wait = 30\n").unwrap();
        let env = Env::from_pairs([
            ("SSOBAR_ON_SIGN_IN_REQUEST", "browser"),
            ("SSOBAR_SIGN_IN_WAIT", "5"),
        ]);
        let (s, warnings) = Settings::load(&file, &env);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.on_expired, OnExpired::Terminal);
        assert_eq!(s.on_sign_in_request, OnSignInRequest::Browser);
        assert_eq!(s.sign_in_wait(), std::time::Duration::from_secs(5));
        let env = Env::from_pairs([("SSOBAR_ON_EXPIRED", "popup")]);
        let (s, warnings) = Settings::load(&file, &env);
        assert_eq!(s.on_expired, OnExpired::Terminal);
        assert_eq!(
            warnings,
            [
                "SSOBAR_ON_EXPIRED: on_expired = `popup` is not app, terminal or fail; keeping terminal"
            ]
        );
    }

    #[test]
    fn a_session_table_overrides_the_global_browser_settings_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(
            &file,
            r#"browser = "firefox {url}"
url_action = "copy"

[sessions.corp]
browser = 'firefox -P work {url}'
firefox_container = "Work"

[sessions.lab]
url_action = "print"
"#,
        )
        .unwrap();
        let (s, warnings) = Settings::load(&file, &Env::default());
        assert!(warnings.is_empty(), "{warnings:?}");
        let corp = s.browser_for(Some("corp"));
        assert_eq!(corp.browser.as_deref(), Some("firefox -P work {url}"));
        assert_eq!(corp.firefox_container.as_deref(), Some("Work"));
        assert_eq!(corp.url_action, Some(UrlAction::Copy));
        let lab = s.browser_for(Some("lab"));
        assert_eq!(lab.browser.as_deref(), Some("firefox {url}"));
        assert_eq!(lab.url_action, Some(UrlAction::Print));
        assert_eq!(s.browser_for(None), s.browser);
        assert_eq!(s.browser_for(Some("other")), s.browser);

        let env = Env::from_pairs([("SSOBAR_URL_ACTION", "print"), ("SSOBAR_BROWSER", "w3m")]);
        let (s, warnings) = Settings::load(&file, &env);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.browser.url_action, Some(UrlAction::Print));
        assert_eq!(s.browser.browser.as_deref(), Some("w3m"));
        let corp = s.browser_for(Some("corp"));
        assert_eq!(corp.browser.as_deref(), Some("firefox -P work {url}"));
        assert_eq!(corp.url_action, Some(UrlAction::Print));

        let env = Env::from_pairs([("SSOBAR_BROWSER", "firefox -P 'work {url}")]);
        let (s, warnings) = Settings::load(&file, &env);
        assert_eq!(s.browser.browser.as_deref(), Some("firefox {url}"));
        assert_eq!(
            warnings,
            [
                "SSOBAR_BROWSER: browser = `firefox -P 'work {url}` cannot be split into arguments: a ' quote is not closed; keeping firefox {url}"
            ]
        );
    }

    #[test]
    fn bad_session_settings_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(
            &file,
            "url_action = \"mail\"\n[sessions]\nlab = 3\n[sessions.corp]\nurl_action = \"fax\"\ncolour = 1\n",
        )
        .unwrap();
        let (s, warnings) = Settings::load(&file, &Env::default());
        assert_eq!(s.browser_for(Some("corp")), BrowserSettings::default());
        assert_eq!(
            warnings,
            [
                "FILE: sessions.corp: unknown setting `colour`; a session's settings are browser, url_action, firefox_container",
                "FILE: sessions.corp: url_action = `fax` is not open, print or copy; keeping open",
                "FILE: sessions.lab must be a table ([sessions.lab]); ignoring it",
                "FILE: url_action = `mail` is not open, print or copy; keeping open",
            ]
            .map(|w| w.replace("FILE", &file.display().to_string()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_settings_file_others_may_write_runs_no_program_of_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let chmod = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("ssobar");
        let file = folder.join("settings.toml");
        Settings::default().save(&file).unwrap();
        std::fs::write(
            &file,
            "warning_minutes = 30\nbrowser = \"evil {url}\"\nfirefox_container = \"Work\"\nurl_action = \"copy\"\nhttps_proxy = \"http://evil:3128\"\nno_proxy = \"*\"\nca_bundle = \"evil-ca.pem\"\n\n[sessions.corp]\nbrowser = \"evil2\"\nfirefox_container = \"Corp\"\nurl_action = \"print\"\n",
        )
        .unwrap();
        chmod(&folder, 0o700);
        chmod(&file, 0o600);
        let (s, warnings) = Settings::load(&file, &Env::default());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.browser.browser.as_deref(), Some("evil {url}"), "trusted");
        assert_eq!(
            s.https_proxy.as_deref(),
            Some("http://evil:3128"),
            "trusted"
        );

        for (folder_mode, file_mode, fix) in [
            (0o700, 0o666, format!("chmod 600 {}", file.display())),
            (0o700, 0o620, format!("chmod 600 {}", file.display())),
            (0o777, 0o600, format!("chmod 700 {}", folder.display())),
        ] {
            chmod(&folder, folder_mode);
            chmod(&file, file_mode);
            let (s, warnings) = Settings::load(&file, &Env::default());
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].ends_with(&format!(
                    "so its browser, firefox_container, https_proxy, no_proxy and ca_bundle settings are ignored: run \"{fix}\""
                )),
                "{warnings:?}"
            );
            assert_eq!(s.browser.browser, None);
            assert_eq!(s.browser.firefox_container, None);
            assert_eq!(
                (&s.https_proxy, &s.no_proxy, &s.ca_bundle),
                (&None, &None, &None)
            );
            let corp = s.browser_for(Some("corp"));
            assert_eq!(corp.browser, None);
            assert_eq!(corp.firefox_container, None);
            // The rest of the file still applies.
            assert_eq!(s.warning_minutes, 30);
            assert_eq!(s.browser.url_action, Some(UrlAction::Copy));
            assert_eq!(corp.url_action, Some(UrlAction::Print));
        }
        // The environment is the user's own: its browser still counts.
        let env = Env::from_pairs([("SSOBAR_BROWSER", "w3m")]);
        let (s, _) = Settings::load(&file, &env);
        assert_eq!(s.browser.browser.as_deref(), Some("w3m"));
        chmod(&folder, 0o700);
    }

    #[test]
    fn the_no_redirect_hint_can_be_turned_off() {
        let (s, _) = Settings::load(
            Path::new("/nonexistent/settings.toml"),
            &Env::from_pairs([("SSOBAR_NO_REDIRECT_HINT_SECONDS", "0")]),
        );
        assert_eq!(s.no_redirect_hint(), None);
        assert_eq!(
            Settings::default().no_redirect_hint(),
            Some(std::time::Duration::from_secs(30))
        );
    }

    #[test]
    fn a_broken_file_gives_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "warning_minutes = 3\nthis is not toml\n").unwrap();
        let (s, warnings) = Settings::load(&file, &Env::default());
        assert_eq!(s, Settings::default());
        assert!(warnings[0].contains("settings.toml:2: "), "{warnings:?}");
    }

    #[test]
    fn saves_what_it_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg/settings.toml");
        let mut s = Settings {
            warning_minutes: 42,
            sign_in_flow: SignInFlowKind::DeviceCode,
            ..Settings::default()
        };
        s.browser.browser = Some("firefox --new-tab={url}".to_owned());
        s.browser.url_action = Some(UrlAction::Print);
        s.sessions.insert(
            "corp".to_owned(),
            BrowserSettings {
                firefox_container: Some("Work Stuff".to_owned()),
                ..BrowserSettings::default()
            },
        );
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file, &Env::default()), (s, vec![]));
    }

    #[test]
    fn an_unreadable_file_still_lets_the_environment_speak() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: it exists but cannot be read as one.
        let env = Env::from_pairs([
            ("SSOBAR_WARNING_MINUTES", "30"),
            ("SSOBAR_REFRESH_MINUTES", "soon"),
        ]);
        let (settings, warnings) = Settings::load(dir.path(), &env);
        assert_eq!(settings.warning_minutes, 30);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("cannot read"), "{warnings:?}");
        assert!(
            warnings[1].starts_with("SSOBAR_REFRESH_MINUTES: "),
            "{warnings:?}"
        );
    }

    #[test]
    fn callback_port_is_a_port_or_keeps_its_value() {
        let env = Env::from_pairs([("SSOBAR_CALLBACK_PORT", "8400")]);
        let (settings, warnings) = Settings::load(Path::new("/nonexistent/settings.toml"), &env);
        assert_eq!((settings.callback_port, warnings.len()), (8400, 0));
        let env = Env::from_pairs([("SSOBAR_CALLBACK_PORT", "70000")]);
        let (settings, warnings) = Settings::load(Path::new("/nonexistent/settings.toml"), &env);
        assert_eq!(settings.callback_port, 0);
        assert_eq!(
            warnings,
            [
                "SSOBAR_CALLBACK_PORT: callback_port = `70000` is not a port (1 to 65535, or 0 for one the system picks); keeping 0"
            ]
        );
    }

    #[test]
    fn network_settings_fill_in_only_what_the_environment_lacks() {
        let mut settings = Settings::default();
        for (key, value) in [
            ("https_proxy", "http://proxy.corp:3128"),
            ("no_proxy", ".corp"),
            ("ca_bundle", "/etc/corp/ca.pem"),
        ] {
            settings.set(key, value).unwrap();
        }
        let mut desktop = Env::from_pairs([("HOME", "/home/a")]);
        assert_eq!(
            settings.fill_network_env(&mut desktop),
            ["HTTPS_PROXY", "NO_PROXY", "AWS_CA_BUNDLE"]
        );
        assert_eq!(desktop.get("HTTPS_PROXY"), Some("http://proxy.corp:3128"));
        assert_eq!(desktop.get("NO_PROXY"), Some(".corp"));
        assert_eq!(desktop.get("AWS_CA_BUNDLE"), Some("/etc/corp/ca.pem"));
        let mut shell = Env::from_pairs([
            ("https_proxy", "http://other:8080"),
            ("no_proxy", "*"),
            ("AWS_CA_BUNDLE", "/own.pem"),
        ]);
        assert!(settings.fill_network_env(&mut shell).is_empty());
        assert_eq!(shell.get("HTTPS_PROXY"), None);
        assert_eq!(shell.get("NO_PROXY"), None);
        assert_eq!(shell.get("AWS_CA_BUNDLE"), Some("/own.pem"));
    }

    #[test]
    fn a_profile_s_approval_is_read_from_its_table_and_bad_values_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(
            &file,
            "[profiles.prod]\napprove = \"each\"\n[profiles.stage]\napprove = \"hour\"\n[profiles.dev]\napprove = \"sometimes\"\ncolour = 1\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let (s, warnings) = Settings::load(&file, &Env::from_pairs([("HOME", "/h")]));
        assert_eq!(s.approve("prod"), Approve::Each);
        assert_eq!(s.approve("stage"), Approve::Hour);
        assert_eq!(s.approve("dev"), Approve::Never);
        assert_eq!(s.approve("other"), Approve::Never);
        let text = warnings.join("\n");
        assert!(
            text.contains("profiles.dev: approve = `sometimes` is not never, hour or each"),
            "{text}"
        );
        assert!(
            text.contains("profiles.dev: unknown setting `colour`"),
            "{text}"
        );
        let saved = toml::to_string(&s).unwrap();
        assert!(
            saved.contains("[profiles.prod]") && saved.contains("approve = \"each\""),
            "{saved}"
        );
    }
}
