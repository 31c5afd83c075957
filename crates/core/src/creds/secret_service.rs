//! The Secret Service (gnome-keyring, KeePassXC) over D-Bus in pure Rust (zbus), for Linux and
//! the BSDs: no libdbus, so the helper loads no D-Bus library at start.
//!
//! Items are found and written exactly as the `keyring` crate (3.x) does, which kept them
//! before: the attributes `service`, `username`, `target = default` and `application =
//! rust-keyring`, new items in the default collection, and items of keyring 1 (no `target`, in
//! the default collection) still found. So entries written by earlier releases are read,
//! replaced and deleted as they were.

use super::{Failure, FailureKind};
use secret_service::EncryptionType;
use secret_service::blocking::{Item, SecretService};
use std::collections::HashMap;
use std::time::Duration;

/// What libdbus waited for a reply by default; a keyring daemon that hangs is then said to
/// have not answered in time instead of holding the command forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(25);

/// The keyring crate's label version: items created now carry the label it gave them.
const LABEL_VERSION: &str = "3.6.3";

/// A connection to the Secret Service, opened for one operation.
pub(super) struct Connection {
    service: SecretService<'static>,
}

impl Connection {
    pub(super) fn open() -> Result<Self, Failure> {
        let bus = zbus::blocking::connection::Builder::session()
            .and_then(|builder| builder.method_timeout(REPLY_TIMEOUT).build())
            .map_err(|e| {
                let mut failed = failure(&secret_service::Error::Zbus(e));
                // zbus tries the runtime folder's socket when nothing names a bus: not finding
                // it means there is none.
                if !session_bus_named() {
                    failed.kind = FailureKind::NoBus;
                }
                failed
            })?;
        // The secret travels the user's own session bus, which only the user's processes reach
        // and which could ask the Secret Service for it anyway: no transport encryption (it
        // cost 4.4 ms a call).
        let service = SecretService::connect_with_existing(EncryptionType::Plain, bus)
            .map_err(|e| failure(&e))?;
        Ok(Self { service })
    }

    /// `call` on the one item of `service` and `user`, unlocked; `None` when there is none.
    fn with_item<T>(
        &self,
        service: &str,
        user: &str,
        call: impl FnOnce(&Item<'_>) -> Result<T, secret_service::Error>,
    ) -> Result<Option<T>, Failure> {
        let search = self
            .service
            .search_items(HashMap::from([
                ("target", "default"),
                ("service", service),
                ("username", user),
            ]))
            .map_err(|e| failure(&e))?;
        let found: Vec<Item<'_>> = search.unlocked.into_iter().chain(search.locked).collect();
        if !found.is_empty() {
            return on_one(found, service, user, call);
        }
        // An item of keyring 1: no target, in the default collection.
        let collection = self
            .service
            .get_default_collection()
            .map_err(|e| failure(&e))?;
        let found = collection
            .search_items(HashMap::from([("service", service), ("username", user)]))
            .map_err(|e| failure(&e))?;
        on_one(found, service, user, call)
    }

    pub(super) fn get(&self, service: &str, user: &str) -> Result<Option<Vec<u8>>, Failure> {
        self.with_item(service, user, |item| item.get_secret())
    }

    pub(super) fn set(&self, service: &str, user: &str, value: &[u8]) -> Result<(), Failure> {
        if let Some(()) =
            self.with_item(service, user, |item| item.set_secret(value, "text/plain"))?
        {
            return Ok(());
        }
        let collection = self
            .service
            .get_default_collection()
            .map_err(|e| failure(&e))?;
        if collection.is_locked().map_err(|e| failure(&e))? {
            collection.unlock().map_err(|e| failure(&e))?;
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
            .map(drop)
            .map_err(|e| failure(&e))
    }

    pub(super) fn delete(&self, service: &str, user: &str) -> Result<bool, Failure> {
        Ok(self
            .with_item(service, user, |item| item.delete())?
            .is_some())
    }
}

/// `call` on the one item found, unlocked first; two or more are refused, as keyring did.
fn on_one<T>(
    mut found: Vec<Item<'_>>,
    service: &str,
    user: &str,
    call: impl FnOnce(&Item<'_>) -> Result<T, secret_service::Error>,
) -> Result<Option<T>, Failure> {
    match found.len() {
        0 => Ok(None),
        1 => {
            let item = found.remove(0);
            if item.is_locked().map_err(|e| failure(&e))? {
                item.unlock().map_err(|e| failure(&e))?;
            }
            call(&item).map(Some).map_err(|e| failure(&e))
        }
        n => Err(Failure {
            kind: FailureKind::Other,
            detail: format!(
                "{n} entries match {service}/{user}; delete the extra ones with secret-tool"
            ),
        }),
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
