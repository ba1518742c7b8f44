//! `back --healthcheck` and `back --probe URL`: one HTTP/1.1 GET with hyper's client, for images
//! without a shell or curl (Docker HEALTHCHECK, Kubernetes exec probes, `helm test`).
//! It resolves the host with the system resolver, then connects, sends one request with
//! `Connection: close` and reads the answer's status within [`TIMEOUT`], on a current-thread
//! tokio runtime of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The whole exchange after the name lookup: connecting, sending, reading the status line.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// As written (brackets kept for IPv6), for the `Host` header.
    pub authority: String,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// A short check of our own (`hyper::Uri` would accept user information, any scheme and an
/// out-of-range port, and costs more binary size): `http://host[:port][/path]` only.
pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let invalid = || format!("{url:?} is not a URL like http://host:port/path");
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or_else(invalid)?;
            host.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| invalid())?,
        None => 80,
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_owned() };
    // Printable ASCII that `hyper::Uri` takes as a request target (it refuses `<`, `>` and `` ` ``).
    let well_formed = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"<>`".contains(&b));
    if !well_formed(host) || !well_formed(&path) {
        return Err(invalid());
    }
    Ok(Url { authority: authority.to_owned(), host: host.to_owned(), port, path })
}

/// `--probe URL`: the answer's status code, or why there is none.
pub fn probe(url: &Url) -> Result<u16, String> {
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .collect();
    get_status(&addrs, &url.authority, &url.path)
}

/// Whether `--probe` succeeds on `status`: the `--expect`ed status, or any 2xx without one.
pub fn is_expected(status: u16, expect: Option<u16>) -> bool {
    match expect {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    }
}

/// `--healthcheck`: where to reach this process's own `/healthz`, given its listen address.
/// A wildcard address is reached on loopback; a specific one (such as `::1`) as it is.
pub fn healthcheck_targets(listen: SocketAddr) -> Vec<SocketAddr> {
    let port = listen.port();
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
        IpAddr::V6(ip) if ip.is_unspecified() => {
            vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port)), SocketAddr::from((Ipv6Addr::LOCALHOST, port))]
        }
        _ => vec![listen],
    }
}

/// GETs `/healthz` on the first target that answers.
pub fn healthcheck(listen: SocketAddr) -> Result<u16, String> {
    let targets = healthcheck_targets(listen);
    let authority = targets.first().map_or_else(String::new, SocketAddr::to_string);
    get_status(&targets, &authority, "/healthz")
}

/// GETs `path` from the first address that accepts a connection and returns the status code,
/// within [`TIMEOUT`], on a current-thread runtime of its own.
#[inline(never)]
fn get_status(addrs: &[SocketAddr], authority: &str, path: &str) -> Result<u16, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the client: {e}"))?;
    runtime.block_on(async {
        let exchange = async {
            let mut last_error = String::from("no address to connect to");
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return exchange(stream, authority, path).await,
                    Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
                }
            }
            Err(last_error)
        };
        tokio::time::timeout(TIMEOUT, exchange).await.unwrap_or_else(|_| Err(format!("timed out after {TIMEOUT:?}")))
    })
}

async fn exchange(stream: TcpStream, authority: &str, path: &str) -> Result<u16, String> {
    // `parse_url` let only printable ASCII through, which both take: this is only a safeguard.
    let invalid = || format!("cannot make a request for {authority} {path}");
    let mut request = Request::new(http_body_util::Empty::<bytes::Bytes>::new());
    *request.uri_mut() = path.parse().map_err(|_| invalid())?;
    let headers = request.headers_mut();
    headers.insert(HOST, HeaderValue::from_str(authority).map_err(|_| invalid())?);
    headers.insert(USER_AGENT, HeaderValue::from_static("back-probe"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    let (mut sender, connection) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("cannot send the request: {e}"))?;
    // The connection does the I/O while the request waits for its answer, in this one task.
    let mut connection = std::pin::pin!(connection);
    let mut response = std::pin::pin!(sender.send_request(request));
    let response = tokio::select! {
        biased;
        response = &mut response => response,
        // The connection ended first: the request's own error says why.
        _ = &mut connection => response.await,
    };
    match response {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) if e.is_parse() => Err("the answer is not HTTP".to_owned()),
        Err(e) => Err(format!("no answer: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn url(host: &str, port: u16, path: &str, authority: &str) -> Url {
        Url { authority: authority.into(), host: host.into(), port, path: path.into() }
    }

    #[test]
    fn urls() {
        assert_eq!(parse_url("http://back:5000/healthz"), Ok(url("back", 5000, "/healthz", "back:5000")));
        assert_eq!(parse_url("http://127.0.0.1"), Ok(url("127.0.0.1", 80, "/", "127.0.0.1")));
        assert_eq!(parse_url("http://[::1]:8080/a?b=c#frag"), Ok(url("::1", 8080, "/a?b=c", "[::1]:8080")));
        assert_eq!(parse_url("http://h?x"), Ok(url("h", 80, "/?x", "h")));
        for bad in [
            "https://a/",
            "ftp://a",
            "http://",
            "http:///x",
            "http://a:99999/",
            "http://a:x/",
            "http://a:/",
            "http://u@a/",
            "http://[zz]/",
            "http://a/b c",
            "http://a/\r\nX: y",
            "http://a/<b>",
            "back:5000",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn healthcheck_reaches_wildcards_on_loopback() {
        assert_eq!(healthcheck_targets("0.0.0.0:5000".parse().unwrap()), vec!["127.0.0.1:5000".parse().unwrap()]);
        assert_eq!(
            healthcheck_targets("[::]:5000".parse().unwrap()),
            vec!["127.0.0.1:5000".parse().unwrap(), "[::1]:5000".parse().unwrap()]
        );
        assert_eq!(healthcheck_targets("[::1]:81".parse().unwrap()), vec!["[::1]:81".parse().unwrap()]);
    }

    #[test]
    fn expected_statuses() {
        assert!(is_expected(200, None) && is_expected(204, None));
        assert!(!is_expected(401, None) && !is_expected(301, None));
        assert!(is_expected(401, Some(401)));
        assert!(!is_expected(200, Some(401)) && !is_expected(502, Some(401)));
    }

    /// The status of `answer`, sent by a one-connection server after it has read the request.
    fn status_of(answer: &'static [u8]) -> Result<u16, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = stream.write_all(answer);
            String::from_utf8(request).unwrap()
        });
        let status = get_status(&[addr], "h:1", "/p?q");
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /p?q HTTP/1.1\r\n"), "{request:?}");
        assert!(request.contains("host: h:1\r\n") && request.contains("connection: close\r\n"), "{request:?}");
        status
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), Ok(200));
        assert_eq!(status_of(b"HTTP/1.0 503 Service Unavailable\r\n\r\nx"), Ok(503));
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n"), Err("the answer is not HTTP".to_owned()));
        assert_eq!(status_of(b"HTTP/1.1 2000 OK\r\n\r\n"), Err("the answer is not HTTP".to_owned()));
        assert!(status_of(b"").unwrap_err().starts_with("no answer"));
    }

    #[test]
    fn closed_port_fails_fast() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(get_status(&[addr], "x", "/").is_err());
    }

    #[test]
    fn names_are_resolved() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = probe(&parse_url(&format!("http://localhost:{port}/")).unwrap()).unwrap_err();
        assert!(error.starts_with("cannot connect to"), "{error}");
    }
}
