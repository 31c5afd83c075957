//! The Secret Service (gnome-keyring, KeePassXC) over D-Bus in pure Rust (zbus), for Linux and
//! the BSDs: no libdbus, so the helper loads no D-Bus library at start.
//!
//! Items are found and written exactly as the `keyring` crate (3.x) does, which kept them
//! before: the attributes `service`, `username`, `target = default` and `application =
//! rust-keyring`, new items in the default collection, and items of keyring 1 (no `target`, in
//! the default collection) still found. So entries written by earlier releases are read,
//! replaced and deleted as they were.

use super::{Failure, FailureKind};
use secret_service::{EncryptionType, Item, SecretService};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What libdbus waited for a reply by default; a keyring daemon that hangs is then said to
/// have not answered in time instead of holding the command forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(25);

/// The keyring crate's label version: items created now carry the label it gave them.
const LABEL_VERSION: &str = "3.6.3";

/// The process's one connection and Secret Service session, made by the first keychain call
/// and used by every later one (a search reads hundreds of entries; each new connection is a
/// socket, an authentication, `Hello` and `OpenSession`).
static SHARED: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

struct Shared {
    bus: zbus::Connection,
    service: SecretService<'static>,
}

/// The process's connection to the Secret Service, for one keychain operation.
pub(super) struct Connection {
    shared: Arc<Shared>,
    /// Made by an earlier operation: the service behind it may have been restarted since.
    reused: bool,
}

impl Connection {
    pub(super) fn open() -> Result<Self, Failure> {
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = slot.as_ref() {
            return Ok(Self {
                shared: shared.clone(),
                reused: true,
            });
        }
        let shared = Arc::new(connect()?);
        *slot = Some(shared.clone());
        Ok(Self {
            shared,
            reused: false,
        })
    }

    /// Runs `call` on this thread, which also reads the replies: the connection has no thread
    /// of its own (a thread per process and a hand-over per reply, for calls made one at a
    /// time). A failed call drops the connection, so the next one starts afresh; a call that
    /// failed on a connection an earlier operation made is made once more on a new one (the
    /// keyring daemon may have been restarted in between, and its sessions with it), unless
    /// it was refused or timed out, which a new connection would not change.
    fn run<T>(
        &self,
        call: impl AsyncFn(&SecretService<'static>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        match drive(&self.shared, &call) {
            Err(e)
                if self.reused
                    && !matches!(e.kind, FailureKind::Refused | FailureKind::NoReply) =>
            {
                forget(&self.shared);
                let fresh = Self::open()?;
                drive(&fresh.shared, &call).inspect_err(|_| forget(&fresh.shared))
            }
            Err(e) => {
                forget(&self.shared);
                Err(e)
            }
            ok => ok,
        }
    }

    pub(super) fn get(&self, service: &str, user: &str) -> Result<Option<Vec<u8>>, Failure> {
        self.run(async |ss| {
            with_item(ss, service, user, async |item| item.get_secret().await).await
        })
    }

    pub(super) fn set(&self, service: &str, user: &str, value: &[u8]) -> Result<(), Failure> {
        self.run(async |ss| {
            let replaced = with_item(ss, service, user, async |item| {
                item.set_secret(value, "text/plain").await
            })
            .await?;
            if replaced.is_some() {
                return Ok(());
            }
            let collection = ss.get_default_collection().await.map_err(|e| failure(&e))?;
            if collection.is_locked().await.map_err(|e| failure(&e))? {
                collection.unlock().await.map_err(|e| failure(&e))?;
            }
            let label = format!("{user}@{service}:default (keyring v{LABEL_VERSION})");
            collection
                .create_item(
                    &label,
                    HashMap::from([
                        ("service", service),
                        ("username", user),
                        ("target", "default"),
                        ("application", "rust-keyring"),
                    ]),
                    value,
                    true,
                    "text/plain",
                )
                .await
                .map(drop)
                .map_err(|e| failure(&e))
        })
    }

    pub(super) fn delete(&self, service: &str, user: &str) -> Result<bool, Failure> {
        self.run(async |ss| {
            let deleted = with_item(ss, service, user, async |item| item.delete().await).await?;
            Ok(deleted.is_some())
        })
    }
}

/// Opens the connection (without zbus's executor thread: [`drive`] runs its tasks) and a
/// plain Secret Service session.
fn connect() -> Result<Shared, Failure> {
    let builder = match session_bus_socket() {
        // Connected here, where zbus would hand the connect to a thread of a pool.
        Some(stream) => Ok(zbus::connection::Builder::async_io_unix_stream(stream)),
        None => zbus::connection::Builder::session(),
    };
    let built = builder.map(|builder| {
        async_io::block_on(
            builder
                .method_timeout(REPLY_TIMEOUT)
                .internal_executor(false)
                .build(),
        )
    });
    let bus = built.and_then(|built| built).map_err(|e| {
        let mut failed = failure(&secret_service::Error::Zbus(e));
        // zbus tries the runtime folder's socket when nothing names a bus: not finding it
        // means there is none.
        if !session_bus_named() {
            failed.kind = FailureKind::NoBus;
        }
        failed
    })?;
    // The secret travels the user's own session bus, which only the user's processes reach
    // and which could ask the Secret Service for it anyway: no transport encryption (it cost
    // 4.4 ms a call).
    let opened = async_io::block_on(ticking(
        bus.executor(),
        SecretService::connect_with_existing(EncryptionType::Plain, bus.clone()),
    ));
    let service = opened.map_err(|e| failure(&e))?;
    Ok(Shared { bus, service })
}

/// The session bus's socket, connected, when its address is a plain Unix socket (or unset, and
/// the runtime folder has one); `None` for anything else, which zbus then connects to.
fn session_bus_socket() -> Option<std::os::unix::net::UnixStream> {
    use std::os::unix::net::UnixStream;
    let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
    if address.is_empty() {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")?;
        return UnixStream::connect(std::path::Path::new(&runtime).join("bus")).ok();
    }
    // The first of the addresses, if it is `unix:path=...` or `unix:abstract=...`.
    let first = address.split(';').next()?;
    let keys = first.strip_prefix("unix:")?;
    for pair in keys.split(',') {
        let (key, value) = pair.split_once('=')?;
        let value = unescape(value)?;
        match key {
            "path" => {
                use std::os::unix::ffi::OsStrExt;
                return UnixStream::connect(std::ffi::OsStr::from_bytes(&value)).ok();
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            "abstract" => {
                use std::os::linux::net::SocketAddrExt;
                let at = std::os::unix::net::SocketAddr::from_abstract_name(&value).ok()?;
                return UnixStream::connect_addr(&at).ok();
            }
            _ => {}
        }
    }
    None
}

/// A D-Bus address value with its `%XX` escapes undone; `None` if one is malformed.
fn unescape(value: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    Some(bytes)
}

/// Runs `call` to completion on this thread, with the connection's tasks (its socket reader).
fn drive<T>(
    shared: &Shared,
    call: &impl AsyncFn(&SecretService<'static>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    async_io::block_on(ticking(shared.bus.executor(), call(&shared.service)))
}

/// `future`, with `executor`'s tasks run whenever it waits.
async fn ticking<T>(executor: &zbus::Executor<'static>, future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut tasks = std::pin::pin!(async {
        loop {
            executor.tick().await;
        }
    });
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(cx) {
            return std::task::Poll::Ready(out);
        }
        // Never ready: it loops for as long as there is a future to serve.
        let _ = tasks.as_mut().poll(cx);
        future.as_mut().poll(cx)
    })
    .await
}

/// The item of `service` and `user`, unlocked, handed to `call`; `None` when there is none.
/// Items the search found unlocked are used as they are: no `Locked` property is read.
async fn with_item<T>(
    ss: &SecretService<'static>,
    service: &str,
    user: &str,
    call: impl AsyncFnOnce(&Item<'_>) -> Result<T, secret_service::Error>,
) -> Result<Option<T>, Failure> {
    let search = ss
        .search_items(HashMap::from([
            ("target", "default"),
            ("service", service),
            ("username", user),
        ]))
        .await
        .map_err(|e| failure(&e))?;
    let found: Vec<(Item<'_>, Lock)> = (search.unlocked.into_iter().map(|i| (i, Lock::Open)))
        .chain(search.locked.into_iter().map(|i| (i, Lock::Closed)))
        .collect();
    if !found.is_empty() {
        return on_one(found, service, user, call).await;
    }
    // An item of keyring 1: no target, in the default collection.
    let collection = ss.get_default_collection().await.map_err(|e| failure(&e))?;
    let found = collection
        .search_items(HashMap::from([("service", service), ("username", user)]))
        .await
        .map_err(|e| failure(&e))?;
    on_one(
        found.into_iter().map(|i| (i, Lock::Unknown)).collect(),
        service,
        user,
        call,
    )
    .await
}

/// What a search said of an item's lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    Open,
    Closed,
    Unknown,
}

/// `call` on the one item found, unlocked first; two or more are refused, as keyring did.
async fn on_one<T>(
    mut found: Vec<(Item<'_>, Lock)>,
    service: &str,
    user: &str,
    call: impl AsyncFnOnce(&Item<'_>) -> Result<T, secret_service::Error>,
) -> Result<Option<T>, Failure> {
    match found.len() {
        0 => Ok(None),
        1 => {
            let (item, lock) = found.remove(0);
            let locked = match lock {
                Lock::Open => false,
                Lock::Closed => true,
                Lock::Unknown => item.is_locked().await.map_err(|e| failure(&e))?,
            };
            if locked {
                item.unlock().await.map_err(|e| failure(&e))?;
            }
            call(&item).await.map(Some).map_err(|e| failure(&e))
        }
        n => Err(Failure {
            kind: FailureKind::Other,
            detail: format!(
                "{n} entries match {service}/{user}; delete the extra ones with secret-tool"
            ),
        }),
    }
}

/// Drops the process's connection if it is still `shared`, so the next call opens another.
fn forget(shared: &Arc<Shared>) {
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, shared)) {
        *slot = None;
    }
}

/// What a Secret Service error means for the person.
fn failure(e: &secret_service::Error) -> Failure {
    use secret_service::Error;
    let detail = e.to_string();
    let kind = match e {
        Error::Locked | Error::Prompt | Error::NoResult => FailureKind::Refused,
        Error::Unavailable if !session_bus_named() => FailureKind::NoBus,
        Error::Unavailable => FailureKind::NoProvider,
        Error::Zbus(zbus::Error::Address(_)) => FailureKind::NoBus,
        Error::Zbus(zbus::Error::InputOutput(io)) if io.kind() == std::io::ErrorKind::TimedOut => {
            FailureKind::NoReply
        }
        _ => FailureKind::from_detail(&detail),
    };
    Failure { kind, detail }
}

/// Whether this process could find a session bus: named in its environment, or at the
/// runtime folder's `bus` socket, where zbus looks.
fn session_bus_named() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
}
