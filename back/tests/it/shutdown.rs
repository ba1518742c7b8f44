//! Graceful shutdown of the real binary on SIGTERM and SIGINT.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{parse_response, Server};

/// Opens a connection and sends the start of a request whose head is not finished.
fn start_request(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /racontemoiunehistoire HTTP/1.1\r\nHost: x\r\n").unwrap();
    stream
}

fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

/// Waits until connecting fails: the listener is closed.
fn wait_listener_closed(addr: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "5s"), ("HEADER_READ_TIMEOUT", "10s")]);
    let addr = server.addr();
    let mut in_flight = start_request(addr);
    // The server has read those bytes before the signal arrives.
    std::thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    server.terminate();
    assert!(server.wait_for_stdout("SIGTERM received", Duration::from_secs(5)), "{:?}", server.stdout());
    assert!(wait_listener_closed(addr, Duration::from_secs(2)), "the listener still accepts");
    assert!(server.wait(Duration::from_millis(300)).is_none(), "exited with a request in flight");

    // The request completes, and the answer closes the connection.
    in_flight.write_all(b"Accept: application/json\r\n\r\n").unwrap();
    let raw = read_all(&mut in_flight);
    let response = parse_response(&raw, false).unwrap_or_else(|| panic!("{:?}", String::from_utf8_lossy(&raw)));
    assert_eq!(response.status, 200);
    assert!(response.json()["histoire"].is_string());
    assert_eq!(response.header("connection"), Some("close"));

    let status = server.wait(Duration::from_secs(5)).expect("exits after the drain");
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert!(server.stdout().iter().any(|l| l.contains("all connections closed")), "{:?}", server.stdout());
    // The access line of the drained request is flushed before exit.
    assert!(server.stdout().iter().any(|l| l.contains("GET /racontemoiunehistoire 200")), "{:?}", server.stdout());
}

#[test]
fn sigint_closes_idle_keep_alive_connections_at_once() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "10s")]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    let signalled = Instant::now();
    server.signal("INT");
    let status = server.wait(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(3), "{:?}", signalled.elapsed());
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0, "the idle connection is closed");
}

#[test]
fn a_stuck_request_is_dropped_after_the_shutdown_timeout() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "1s"), ("HEADER_READ_TIMEOUT", "30s")]);
    let _stuck = start_request(server.addr());
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait(Duration::from_secs(8)).expect("exits after the shutdown timeout");
    assert_eq!(status.code(), Some(0));
    let waited = signalled.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "{waited:?}");
    assert!(server.stderr().iter().any(|l| l.contains("still open")), "{:?}", server.stderr());
}

#[test]
fn a_second_signal_ends_the_drain() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "30s"), ("HEADER_READ_TIMEOUT", "30s")]);
    let _stuck = start_request(server.addr());
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    assert!(server.wait_for_stdout("SIGTERM received", Duration::from_secs(5)));
    server.terminate();
    let status = server.wait(Duration::from_secs(5)).expect("exits on the second signal");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_connection_that_never_sent_a_byte_does_not_delay_the_exit() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "10s"), ("HEADER_READ_TIMEOUT", "30s")]);
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    server.terminate();
    let status = server.wait(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(2), "{:?}", signalled.elapsed());
    let mut buf = [0u8; 64];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0, "closed without an answer");
}
