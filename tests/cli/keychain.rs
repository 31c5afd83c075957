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
