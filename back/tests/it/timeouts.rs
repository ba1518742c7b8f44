//! Connection timeouts of the real binary: header read and keep-alive idle.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::Server;

/// Reads until the server closes the connection; returns when that happened.
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return since.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn a_silent_connection_is_cut_by_the_header_timeout() {
    let server = Server::start(&[("HEADER_READ_TIMEOUT", "1s"), ("IDLE_TIMEOUT", "30s")]);
    let start = Instant::now();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let waited = closed_after(&mut stream, start);
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn dribbling_headers_does_not_extend_the_header_timeout() {
    let server = Server::start(&[("HEADER_READ_TIMEOUT", "1s"), ("IDLE_TIMEOUT", "30s")]);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let start = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in request.iter() {
        if stream.write_all(&[*byte]).is_err() || start.elapsed() > Duration::from_secs(4) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Closed about one header timeout after the first byte, although bytes kept coming.
    let waited = closed_after(&mut stream, start);
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500), "{waited:?}");
}

#[test]
fn keep_alive_outlives_the_header_timeout_until_the_idle_timeout() {
    let server = Server::start(&[("HEADER_READ_TIMEOUT", "500ms"), ("IDLE_TIMEOUT", "2s")]);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];

    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(stream.read(&mut buf).unwrap() > 0);
    // Idle longer than the header timeout: still open.
    std::thread::sleep(Duration::from_millis(1200));
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&buf[..n]));

    let answered = Instant::now();
    let waited = closed_after(&mut stream, answered);
    assert!(waited >= Duration::from_millis(1800) && waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn oversized_headers_are_refused() {
    let server = Server::start(&[]);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let big = "a".repeat(64 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(raw.is_empty() || raw.starts_with(b"HTTP/1.1 431"), "{:?}", String::from_utf8_lossy(&raw));
    // The server still serves.
    assert_eq!(crate::common::get(server.addr(), "/healthz").status, 200);
}
