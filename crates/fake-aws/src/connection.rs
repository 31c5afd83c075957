//! Connections that a fault can reset: the listener hands each connection's handlers a
//! [`Connection`] handle, and a reset makes the connection's next write fail, so the socket is
//! closed (with an RST, as `SO_LINGER` is zero) before any byte of an HTTP answer goes out.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The fake's listener: plain TCP, each connection resettable.
pub(crate) struct ResettableListener(pub TcpListener);

/// A handle on one accepted connection, in every request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    reset: Arc<AtomicBool>,
}

impl Connection {
    /// The connection is dropped without an answer: its next write fails.
    pub fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = (SocketAddr, Connection);

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, address) = Listener::accept(&mut self.0).await;
        let reset = Arc::new(AtomicBool::new(false));
        let io = ResettableStream {
            stream,
            reset: Arc::clone(&reset),
        };
        (io, (address, Connection { reset }))
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        let address = self.0.local_addr()?;
        let reset = Arc::new(AtomicBool::new(false));
        Ok((address, Connection { reset }))
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().1.clone()
    }
}

/// A TCP stream whose writes fail once its connection is reset.
pub(crate) struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if !self.reset.load(Ordering::SeqCst) {
            return Ok(());
        }
        // A zero linger makes the close an RST, which is what a client sees from a reset.
        self.stream.set_zero_linger()?;
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
