//! The browser half of the authorization-code flow with PKCE: the verifier and challenge, the
//! `/authorize` URL, and the loopback listener the browser returns to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
        /// The code.
        code: String,
        /// The `state` parameter.
        state: String,
    },
    /// The person (or the service) refused: the `error` parameter.
    Error {
        /// `error`, e.g. `access_denied`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
        /// The `state` parameter.
        state: Option<String>,
    },
}

/// The loopback listener on an ephemeral port.
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

/// The path the browser is sent back to, as the AWS CLI registers it.
pub const CALLBACK_PATH: &str = "/oauth/callback";

impl CallbackListener {
    /// Binds 127.0.0.1 on a port the OS chooses.
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self { listener, port })
    }

    /// `http://127.0.0.1:PORT/oauth/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the browser to come back; other requests (a favicon, a stray scanner) get a
    /// 404 and are otherwise ignored. The page shown says whether `accept` liked the answer.
    pub async fn wait(&self, accept: impl Fn(&Callback) -> Result<(), String>) -> Callback {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            if let Some(callback) = serve_one(stream, &accept).await {
                return callback;
            }
        }
    }
}

async fn serve_one(
    mut stream: TcpStream,
    accept: &impl Fn(&Callback) -> Result<(), String>,
) -> Option<Callback> {
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
    tokio::time::timeout(std::time::Duration::from_secs(10), read_head)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("GET "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    let callback = parse_callback(target);
    let (status, title, body) = match &callback {
        None => (
            "404 Not Found",
            "Not found",
            "ssobar is waiting for the sign-in to finish.".to_owned(),
        ),
        Some(Callback::Error {
            error, description, ..
        }) => (
            "400 Bad Request",
            "Sign-in failed",
            description.clone().unwrap_or_else(|| error.clone()),
        ),
        Some(code) => match accept(code) {
            Ok(()) => (
                "200 OK",
                "Signed in",
                "ssobar has your sign-in. You can close this tab.".to_owned(),
            ),
            Err(why) => ("400 Bad Request", "Sign-in failed", why),
        },
    };
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ssobar: {title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:3em\"><h1>{title}</h1><p>{}</p></body></html>",
        html_escape(&body)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    callback
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
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
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
}
