//! Resource exhaustion: running out of file descriptors must not stop the accept loop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{get, Server};

#[test]
fn accept_survives_running_out_of_file_descriptors() {
    let server = Server::start_with_fd_limit(&[("HEADER_READ_TIMEOUT", "30s")], 32);
    // More connections than the server has descriptors: some accepts fail with EMFILE.
    let flood: Vec<TcpStream> = (0..64).filter_map(|_| TcpStream::connect(server.addr()).ok()).collect();
    assert!(
        server.wait_for_stdout_or_stderr("accept failed", Duration::from_secs(5)),
        "no accept failure logged: {:?} {:?}",
        server.stdout(),
        server.stderr()
    );
    drop(flood);
    // Once the descriptors are back, the server serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !healthy(server.addr()) {
        assert!(Instant::now() < deadline, "the server no longer serves after EMFILE");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(server.addr(), "/racontemoiunehistoire").status, 200);
    // The failures were logged, but not once per failed accept.
    let failures = server.stderr().iter().filter(|l| l.contains("accept failed")).count();
    assert!((1..=12).contains(&failures), "{failures} accept-failure lines");
}

/// One `GET /healthz` that may fail without panicking.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw.starts_with(b"HTTP/1.1 200")
}
