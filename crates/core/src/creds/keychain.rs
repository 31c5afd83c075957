//! The OS keychain (macOS Keychain and Windows Credential Manager through the `keyring` crate,
//! the Secret Service on Linux through a pure-Rust D-Bus client), behind a small trait so the
//! rules around it are tested alone.
//!
//! Values are split over several entries when a platform limits their size (Windows keeps at
//! most 2,560 bytes per secret): a value is never refused for being long.

/// The service name every ssobar entry is filed under (`secret-tool search service ssobar`).
pub const SERVICE: &str = "ssobar";

/// Where secrets are kept.
pub trait SecretStore: Send + Sync {
    /// The entry's bytes, `None` when there is no such entry.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeychainError>;
    /// Creates or replaces the entry.
    fn set(&self, name: &str, value: &[u8]) -> Result<(), KeychainError>;
    /// Deletes the entry; `Ok(false)` when there was none.
    fn delete(&self, name: &str) -> Result<bool, KeychainError>;
    /// The most bytes one entry can hold.
    fn max_value_len(&self) -> usize;
    /// The name entries are filed under, for messages.
    fn service(&self) -> &str {
        SERVICE
    }
}

/// The keychain could not be used; the message says which backend and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeychainError(pub String);

/// The platform keychain, under one service name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keychain {
    service: &'static str,
}

impl Default for Keychain {
    /// ssobar's own entries, under [`SERVICE`].
    fn default() -> Self {
        Self { service: SERVICE }
    }
}

/// The name of this platform's keychain, for messages.
pub const BACKEND: &str = if cfg!(target_os = "macos") {
    "the macOS Keychain"
} else if cfg!(windows) {
    "the Windows Credential Manager"
} else {
    "the Secret Service (D-Bus)"
};

/// Windows' `CRED_MAX_CREDENTIAL_BLOB_SIZE`; elsewhere entries are limited by memory, and a
/// generous bound keeps a corrupt length from allocating wildly.
const PLATFORM_MAX: usize = if cfg!(windows) { 2_560 } else { 64 * 1024 };

impl Keychain {
    /// Entries under another service name, kept apart from ssobar's own (the demo's fake
    /// credentials, say).
    pub const fn named(service: &'static str) -> Self {
        Self { service }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
#[path = "secret_service.rs"]
mod platform;

/// macOS and Windows: the platform keychain through the `keyring` crate.
#[cfg(any(target_os = "macos", windows))]
mod platform {
    use super::{Failure, FailureKind};

    /// One keychain call's handle; the platform needs no connection.
    pub(super) struct Connection;

    fn failure(e: &keyring::Error) -> Failure {
        let detail = e.to_string();
        let kind = if matches!(e, keyring::Error::NoStorageAccess(_)) {
            FailureKind::Refused
        } else {
            FailureKind::from_detail(&detail)
        };
        Failure { kind, detail }
    }

    fn entry(service: &str, user: &str) -> Result<keyring::Entry, Failure> {
        keyring::Entry::new(service, user).map_err(|e| failure(&e))
    }

    impl Connection {
        pub(super) fn open() -> Result<Self, Failure> {
            Ok(Self)
        }

        pub(super) fn get(&self, service: &str, user: &str) -> Result<Option<Vec<u8>>, Failure> {
            match entry(service, user)?.get_secret() {
                Ok(bytes) => Ok(Some(bytes)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(failure(&e)),
            }
        }

        pub(super) fn set(&self, service: &str, user: &str, value: &[u8]) -> Result<(), Failure> {
            entry(service, user)?
                .set_secret(value)
                .map_err(|e| failure(&e))
        }

        pub(super) fn delete(&self, service: &str, user: &str) -> Result<bool, Failure> {
            match entry(service, user)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(failure(&e)),
            }
        }
    }
}

impl SecretStore for Keychain {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeychainError> {
        retrying(|| platform::Connection::open()?.get(self.service, name))
    }

    fn set(&self, name: &str, value: &[u8]) -> Result<(), KeychainError> {
        retrying(|| platform::Connection::open()?.set(self.service, name, value))
    }

    fn delete(&self, name: &str) -> Result<bool, KeychainError> {
        retrying(|| platform::Connection::open()?.delete(self.service, name))
    }

    fn max_value_len(&self) -> usize {
        PLATFORM_MAX
    }

    fn service(&self) -> &str {
        self.service
    }
}

/// A keychain call that failed: what it means, and the platform's own words.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    kind: FailureKind,
    detail: String,
}

/// What a failed keychain call means for the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailureKind {
    /// There is no session bus to reach a Secret Service on.
    NoBus,
    /// Nothing provides the Secret Service.
    NoProvider,
    /// The call was not answered in time.
    NoReply,
    /// The keyring is locked, or its prompt was dismissed.
    Refused,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// The meaning of an error known only by its words.
    fn from_detail(detail: &str) -> Self {
        let lower = detail.to_ascii_lowercase();
        if lower.contains("autolaunch") || lower.contains("dbus_session_bus_address") {
            Self::NoBus
        } else if lower.contains("serviceunknown")
            || lower.contains("org.freedesktop.secrets")
            || lower.contains("was not provided by any .service")
        {
            Self::NoProvider
        } else if lower.contains("noreply")
            || lower.contains("did not receive a reply")
            || lower.contains("timed out")
        {
            Self::NoReply
        } else if lower.contains("locked") || lower.contains("dismissed") {
            Self::Refused
        } else {
            Self::Other
        }
    }
}

/// Waits before each further try of a call whose Secret Service went away: about a second in
/// all, what a keyring daemon takes to be started again (by D-Bus activation on a desktop).
const RETRY_WAITS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(150),
    std::time::Duration::from_millis(300),
    std::time::Duration::from_millis(600),
];

/// Runs a keychain call, again after a pause when the service left in the middle of it or is
/// not there for a moment (a keyring daemon that crashed and is being started again). Every
/// call is safe to repeat: reads, whole-entry writes, deletes.
fn retrying<T>(call: impl Fn() -> Result<T, Failure>) -> Result<T, KeychainError> {
    let mut waits = RETRY_WAITS.iter();
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(e) => match waits.next() {
                Some(wait) if service_went_away(&e) => std::thread::sleep(*wait),
                _ => return Err(explain(&e)),
            },
        }
    }
}

/// Whether an error says the Secret Service left (or is between two lives), rather than that
/// it refused or that there is none to be had (no session bus at all).
fn service_went_away(e: &Failure) -> bool {
    if matches!(e.kind, FailureKind::NoBus | FailureKind::Refused) {
        return false;
    }
    let detail = e.detail.to_ascii_lowercase();
    e.kind == FailureKind::NoReply
        || [
            "noreply",
            "disconnected",
            "serviceunknown",
            "was not provided by any .service",
            "nameHasNoOwner",
            "unknownobject",
        ]
        .iter()
        .any(|sign| detail.contains(&sign.to_ascii_lowercase()))
}

/// Turns a failed call into one line naming the backend and the way out.
fn explain(e: &Failure) -> KeychainError {
    let detail = &e.detail;
    let what = if cfg!(all(unix, not(target_os = "macos"))) {
        match e.kind {
            FailureKind::NoBus => "there is no D-Bus session bus; run ssobar inside a desktop session (or start one with dbus-run-session)".to_owned(),
            FailureKind::NoProvider => format!(
                "no Secret Service provider answers ({detail}); install and start gnome-keyring (or KeePassXC with its Secret Service integration)"
            ),
            // A call that timed out is no refusal, whatever the library calls it.
            FailureKind::NoReply => format!(
                "the Secret Service did not answer in time ({detail}); it may be busy or stuck: run the command again, and if it persists restart the keyring daemon (for gnome-keyring: log out and in)"
            ),
            FailureKind::Refused => {
                "the keyring is locked or access was refused; unlock your login keyring and try again"
                    .to_owned()
            }
            FailureKind::Other => format!("it failed: {detail}"),
        }
    } else if e.kind == FailureKind::Refused {
        "access was refused or the keychain is locked; unlock it and try again".to_owned()
    } else {
        format!("it failed: {detail}")
    };
    KeychainError(format!(
        "cannot use {BACKEND} to keep credentials: {what}. ssobar never falls back to plain files"
    ))
}

/// How a value is laid out over entries, as the first entry's first line says.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    /// `ssobar1 PARTS`: parts `NAME#1`.. rewritten in place (ssobar 0.1); read, never written.
    Parts(usize),
    /// `ssobar2 PARTS GENERATION DIGEST`: parts `NAME#GENERATION.1`.., named after the value
    /// they belong to, and the SHA-256 of the whole value.
    Generation {
        parts: usize,
        generation: String,
        digest: String,
    },
}

impl Layout {
    fn parts(&self) -> usize {
        match self {
            Self::Parts(parts) | Self::Generation { parts, .. } => *parts,
        }
    }

    /// The entry that holds part `index` (1-based; part 0 is the first entry itself).
    fn part_name(&self, name: &str, index: usize) -> String {
        match self {
            Self::Parts(_) => format!("{name}#{index}"),
            Self::Generation { generation, .. } => format!("{name}#{generation}.{index}"),
        }
    }

    fn header(&self) -> String {
        match self {
            Self::Parts(parts) => format!("ssobar1 {parts}\n"),
            Self::Generation {
                parts,
                generation,
                digest,
            } => format!("ssobar2 {parts} {generation} {digest}\n"),
        }
    }

    /// Reads the header; `None` for anything ssobar did not write.
    fn parse(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let line = std::str::from_utf8(&bytes[..newline]).ok()?;
        let body = &bytes[newline + 1..];
        let mut words = line.split(' ');
        let version = words.next()?;
        let parts: usize = words.next()?.parse().ok()?;
        if !(1..=MAX_PARTS).contains(&parts) {
            return None;
        }
        let layout = match version {
            "ssobar1" => Self::Parts(parts),
            "ssobar2" => Self::Generation {
                parts,
                generation: words.next().filter(|g| is_hex(g))?.to_owned(),
                digest: words.next().filter(|d| is_hex(d))?.to_owned(),
            },
            _ => return None,
        };
        words.next().is_none().then_some((layout, body))
    }
}

const MAX_PARTS: usize = 100_000;
/// Room for the longest header: `ssobar2 100000 <16 hex> <64 hex>\n` is 96 bytes.
const HEADER_ROOM: usize = 100;

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn digest(value: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value))
}

/// Writes `value` under `name`, over as many entries as the store's size limit needs.
///
/// A reader, or a crash, between two writes must never combine parts of two values: the new
/// parts go under names of their own, the first entry (which names them, with a digest of the
/// whole value) is switched last, and only then are the old parts deleted. Until the switch,
/// readers see the old value; after it, the new one.
pub fn write_value(store: &dyn SecretStore, name: &str, value: &[u8]) -> Result<(), KeychainError> {
    let room = store.max_value_len().saturating_sub(HEADER_ROOM).max(1);
    let chunks: Vec<&[u8]> = if value.is_empty() {
        vec![value]
    } else {
        value.chunks(room).collect()
    };
    let digest = digest(value);
    let layout = Layout::Generation {
        parts: chunks.len(),
        generation: digest[..16].to_owned(),
        digest,
    };
    let previous = read_layout(store, name)?;
    for (i, chunk) in chunks.iter().enumerate().skip(1) {
        store.set(&layout.part_name(name, i), chunk)?;
    }
    let mut first = layout.header().into_bytes();
    first.extend_from_slice(chunks[0]);
    store.set(name, &first)?;
    if let Some(previous) = previous {
        for i in 1..previous.parts() {
            let old = previous.part_name(name, i);
            if i >= layout.parts() || old != layout.part_name(name, i) {
                store.delete(&old)?;
            }
        }
    }
    Ok(())
}

/// Reads a value written by [`write_value`]; `None` when absent, or when a part is missing,
/// the parts do not add up to the digest, or the header is not ssobar's (a damaged entry is
/// treated as absent and rewritten).
pub fn read_value(store: &dyn SecretStore, name: &str) -> Result<Option<Vec<u8>>, KeychainError> {
    let Some(first) = store.get(name)? else {
        return Ok(None);
    };
    let Some((layout, body)) = Layout::parse(&first) else {
        return Ok(None);
    };
    let mut value = body.to_vec();
    for i in 1..layout.parts() {
        match store.get(&layout.part_name(name, i))? {
            Some(part) => value.extend_from_slice(&part),
            None => return Ok(None),
        }
    }
    match &layout {
        Layout::Generation { digest: want, .. } if *want != digest(&value) => Ok(None),
        _ => Ok(Some(value)),
    }
}

/// Deletes a value and all its parts; `Ok(false)` when there was none.
pub fn delete_value(store: &dyn SecretStore, name: &str) -> Result<bool, KeychainError> {
    if let Some(layout) = read_layout(store, name)? {
        for i in 1..layout.parts() {
            store.delete(&layout.part_name(name, i))?;
        }
    }
    store.delete(name)
}

fn read_layout(store: &dyn SecretStore, name: &str) -> Result<Option<Layout>, KeychainError> {
    Ok(store
        .get(name)?
        .and_then(|first| Layout::parse(&first).map(|(layout, _)| layout)))
}

/// SSO tokens in the keychain instead of the AWS CLI cache (`token_store = "keychain"`): no
/// bearer token in a plain file, at the price of `aws` and the SDKs not sharing the sign-in.
pub struct KeychainTokenStore<S> {
    store: S,
}

impl<S: SecretStore> KeychainTokenStore<S> {
    /// Tokens kept in `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }

    fn entry(id: &crate::config::SessionId) -> String {
        format!("token/{}", id.key())
    }
}

impl<S: SecretStore> crate::sso::token_cache::TokenStore for KeychainTokenStore<S> {
    fn load(&self, id: &crate::config::SessionId) -> crate::sso::token_cache::CachedToken {
        use crate::sso::token_cache::{CachedToken, parse_token};
        match read_value(&self.store, &Self::entry(id)) {
            Ok(None) => CachedToken::Missing,
            Ok(Some(bytes)) => parse_token(&bytes)
                .map(CachedToken::Present)
                .unwrap_or_else(|reason| CachedToken::Invalid {
                    path: self.location(id).into(),
                    reason,
                }),
            Err(e) => CachedToken::Invalid {
                path: self.location(id).into(),
                reason: e.to_string(),
            },
        }
    }

    fn store(
        &self,
        id: &crate::config::SessionId,
        token: &crate::sso::token_cache::SsoToken,
    ) -> Result<(), crate::sso::token_cache::StoreError> {
        let bytes = serde_json::to_vec(token).map_err(|e| {
            crate::sso::token_cache::StoreError(format!("cannot encode the token: {e}"))
        })?;
        write_value(&self.store, &Self::entry(id), &bytes)
            .map_err(|e| crate::sso::token_cache::StoreError(e.to_string()))
    }

    fn remove(
        &self,
        id: &crate::config::SessionId,
    ) -> Result<bool, crate::sso::token_cache::StoreError> {
        delete_value(&self.store, &Self::entry(id))
            .map_err(|e| crate::sso::token_cache::StoreError(e.to_string()))
    }

    fn location(&self, id: &crate::config::SessionId) -> String {
        format!(
            "{BACKEND}, entry {}/{}",
            self.store.service(),
            Self::entry(id)
        )
    }
}

/// An in-memory store with a chosen size limit, for tests of the rules above.
#[cfg(test)]
pub(crate) mod memory {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct MemoryStore {
        pub entries: Mutex<BTreeMap<String, Vec<u8>>>,
        pub limit: usize,
    }

    impl SecretStore for MemoryStore {
        fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeychainError> {
            Ok(self.entries.lock().unwrap().get(name).cloned())
        }
        fn set(&self, name: &str, value: &[u8]) -> Result<(), KeychainError> {
            if value.len() > self.limit {
                return Err(KeychainError(format!("{} bytes is too long", value.len())));
            }
            self.entries
                .lock()
                .unwrap()
                .insert(name.into(), value.into());
            Ok(())
        }
        fn delete(&self, name: &str) -> Result<bool, KeychainError> {
            Ok(self.entries.lock().unwrap().remove(name).is_some())
        }
        fn max_value_len(&self) -> usize {
            self.limit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryStore;
    use super::*;

    fn store(limit: usize) -> MemoryStore {
        MemoryStore {
            limit,
            ..MemoryStore::default()
        }
    }

    /// A store whose writes fail after the first `writes` succeeded: a crash mid-write.
    struct FailingAfter {
        inner: MemoryStore,
        writes: std::sync::atomic::AtomicUsize,
    }

    impl SecretStore for FailingAfter {
        fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeychainError> {
            self.inner.get(name)
        }
        fn set(&self, name: &str, value: &[u8]) -> Result<(), KeychainError> {
            use std::sync::atomic::Ordering;
            let left = self.writes.load(Ordering::SeqCst);
            if left == 0 {
                return Err(KeychainError("crashed".into()));
            }
            self.writes.store(left - 1, Ordering::SeqCst);
            self.inner.set(name, value)
        }
        fn delete(&self, name: &str) -> Result<bool, KeychainError> {
            self.inner.delete(name)
        }
        fn max_value_len(&self) -> usize {
            self.inner.max_value_len()
        }
    }

    #[test]
    fn a_write_cut_short_leaves_the_old_value_whole() {
        let old: Vec<u8> = (0..900u32).map(|i| (i % 7) as u8).collect();
        let new: Vec<u8> = (0..900u32).map(|i| (i % 11) as u8 + 100).collect();
        // Cut the second write after each possible number of entry writes.
        for writes in 0..12 {
            let s = FailingAfter {
                inner: store(128),
                writes: usize::MAX.into(),
            };
            write_value(&s, "k", &old).unwrap();
            s.writes.store(writes, std::sync::atomic::Ordering::SeqCst);
            let finished = write_value(&s, "k", &new).is_ok();
            let read = read_value(&s, "k").unwrap();
            if finished {
                assert_eq!(read.as_deref(), Some(&new[..]), "after {writes} writes");
            } else {
                assert_eq!(read.as_deref(), Some(&old[..]), "cut after {writes} writes");
            }
        }
    }

    #[test]
    fn values_of_the_first_release_are_still_read_and_deleted() {
        let s = store(128);
        s.entries.lock().unwrap().extend([
            ("k".to_owned(), b"ssobar1 2\nhello ".to_vec()),
            ("k#1".to_owned(), b"world".to_vec()),
        ]);
        assert_eq!(read_value(&s, "k").unwrap().unwrap(), b"hello world");
        write_value(&s, "k", b"new").unwrap();
        assert_eq!(
            s.entries.lock().unwrap().keys().collect::<Vec<_>>(),
            ["k"],
            "the old part is gone"
        );
    }

    fn failed(kind: FailureKind, detail: &str) -> Failure {
        Failure {
            kind,
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn a_service_that_left_is_tried_again_and_a_refusal_is_not() {
        let gone = |text: &str| failed(FailureKind::from_detail(text), text);
        assert!(service_went_away(&gone(
            "DBus error: The name org.freedesktop.secrets was not provided by any .service files"
        )));
        assert!(service_went_away(&gone(
            "org.freedesktop.DBus.Error.NoReply: Message recipient disconnected from message bus without replying"
        )));
        assert!(service_went_away(&gone(
            "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable"
        )));
        assert!(!service_went_away(&failed(
            FailureKind::Refused,
            "the prompt was dismissed"
        )));
        assert!(!service_went_away(&gone(
            "Unable to autolaunch a dbus-daemon without a $DISPLAY for X11"
        )));
        assert!(!service_went_away(&failed(
            FailureKind::NoBus,
            "no secret service provider or dbus session found"
        )));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn a_secret_service_that_did_not_answer_in_time_is_not_called_locked() {
        // The words libdbus used, and a zbus call past its deadline.
        for timed_out in [
            "org.freedesktop.DBus.Error.NoReply: Did not receive a reply. Possible causes include: the remote application did not send a reply, the message bus security policy blocked the reply, the reply timeout expired, or the network connection was broken.",
            "zbus error: I/O error: timed out",
        ] {
            let said = explain(&failed(FailureKind::from_detail(timed_out), timed_out)).to_string();
            assert!(said.contains("did not answer in time"), "{said}");
            assert!(!said.contains("keyring is locked"), "{said}");
        }
        let refused = failed(FailureKind::Refused, "SS error: prompt dismissed");
        assert!(
            explain(&refused)
                .to_string()
                .contains("the keyring is locked or access was refused")
        );
        let no_bus = failed(
            FailureKind::NoBus,
            "no secret service provider or dbus session found",
        );
        assert!(
            explain(&no_bus)
                .to_string()
                .contains("there is no D-Bus session bus")
        );
    }

    #[test]
    fn short_values_take_one_entry() {
        let s = store(2_560);
        write_value(&s, "k", b"hello").unwrap();
        assert_eq!(s.entries.lock().unwrap().len(), 1);
        assert_eq!(read_value(&s, "k").unwrap().unwrap(), b"hello");
    }

    #[test]
    fn long_values_are_split_to_fit_and_joined_back() {
        let s = store(128);
        let value: Vec<u8> = (0..1_000u32).map(|i| (i % 251) as u8).collect();
        write_value(&s, "k", &value).unwrap();
        assert!(s.entries.lock().unwrap().len() > 1);
        assert!(s.entries.lock().unwrap().values().all(|v| v.len() <= 128));
        assert_eq!(read_value(&s, "k").unwrap().unwrap(), value);
    }

    #[test]
    fn a_shorter_rewrite_deletes_the_leftover_parts() {
        let s = store(128);
        write_value(&s, "k", &[7u8; 500]).unwrap();
        write_value(&s, "k", b"short").unwrap();
        assert_eq!(s.entries.lock().unwrap().len(), 1);
        assert_eq!(read_value(&s, "k").unwrap().unwrap(), b"short");
        assert!(delete_value(&s, "k").unwrap());
        assert!(s.entries.lock().unwrap().is_empty());
        assert!(!delete_value(&s, "k").unwrap());
    }

    #[test]
    fn tokens_can_live_in_the_keychain() {
        use crate::config::SessionId;
        use crate::sso::token_cache::{CachedToken, SsoToken, TokenStore};
        let tokens = KeychainTokenStore::new(store(2_560));
        let id = SessionId::Named("corp".into());
        assert_eq!(tokens.load(&id), CachedToken::Missing);
        let token = SsoToken {
            start_url: Some("https://x/start".into()),
            region: None,
            access_token: "a".repeat(3_000).into(),
            expires_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            client_id: None,
            client_secret: None,
            registration_expires_at: None,
            refresh_token: None,
            extra: Default::default(),
        };
        tokens.store(&id, &token).unwrap();
        assert_eq!(tokens.load(&id), CachedToken::Present(token));
        assert!(tokens.remove(&id).unwrap());
        assert!(tokens.location(&id).contains("token/s:corp"));
    }

    #[test]
    fn damaged_values_read_as_absent() {
        let s = store(128);
        write_value(&s, "k", &[1u8; 300]).unwrap();
        let part = s
            .entries
            .lock()
            .unwrap()
            .keys()
            .find(|k| k.ends_with(".2"))
            .cloned()
            .unwrap();
        s.entries
            .lock()
            .unwrap()
            .insert(part.clone(), vec![2u8; 28]);
        assert_eq!(
            read_value(&s, "k").unwrap(),
            None,
            "a part that does not match"
        );
        s.entries.lock().unwrap().remove(&part);
        assert_eq!(read_value(&s, "k").unwrap(), None, "a missing part");
        s.entries
            .lock()
            .unwrap()
            .insert("j".into(), b"not ours".to_vec());
        assert_eq!(read_value(&s, "j").unwrap(), None);
    }
}
