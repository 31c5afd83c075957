//! The browser half of the authorization-code flow with PKCE: the verifier and challenge, the
//! `/authorize` URL, and the loopback listener the browser returns to.

use crate::util::loopback_http::{LoopbackServer, Peer, Response, answer};
use crate::util::text::printable;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{Method, StatusCode};
use rand::Rng;
use sha2::{Digest, Sha256};

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

/// The loopback listener, on an ephemeral port or the one the settings fix.
pub struct CallbackListener {
    server: LoopbackServer,
}

/// The path the browser is sent back to, as the AWS CLI registers it.
pub const CALLBACK_PATH: &str = "/oauth/callback";

impl CallbackListener {
    /// Binds 127.0.0.1 on `port`; 0: a port the OS chooses.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        Ok(Self {
            server: LoopbackServer::bind(port).await?,
        })
    }

    /// `127.0.0.1:PORT`, where the browser must reach.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// `http://127.0.0.1:PORT/oauth/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.server.port())
    }

    /// Waits for the browser to come back with the answer to the sign-in that sent `state`,
    /// and stops listening.
    ///
    /// Anything else gets a page saying so and the wait goes on (see [`answer_callback`]).
    /// Connections are read side by side by the [loopback server](crate::util::loopback_http),
    /// so one that connects and sends nothing cannot hold up the browser behind it.
    pub async fn wait(self, state: &str) -> Callback {
        let state = state.to_owned();
        self.server
            .serve(move |head: Parts, _peer: Peer| {
                std::future::ready(answer_callback(&head, &state))
            })
            .await
    }
}

/// The answer to a request to the listener of the sign-in that sent `state`, and the callback
/// that ends its wait, if it is one: other paths and methods (a favicon, a scanner) get a
/// 404, redirects that do not [answer](Callback::answers) this sign-in a 400.
pub fn answer_callback(head: &Parts, state: &str) -> (Response, Option<Callback>) {
    let callback = if head.method == Method::GET {
        head.uri
            .path_and_query()
            .and_then(|target| parse_callback(target.as_str()))
    } else {
        None
    };
    let page = page(&page_for(callback.as_ref(), state));
    (page, callback.filter(|callback| callback.answers(state)))
}

/// The page shown for a request: status, title, text.
struct Page {
    status: StatusCode,
    title: &'static str,
    body: String,
}

fn page_for(callback: Option<&Callback>, state: &str) -> Page {
    match callback {
        None => Page {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            body: "ssobar is waiting for the sign-in to finish.".to_owned(),
        },
        Some(callback) if !callback.answers(state) => Page {
            status: StatusCode::BAD_REQUEST,
            title: "Not this sign-in",
            body: "This page belongs to another sign-in (an old tab?); ssobar is still \
                   waiting for the one it started."
                .to_owned(),
        },
        Some(Callback::Error {
            error, description, ..
        }) => Page {
            status: StatusCode::BAD_REQUEST,
            title: "Sign-in failed",
            body: description.clone().unwrap_or_else(|| error.clone()),
        },
        Some(Callback::Code { .. }) => Page {
            status: StatusCode::OK,
            title: "Signed in",
            body: "ssobar has your sign-in. You can close this tab.".to_owned(),
        },
    }
}

fn page(page: &Page) -> Response {
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
    answer(*status, "text/html; charset=utf-8", html)
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
    fn only_a_get_of_this_sign_ins_redirect_ends_the_wait() {
        let head = |method: &str, target: &str| {
            http::Request::builder()
                .method(method)
                .uri(target)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let answered = |method: &str, target: &str| {
            let (page, callback) = answer_callback(&head(method, target), "s1");
            (page.status().as_u16(), callback.is_some())
        };
        assert_eq!(
            answered("GET", "/oauth/callback?code=c&state=s1"),
            (200, true)
        );
        assert_eq!(
            answered("GET", "/oauth/callback?error=access_denied&state=s1"),
            (400, true)
        );
        assert_eq!(
            answered("GET", "/oauth/callback?code=c&state=s2"),
            (400, false)
        );
        assert_eq!(
            answered("POST", "/oauth/callback?code=c&state=s1"),
            (404, false)
        );
        assert_eq!(answered("GET", "/favicon.ico"), (404, false));
        let (page, _) = answer_callback(
            &head(
                "GET",
                "/oauth/callback?error=e&error_description=%3Cscript%3E&state=s1",
            ),
            "s1",
        );
        assert!(page.body().contains("&lt;script&gt;"), "{}", page.body());
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
