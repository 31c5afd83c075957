//! The sign-in listener, without sockets: any bytes a client sends go through the loopback
//! server's own connection handling (hyper's parser and its limits) over an in-memory pipe,
//! and are a callback or nothing; only a redirect with the sign-in's own `state` ends its
//! wait, and the `state` a redirect carries comes out as it went in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssobar_core::sso::pkce::{CALLBACK_PATH, Callback, answer_callback, parse_callback};
use ssobar_core::util::loopback_http::{MAX_HEAD, Peer, answer, serve_connection};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The state of the sign-in the listener waits for in the first half.
const STATE: &str = "s1";

fuzz_target!(|data: &[u8]| {
    // Any bytes, as they arrive on the socket.
    if let Some((target, ended)) = through_the_listener(data.to_vec(), STATE.to_owned()) {
        let callback = target.as_deref().and_then(parse_callback);
        if let Some(callback) = &callback {
            if let Callback::Code { state, .. } = callback {
                assert!(callback.answers(state), "{callback:?}");
            }
            if let Callback::Error {
                error, description, ..
            } = callback
            {
                let shown = format!("{error}{}", description.as_deref().unwrap_or_default());
                assert!(!shown.chars().any(char::is_control), "{callback:?}");
            }
        }
        if let Some(ended) = ended {
            assert!(ended.answers(STATE), "{ended:?}");
            assert_eq!(callback.as_ref(), Some(&ended));
        }
    }

    // The input as a state, in a redirect as a browser sends it: it round-trips, and only
    // that state ends the wait (when the head is within the server's limit).
    let state = String::from_utf8_lossy(data).into_owned();
    let query = format!("code=c0de&state={}", encode(&state));
    let head = format!("GET {CALLBACK_PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let seen = through_the_listener(head.clone().into_bytes(), state.clone());
    if head.len() >= MAX_HEAD {
        // A head over the limit reaches no handler.
        assert_eq!(seen, None, "{} bytes", head.len());
        return;
    }
    let expected = Callback::Code {
        code: "c0de".into(),
        state: state.clone(),
    };
    assert_eq!(
        seen,
        Some((Some(format!("{CALLBACK_PATH}?{query}")), Some(expected))),
        "{head:?}"
    );
    let other = through_the_listener(head.into_bytes(), format!("{state}x"));
    assert!(matches!(other, Some((_, None))), "{other:?}");
});

/// What the listener of the sign-in that sent `state` made of `bytes` sent on a connection:
/// the request target hyper parsed and the callback that ended the wait, if any; `None` when
/// the bytes were refused before any handler saw them.
fn through_the_listener(bytes: Vec<u8>, state: String) -> Option<(Option<String>, Option<Callback>)> {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|runtime| {
        runtime.block_on(async move {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let handler = move |head: http::request::Parts, _peer: Peer| {
                let target = head.uri.path_and_query().map(|t| t.as_str().to_owned());
                let (_, ended) = answer_callback(&head, &state);
                std::future::ready((
                    answer(http::StatusCode::OK, "text/plain", String::new()),
                    Some((target, ended)),
                ))
            };
            let peer = Peer {
                server: "127.0.0.1:1".parse().expect("an address"),
                client: "127.0.0.1:2".parse().expect("an address"),
            };
            let serving = tokio::spawn(serve_connection(server, peer, Arc::new(handler)));
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
            serving.await.expect("the connection's task")
        })
    })
}

/// `application/x-www-form-urlencoded`, as a browser encodes a query value.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
