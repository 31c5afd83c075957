//! The browser half of the authorization-code flow with PKCE: the verifier and challenge, the
//! `/authorize` URL, and the loopback listener the browser returns to.

use crate::util::text::printable;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The characters RFC 7636 allows in a verifier.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// A random string of `len` unreserved characters (verifiers and `state`).
pub fn random_unreserved(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(UNRESERVED[rng.random_range(0..UNRESERVED.len())]))
        .collect()
}

/// `base64url(sha256(verifier))` without padding: the S256 challenge.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The `/authorize` URL the browser opens (`scopes` is plural, space-joined).
pub fn authorize_url(
    oidc_endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    scopes: &[String],
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scopes", &scopes.join(" "))
        .append_pair("code_challenge", code_challenge)
        .finish();
    format!("{}/authorize?{query}", oidc_endpoint.trim_end_matches('/'))
}

/// What the browser brought back to the loopback listener.
#[derive(Debug, PartialEq, Eq)]
pub enum Callback {
    /// An authorization code, with the state it came with.
    Code {
        /// The authorization code to exchange with CreateToken.
        code: String,
        /// The `state` parameter.
        state: String,
    },
    /// The person (or the service) refused: the `error` parameter.
    Error {
        /// `error`, e.g. `access_denied`, made printable.
        error: String,
        /// `error_description`, if any, made printable.
        description: Option<String>,
        /// The `state` parameter.
        state: Option<String>,
    },
}

impl Callback {
    /// True when this redirect answers the sign-in that sent `state`. Anything else (an old
    /// tab, another sign-in, a forger, a stray request with no state at all) is not an answer
    /// to it, whether it brings a code or an error.
    pub fn answers(&self, state: &str) -> bool {
        match self {
            Self::Code { state: got, .. } => got == state,
            Self::Error { state: got, .. } => got.as_deref() == Some(state),
        }
    }
}

/// The loopback listener on an ephemeral port.
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

/// The path the browser is sent back to, as the AWS CLI registers it.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// How long a connection may take to send its request before it is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing the small answer page may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait before accepting again after accepting failed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

impl CallbackListener {
    /// Binds 127.0.0.1 on a port the OS chooses.
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self { listener, port })
    }

    /// `127.0.0.1:PORT`, where the browser must reach.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/oauth/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the browser to come back with the answer to the sign-in that sent `state`.
    ///
    /// Anything else gets a page saying so and the wait goes on: other paths (a favicon, a
    /// scanner) a 404, redirects that do not [answer](Callback::answers) this sign-in a 400.
    /// Connections are read side by side, so one that connects and sends nothing cannot hold
    /// up the browser behind it.
    pub async fn wait(&self, state: &str) -> Callback {
        let mut readers = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        readers.spawn(read_request(stream));
                    }
                    // Out of file descriptors (a flood of idle connections, say): let the
                    // readers time out some instead of spinning on accept.
                    Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
                },
                Some(read) = readers.join_next(), if !readers.is_empty() => {
                    let Ok(Some((mut stream, target))) = read else {
                        continue;
                    };
                    let callback = parse_callback(&target);
                    respond(&mut stream, &page_for(callback.as_ref(), state)).await;
                    if let Some(callback) = callback
                        && callback.answers(state)
                    {
                        // Dropping `readers` closes every connection still being read.
                        return callback;
                    }
                }
            }
        }
    }
}

/// Reads a request's head; the connection and its `GET` target (`/oauth/callback?...`, empty
/// for another method), or nothing if the head did not arrive in time.
async fn read_request(mut stream: TcpStream) -> Option<(TcpStream, String)> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read_head)
        .await
        .ok()??;
    let target = request_target(&head);
    Some((stream, target))
}

/// The target of a request head's `GET` line (`/oauth/callback?...`), or empty when the head
/// is not a `GET`. Whatever bytes arrive, this is an answer, never a panic.
pub fn request_target(head: &[u8]) -> String {
    String::from_utf8_lossy(head)
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("GET "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default()
        .to_owned()
}

/// The page shown for a request: status, title, text.
struct Page {
    status: &'static str,
    title: &'static str,
    body: String,
}

fn page_for(callback: Option<&Callback>, state: &str) -> Page {
    match callback {
        None => Page {
            status: "404 Not Found",
            title: "Not found",
            body: "ssobar is waiting for the sign-in to finish.".to_owned(),
        },
        Some(callback) if !callback.answers(state) => Page {
            status: "400 Bad Request",
            title: "Not this sign-in",
            body: "This page belongs to another sign-in (an old tab?); ssobar is still \
                   waiting for the one it started."
                .to_owned(),
        },
        Some(Callback::Error {
            error, description, ..
        }) => Page {
            status: "400 Bad Request",
            title: "Sign-in failed",
            body: description.clone().unwrap_or_else(|| error.clone()),
        },
        Some(Callback::Code { .. }) => Page {
            status: "200 OK",
            title: "Signed in",
            body: "ssobar has your sign-in. You can close this tab.".to_owned(),
        },
    }
}

async fn respond(stream: &mut TcpStream, page: &Page) {
    let Page {
        status,
        title,
        body,
    } = page;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ssobar: {title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:3em\"><h1>{title}</h1><p>{}</p></body></html>",
        html_escape(body)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{html}",
        html.len()
    );
    // A browser that does not read its answer must not hold up the sign-in either.
    let _ = tokio::time::timeout(RESPONSE_TIMEOUT, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Reads `code`/`state` or `error` out of a request target like `/oauth/callback?code=..`.
pub fn parse_callback(target: &str) -> Option<Callback> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        return None;
    }
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            // Shown in the terminal, the window and the page: no control characters.
            "error" => error = Some(printable(&v)),
            "error_description" => description = Some(printable(&v)),
            _ => {}
        }
    }
    match (error, code) {
        (Some(error), _) => Some(Callback::Error {
            error,
            description,
            state,
        }),
        (None, Some(code)) => Some(Callback::Code {
            code,
            state: state.unwrap_or_default(),
        }),
        (None, None) => None,
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_64_unreserved_characters() {
        let v = random_unreserved(64);
        assert_eq!(v.len(), 64);
        assert!(v.bytes().all(|b| UNRESERVED.contains(&b)));
        assert_ne!(v, random_unreserved(64));
    }

    #[test]
    fn challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn authorize_url_has_every_parameter_encoded() {
        let url = authorize_url(
            "https://oidc.us-east-1.amazonaws.com/",
            "cid",
            "http://127.0.0.1:5000/oauth/callback",
            "st",
            "ch",
            &["sso:account:access".to_owned(), "x".to_owned()],
        );
        assert_eq!(
            url,
            "https://oidc.us-east-1.amazonaws.com/authorize?response_type=code&client_id=cid\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Foauth%2Fcallback&state=st\
             &code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess+x&code_challenge=ch"
        );
    }

    #[test]
    fn callbacks_parse_codes_and_errors() {
        assert_eq!(
            parse_callback("/oauth/callback?code=abc&state=s1"),
            Some(Callback::Code {
                code: "abc".into(),
                state: "s1".into()
            })
        );
        assert_eq!(
            parse_callback("/oauth/callback?error=access_denied&state=s1"),
            Some(Callback::Error {
                error: "access_denied".into(),
                description: None,
                state: Some("s1".into())
            })
        );
        assert_eq!(parse_callback("/favicon.ico"), None);
        assert_eq!(parse_callback("/oauth/callback"), None);
    }

    #[test]
    fn only_a_redirect_with_this_sign_ins_state_answers_it() {
        let answers = |target: &str| parse_callback(target).is_some_and(|cb| cb.answers("s1"));
        assert!(answers("/oauth/callback?code=abc&state=s1"));
        assert!(answers("/oauth/callback?error=access_denied&state=s1"));
        assert!(!answers("/oauth/callback?error=x"), "no state");
        assert!(!answers("/oauth/callback?code=abc"), "no state");
        assert!(!answers("/oauth/callback?code=abc&state="));
        assert!(!answers("/oauth/callback?code=abc&state=s2"));
        assert!(!answers("/oauth/callback?error=access_denied&state=s2"));
    }

    #[test]
    fn error_descriptions_arrive_printable() {
        assert_eq!(
            parse_callback("/oauth/callback?error=e%1B%5B1A&error_description=%1B%5B2Jwiped%0Aout"),
            Some(Callback::Error {
                error: "e".into(),
                description: Some("wiped out".into()),
                state: None
            })
        );
    }
}
