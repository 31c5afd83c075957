//! The one HTTP/1 server ssobar runs, on 127.0.0.1: the credential server of `ssobar serve`,
//! the sign-in listener the browser returns to, and the console's one-time link all answer
//! through it. Requests are parsed by hyper's HTTP/1 server, never by hand; this module adds
//! what a server that any local user can reach needs:
//!
//! - a connection must send its first byte within [`FIRST_BYTE_WITHIN`] and its whole request
//!   head within [`HEAD_WITHIN`] after that, of at most [`MAX_HEAD`] bytes and
//!   [`MAX_HEADERS`] headers (hyper answers 431 to a longer one, 400 to a malformed one);
//! - at most [`MAX_WAITING`] connections wait for their head at once: a new one pushes out the
//!   oldest of them, so connections left idle cannot crowd out a client that speaks at once;
//! - one request per connection, answered with `connection: close` and
//!   `cache-control: no-store`; an answer not taken within [`ANSWER_WRITTEN_WITHIN`] is dropped.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderValue};
use http::request::Parts;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;

/// How long a new connection may stay silent: every HTTP client sends its request as soon as
/// it has connected; a browser's unused speculative connection that is closed is opened again.
pub const FIRST_BYTE_WITHIN: Duration = Duration::from_secs(2);
/// How long the request head may take to arrive once its first byte has.
pub const HEAD_WITHIN: Duration = Duration::from_secs(5);
/// How long writing an answer may take: a client that does not read it must not keep the
/// connection.
pub const ANSWER_WRITTEN_WITHIN: Duration = Duration::from_secs(5);
/// The longest request head read, request line included.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header lines a request may have.
pub const MAX_HEADERS: usize = 64;
/// Connections that may wait for their request head at once; one more pushes out the oldest.
pub const MAX_WAITING: usize = 64;
/// How long to wait before accepting again after accepting failed (out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// An answer: its status, headers and body. [`answer`] makes one with the usual headers.
pub type Response = http::Response<String>;

/// A response with `status`, this `content-type` and `body`, never cached.
pub fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The two ends of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The server's address (127.0.0.1 and its port).
    pub server: SocketAddr,
    /// The client's address.
    pub client: SocketAddr,
}

/// Who the client of a loopback connection runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerOwner {
    /// The user this process runs as.
    SameUser,
    /// Another user, by uid.
    OtherUser(u32),
    /// Not known: the platform has no socket table to ask, or the client's socket is not in
    /// it (it came through a relay, or is gone).
    Unknown,
}

impl Peer {
    /// Who the client runs as: on Linux, the owner of its socket in the kernel's socket
    /// tables (`/proc/net/tcp` and `tcp6`), as identd finds it; elsewhere not known.
    pub fn owner(&self) -> PeerOwner {
        #[cfg(target_os = "linux")]
        {
            let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
                .iter()
                .filter_map(|table| std::fs::read_to_string(table).ok())
                .collect();
            let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
            match socket_owner(&tables, self.client, self.server) {
                Some(uid) if uid == rustix::process::geteuid().as_raw() => PeerOwner::SameUser,
                Some(uid) => PeerOwner::OtherUser(uid),
                None => PeerOwner::Unknown,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            PeerOwner::Unknown
        }
    }
}

/// The uid that owns the TCP socket whose own address is `local` and whose other end is
/// `remote`, from the text of Linux's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`: the
/// local and remote addresses in columns 2 and 3, the uid in column 8). An IPv4 address
/// written as IPv6 (`::ffff:127.0.0.1`) matches its IPv4 form.
pub fn socket_owner(tables: &[&str], local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    let (local, remote) = (canonical(local), canonical(remote));
    tables
        .iter()
        .flat_map(|table| table.lines().skip(1))
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(from), Some(to), Some(uid)) = (fields.get(1), fields.get(2), fields.get(7))
            else {
                return None;
            };
            (table_address(from)? == local && table_address(to)? == remote)
                .then(|| uid.parse().ok())
                .flatten()
        })
}

/// An address with an IPv4-mapped IPv6 address turned into its IPv4 form.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6), as the socket tables write an
/// address: each 32-bit word of the address in network order, printed as a native integer.
fn table_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match address.len() {
        8 => IpAddr::from(word(address)?),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(address.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::from(bytes)
        }
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

/// A listening socket on 127.0.0.1.
pub struct LoopbackServer {
    listener: TcpListener,
    address: SocketAddr,
}

impl LoopbackServer {
    /// Binds 127.0.0.1 on `port` (0: one the OS chooses).
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Answers every request with `handler`, connections side by side, until an answer comes
    /// with a value: `serve` returns that value once the answer is written (or could not be).
    /// Dropping the future closes every connection.
    pub async fn serve<T, H, F>(self, handler: H) -> T
    where
        T: Send + 'static,
        H: Fn(Parts, Peer) -> F + Send + Sync + 'static,
        F: Future<Output = (Response, Option<T>)> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let waiting = Arc::new(Waiting::default());
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, client)) => {
                        let peer = Peer { server: self.address, client };
                        let admitted = waiting.admit();
                        connections.spawn(tcp_connection(stream, peer, handler.clone(), waiting.clone(), admitted));
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
                },
                Some(ended) = connections.join_next(), if !connections.is_empty() => {
                    if let Ok(Some(value)) = ended {
                        return value;
                    }
                }
            }
        }
    }
}

/// Serves one connection over any byte stream (the server's TCP connections, an in-memory
/// pipe in tests): the same parser, limits and handler as [`LoopbackServer::serve`], without
/// the first-byte deadline and the cap on waiting connections, which belong to the listener.
/// The value the handler's answer came with, if any.
pub async fn serve_connection<I, T, H, F>(io: I, peer: Peer, handler: Arc<H>) -> Option<T>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: Send + 'static,
    H: Fn(Parts, Peer) -> F + Send + Sync + 'static,
    F: Future<Output = (Response, Option<T>)> + Send + 'static,
{
    connection(io, peer, handler, None).await
}

/// One TCP connection: its first byte within [`FIRST_BYTE_WITHIN`], then HTTP; dropped at
/// once when it is pushed out before its head arrived.
async fn tcp_connection<T, H, F>(
    stream: TcpStream,
    peer: Peer,
    handler: Arc<H>,
    waiting: Arc<Waiting>,
    (ticket, evicted): (u64, oneshot::Receiver<()>),
) -> Option<T>
where
    T: Send + 'static,
    H: Fn(Parts, Peer) -> F + Send + Sync + 'static,
    F: Future<Output = (Response, Option<T>)> + Send + 'static,
{
    // The sender is dropped, not fired, when the head arrived: only a firing evicts.
    let evicted = async {
        if evicted.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let served = async {
        let mut first = [0u8; 1];
        match tokio::time::timeout(FIRST_BYTE_WITHIN, stream.peek(&mut first)).await {
            Ok(Ok(1..)) => connection(stream, peer, handler, Some((waiting.clone(), ticket))).await,
            _ => None,
        }
    };
    let value = tokio::select! {
        value = served => value,
        () = evicted => None,
    };
    waiting.leave(ticket);
    value
}

/// hyper's HTTP/1 server on `io` with this module's limits; `arrived` leaves the waiting
/// queue when the request head is in.
async fn connection<I, T, H, F>(
    io: I,
    peer: Peer,
    handler: Arc<H>,
    arrived: Option<(Arc<Waiting>, u64)>,
) -> Option<T>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: Send + 'static,
    H: Fn(Parts, Peer) -> F + Send + Sync + 'static,
    F: Future<Output = (Response, Option<T>)> + Send + 'static,
{
    let outcome: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let answered = Arc::new(Notify::new());
    let service = {
        let (outcome, answered) = (outcome.clone(), answered.clone());
        service_fn(move |request: Request<Incoming>| {
            if let Some((waiting, ticket)) = &arrived {
                waiting.leave(*ticket);
            }
            // The body is never read: no route takes one, and the connection closes after
            // the answer.
            let (parts, _body) = request.into_parts();
            let pending = handler(parts, peer);
            let (outcome, answered) = (outcome.clone(), answered.clone());
            async move {
                let (mut response, value) = pending.await;
                if value.is_some() {
                    *outcome.lock().unwrap_or_else(|p| p.into_inner()) = value;
                }
                answered.notify_one();
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                Ok::<_, Infallible>(response.map(|body| Full::new(Bytes::from(body))))
            }
        })
    };
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_WITHIN)
        .keep_alive(false)
        // A client that shuts its sending side after its request still gets the answer.
        .half_close(true)
        .max_buf_size(MAX_HEAD)
        .max_header_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        // An error (a malformed head, a timeout, a client gone) ends the connection; hyper
        // has answered what deserved an answer.
        _ = served => {}
        () = async {
            answered.notified().await;
            tokio::time::sleep(ANSWER_WRITTEN_WITHIN).await;
        } => {}
    }
    outcome.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// The connections that have not sent their request head yet, oldest first, each with the
/// sender that pushes it out.
#[derive(Default)]
struct Waiting {
    queue: Mutex<WaitingQueue>,
}

/// The last ticket given, and each waiting connection's ticket with its sender.
type WaitingQueue = (u64, VecDeque<(u64, oneshot::Sender<()>)>);

impl Waiting {
    /// Admits a connection, pushing out the oldest when more than [`MAX_WAITING`] wait; its
    /// ticket, and the receiver that fires if it is pushed out.
    fn admit(&self) -> (u64, oneshot::Receiver<()>) {
        let (evict, evicted) = oneshot::channel();
        let mut guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let (last, queue) = &mut *guard;
        *last += 1;
        queue.push_back((*last, evict));
        if queue.len() > MAX_WAITING
            && let Some((_, oldest)) = queue.pop_front()
        {
            let _ = oldest.send(());
        }
        (*last, evicted)
    }

    /// The connection of `ticket` waits no more (its head arrived, or it ended).
    fn leave(&self, ticket: u64) {
        let mut guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.retain(|(other, _)| *other != ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers `200 PATH` to every request, and returns the path of a request for `/stop`.
    fn echo() -> impl Fn(Parts, Peer) -> std::future::Ready<(Response, Option<String>)> {
        |parts: Parts, _peer: Peer| {
            let path = parts.uri.path().to_owned();
            let stop = (path == "/stop").then(|| path.clone());
            std::future::ready((answer(StatusCode::OK, "text/plain", path), stop))
        }
    }

    async fn exchange(port: u16, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn a_request_is_answered_once_and_closed_and_a_value_ends_the_server() {
        let server = LoopbackServer::bind(0).await.unwrap();
        let port = server.port();
        let serving = tokio::spawn(server.serve(echo()));
        let answer = exchange(
            port,
            b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(
            answer.contains("\r\ncache-control: no-store\r\n"),
            "{answer}"
        );
        assert!(
            answer.ends_with("\r\n\r\n/a"),
            "one request per connection: {answer}"
        );
        assert_eq!(
            exchange(port, b"garbage\r\n\r\n").await.lines().next(),
            Some("HTTP/1.1 400 Bad Request")
        );
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEAD));
        assert_eq!(
            exchange(port, long.as_bytes()).await.lines().next(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X{i}: y\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            exchange(port, many.as_bytes()).await.lines().next(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let stopped = exchange(port, b"GET /stop HTTP/1.1\r\n\r\n").await;
        assert!(
            stopped.ends_with("/stop"),
            "answered before the end: {stopped}"
        );
        assert_eq!(serving.await.unwrap(), "/stop");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_closed_after_the_first_byte_deadline_and_a_slow_head_after_its_own()
     {
        let server = LoopbackServer::bind(0).await.unwrap();
        let port = server.port();
        tokio::spawn(server.serve(echo()));
        let started = tokio::time::Instant::now();
        let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut buf = Vec::new();
        silent.read_to_end(&mut buf).await.unwrap();
        assert!(buf.is_empty());
        assert_eq!(started.elapsed().as_secs(), FIRST_BYTE_WITHIN.as_secs());

        let started = tokio::time::Instant::now();
        let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let _ = slow.read_to_end(&mut buf).await;
        assert_eq!(started.elapsed().as_secs(), HEAD_WITHIN.as_secs());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_push_out_each_other_and_never_a_client_that_speaks() {
        let server = LoopbackServer::bind(0).await.unwrap();
        let port = server.port();
        tokio::spawn(server.serve(echo()));
        let mut idle = Vec::new();
        for _ in 0..MAX_WAITING * 4 {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        for i in 0..10 {
            let started = std::time::Instant::now();
            let answer = exchange(port, format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes()).await;
            assert!(answer.ends_with(&format!("\r\n\r\n/{i}")), "{answer}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
        }
        // The oldest idle connections were closed to make room.
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(1), idle[0].read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "{closed:?}");
    }

    #[tokio::test]
    async fn a_connection_over_any_stream_is_served_alike() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer = Peer {
            server: "127.0.0.1:1".parse().unwrap(),
            client: "127.0.0.1:2".parse().unwrap(),
        };
        let serving = tokio::spawn(serve_connection(server, peer, Arc::new(echo())));
        client
            .write_all(b"GET /stop HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.ends_with("/stop"), "{answer}");
        assert_eq!(serving.await.unwrap().as_deref(), Some("/stop"));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn the_owner_of_a_socket_is_read_from_the_kernels_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000    65534        0 3 1 0
";
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:C351 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000   42        0 4 1 0
";
        let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        assert_eq!(socket_owner(&[tcp, tcp6], client, server), Some(65534));
        assert_eq!(socket_owner(&[tcp, tcp6], server, client), Some(1000));
        let mapped: SocketAddr = "127.0.0.1:50001".parse().unwrap();
        assert_eq!(socket_owner(&[tcp, tcp6], mapped, server), Some(42));
        let unknown: SocketAddr = "127.0.0.1:50002".parse().unwrap();
        assert_eq!(socket_owner(&[tcp, tcp6], unknown, server), None);
        assert_eq!(socket_owner(&["", "garbage\nx y z"], client, server), None);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_peer_of_this_process_is_the_same_user() {
        let server = LoopbackServer::bind(0).await.unwrap();
        let port = server.port();
        let owner = tokio::spawn(server.serve(|_parts: Parts, peer: Peer| {
            std::future::ready((
                answer(StatusCode::OK, "text/plain", String::new()),
                Some(peer.owner()),
            ))
        }));
        exchange(port, b"GET / HTTP/1.1\r\n\r\n").await;
        assert_eq!(owner.await.unwrap(), PeerOwner::SameUser);
    }
}
