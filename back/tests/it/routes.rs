//! Every route of the core, over a real socket: methods, content negotiation, CORS, errors, ops.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{get, send, temp_dir, Server};

const STORY: &str = "/racontemoiunehistoire";

fn server() -> Server {
    Server::start(&[])
}

#[test]
fn story_is_plain_text_by_default() {
    let server = server();
    for accept in [None, Some("*/*"), Some("text/plain"), Some("text/html,application/xhtml+xml,*/*;q=0.8")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let response = send(server.addr(), "GET", STORY, &headers, b"");
        assert_eq!(response.status, 200, "{accept:?}");
        assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"), "{accept:?}");
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("vary"), Some("Accept"));
        let text = response.text();
        assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        assert_eq!(response.header("content-length"), Some(response.body.len().to_string().as_str()));
    }
}

#[test]
fn story_is_json_when_asked() {
    let server = server();
    for accept in ["application/json", "text/plain;q=0.5, application/json", "application/*"] {
        let response = send(server.addr(), "GET", STORY, &[("Accept", accept)], b"");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"), "{accept}");
        assert_eq!(response.header("vary"), Some("Accept"));
        let story = response.json()["histoire"].as_str().expect("histoire is a string").to_owned();
        assert!(!story.is_empty());
    }
}

#[test]
fn stories_are_random_lines() {
    let server = server();
    let seen: HashSet<String> = (0..40).map(|_| get(server.addr(), STORY).text()).collect();
    assert!(seen.len() > 5, "only {} different stories in 40 requests", seen.len());
}

#[test]
fn stories_file_replaces_the_embedded_one() {
    let dir = temp_dir("stories");
    let file = dir.path().join("stories.txt");
    std::fs::write(&file, "Première histoire.\r\n\r\n   \nDeuxième histoire.\n").unwrap();
    let server = Server::start(&[("STORIES_FILE", file.to_str().unwrap())]);
    let seen: HashSet<String> = (0..30).map(|_| get(server.addr(), STORY).text()).collect();
    let expected: HashSet<String> = ["Première histoire.".to_owned(), "Deuxième histoire.".to_owned()].into();
    assert_eq!(seen, expected);
}

#[test]
fn head_has_the_headers_and_no_body() {
    let server = server();
    let response = send(server.addr(), "HEAD", STORY, &[], b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    let length: usize = response.header("content-length").expect("content-length").parse().unwrap();
    assert!(length > 0);
    // Nothing follows the head: the raw answer ends right after the blank line.
    let raw = crate::common::exchange(
        server.addr(),
        format!("HEAD {STORY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(raw.ends_with(b"\r\n\r\n"), "{:?}", String::from_utf8_lossy(&raw));
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(send(server.addr(), "HEAD", path, &[], b"").status, 200, "{path}");
    }
}

#[test]
fn other_methods_get_405_with_allow() {
    let server = server();
    for path in [STORY, "/healthz", "/readyz", "/metrics", "/openapi.json"] {
        for method in ["POST", "PUT", "DELETE", "PATCH", "BREW"] {
            let response = send(server.addr(), method, path, &[], b"");
            assert_eq!(response.status, 405, "{method} {path}");
            assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
            assert_eq!(response.json()["error"], "method not allowed");
        }
    }
}

#[test]
fn unknown_paths_get_404_json() {
    let server = server();
    for path in [
        "/",
        "/nope",
        "/healthz/",
        "/racontemoiunehistoire/x",
        "/racontemoi%75nehistoire",
        "/%00",
        "/%ff%fe",
        "/a?b=%00",
    ] {
        let response = get(server.addr(), path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.json()["error"], "not found");
    }
    // A query string does not change the route.
    assert_eq!(get(server.addr(), "/healthz?verbose=1").status, 200);
}

#[test]
fn options_without_cors_lists_the_methods() {
    let server = server();
    let response = send(server.addr(), "OPTIONS", STORY, &[("Origin", "http://front.example")], b"");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(response.header("access-control-allow-origin"), None);
    let response = get(server.addr(), STORY);
    assert_eq!(response.header("access-control-allow-origin"), None);
}

#[test]
fn cors_for_listed_origins() {
    let server = Server::start(&[("CORS_ALLOW_ORIGIN", "http://localhost:8080, https://front.example")]);
    let preflight = [("Origin", "https://front.example"), ("Access-Control-Request-Method", "GET")];
    let response = send(server.addr(), "OPTIONS", STORY, &preflight, b"");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("access-control-allow-origin"), Some("https://front.example"));
    assert_eq!(response.header("vary"), Some("Origin"));
    assert_eq!(response.header("access-control-allow-methods"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(response.header("access-control-allow-headers"), Some("Authorization, Content-Type"));
    assert!(response.header("access-control-max-age").is_some());

    let response = send(server.addr(), "GET", STORY, &[("Origin", "http://localhost:8080")], b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), Some("http://localhost:8080"));
    let vary: Vec<&str> = response.headers.iter().filter(|(n, _)| n == "vary").map(|(_, v)| v.as_str()).collect();
    assert_eq!(vary, ["Accept", "Origin"]);

    // Errors carry CORS headers too, so the page can read them.
    let response = send(server.addr(), "GET", "/nope", &[("Origin", "http://localhost:8080")], b"");
    assert_eq!(response.status, 404);
    assert_eq!(response.header("access-control-allow-origin"), Some("http://localhost:8080"));

    // An origin not on the list gets no CORS header at all.
    let evil = [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")];
    let response = send(server.addr(), "OPTIONS", STORY, &evil, b"");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(response.header("access-control-allow-methods"), None);
    let response = send(server.addr(), "GET", STORY, &[("Origin", "https://evil.example")], b"");
    assert_eq!(response.header("access-control-allow-origin"), None);
}

#[test]
fn cors_for_any_origin() {
    let server = Server::start(&[("CORS_ALLOW_ORIGIN", "*")]);
    let response = send(server.addr(), "GET", STORY, &[("Origin", "https://anything.example")], b"");
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(get(server.addr(), STORY).header("access-control-allow-origin"), None);
}

#[test]
fn cors_covers_the_student_routes() {
    let server = Server::start(&[("CORS_ALLOW_ORIGIN", "http://localhost:8080")]);
    let preflight = [("Origin", "http://localhost:8080"), ("Access-Control-Request-Method", "POST")];
    let response = send(server.addr(), "OPTIONS", "/supmit/api/v1.0/students", &preflight, b"");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("access-control-allow-origin"), Some("http://localhost:8080"));
    assert_eq!(response.header("access-control-allow-headers"), Some("Authorization, Content-Type"));
    let methods = response.header("access-control-allow-methods").expect("allow-methods");
    assert!(methods.contains("GET") && methods.contains("POST"), "{methods}");
    assert!(response.header("allow").expect("allow").contains("OPTIONS"));

    let response = send(server.addr(), "OPTIONS", "/supmit/api/v1.0/no-such-route", &preflight, b"");
    assert_eq!(response.status, 404);

    // Whatever the student API answers (503 when not configured), the page may read it.
    let response =
        send(server.addr(), "GET", "/supmit/api/v1.0/get_student_ages", &[("Origin", "http://localhost:8080")], b"");
    assert_eq!(response.header("access-control-allow-origin"), Some("http://localhost:8080"));
}

#[test]
fn health_and_readiness() {
    let server = server();
    let response = get(server.addr(), "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
    let response = get(server.addr(), "/readyz");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), serde_json::json!({"status": "ready"}));
}

#[test]
fn metrics_count_requests_by_route() {
    let server = server();
    get(server.addr(), STORY);
    get(server.addr(), STORY);
    get(server.addr(), "/nope");
    send(server.addr(), "DELETE", "/healthz", &[], b"");
    let response = get(server.addr(), "/metrics");
    assert_eq!(response.status, 200);
    assert!(response.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text();
    for line in [
        "http_requests_total{route=\"story\",status=\"200\"} 2",
        "http_requests_total{route=\"not_found\",status=\"404\"} 1",
        "http_requests_total{route=\"healthz\",status=\"405\"} 1",
        "http_requests_in_flight 1",
        "http_request_duration_seconds_count 4",
        "# TYPE http_request_duration_seconds histogram",
        &format!("racontemoi_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn openapi_document() {
    let server = server();
    let response = get(server.addr(), "/openapi.json");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response.json()["openapi"].as_str().unwrap().starts_with("3."));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    use std::io::{Read, Write};
    let server = server();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!("GET {STORY} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(format!("{request}{request}{request}").as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    while raw.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count() < 3 {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn access_log_has_one_line_per_request() {
    let server = server();
    get(server.addr(), STORY);
    send(server.addr(), "HEAD", "/healthz", &[], b"");
    get(server.addr(), "/nope?x=1");
    assert!(server.wait_for_stdout("/nope", Duration::from_secs(5)), "{:?}", server.stdout());
    let lines = server.stdout();
    assert!(lines.iter().any(|l| l.contains(" GET /racontemoiunehistoire 200 ") && l.ends_with("ms")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(" HEAD /healthz 200 0B ")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(" GET /nope 404 21B ")), "{lines:?}");
}

#[test]
fn json_logs() {
    let server = Server::start(&[("LOG_FORMAT", "json")]);
    get(server.addr(), "/healthz");
    assert!(server.wait_for_stdout("/healthz", Duration::from_secs(5)));
    let lines = server.stdout();
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(value["ts"].is_string(), "{line}");
    }
    let access: serde_json::Value =
        lines.iter().find(|l| l.contains("/healthz")).map(|l| serde_json::from_str(l).unwrap()).unwrap();
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert_eq!(access["bytes"], 15);
    assert!(access["duration_ms"].is_number());
    assert!(lines.iter().any(|l| l.contains("\"level\":\"info\"") && l.contains("listening on")));
}

#[test]
fn access_log_can_be_turned_off() {
    let server = Server::start(&[("ACCESS_LOG", "false")]);
    get(server.addr(), "/healthz");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(server.stdout().iter().all(|l| !l.contains("/healthz")), "{:?}", server.stdout());
}
