//! The token-cache parser: any bytes are a token or a reason, and a token that was read can be
//! written back (as a refresh does) and read again to the same token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssobar_core::sso::token_cache::parse_token;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = parse_token(data) else {
        return;
    };
    let _ = token.is_refreshable(token.expires_at);
    let written = serde_json::to_vec(&token).expect("a token that was read can be written");
    let reread = parse_token(&written).unwrap_or_else(|e| {
        panic!(
            "a token ssobar wrote does not read back ({e}): {}",
            String::from_utf8_lossy(&written)
        )
    });
    // Timestamps are written in whole seconds, as botocore writes them.
    assert_eq!(reread.expires_at.as_second(), token.expires_at.as_second());
    assert_eq!(reread.access_token, token.access_token);
    assert_eq!(reread.refresh_token, token.refresh_token);
    let again = parse_token(&serde_json::to_vec(&reread).expect("written once, written twice"))
        .expect("written once, read twice");
    assert_eq!(again, reread);
});
