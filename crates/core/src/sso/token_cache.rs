//! The AWS CLI's SSO token cache, `~/.aws/sso/cache`: tokens and client registrations.
//!
//! Every byte here is shared with the AWS CLI, botocore and every SDK, so the formats follow
//! them exactly (see `aws-facts` in the project docs): camelCase JSON, timestamps as
//! `YYYY-MM-DDTHH:MM:SSZ`, file names from SHA-1. Writes are atomic and private.

use crate::config::SessionId;
use crate::paths::Paths;
use crate::util::fsutil::{self, Kind, ReadError};
use crate::util::secret::Secret;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An SSO access token as the AWS CLI caches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoToken {
    /// The start URL the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// The IAM Identity Center region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The bearer token for the SSO portal.
    pub access_token: Secret,
    /// When the access token stops working.
    #[serde(with = "crate::util::time::serde_timestamp")]
    pub expires_at: Timestamp,
    /// The OIDC client that obtained it (needed to refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// That client's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When that client registration expires.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::util::time::serde_optional_timestamp"
    )]
    pub registration_expires_at: Option<Timestamp>,
    /// Present only when the service issued one (sso-session profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// Fields other tools wrote that ssobar does not use; kept so a rewrite loses nothing.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl SsoToken {
    /// True when the token can be refreshed at `now` without a browser: it carries a refresh
    /// token and the client registration that goes with it has not expired.
    pub fn is_refreshable(&self, now: Timestamp) -> bool {
        self.refresh_token.is_some()
            && self.client_id.is_some()
            && self.client_secret.is_some()
            && self.registration_expires_at.is_some_and(|at| at > now)
    }
}

/// What the cache holds for one session.
#[derive(Clone, Debug, PartialEq)]
pub enum CachedToken {
    /// No file: never signed in, or signed out.
    Missing,
    /// A well-formed token (which may have expired).
    Present(SsoToken),
    /// A file that is not a token: unreadable, not JSON, or missing `accessToken`/`expiresAt`.
    Invalid {
        /// The token file that could not be used.
        path: PathBuf,
        /// What is wrong with it, in words.
        reason: String,
    },
}

/// An OIDC client registration as the AWS CLI caches it beside the tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRegistration {
    /// What CreateToken calls name this client by.
    pub client_id: String,
    /// Proves to CreateToken that a token request comes from this client.
    pub client_secret: Secret,
    /// When the registration expires (from `clientSecretExpiresAt`).
    #[serde(with = "crate::util::time::serde_timestamp")]
    pub expires_at: Timestamp,
    /// The scopes it was registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Present for authorization-code (PKCE) registrations only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Fields other tools wrote that ssobar does not use.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where SSO tokens are kept: the AWS CLI cache ([`TokenCache`]) or the OS keychain.
pub trait TokenStore: Send + Sync {
    /// Reads a session's token. Never fails: a bad entry is [`CachedToken::Invalid`].
    fn load(&self, id: &SessionId) -> CachedToken;
    /// Writes a session's token atomically.
    fn store(&self, id: &SessionId, token: &SsoToken) -> Result<(), StoreError>;
    /// Deletes a session's token; `Ok(false)` when there was none.
    fn remove(&self, id: &SessionId) -> Result<bool, StoreError>;
    /// Where a session's token lives, for messages.
    fn location(&self, id: &SessionId) -> String;
    /// The file a session's token lives in, when it lives in one: a fast path can tell from
    /// a `stat` of it that the sign-in changed.
    fn file(&self, _id: &SessionId) -> Option<PathBuf> {
        None
    }
}

/// A token could not be written or deleted; the message names where and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// The folder of cached tokens and registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    /// The cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache at the AWS CLI's location.
    pub fn from_paths(paths: &Paths) -> Self {
        Self::new(&paths.sso_cache_dir)
    }

    /// The token file of a session.
    pub fn token_path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{}.json", id.cache_key()))
    }

    fn read_token(&self, id: &SessionId) -> CachedToken {
        let path = self.token_path(id);
        match fsutil::read_trusted(&path) {
            Ok(bytes) => parse_token(&bytes)
                .map(CachedToken::Present)
                .unwrap_or_else(|reason| CachedToken::Invalid { path, reason }),
            Err(ReadError::Missing) => CachedToken::Missing,
            Err(ReadError::Untrusted(reason)) => CachedToken::Invalid { path, reason },
            Err(ReadError::Io(e)) => CachedToken::Invalid {
                path,
                reason: format!("cannot read it: {e}"),
            },
        }
    }

    /// One line for the folder and for each token or registration file in it that someone
    /// else may write: such files are not read (tokens are invalid, registrations absent).
    /// Empty when the folder does not exist.
    pub fn trust_warnings(&self) -> Vec<String> {
        let Ok(dir) = std::fs::metadata(&self.dir) else {
            return Vec::new();
        };
        if let Some(writers) = fsutil::others_may_write(&dir) {
            return vec![format!(
                "{} is {}, so its tokens are not used: run \"{}\"",
                self.dir.display(),
                writers.describe(),
                writers.fix(&self.dir, Kind::Folder)
            )];
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut untrusted: Vec<(PathBuf, fsutil::OthersMayWrite)> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .filter_map(|path| {
                let writers = fsutil::others_may_write(&std::fs::metadata(&path).ok()?)?;
                Some((path, writers))
            })
            .collect();
        untrusted.sort_by(|a, b| a.0.cmp(&b.0));
        untrusted
            .iter()
            .map(|(path, writers)| {
                format!(
                    "{} is {}, so it is not used: run \"{}\"",
                    path.display(),
                    writers.describe(),
                    writers.fix(path, Kind::File)
                )
            })
            .collect()
    }

    /// The registration file for this key (see [`registration_cache_key`]).
    pub fn registration_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Reads a cached client registration; an unreadable one counts as absent (the caller
    /// registers a new client, which is what the AWS CLI does too).
    pub fn load_registration(&self, key: &str) -> Option<ClientRegistration> {
        // One writable by others counts as absent too: its secret may not be the client's.
        let bytes = fsutil::read_trusted(&self.registration_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes a client registration atomically.
    pub fn store_registration(
        &self,
        key: &str,
        registration: &ClientRegistration,
    ) -> io::Result<()> {
        self.write_json(&self.registration_path(key), registration)
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> io::Result<()> {
        let json = serde_json::to_vec(value).map_err(io::Error::other)?;
        fsutil::write_private(path, &json)
    }
}

impl TokenStore for TokenCache {
    fn load(&self, id: &SessionId) -> CachedToken {
        self.read_token(id)
    }

    /// Writes the file atomically, 0600 in a 0700 folder.
    fn store(&self, id: &SessionId, token: &SsoToken) -> Result<(), StoreError> {
        let path = self.token_path(id);
        self.write_json(&path, token)
            .map_err(|e| StoreError(format!("cannot write {}: {e}", path.display())))
    }

    fn remove(&self, id: &SessionId) -> Result<bool, StoreError> {
        let path = self.token_path(id);
        fsutil::remove_if_exists(&path)
            .map_err(|e| StoreError(format!("cannot delete {}: {e}", path.display())))
    }

    fn location(&self, id: &SessionId) -> String {
        self.token_path(id).display().to_string()
    }

    fn file(&self, id: &SessionId) -> Option<PathBuf> {
        Some(self.token_path(id))
    }
}

/// The token store the settings name, and the other one, where tokens may be left from before
/// the setting changed (an edited settings file, an `SSOBAR_TOKEN_STORE` variable).
///
/// A token found only in the other store is moved into the one in use the first time it is
/// read, so no live refresh token stays behind in a plain file after switching to the
/// keychain; every write and every removal clears the other store too, so signing out ends
/// the session in both.
pub struct SwitchableStore {
    active: Arc<dyn TokenStore>,
    other: Option<Arc<dyn TokenStore>>,
}

impl SwitchableStore {
    /// Tokens kept in `active`, with `other` looked into for what was left there.
    pub fn new(active: Arc<dyn TokenStore>, other: Option<Arc<dyn TokenStore>>) -> Self {
        Self { active, other }
    }
}

impl TokenStore for SwitchableStore {
    fn load(&self, id: &SessionId) -> CachedToken {
        let found = self.active.load(id);
        let (CachedToken::Missing, Some(other)) = (&found, &self.other) else {
            return found;
        };
        match other.load(id) {
            CachedToken::Present(token) => {
                // Moved only once the store in use holds it; until then it stays where it is.
                if self.active.store(id, &token).is_ok() {
                    let _ = other.remove(id);
                }
                CachedToken::Present(token)
            }
            // Whatever is wrong with the store not in use is not this store's problem.
            _ => CachedToken::Missing,
        }
    }

    fn store(&self, id: &SessionId, token: &SsoToken) -> Result<(), StoreError> {
        self.active.store(id, token)?;
        if let Some(other) = &self.other {
            // Best effort: an older token left there is never read while this one exists.
            let _ = other.remove(id);
        }
        Ok(())
    }

    fn remove(&self, id: &SessionId) -> Result<bool, StoreError> {
        let removed = self.active.remove(id)?;
        let removed_other = match &self.other {
            Some(other) => other.remove(id)?,
            None => false,
        };
        Ok(removed || removed_other)
    }

    fn location(&self, id: &SessionId) -> String {
        self.active.location(id)
    }

    fn file(&self, id: &SessionId) -> Option<PathBuf> {
        self.active.file(id)
    }
}

/// Parses a token file's bytes; the error says what is wrong in words.
pub fn parse_token(bytes: &[u8]) -> Result<SsoToken, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    for field in ["accessToken", "expiresAt"] {
        if !object.get(field).is_some_and(serde_json::Value::is_string) {
            return Err(format!("no {field}: not an SSO token"));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("malformed token ({e})"))
}

/// The file name (without `.json`) of a client registration, computed exactly as the AWS CLI
/// v2 does: SHA-1 of Python's `json.dumps({...}, sort_keys=True)` over the tool, start URL,
/// region, scopes and session name.
pub fn registration_cache_key(
    start_url: &str,
    region: &str,
    scopes: Option<&[String]>,
    session_name: Option<&str>,
) -> String {
    let scopes = match scopes {
        Some(list) => {
            let items: Vec<String> = list.iter().map(|s| py_json_str(s)).collect();
            format!("[{}]", items.join(", "))
        }
        None => "null".to_owned(),
    };
    let session = session_name.map_or_else(|| "null".to_owned(), py_json_str);
    // Keys in sorted order, with Python's default separators.
    let text = format!(
        "{{\"region\": {}, \"scopes\": {scopes}, \"session_name\": {session}, \"startUrl\": {}, \"tool\": \"botocore\"}}",
        py_json_str(region),
        py_json_str(start_url),
    );
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii=True`).
fn py_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SsoToken {
        SsoToken {
            start_url: Some("https://corp.awsapps.com/start".into()),
            region: Some("us-east-1".into()),
            access_token: "at".into(),
            expires_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            client_id: Some("cid".into()),
            client_secret: Some("cs".into()),
            registration_expires_at: Some("2024-08-01T12:00:00Z".parse().unwrap()),
            refresh_token: Some("rt".into()),
            extra: Default::default(),
        }
    }

    #[test]
    fn a_token_left_in_the_other_store_is_moved_on_first_read_and_signed_out_of_in_both() {
        let dir = tempfile::tempdir().unwrap();
        let active: Arc<dyn TokenStore> = Arc::new(TokenCache::new(dir.path().join("in-use")));
        let other: Arc<dyn TokenStore> = Arc::new(TokenCache::new(dir.path().join("before")));
        let store = SwitchableStore::new(active.clone(), Some(other.clone()));
        let id = SessionId::Named("corp".into());
        assert_eq!(store.load(&id), CachedToken::Missing);

        other.store(&id, &token()).unwrap();
        assert_eq!(store.load(&id), CachedToken::Present(token()));
        assert_eq!(active.load(&id), CachedToken::Present(token()), "moved");
        assert_eq!(
            other.load(&id),
            CachedToken::Missing,
            "and gone from before"
        );

        other.store(&id, &token()).unwrap();
        assert!(store.remove(&id).unwrap());
        assert_eq!(active.load(&id), CachedToken::Missing);
        assert_eq!(
            other.load(&id),
            CachedToken::Missing,
            "sign-out clears both"
        );
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    fn registration() -> ClientRegistration {
        ClientRegistration {
            client_id: "cid".into(),
            client_secret: "cs".into(),
            expires_at: "2024-08-01T12:00:00Z".parse().unwrap(),
            scopes: None,
            grant_types: None,
            extra: Default::default(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_token_writable_by_others_is_invalid_and_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso/cache"));
        let id = SessionId::Named("corp".into());
        cache.store(&id, &token()).unwrap();
        let path = cache.token_path(&id);
        for mode in [0o620, 0o602, 0o666] {
            chmod(&path, mode);
            let CachedToken::Invalid { reason, .. } = cache.load(&id) else {
                panic!("a {mode:o} token was trusted");
            };
            assert_eq!(
                reason,
                format!(
                    "writable by group or others, so not trusted: run \"chmod 600 {}\"",
                    path.display()
                )
            );
        }
        assert_eq!(
            cache.trust_warnings(),
            [format!(
                "{} is writable by group or others, so it is not used: run \"chmod 600 {}\"",
                path.display(),
                path.display()
            )]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_token_in_a_folder_writable_by_others_is_invalid_and_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("sso/cache");
        let cache = TokenCache::new(&cache_dir);
        let id = SessionId::Named("corp".into());
        cache.store(&id, &token()).unwrap();
        chmod(&cache_dir, 0o777);
        let CachedToken::Invalid { reason, .. } = cache.load(&id) else {
            panic!("a token in a 777 folder was trusted");
        };
        assert!(
            reason.ends_with(&format!(
                "run \"chmod 700 {} && chmod 600 {}\"",
                cache_dir.display(),
                cache.token_path(&id).display()
            )),
            "{reason}"
        );
        assert_eq!(cache.trust_warnings().len(), 1);
        assert!(cache.trust_warnings()[0].contains("chmod 700"));
    }

    #[cfg(unix)]
    #[test]
    fn a_token_another_user_owns_is_invalid_and_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso/cache"));
        let id = SessionId::Named("corp".into());
        cache.store(&id, &token()).unwrap();
        let path = cache.token_path(&id);
        // 0600, but nobody's: nobody may have written it.
        std::os::unix::fs::chown(&path, Some(65534), None)
            .expect("chown to nobody (the test runs as root)");
        let CachedToken::Invalid { reason, .. } = cache.load(&id) else {
            panic!("nobody's token was trusted");
        };
        let me = fsutil::my_uid();
        let sudo = if me == 0 { "" } else { "sudo " };
        assert_eq!(
            reason,
            format!(
                "owned by uid 65534, so not trusted: run \"{sudo}chown {me} {0} && chmod 600 {0}\"",
                path.display()
            )
        );
        assert_eq!(cache.trust_warnings().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_registration_writable_by_others_counts_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso/cache"));
        cache.store_registration("key", &registration()).unwrap();
        assert_eq!(cache.load_registration("key"), Some(registration()));
        chmod(&cache.registration_path("key"), 0o664);
        assert_eq!(cache.load_registration("key"), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_as_the_aws_cli_or_a_default_umask_leaves_them_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("sso/cache");
        let cache = TokenCache::new(&cache_dir);
        let id = SessionId::Named("corp".into());
        cache.store(&id, &token()).unwrap();
        cache.store_registration("key", &registration()).unwrap();
        // 0600 in 0700 as the AWS CLI writes them; 0644 in 0755 as umask 022 leaves them.
        for (folder, file) in [(0o700, 0o600), (0o755, 0o644), (0o500, 0o400)] {
            chmod(&cache.token_path(&id), file);
            chmod(&cache.registration_path("key"), file);
            chmod(&cache_dir, folder);
            assert_eq!(cache.load(&id), CachedToken::Present(token()));
            assert_eq!(cache.load_registration("key"), Some(registration()));
            assert!(cache.trust_warnings().is_empty());
        }
        chmod(&cache_dir, 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_token_is_replaced_and_what_it_led_to_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso/cache"));
        let id = SessionId::Named("corp".into());
        cache.store(&id, &token()).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"keep").unwrap();
        let path = cache.token_path(&id);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();

        cache.store(&id, &token()).unwrap();
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"keep");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(cache.load(&id), CachedToken::Present(token()));
    }

    #[test]
    fn writes_the_aws_cli_layout() {
        let json = serde_json::to_string(&token()).unwrap();
        assert_eq!(
            json,
            r#"{"startUrl":"https://corp.awsapps.com/start","region":"us-east-1","accessToken":"at","expiresAt":"2024-05-01T12:00:00Z","clientId":"cid","clientSecret":"cs","registrationExpiresAt":"2024-08-01T12:00:00Z","refreshToken":"rt"}"#
        );
    }

    #[test]
    fn round_trips_through_the_cache_and_keeps_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("sso/cache"));
        let id = SessionId::Named("corp".into());
        assert_eq!(cache.load(&id), CachedToken::Missing);
        let mut t = token();
        t.extra.insert("tool".into(), serde_json::json!("other"));
        cache.store(&id, &t).unwrap();
        assert_eq!(cache.load(&id), CachedToken::Present(t));
        assert!(cache.remove(&id).unwrap());
        assert!(!cache.remove(&id).unwrap());
    }

    #[test]
    fn bad_files_are_invalid_with_a_reason() {
        for (bytes, reason) in [
            (&b"{not json"[..], "not valid JSON"),
            (b"[1,2]", "not a JSON object"),
            (
                b"{\"expiresAt\":\"2024-05-01T12:00:00Z\"}",
                "no accessToken",
            ),
            (b"{\"accessToken\":\"x\"}", "no expiresAt"),
            (
                b"{\"accessToken\":\"x\",\"expiresAt\":\"soon\"}",
                "malformed token",
            ),
            (b"", "not valid JSON"),
        ] {
            let err = parse_token(bytes).unwrap_err();
            assert!(err.starts_with(reason), "{err}");
        }
    }

    #[test]
    fn refreshable_needs_a_refresh_token_and_a_live_registration() {
        let now: Timestamp = "2024-05-01T11:00:00Z".parse().unwrap();
        let mut t = token();
        assert!(t.is_refreshable(now));
        t.registration_expires_at = Some("2024-05-01T10:00:00Z".parse().unwrap());
        assert!(!t.is_refreshable(now));
        t = token();
        t.refresh_token = None;
        assert!(!t.is_refreshable(now));
    }

    #[test]
    fn a_token_that_reads_is_written_back_so_that_it_reads_again() {
        // A refresh or a switch of token store writes back what was read: an expiry before
        // year 0 was read, then written as `-001-01-01T00:00:00Z`, which no longer read.
        let text = r#"{"accessToken":"a","expiresAt":"-000001-01-01T00:00:00Z"}"#;
        match parse_token(text.as_bytes()) {
            Ok(token) => {
                let written = serde_json::to_vec(&token).unwrap();
                assert_eq!(parse_token(&written), Ok(token));
            }
            Err(reason) => assert!(reason.contains("is not a timestamp"), "{reason}"),
        }
    }

    #[test]
    fn numbers_other_tools_wrote_are_kept_exactly() {
        // Found by fuzzing: 2.66666666e+39 was read one bit off and written back so.
        let text =
            r#"{"accessToken":"a","expiresAt":"2026-01-01T00:00:00Z","other":[2.66666666e+39]}"#;
        let token = parse_token(text.as_bytes()).unwrap();
        let exact: f64 = "2.66666666e+39".parse().unwrap();
        assert_eq!(token.extra["other"][0].as_f64(), Some(exact));
        let again = parse_token(&serde_json::to_vec(&token).unwrap()).unwrap();
        assert_eq!(again, token);
    }

    #[test]
    fn registration_keys_match_the_aws_cli() {
        // python3 -c 'import hashlib,json; print(hashlib.sha1(json.dumps({"tool":"botocore",
        //   "startUrl":"https://corp.awsapps.com/start","region":"us-east-1",
        //   "scopes":["sso:account:access"],"session_name":"corp"},sort_keys=True).encode()).hexdigest())'
        assert_eq!(
            registration_cache_key(
                "https://corp.awsapps.com/start",
                "us-east-1",
                Some(&["sso:account:access".to_owned()]),
                Some("corp")
            ),
            "1b56c55d6e723362537167a7f43960b8185b5a80"
        );
        assert_eq!(
            registration_cache_key("https://x/start", "eu-west-1", None, None),
            "68d703f0ed798ade346df3ab4e14bfe7c7cccebb"
        );
        assert_eq!(
            py_json_str("é\"\\/\u{1F600}"),
            "\"\\u00e9\\\"\\\\/\\ud83d\\ude00\""
        );
    }
}
