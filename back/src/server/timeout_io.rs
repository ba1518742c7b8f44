//! Connection timeouts, enforced around the socket.
//!
//! hyper's own `header_read_timeout` starts again as soon as a keep-alive connection goes idle,
//! so it would cut idle connections after `HEADER_READ_TIMEOUT` and `IDLE_TIMEOUT` could never
//! apply. `TimeoutIo` instead knows, through `ConnActivity` (updated by the service), whether a
//! request is being handled, and picks the deadline that applies:
//! - reading a request head (from its first byte, or from accept): `HEADER_READ_TIMEOUT`; slow
//!   clients cannot extend it by dribbling bytes;
//! - otherwise (idle between requests, reading a body, writing an answer): `IDLE_TIMEOUT` since
//!   the last byte moved either way.
//!
//! A deadline that passes fails the pending read or write with `TimedOut`; hyper then closes the
//! connection. The timer is re-armed lazily (only when it fires or must fire sooner), so a busy
//! connection costs no timer operation per request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

/// What the service tells the socket wrapper about its connection's requests.
#[derive(Debug, Default)]
pub(crate) struct ConnActivity {
    started: AtomicU64,
    in_flight: AtomicU32,
}

impl ConnActivity {
    /// A request head was parsed and handed to the service.
    pub(crate) fn request_started(&self) {
        self.started.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
    }

    pub(crate) fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    fn started(&self) -> u64 {
        self.started.load(Relaxed)
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Relaxed) > 0
    }
}

pub(crate) struct TimeoutIo<T> {
    inner: T,
    activity: Arc<ConnActivity>,
    timeouts: Timeouts,
    last_io: Instant,
    /// When the head being read began, and how many requests had started then. Once that count
    /// moves on, the head was parsed.
    head_since: Option<(Instant, u64)>,
    timer: Pin<Box<Sleep>>,
}

impl<T> TimeoutIo<T> {
    pub(crate) fn new(inner: T, activity: Arc<ConnActivity>, timeouts: Timeouts) -> Self {
        let now = Instant::now();
        // A new connection owes its first request head within the header timeout.
        let head_since = Some((now, activity.started()));
        let timer = Box::pin(tokio::time::sleep_until(now + timeouts.header_read));
        TimeoutIo { inner, activity, timeouts, last_io: now, head_since, timer }
    }

    fn deadline(&self) -> Instant {
        match self.head_since {
            Some((since, started)) if started == self.activity.started() && !self.activity.busy() => {
                since + self.timeouts.header_read
            }
            _ => self.last_io + self.timeouts.idle,
        }
    }

    fn on_read(&mut self) {
        let now = Instant::now();
        self.last_io = now;
        let started = self.activity.started();
        let reading_same_head = matches!(self.head_since, Some((_, s)) if s == started);
        if self.activity.busy() {
            self.head_since = None;
        } else if !reading_same_head {
            self.head_since = Some((now, started));
        }
    }

    /// Called when the socket is not ready: `Ready` with an error once the deadline has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.deadline();
        if deadline < self.timer.deadline() {
            self.timer.as_mut().reset(deadline);
        }
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let deadline = self.deadline();
            if deadline <= Instant::now() {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection timed out"));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimeoutIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimeoutIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            ready => {
                this.last_io = Instant::now();
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            ready => {
                this.last_io = Instant::now();
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.poll_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIMEOUTS: Timeouts = Timeouts { header_read: Duration::from_secs(5), idle: Duration::from_secs(60) };

    fn wrapped() -> (TimeoutIo<tokio::io::DuplexStream>, tokio::io::DuplexStream, Arc<ConnActivity>) {
        let (server, client) = tokio::io::duplex(64);
        let activity = Arc::new(ConnActivity::default());
        (TimeoutIo::new(server, activity.clone(), TIMEOUTS), client, activity)
    }

    async fn read_err(io: &mut TimeoutIo<tokio::io::DuplexStream>) -> Instant {
        let mut buf = [0u8; 16];
        let error = io.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        Instant::now()
    }

    #[tokio::test(start_paused = true)]
    async fn silent_new_connection_gets_the_header_timeout() {
        let (mut io, _client, _) = wrapped();
        let start = Instant::now();
        assert_eq!(read_err(&mut io).await - start, TIMEOUTS.header_read);
    }

    #[tokio::test(start_paused = true)]
    async fn dribbling_a_head_does_not_extend_it() {
        let (mut io, mut client, _) = wrapped();
        let start = Instant::now();
        let mut buf = [0u8; 16];
        for _ in 0..4 {
            client.write_all(b"G").await.unwrap();
            assert_eq!(io.read(&mut buf).await.unwrap(), 1);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(read_err(&mut io).await - start, TIMEOUTS.header_read);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keep_alive_gets_the_idle_timeout() {
        let (mut io, mut client, activity) = wrapped();
        let mut buf = [0u8; 64];
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 18);
        // The service handles the request, the answer is written.
        activity.request_started();
        tokio::time::sleep(Duration::from_secs(30)).await;
        activity.request_ended();
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let answered = Instant::now();
        assert_eq!(read_err(&mut io).await - answered, TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_head_gets_the_header_timeout_again() {
        let (mut io, mut client, activity) = wrapped();
        let mut buf = [0u8; 64];
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 18);
        activity.request_started();
        activity.request_ended();
        tokio::time::sleep(Duration::from_secs(20)).await;
        client.write_all(b"GET /").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 5);
        let head_started = Instant::now();
        assert_eq!(read_err(&mut io).await - head_started, TIMEOUTS.header_read);
    }
}
