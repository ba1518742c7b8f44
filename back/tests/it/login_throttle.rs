//! Throttling of failed logins, on the real binary and real sockets: the block, what it hides,
//! its end, who it concerns (peer address, trusted and untrusted `X-Forwarded-For`), and
//! its `/metrics` lines. Clients are told apart by their source address on the loopback
//! (127.0.0.1 and 127.0.0.2). No wall-clock time is asserted: the one short-window test polls.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{get, parse_response, temp_dir, HttpResponse};
use crate::students_support::{start, store_in, Store, PREFIX, ROOT};

/// `root:wrong`.
const WRONG: &str = "Basic cm9vdDp3cm9uZw==";
const OTHER: [u8; 4] = [127, 0, 0, 2];

/// `GET {PREFIX}/students` from the source address `from`, with `headers`.
fn login_from(from: [u8; 4], server: SocketAddr, headers: &[(&str, &str)]) -> HttpResponse {
    let mut request = format!("GET {PREFIX}/students HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let stream = connect_from(IpAddr::from(from), server);
    let raw = exchange_on(stream, request.as_bytes());
    parse_response(&raw, false).unwrap_or_else(|| panic!("bad HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

fn login(server: SocketAddr, authorization: &str) -> HttpResponse {
    login_from([127, 0, 0, 1], server, &[("Authorization", authorization)])
}

/// A connection whose source address is `from` (any 127.0.0.0/8 address works on Linux).
fn connect_from(from: IpAddr, server: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        socket.connect(server).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

fn exchange_on(mut stream: TcpStream, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

fn assert_throttled(response: &HttpResponse, window_secs: u64) {
    assert_eq!(response.status, 429, "{}", response.text());
    let retry: u64 = response.header("retry-after").expect("Retry-After").parse().expect("Retry-After in seconds");
    assert!((1..=window_secs).contains(&retry), "Retry-After: {retry}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let error = response.json()["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("too many failed logins"), "{error}");
    // Nothing about the password, and no challenge inviting another try.
    assert_eq!(response.header("www-authenticate"), None);
}

fn metric(server: SocketAddr, name: &str) -> u64 {
    let text = get(server, "/metrics").text();
    let line = text.lines().find(|line| line.split(' ').next() == Some(name));
    line.and_then(|line| line.split(' ').nth(1)?.parse().ok()).unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn failures_are_throttled_and_a_blocked_client_is_not_checked() {
    for store in Store::each("throttle-block") {
        blocked_client(&store);
    }
}

fn blocked_client(store: &Store) {
    let server = store.start(&[("LOGIN_THROTTLE_FAILURES", "3"), ("LOGIN_THROTTLE_WINDOW", "1m")]);
    let addr = server.addr();
    for _ in 0..3 {
        assert_eq!(login(addr, WRONG).status, 401);
    }
    assert_throttled(&login(addr, WRONG), 60);
    // The right password during the block gets the same 429: a 429 reveals nothing.
    let right = login(addr, ROOT);
    assert_throttled(&right, 60);
    // So does a request without credentials, and a blocked client cannot write.
    assert_eq!(login_from([127, 0, 0, 1], addr, &[]).status, 429);

    // Another client is unaffected, either way.
    assert_eq!(login_from(OTHER, addr, &[("Authorization", ROOT)]).status, 200);
    assert_eq!(login_from(OTHER, addr, &[("Authorization", WRONG)]).status, 401);
    // Routes without credentials are not throttled.
    assert_eq!(get(addr, "/racontemoiunehistoire").status, 200);

    assert_eq!(metric(addr, "racontemoi_login_failures_total"), 4);
    assert_eq!(metric(addr, "racontemoi_login_throttled_total"), 3);
    assert_eq!(metric(addr, "racontemoi_login_lockouts_total"), 1);
    assert_eq!(metric(addr, "racontemoi_login_throttle_overflow_total"), 0);
    assert_eq!(metric(addr, "racontemoi_login_throttle_clients"), 2);
    assert_eq!(metric(addr, "racontemoi_login_throttle_max_clients"), 10_000);
    let text = get(addr, "/metrics").text();
    assert!(text.contains("# TYPE racontemoi_login_failures_total counter\n"), "{text}");
    assert!(text.contains("http_requests_total{route=\"students\",status=\"429\"} 3\n"), "{text}");
}

#[test]
fn after_the_window_the_right_password_works_again() {
    let dir = temp_dir("throttle-window");
    let server = start(&store_in(&dir), &[("LOGIN_THROTTLE_FAILURES", "1"), ("LOGIN_THROTTLE_WINDOW", "1s")]);
    let addr = server.addr();
    // On a slow machine the 1 s window may pass between two requests: try until a block is seen.
    let blocked = (0..20).any(|_| {
        let first = login(addr, WRONG).status;
        first == 429 || login(addr, WRONG).status == 429
    });
    assert!(blocked, "never throttled");
    // Polled, with a generous bound that only ends a hung test.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = login(addr, ROOT);
        if response.status == 200 {
            break;
        }
        assert_throttled(&response, 1);
        assert!(Instant::now() < deadline, "still throttled after the window");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_correct_login_is_never_throttled() {
    let dir = temp_dir("throttle-correct");
    let server = start(&store_in(&dir), &[("LOGIN_THROTTLE_FAILURES", "2")]);
    let addr = server.addr();
    for _ in 0..50 {
        assert_eq!(login(addr, ROOT).status, 200);
    }
    assert_eq!(login(addr, WRONG).status, 401);
    for _ in 0..20 {
        assert_eq!(login(addr, ROOT).status, 200);
    }
    // Requests without credentials count no failure either (a browser's first request has none).
    for _ in 0..20 {
        assert_eq!(login_from([127, 0, 0, 1], addr, &[]).status, 401);
    }
    assert_eq!(login(addr, ROOT).status, 200);
    assert_eq!(metric(addr, "racontemoi_login_failures_total"), 1);
    assert_eq!(metric(addr, "racontemoi_login_throttled_total"), 0);
}

#[test]
fn a_trusted_proxy_names_the_client_in_x_forwarded_for() {
    let dir = temp_dir("throttle-trusted");
    let server = start(
        &store_in(&dir),
        &[("LOGIN_THROTTLE_FAILURES", "2"), ("TRUSTED_PROXIES", "127.0.0.1/32"), ("LOGIN_THROTTLE_WINDOW", "1m")],
    );
    let addr = server.addr();
    // As the front's nginx sends it: X-Forwarded-For ($proxy_add_x_forwarded_for) and X-Real-IP.
    let via_front = |client: &str, forwarded: &str, authorization: &str| {
        login_from(
            [127, 0, 0, 1],
            addr,
            &[("X-Forwarded-For", forwarded), ("X-Real-IP", client), ("Authorization", authorization)],
        )
    };
    assert_eq!(via_front("203.0.113.5", "203.0.113.5", WRONG).status, 401);
    assert_eq!(via_front("203.0.113.5", "203.0.113.5", WRONG).status, 401);
    assert_throttled(&via_front("203.0.113.5", "203.0.113.5", ROOT), 60);
    // What the client wrote itself, left of the address the proxy appended, does not free it.
    assert_eq!(via_front("203.0.113.5", "198.51.100.1, 203.0.113.5", ROOT).status, 429);
    // Other end users behind the same proxy are unaffected.
    assert_eq!(via_front("203.0.113.6", "203.0.113.5, 203.0.113.6", ROOT).status, 200);
    assert_eq!(via_front("203.0.113.6", "203.0.113.6", WRONG).status, 401);
    // The proxy itself (no header) is another client.
    assert_eq!(login(addr, ROOT).status, 200);
    // An untrusted peer's header is ignored: 127.0.0.2 is itself, not 203.0.113.5.
    let direct = login_from(OTHER, addr, &[("X-Forwarded-For", "203.0.113.5"), ("Authorization", ROOT)]);
    assert_eq!(direct.status, 200);
}

#[test]
fn an_untrusted_x_forwarded_for_is_ignored() {
    let dir = temp_dir("throttle-untrusted");
    let server = start(&store_in(&dir), &[("LOGIN_THROTTLE_FAILURES", "2")]);
    let addr = server.addr();
    // A new forged address per guess buys nothing: the peer is the client (no proxy trusted by default).
    for i in 0..2 {
        let forged = format!("198.51.100.{i}");
        let response = login_from([127, 0, 0, 1], addr, &[("X-Forwarded-For", &forged), ("Authorization", WRONG)]);
        assert_eq!(response.status, 401);
    }
    let forged = login_from([127, 0, 0, 1], addr, &[("X-Forwarded-For", "198.51.100.99"), ("Authorization", ROOT)]);
    assert_throttled(&forged, 60);
    assert_eq!(login_from(OTHER, addr, &[("Authorization", ROOT)]).status, 200);
}

#[test]
fn bad_throttle_settings_stop_the_start() {
    for (name, value) in [
        ("LOGIN_THROTTLE_FAILURES", "ten"),
        ("LOGIN_THROTTLE_WINDOW", "0"),
        ("LOGIN_THROTTLE_MAX_CLIENTS", "0"),
        ("TRUSTED_PROXIES", "front"),
    ] {
        let (code, _, stderr) = crate::common::run_to_exit(&[(name, value)], &[], Duration::from_secs(20));
        assert_eq!(code, Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(&format!("invalid {name}: ")), "{stderr}");
    }
}
