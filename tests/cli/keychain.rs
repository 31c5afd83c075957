//! The keychain layer against the real Secret Service (gnome-keyring in the D-Bus session that
//! scripts/test starts): values longer than a platform allows are split, joined and deleted
//! whole.

use ssobar_core::creds::keychain::{
    Keychain, KeychainError, SecretStore, delete_value, read_value, write_value,
};
use ssobar_testkit::{require_secret_service, secret_tool_entries};

/// The real keychain with a small size limit, standing for Windows' 2,560 bytes.
struct Limited(usize);

impl SecretStore for Limited {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, KeychainError> {
        Keychain::default().get(name)
    }
    fn set(&self, name: &str, value: &[u8]) -> Result<(), KeychainError> {
        assert!(
            value.len() <= self.0,
            "{} bytes do not fit in {}",
            value.len(),
            self.0
        );
        Keychain::default().set(name, value)
    }
    fn delete(&self, name: &str) -> Result<bool, KeychainError> {
        Keychain::default().delete(name)
    }
    fn max_value_len(&self) -> usize {
        self.0
    }
}

#[test]
fn long_values_are_split_across_entries_and_removed_whole() {
    require_secret_service();
    let name = format!("test/split-{}", std::process::id());
    let store = Limited(256);
    let value: Vec<u8> = (0..2_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    write_value(&store, &name, &value).unwrap();
    let parts = secret_tool_entries(&format!("{name}#"));
    assert!(parts.len() >= 7, "split over 8+ entries: {parts:?}");
    assert_eq!(
        read_value(&Keychain::default(), &name).unwrap().unwrap(),
        value
    );

    write_value(&store, &name, b"short now").unwrap();
    assert_eq!(
        secret_tool_entries(&format!("{name}#")),
        Vec::<String>::new(),
        "old parts deleted"
    );
    assert_eq!(
        read_value(&Keychain::default(), &name).unwrap().unwrap(),
        b"short now"
    );

    assert!(delete_value(&Keychain::default(), &name).unwrap());
    assert_eq!(read_value(&Keychain::default(), &name).unwrap(), None);
}

/// Stores `secret` the way another client would, with `attributes` (pairs) given to secret-tool.
fn secret_tool_store(attributes: &[&str], secret: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("secret-tool")
        .args(["store", "--label=earlier release"])
        .args(attributes)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn entries_written_by_earlier_releases_are_found_replaced_and_deleted() {
    require_secret_service();
    // What the libdbus backend of earlier releases wrote (keyring 3's attributes), and an
    // entry of keyring 1, which had no target.
    let current = format!("test/earlier-{}", std::process::id());
    let oldest = format!("test/oldest-{}", std::process::id());
    secret_tool_store(
        &[
            "service",
            "ssobar",
            "username",
            &current,
            "target",
            "default",
            "application",
            "rust-keyring",
        ],
        "kept before",
    );
    secret_tool_store(&["service", "ssobar", "username", &oldest], "kept long ago");
    let keychain = Keychain::default();
    assert_eq!(keychain.get(&current).unwrap().unwrap(), b"kept before");
    assert_eq!(keychain.get(&oldest).unwrap().unwrap(), b"kept long ago");
    keychain.set(&current, b"replaced").unwrap();
    assert_eq!(keychain.get(&current).unwrap().unwrap(), b"replaced");
    assert_eq!(
        secret_tool_entries(&current),
        std::slice::from_ref(&current),
        "replaced, not added"
    );
    assert!(keychain.delete(&current).unwrap());
    assert!(keychain.delete(&oldest).unwrap());
    assert_eq!(keychain.get(&current).unwrap(), None);
    assert!(!keychain.delete(&oldest).unwrap());
}
