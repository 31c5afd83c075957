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
use crate::util::secret::Secret;
use rand::RngCore;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore};

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

/// How long a connection may take to send its request head before it is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing an answer may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// Connections read at once; more are closed at once, so idle ones cannot use up the process's
/// file descriptors.
const MAX_CONNECTIONS: usize = 64;
/// How long to wait before accepting again after accepting failed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

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

/// What a request is answered with.
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
    /// Not an HTTP request head: 400.
    BadRequest,
}

/// The route of a request head. Whatever bytes arrive, this is an answer, never a panic.
pub fn route(head: &[u8], token: &AuthToken) -> Route {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if method != "GET" {
        return Route::MethodNotAllowed;
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path != CREDENTIALS_PATH {
        return Route::NotFound;
    }
    // The headers end at the first empty line; whatever follows is a body, never a header.
    let headers = lines.take_while(|line| !line.is_empty());
    let mut authorizations = headers.filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| value.trim())
    });
    // One Authorization header, holding the token: a second one could be read differently by
    // whatever stands in between.
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
    listener: TcpListener,
    port: u16,
    token: AuthToken,
}

/// The last answer of the source, and when the call that gave it started.
type LastAnswer = Option<(Instant, Result<AwsCredentials, Unavailable>)>;

impl CredentialServer {
    /// Binds 127.0.0.1 on `port` (0: one the OS chooses) with a new random token.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            token: AuthToken::generate(),
        })
    }

    /// The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `http://127.0.0.1:PORT/credentials`.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}{CREDENTIALS_PATH}", self.port)
    }

    /// The token requests must carry.
    pub fn token(&self) -> &AuthToken {
        &self.token
    }

    /// Answers requests until the future is dropped. Connections are read side by side; the
    /// source is called for one request at a time, and requests that waited while it was
    /// called for another share the answer of a call that started after they arrived, so a
    /// burst of requests makes at most two calls, never one that is older than the request.
    pub async fn serve(self, source: impl CredentialSource) {
        let shared = Arc::new(Shared {
            token: self.token,
            source: Arc::new(source),
            last: Mutex::new(None),
        });
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    // Too many connections open: this one is closed unanswered.
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        continue;
                    };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        shared.answer(stream).await;
                        drop(slot);
                    });
                }
                // Out of file descriptors, say: let connections finish instead of spinning.
                Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
            }
        }
    }
}

/// What every connection's task uses.
struct Shared<S> {
    token: AuthToken,
    source: Arc<S>,
    last: Mutex<LastAnswer>,
}

impl<S: CredentialSource> Shared<S> {
    async fn answer(&self, mut stream: TcpStream) {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        let arrived = Instant::now();
        let (status, body) = match route(&head, &self.token) {
            Route::Credentials => match self.current(arrived).await {
                Ok(creds) => ("200 OK", credentials_json(&creds)),
                Err(Unavailable(message)) => (
                    "503 Service Unavailable",
                    error_json("CredentialsUnavailable", &message),
                ),
            },
            Route::Unauthorized => (
                "401 Unauthorized",
                error_json(
                    "Unauthorized",
                    "the Authorization header does not hold this server's token",
                ),
            ),
            Route::NotFound => (
                "404 Not Found",
                error_json(
                    "NotFound",
                    &format!("credentials are served on {CREDENTIALS_PATH}"),
                ),
            ),
            Route::MethodNotAllowed => (
                "405 Method Not Allowed",
                error_json("MethodNotAllowed", "only GET is served"),
            ),
            Route::BadRequest => (
                "400 Bad Request",
                error_json("BadRequest", "not an HTTP/1 request"),
            ),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        // A client that does not read its answer must not keep the task forever.
        let _ = tokio::time::timeout(RESPONSE_TIMEOUT, async {
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await;
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

/// Reads a request head (up to the blank line); `None` if it did not arrive in time.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read).await.ok()??;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(lines: &[&str]) -> Vec<u8> {
        format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
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

    #[test]
    fn only_a_get_of_the_path_with_the_raw_token_is_served() {
        let token = AuthToken::generate();
        let auth = format!("Authorization: {}", token.expose());
        let get = "GET /credentials HTTP/1.1";
        assert_eq!(
            route(&head(&[get, "Host: 127.0.0.1", &auth]), &token),
            Route::Credentials
        );
        let lower = format!("authorization:{}", token.expose());
        assert_eq!(route(&head(&[get, &lower]), &token), Route::Credentials);
        assert_eq!(
            route(&head(&["GET /credentials?x=1 HTTP/1.1", &auth]), &token),
            Route::Credentials
        );
        assert_eq!(route(&head(&[get]), &token), Route::Unauthorized);
        assert_eq!(
            route(&head(&[get, "Authorization: wrong"]), &token),
            Route::Unauthorized
        );
        let bearer = format!("Authorization: Bearer {}", token.expose());
        assert_eq!(route(&head(&[get, &bearer]), &token), Route::Unauthorized);
        assert_eq!(
            route(&head(&[get, &auth, "Authorization: other"]), &token),
            Route::Unauthorized,
            "two Authorization headers"
        );
        let after_the_head = format!("{get}\r\n\r\n{auth}\r\n\r\n");
        assert_eq!(
            route(after_the_head.as_bytes(), &token),
            Route::Unauthorized,
            "a body is not a header"
        );
        assert_eq!(
            route(&head(&["GET / HTTP/1.1", &auth]), &token),
            Route::NotFound
        );
        assert_eq!(
            route(&head(&["POST /credentials HTTP/1.1", &auth]), &token),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"\x00\xff garbage", &token), Route::BadRequest);
        assert_eq!(route(b"", &token), Route::BadRequest);
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
        let port = server.port;
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
