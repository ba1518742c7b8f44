//! `back --healthcheck` and `back --probe URL`: a minimal HTTP/1.1 GET over `std::net`, for
//! images without a shell or curl (Docker HEALTHCHECK, Kubernetes exec probes, `helm test`).
//! It sends one request with `Connection: close` and reads only the status line.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The whole exchange, from resolving to reading the status line.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// As written (brackets kept for IPv6), for the `Host` header.
    pub(crate) authority: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
}

pub(crate) fn parse_url(url: &str) -> Result<Url, String> {
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
    let well_formed = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !well_formed(host) || !well_formed(&path) {
        return Err(invalid());
    }
    Ok(Url { authority: authority.to_owned(), host: host.to_owned(), port, path })
}

/// `--probe URL`: the status line's code, or why there is none.
pub(crate) fn probe(url: &Url) -> Result<u16, String> {
    let deadline = Instant::now() + TIMEOUT;
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .collect();
    get_status(&addrs, &url.authority, &url.path, deadline)
}

/// Whether `--probe` succeeds on `status`: the `--expect`ed status, or any 2xx without one.
pub(crate) fn is_expected(status: u16, expect: Option<u16>) -> bool {
    match expect {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    }
}

/// `--healthcheck`: where to reach this process's own `/healthz`, given its listen address.
/// A wildcard address is reached on loopback; a specific one (such as `::1`) as it is.
pub(crate) fn healthcheck_targets(listen: SocketAddr) -> Vec<SocketAddr> {
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
pub(crate) fn healthcheck(listen: SocketAddr) -> Result<u16, String> {
    let targets = healthcheck_targets(listen);
    let authority = targets.first().map_or_else(String::new, SocketAddr::to_string);
    get_status(&targets, &authority, "/healthz", Instant::now() + TIMEOUT)
}

/// Connects to the first address that accepts before `deadline`, sends `GET path` and returns
/// the status code.
fn get_status(addrs: &[SocketAddr], authority: &str, path: &str, deadline: Instant) -> Result<u16, String> {
    let mut last_error = String::from("no address to connect to");
    for addr in addrs {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(format!("timed out after {TIMEOUT:?}"));
        }
        match TcpStream::connect_timeout(addr, remaining) {
            Ok(stream) => return exchange(stream, authority, path, deadline),
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last_error)
}

fn exchange(mut stream: TcpStream, authority: &str, path: &str, deadline: Instant) -> Result<u16, String> {
    let timeout = |what: &str| format!("timed out {what} after {TIMEOUT:?}");
    let remaining = || Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero());
    stream.set_write_timeout(remaining()).map_err(|_| timeout("sending"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: back-probe\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send the request: {e}"))?;

    let mut head = Vec::with_capacity(128);
    let mut chunk = [0u8; 128];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream
            .set_read_timeout(Some(remaining().ok_or_else(|| timeout("waiting"))?))
            .map_err(|_| timeout("waiting"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    parse_status_line(&head).ok_or_else(|| "the answer is not HTTP".to_owned())
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let mut words = std::str::from_utf8(line).ok()?.split_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
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
            "http://u@a/",
            "http://[zz]/",
            "http://a/b c",
            "http://a/\r\nX: y",
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

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 503 Service Unavailable\r\nx"), Some(503));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn closed_port_fails_fast() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(get_status(&[addr], "x", "/", Instant::now() + TIMEOUT).is_err());
    }
}
