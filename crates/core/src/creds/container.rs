//! The container credentials protocol, served on 127.0.0.1: the endpoint the AWS SDKs read
//! role credentials from when `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` are set, so that a long-running program (or a
//! container on the host's network) gets fresh credentials for as long as it runs.
//!
//! What the SDKs send and expect, as botocore's `ContainerProvider` does: a `GET` of the URI
//! with the token as the raw `Authorization` header value (no scheme in front), and a 200
//! whose JSON holds `AccessKeyId`, `SecretAccessKey`, `Token` and `Expiration` (RFC 3339).
//! Any other status is a failure the SDK retries a few times, two seconds each at most.

use crate::aws::credentials::AwsCredentials;
use crate::util::loopback_http::{LoopbackServer, Peer, Response, answer};
use crate::util::secret::Secret;
use http::request::Parts;
use http::{Method, StatusCode, header::AUTHORIZATION};
use rand::RngCore;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// The path credentials are served on. The token is the secret; a random path would add
/// nothing to it and would show up in more places (proxies' and SDKs' logs) than a header.
pub const CREDENTIALS_PATH: &str = "/credentials";

/// The least margin, in minutes, the server keeps before credentials expire: botocore (the
/// AWS CLI) refreshes container credentials from 15 minutes before they expire, and asks again
/// on every call from 10 minutes before; credentials handed out closer to their end than that
/// would be asked for over and over.
pub const SDK_REFRESH_WINDOW_MINUTES: u32 = 15;

/// The vault margin the server uses: the setting, but never less than the SDKs' own refresh
/// window ([`SDK_REFRESH_WINDOW_MINUTES`]).
pub fn server_margin_minutes(setting: u32) -> u32 {
    setting.max(SDK_REFRESH_WINDOW_MINUTES)
}

/// The bearer token of one server: 32 random bytes from rand's thread-local CSPRNG (ChaCha,
/// seeded by the operating system), as hex.
#[derive(Clone, Debug)]
pub struct AuthToken(Secret);

impl AuthToken {
    /// A new random token.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(Secret::new(hex::encode(bytes)))
    }

    /// The value for `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.expose().as_bytes(), presented)
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths only, never on where
/// they differ: a token guessed byte by byte learns nothing from how fast it is refused.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let differences = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the compiler from turning the fold into an early exit.
    std::hint::black_box(differences) == 0
}

/// What a request is answered with. A request hyper cannot parse never gets this far: hyper
/// answers it 400 (or 431 when its head is too long).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A `GET` of [`CREDENTIALS_PATH`] with the token: the credentials.
    Credentials,
    /// The token is missing or wrong: 401.
    Unauthorized,
    /// Another path: 404.
    NotFound,
    /// Another method: 405.
    MethodNotAllowed,
}

/// The route of a request head, as hyper parsed it.
pub fn route(head: &Parts, token: &AuthToken) -> Route {
    if head.method != Method::GET {
        return Route::MethodNotAllowed;
    }
    if head.uri.path() != CREDENTIALS_PATH {
        return Route::NotFound;
    }
    // One Authorization header, holding the token: a second one could be read differently by
    // whatever stands in between.
    let mut authorizations = head.headers.get_all(AUTHORIZATION).iter();
    match (authorizations.next(), authorizations.next()) {
        (Some(value), None) if token.matches(value.as_bytes()) => Route::Credentials,
        _ => Route::Unauthorized,
    }
}

/// Why credentials could not be had for a request: one line, naming the command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// Where the server gets credentials: called for each request that needs them (at most one
/// call at a time), on a thread that may block.
pub trait CredentialSource: Send + Sync + 'static {
    /// The credentials to hand out now.
    fn credentials(&self) -> Result<AwsCredentials, Unavailable>;
}

/// The credentials JSON the SDKs read from a container credentials endpoint.
pub fn credentials_json(creds: &AwsCredentials) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct ContainerCredentials<'a> {
        access_key_id: &'a str,
        secret_access_key: &'a str,
        token: &'a str,
        expiration: String,
    }
    let output = ContainerCredentials {
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        token: creds.session_token.as_ref().map_or("", Secret::expose),
        expiration: crate::util::time::format_timestamp(creds.expiration),
    };
    // A struct of strings always serializes.
    serde_json::to_string(&output).unwrap_or_default()
}

/// The JSON body of an error answer, in the shape the ECS agent uses (`code`, `message`).
fn error_json(code: &str, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

/// A container credentials endpoint bound to 127.0.0.1.
pub struct CredentialServer {
    server: LoopbackServer,
    token: AuthToken,
}

/// The last answer of the source, and when the call that gave it started.
type LastAnswer = Option<(Instant, Result<AwsCredentials, Unavailable>)>;

impl CredentialServer {
    /// Binds 127.0.0.1 on `port` (0: one the OS chooses) with a new random token.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        Ok(Self {
            server: LoopbackServer::bind(port).await?,
            token: AuthToken::generate(),
        })
    }

    /// The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `http://127.0.0.1:PORT/credentials`.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}{CREDENTIALS_PATH}", self.server.port())
    }

    /// The token requests must carry.
    pub fn token(&self) -> &AuthToken {
        &self.token
    }

    /// Answers requests until the future is dropped, through the
    /// [loopback server](crate::util::loopback_http) (its limits, and connections idle or slow
    /// to send their head pushed out by newer ones). Connections are read side by side; the
    /// source is called for one request at a time, and requests that waited while it was
    /// called for another share the answer of a call that started after they arrived, so a
    /// burst of requests makes at most two calls, never one that is older than the request.
    pub async fn serve(self, source: impl CredentialSource) {
        let shared = Arc::new(Shared {
            token: self.token,
            source: Arc::new(source),
            last: Mutex::new(None),
        });
        let handler = move |head: Parts, _peer: Peer| {
            let shared = shared.clone();
            async move { (shared.answer(&head).await, None::<Infallible>) }
        };
        match self.server.serve(handler).await {}
    }
}

/// What every connection's task uses.
struct Shared<S> {
    token: AuthToken,
    source: Arc<S>,
    last: Mutex<LastAnswer>,
}

impl<S: CredentialSource> Shared<S> {
    async fn answer(&self, head: &Parts) -> Response {
        let arrived = Instant::now();
        let (status, body) = match route(head, &self.token) {
            Route::Credentials => match self.current(arrived).await {
                Ok(creds) => (StatusCode::OK, credentials_json(&creds)),
                Err(Unavailable(message)) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    error_json("CredentialsUnavailable", &message),
                ),
            },
            Route::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                error_json(
                    "Unauthorized",
                    "the Authorization header does not hold this server's token",
                ),
            ),
            Route::NotFound => (
                StatusCode::NOT_FOUND,
                error_json(
                    "NotFound",
                    &format!("credentials are served on {CREDENTIALS_PATH}"),
                ),
            ),
            Route::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                error_json("MethodNotAllowed", "only GET is served"),
            ),
        };
        answer(status, "application/json", body)
    }

    /// The source's answer for a request that arrived at `arrived`: that of a call started
    /// since, else a new call's.
    async fn current(&self, arrived: Instant) -> Result<AwsCredentials, Unavailable> {
        let mut last = self.last.lock().await;
        if let Some((started, answer)) = &*last
            && *started >= arrived
        {
            return answer.clone();
        }
        let started = Instant::now();
        let source = self.source.clone();
        let answer = tokio::task::spawn_blocking(move || source.credentials())
            .await
            .unwrap_or_else(|_| {
                Err(Unavailable(
                    "the credentials lookup stopped unexpectedly; ask again".to_owned(),
                ))
            });
        *last = Some((started, answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::loopback_http::serve_connection;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn head(lines: &[&str]) -> Vec<u8> {
        format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
    }

    /// The route the bytes of a request get through the server's parser; `None` when the
    /// parser refused them before any route.
    async fn routed(bytes: &[u8], token: &AuthToken) -> Option<Route> {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let token = token.clone();
        let handler = move |head: Parts, _peer: Peer| {
            let route = route(&head, &token);
            std::future::ready((
                answer(StatusCode::OK, "text/plain", String::new()),
                Some(route),
            ))
        };
        let peer = Peer {
            server: "127.0.0.1:1".parse().unwrap(),
            client: "127.0.0.1:2".parse().unwrap(),
        };
        let serving = tokio::spawn(serve_connection(server, peer, Arc::new(handler)));
        client.write_all(bytes).await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = client.read_to_end(&mut answer).await;
        serving.await.unwrap()
    }

    #[test]
    fn equal_and_unequal_bytes_compare_as_such() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"xbc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"abc", b""));
    }

    #[test]
    fn tokens_are_64_hex_characters_and_differ_each_time() {
        let a = AuthToken::generate();
        let b = AuthToken::generate();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "AuthToken(Secret(***))");
    }

    #[tokio::test]
    async fn only_a_get_of_the_path_with_the_raw_token_is_served() {
        let token = AuthToken::generate();
        let auth = format!("Authorization: {}", token.expose());
        let get = "GET /credentials HTTP/1.1";
        assert_eq!(
            routed(&head(&[get, "Host: 127.0.0.1", &auth]), &token).await,
            Some(Route::Credentials)
        );
        let lower = format!("authorization:{}", token.expose());
        assert_eq!(
            routed(&head(&[get, &lower]), &token).await,
            Some(Route::Credentials)
        );
        assert_eq!(
            routed(&head(&["GET /credentials?x=1 HTTP/1.1", &auth]), &token).await,
            Some(Route::Credentials)
        );
        assert_eq!(
            routed(&head(&[get]), &token).await,
            Some(Route::Unauthorized)
        );
        assert_eq!(
            routed(&head(&[get, "Authorization: wrong"]), &token).await,
            Some(Route::Unauthorized)
        );
        let bearer = format!("Authorization: Bearer {}", token.expose());
        assert_eq!(
            routed(&head(&[get, &bearer]), &token).await,
            Some(Route::Unauthorized)
        );
        assert_eq!(
            routed(&head(&[get, &auth, "Authorization: other"]), &token).await,
            Some(Route::Unauthorized),
            "two Authorization headers"
        );
        let after_the_head = format!("{get}\r\n\r\n{auth}\r\n\r\n");
        assert_eq!(
            routed(after_the_head.as_bytes(), &token).await,
            Some(Route::Unauthorized),
            "a body is not a header"
        );
        assert_eq!(
            routed(&head(&["GET / HTTP/1.1", &auth]), &token).await,
            Some(Route::NotFound)
        );
        assert_eq!(
            routed(&head(&["POST /credentials HTTP/1.1", &auth]), &token).await,
            Some(Route::MethodNotAllowed)
        );
        assert_eq!(routed(b"\x00\xff garbage\r\n\r\n", &token).await, None);
        assert_eq!(routed(b"", &token).await, None);
    }

    #[test]
    fn credentials_are_written_as_the_sdks_read_them() {
        let creds = AwsCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".into()),
            expiration: "2024-05-01T12:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            credentials_json(&creds),
            r#"{"AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2024-05-01T12:00:00Z"}"#
        );
    }

    /// A source that takes 200 ms per call and counts its calls.
    struct Slow(std::sync::atomic::AtomicUsize);

    impl CredentialSource for Arc<Slow> {
        fn credentials(&self) -> Result<AwsCredentials, Unavailable> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            Ok(AwsCredentials {
                access_key_id: format!("ASIA{n}"),
                secret_access_key: "s".into(),
                session_token: Some("t".into()),
                expiration: "2024-05-01T12:00:00Z".parse().unwrap(),
            })
        }
    }

    async fn get(port: u16, token: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!("GET /credentials HTTP/1.1\r\nAuthorization: {token}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_requests_makes_at_most_two_calls_and_none_older_than_a_request() {
        let server = CredentialServer::bind(0).await.unwrap();
        let port = server.server.port();
        let token = server.token().expose().to_owned();
        let source = Arc::new(Slow(Default::default()));
        tokio::spawn(server.serve(source.clone()));
        let first = tokio::spawn({
            let token = token.clone();
            async move { get(port, &token).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let burst: Vec<_> = (0..20)
            .map(|_| {
                let token = token.clone();
                tokio::spawn(async move { get(port, &token).await })
            })
            .collect();
        assert!(first.await.unwrap().contains("\"ASIA0\""));
        for answer in burst {
            let answer = answer.await.unwrap();
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(
                answer.contains("\"ASIA1\""),
                "arrived during the first call: served by the second, {answer}"
            );
        }
        assert_eq!(source.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        let later = get(port, &token).await;
        assert!(
            later.contains("\"ASIA2\""),
            "a later request asks again: {later}"
        );
    }

    #[test]
    fn the_server_margin_covers_the_sdks_refresh_window() {
        assert_eq!(server_margin_minutes(5), 15);
        assert_eq!(server_margin_minutes(30), 30);
    }
}
