//! Hostile input against the real binary: thousands of generated malformed requests (seeded,
//! reproducible with `HOSTILE_SEED=<n>`), requests dribbled byte by byte, and hundreds of slow
//! clients. The server must answer 4xx (or 2xx to what happens to be valid) or close, never
//! answer 5xx, never panic, and keep serving normal requests quickly.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{get, temp_dir, Server};

const GENERATED: usize = 10_000;
const THREADS: usize = 4;
/// Every test here stops on its own well before this.
const BUDGET: Duration = Duration::from_secs(50);
const PREFIX: &str = "/supmit/api/v1.0";
const AUTH: &str = "Basic aG9zdGlsZTpzM2NyM3Q="; // hostile:s3cr3t

/// A back with its store in a fresh directory, removed when the returned one is dropped.
fn hostile_server() -> (Server, tempfile::TempDir) {
    let dir = temp_dir("hostile");
    let store = dir.path().join("student_age.json");
    let server = Server::start(&[
        ("HEADER_READ_TIMEOUT", "1s"),
        ("IDLE_TIMEOUT", "2s"),
        ("ACCESS_LOG", "false"),
        ("CORS_ALLOW_ORIGIN", "http://localhost:8080"),
        ("API_USERNAME", "hostile"),
        ("API_PASSWORD", "s3cr3t"),
        ("STUDENT_AGE_FILE", store.to_str().unwrap()),
    ]);
    (server, dir)
}

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2026)
}

/// Sends `request`, closes the sending side and reads the whole answer.
/// `None` when the server neither answered nor closed in time.
fn exchange(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    // The server may refuse and close before everything is written: that is an answer too.
    let _ = stream.write_all(request);
    let _ = stream.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => Some(raw),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) => Some(raw),
        Err(_) => None,
    }
}

/// The status of an answer (0: closed without one).
fn status_of(raw: &[u8]) -> u16 {
    raw.get(9..12).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// What is wrong with an answer, if anything: it must be empty or HTTP with a status below 500.
fn problem(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let status: Option<u16> = text.strip_prefix("HTTP/1.").and_then(|rest| rest.get(2..5)).and_then(|s| s.parse().ok());
    match status {
        Some(status) if (100..500).contains(&status) => None,
        _ => Some(format!("bad answer: {:?}", String::from_utf8_lossy(&raw[..raw.len().min(200)]))),
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items.get(rng.usize(..items.len())).copied().unwrap_or_default()
}

fn random_bytes(rng: &mut fastrand::Rng, len: std::ops::Range<usize>) -> Vec<u8> {
    let len = rng.usize(len);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn method(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(..10) {
        0 => random_bytes(rng, 0..12),
        1 => b"G\0T".to_vec(),
        _ => pick(
            rng,
            &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "BREW", "GETT"],
        )
        .as_bytes()
        .to_vec(),
    }
}

fn path(rng: &mut fastrand::Rng) -> Vec<u8> {
    let student =
        format!("{PREFIX}/students/{}", pick(rng, &["alice", "%00", "%ff%fe", "a%2Fb", "..", "%", "%zz", "é"]));
    match rng.u8(..12) {
        0 => random_bytes(rng, 0..64),
        1 => {
            let mut p = b"/racontemoiunehistoire".to_vec();
            p.extend(random_bytes(rng, 1..8));
            p
        }
        2 => format!("/{}", "a".repeat(rng.usize(1000..20_000))).into_bytes(),
        3 => pick(
            rng,
            &[
                "*",
                "http://x/healthz",
                "healthz",
                "//healthz",
                "/%00",
                "/%",
                "/%ff",
                "/\u{e9}t\u{e9}",
                "/a b",
                "/?%00=%00",
            ],
        )
        .as_bytes()
        .to_vec(),
        4 | 5 => student.into_bytes(),
        6 => format!(
            "{PREFIX}/{}",
            pick(rng, &["get_student_ages", "get_student_ages/alice", "students", "get_student_ages/%00", ""])
        )
        .into_bytes(),
        _ => pick(rng, &["/racontemoiunehistoire", "/healthz", "/readyz", "/metrics", "/openapi.json", "/"])
            .as_bytes()
            .to_vec(),
    }
}

fn version(rng: &mut fastrand::Rng) -> &'static str {
    match rng.u8(..10) {
        0 => pick(rng, &["HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1 extra", "http/1.1", "", "HTTP/1", "HTTP/1.1\0"]),
        _ => "HTTP/1.1",
    }
}

/// Header lines; kinds 0 to 9 break the request, the others are odd but well formed.
fn headers(rng: &mut fastrand::Rng, body_len: usize, broken: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if !broken || rng.bool() {
        out.extend_from_slice(b"Host: x\r\n");
    }
    for _ in 0..rng.usize(0..6) {
        let kind = if broken { rng.u8(..17) } else { rng.u8(10..17) };
        let line: Vec<u8> = match kind {
            0 => format!(
                "Content-Length: {}\r\n",
                pick(rng, &["99999999999999999999", "-1", "1e9", "0x10", " 5", "5, 6", "18446744073709551616"])
            )
            .into_bytes(),
            1 => format!("Content-Length: {}\r\nContent-Length: {}\r\n", body_len, body_len + 1).into_bytes(),
            2 => format!("Transfer-Encoding: chunked\r\nContent-Length: {body_len}\r\n").into_bytes(),
            3 => b"Transfer-Encoding: gzip, chunked, identity\r\n".to_vec(),
            4 => {
                let mut l = b"X-Bin: ".to_vec();
                l.extend(random_bytes(rng, 1..40));
                l.extend_from_slice(b"\r\n");
                l
            }
            5 => format!("X-Big: {}\r\n", "b".repeat(rng.usize(1000..40_000))).into_bytes(),
            6 => b"No colon here\r\n".to_vec(),
            7 => b" folded: continuation\r\n".to_vec(),
            8 => b"Bad Name: x\r\n".to_vec(),
            15 => format!(
                "Authorization: {}\r\n",
                pick(rng, &[AUTH, "Basic", "Basic !!!", "Bearer x", "Basic aG9zdGlsZQ=="])
            )
            .into_bytes(),
            10 => format!(
                "Accept: {}\r\n",
                pick(rng, &["application/json;q=2", "*/*;q=", ";;;", "application/json", "a/b/c"])
            )
            .into_bytes(),
            11 => format!("Origin: {}\r\n", pick(rng, &["http://localhost:8080", "null", "\u{1}", "http://evil"]))
                .into_bytes(),
            12 => format!(
                "Content-Type: {}\r\n",
                pick(rng, &["application/json", "text/plain", "application/json; charset=latin1"])
            )
            .into_bytes(),
            13 => b"Connection: keep-alive, close, upgrade\r\nUpgrade: h2c\r\n".to_vec(),
            14 => b"Expect: 100-continue\r\n".to_vec(),
            9 => (0..rng.usize(50..150)).flat_map(|i| format!("X-Many-{i}: y\r\n").into_bytes()).collect(),
            _ => format!("Authorization: {AUTH}\r\n").into_bytes(),
        };
        out.extend(line);
    }
    out
}

fn body(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(..8) {
        0 => random_bytes(rng, 0..300),
        1 => br#"{"name":"hostile","age":12}"#.to_vec(),
        2 => br#"{"name":"","age":-1}"#.to_vec(),
        3 => format!("{{\"name\":\"{}\",\"age\":1e999}}", "n".repeat(rng.usize(0..300))).into_bytes(),
        4 => b"5\r\nhello\r\nzz\r\n".to_vec(),
        5 => {
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                .to_vec()
        }
        _ => Vec::new(),
    }
}

/// One generated request: shaped like HTTP, and in a third of them broken in random places.
fn generate(rng: &mut fastrand::Rng) -> Vec<u8> {
    if rng.u8(..20) == 0 {
        // Pure noise, or a line that never ends.
        return match rng.bool() {
            true => random_bytes(rng, 1..2000),
            false => vec![b'A'; rng.usize(10_000..70_000)],
        };
    }
    let broken = rng.u8(..3) == 0;
    let body = body(rng);
    let (separator, newline, version): (&[u8], &[u8], &str) = if broken {
        (pick(rng, &[" ", "  ", "\t", ""]).as_bytes(), pick(rng, &["\r\n", "\n", "\r"]).as_bytes(), version(rng))
    } else {
        (b" ", b"\r\n", "HTTP/1.1")
    };
    let mut request = if broken {
        method(rng)
    } else {
        pick(rng, &["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]).as_bytes().to_vec()
    };
    request.extend_from_slice(separator);
    request.extend(path(rng));
    request.extend_from_slice(separator);
    request.extend_from_slice(version.as_bytes());
    request.extend_from_slice(newline);
    request.extend(headers(rng, body.len(), broken));
    if !body.is_empty() && rng.bool() {
        request.extend(format!("Content-Length: {}\r\n", body.len()).into_bytes());
    }
    if !broken || rng.u8(..10) > 0 {
        request.extend_from_slice(b"\r\n");
    }
    request.extend(body);
    request
}

fn assert_alive(server: &mut Server) {
    assert!(server.wait(Duration::ZERO).is_none(), "the server exited: {:?}", server.stderr());
    assert!(!server.stderr().iter().any(|l| l.contains("panicked")), "{:?}", server.stderr());
}

#[test]
fn ten_thousand_generated_requests() {
    let (mut server, _dir) = hostile_server();
    let addr = server.addr();
    let seed = seed();
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(worker as u64));
                let mut problems = Vec::new();
                let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                let mut sent = 0;
                for i in 0..GENERATED / THREADS {
                    if started.elapsed() > BUDGET {
                        break;
                    }
                    let request = generate(&mut rng);
                    sent += 1;
                    match exchange(addr, &request) {
                        Some(raw) => {
                            *statuses.entry(status_of(&raw)).or_default() += 1;
                            problems.extend(problem(&raw).map(|p| format!("#{worker}/{i}: {p}")));
                        }
                        None => problems.push(format!(
                            "#{worker}/{i}: no answer and not closed: {:?}",
                            String::from_utf8_lossy(&request[..request.len().min(200)])
                        )),
                    }
                }
                (sent, problems, statuses)
            })
        })
        .collect();
    let mut sent = 0;
    let mut problems = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for worker in workers {
        let (n, p, s) = worker.join().unwrap();
        sent += n;
        problems.extend(p);
        for (status, count) in s {
            *statuses.entry(status).or_default() += count;
        }
    }
    // Shown with `--nocapture`: how the answers spread (0 = closed without an answer).
    eprintln!("seed {seed}: {sent} requests in {:?}, answers by status: {statuses:?}", started.elapsed());
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems, first: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    assert_eq!(sent, GENERATED, "seed {seed}: only {sent} requests within {BUDGET:?}");
    assert_alive(&mut server);
    assert_eq!(get(addr, "/racontemoiunehistoire").status, 200);
    assert_eq!(get(addr, "/healthz").status, 200);
}

#[test]
fn requests_dribbled_byte_by_byte_are_served() {
    let (mut server, _dir) = hostile_server();
    let addr = server.addr();
    let dribblers: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let request =
                    format!("GET /racontemoiunehistoire?n={i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                for byte in request.bytes() {
                    stream.write_all(&[byte]).unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                }
                let mut raw = Vec::new();
                let _ = stream.read_to_end(&mut raw);
                raw
            })
        })
        .collect();
    for dribbler in dribblers {
        let raw = dribbler.join().unwrap();
        assert!(raw.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&raw));
    }
    // Dribbled garbage is refused or cut.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for byte in b"GET /\x00\xff HTTP/1.1\r\nHo\x01st: x\r\n\r\n" {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert_eq!(problem(&raw), None);
    assert_alive(&mut server);
}

#[test]
fn five_hundred_slow_clients_do_not_starve_a_normal_one() {
    let server = Server::start(&[("HEADER_READ_TIMEOUT", "10s"), ("ACCESS_LOG", "false")]);
    let addr = server.addr();
    let mut slow: Vec<TcpStream> = (0..500).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    assert!(slow.len() >= 450, "only {} slow connections opened", slow.len());
    let head = b"GET /racontemoiunehistoire HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for round in 0..10 {
        // Every slow client sends one more byte of a head it never finishes...
        for stream in &mut slow {
            let byte = head.get(round).copied().unwrap_or(b'z');
            let _ = stream.write_all(&[byte]);
        }
        // ...while a normal client is served at once.
        let started = Instant::now();
        let response = get(addr, "/racontemoiunehistoire");
        let took = started.elapsed();
        assert_eq!(response.status, 200);
        assert!(took < Duration::from_millis(500), "round {round}: a normal request took {took:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(slow);
    assert_eq!(get(addr, "/healthz").status, 200);
}
