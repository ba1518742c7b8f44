//! The accept loop, per-connection serving with timeouts, and graceful shutdown on SIGTERM/SIGINT.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::client_ip::PeerAddr;
use crate::error::StartupError;
use crate::log;
use crate::ops::Readiness;
use crate::server::service::Service;
use crate::server::signals::Signals;
use crate::server::timeout_io::{ConnActivity, TimeoutIo, Timeouts};

/// Pending connections the kernel queues before `accept`.
const BACKLOG: u32 = 1024;
/// hyper's read buffer limit: a request head larger than this is answered 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Pause after an `accept` failure such as EMFILE, so a full fd table does not spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one accept-failure log line per this period.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Settings {
    pub(crate) addr: SocketAddr,
    pub(crate) timeouts: Timeouts,
    pub(crate) shutdown_timeout: Duration,
}

/// Serves until SIGTERM or SIGINT, then drains: readiness fails, the listener closes, requests
/// in flight finish, idle connections close. Returns once drained or after `shutdown_timeout`.
pub(crate) async fn run(
    settings: Settings,
    service: Arc<Service>,
    readiness: Arc<Readiness>,
) -> Result<(), StartupError> {
    let listener = bind(settings.addr).map_err(|e| StartupError(format!("cannot listen on {}: {e}", settings.addr)))?;
    let mut signals = Signals::install().map_err(|e| StartupError(format!("cannot handle signals: {e}")))?;
    let local = listener.local_addr().map_err(|e| StartupError(format!("cannot read the bound address: {e}")))?;
    log::info(&format!("listening on {local}"));

    let graceful = GracefulShutdown::new();
    let signal = accept_until_signal(&listener, &mut signals, &graceful, &service, settings.timeouts).await;

    readiness.shutting_down();
    drop(listener);
    let timeout = settings.shutdown_timeout;
    log::info(&format!("{signal} received: draining {} connection(s), at most {timeout:?}", graceful.count()));
    tokio::select! {
        _ = graceful.shutdown() => log::info("all connections closed"),
        _ = tokio::time::sleep(timeout) => log::warn(&format!("connections still open after {timeout:?}: closing them")),
        signal = signals.recv() => log::warn(&format!("{signal} received again: closing connections now")),
    }
    Ok(())
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // A restarted server can bind while old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn accept_until_signal(
    listener: &TcpListener,
    signals: &mut Signals,
    graceful: &GracefulShutdown,
    service: &Arc<Service>,
    timeouts: Timeouts,
) -> &'static str {
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES)
        // Header and idle timeouts are `TimeoutIo`'s job: see its module documentation.
        .header_read_timeout(None);
    let mut failures = AcceptFailures::default();

    loop {
        tokio::select! {
            biased;
            signal = signals.recv() => return signal,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => spawn_connection(stream, peer, &builder, graceful, service, timeouts),
                Err(error) if is_per_connection(&error) => {}
                Err(error) => {
                    failures.report(&error);
                    tokio::select! {
                        signal = signals.recv() => return signal,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
        }
    }
}

/// Serves one connection on its own task, watched by `graceful`.
fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    builder: &http1::Builder,
    graceful: &GracefulShutdown,
    service: &Arc<Service>,
    timeouts: Timeouts,
) {
    service.connection_accepted();
    // Answers are small and written at once: do not wait for more to send.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(ConnActivity::default());
    let io = TokioIo::new(TimeoutIo::new(stream, Arc::clone(&activity), timeouts));
    let service = Arc::clone(service);
    let handler = service_fn(move |mut request: Request<Incoming>| {
        // Who is asking, for the login throttle (`client_ip`). Only the student routes read it,
        // and an extension allocates: other requests go without (callgrind, docs/bench.md).
        if service.wants_peer(request.uri().path()) {
            request.extensions_mut().insert(PeerAddr(peer));
        }
        let service = Arc::clone(&service);
        let activity = Arc::clone(&activity);
        async move { Ok::<_, Infallible>(service.handle(request, &activity).await) }
    });
    let connection = graceful.watch(builder.serve_connection(io, handler));
    tokio::spawn(async move {
        // Client errors (resets, timeouts, malformed requests) end only their own connection;
        // logging each would let any client flood the log.
        let _ = connection.await;
    });
}

/// Errors about one connection that vanished before `accept` returned it: try the next one.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

/// Logs accept failures at most once per `ACCEPT_LOG_EVERY`, with how many were not logged.
#[derive(Default)]
struct AcceptFailures {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptFailures {
    fn report(&mut self, error: &io::Error) {
        let now = Instant::now();
        if self.last_logged.is_some_and(|at| now.duration_since(at) < ACCEPT_LOG_EVERY) {
            self.unlogged += 1;
            return;
        }
        let also = match self.unlogged {
            0 => String::new(),
            n => format!(" ({n} more since the last report)"),
        };
        log::error(&format!("accept failed: {error}{also}; retrying in {ACCEPT_BACKOFF:?}"));
        self.last_logged = Some(now);
        self.unlogged = 0;
    }
}
