//! The sign-in listener's request parser, without sockets: any request head is a callback or
//! nothing, and the `state` a redirect carries comes out as it went in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssobar_core::sso::pkce::{CALLBACK_PATH, Callback, parse_callback, request_target};

fuzz_target!(|data: &[u8]| {
    // Any head, as it arrives on the socket.
    let target = request_target(data);
    if let Some(callback) = parse_callback(&target) {
        let state = match &callback {
            Callback::Code { state, .. } => Some(state.clone()),
            Callback::Error { state, .. } => state.clone(),
        };
        if let Some(state) = state {
            assert!(callback.answers(&state), "{callback:?}");
        }
        if let Callback::Error {
            error, description, ..
        } = &callback
        {
            let shown = format!("{error}{}", description.as_deref().unwrap_or_default());
            assert!(!shown.chars().any(char::is_control), "{callback:?}");
        }
    }

    // The input as a state, in a redirect as a browser sends it: it round-trips, and only
    // that state is answered.
    let state = String::from_utf8_lossy(data);
    let query = format!("code=c0de&state={}", encode(&state));
    let head = format!("GET {CALLBACK_PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let callback = parse_callback(&request_target(head.as_bytes()));
    assert_eq!(
        callback,
        Some(Callback::Code {
            code: "c0de".into(),
            state: state.clone().into_owned(),
        }),
        "{head:?}"
    );
    let callback = callback.expect("checked just above");
    assert!(callback.answers(&state));
    assert!(!callback.answers(&format!("{state}x")));
});

/// `application/x-www-form-urlencoded`, as a browser encodes a query value.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
