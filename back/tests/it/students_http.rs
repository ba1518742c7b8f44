//! The student-ages API over HTTP, on the real binary: legacy reads, REST writes, validation,
//! authentication, configuration, and what a broken or read-only store does. Each test of the API
//! runs on both stores (`Store::each`: the file, and PostgreSQL when a server is given); those of
//! the file's own failures run on the file.

use std::fs;
use std::time::Duration;

use crate::common::{exchange, get, parse_response, run_to_exit, send, temp_dir, Server};
use crate::students_support::{call, call_json, list_all, start, store_in, Store, PREFIX, ROOT};
use serde_json::json;

/// An original Flask-era data file (flat, as `json.dump(indent=4)` wrote it): ages as strings,
/// names in no particular order.
const LEGACY_FILE: &str = r#"{
    "zoe": "14",
    "alice": "12",
    "élodie": "011",
    "bob": "13"
}"#;

fn legacy_store(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = store_in(dir);
    fs::write(&path, LEGACY_FILE).unwrap();
    path
}

#[test]
fn legacy_reads_keep_the_flask_shapes() {
    for store in Store::each("students-legacy") {
        store.seed(LEGACY_FILE);
        legacy_reads(&store);
    }
}

fn legacy_reads(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();

    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some("application/json"));
    assert_eq!(all.text(), r#"{"student_ages": {"zoe": "14", "alice": "12", "élodie": "011", "bob": "13"}}"#);

    let one = call(addr, "GET", &format!("{PREFIX}/get_student_ages/alice"));
    assert_eq!((one.status, one.text().as_str()), (200, r#"{"alice": "12"}"#));
    let accented = call(addr, "GET", &format!("{PREFIX}/get_student_ages/%C3%A9lodie"));
    assert_eq!((accented.status, accented.text().as_str()), (200, r#"{"élodie": "011"}"#));

    let missing = call(addr, "GET", &format!("{PREFIX}/get_student_ages/nobody"));
    assert_eq!((missing.status, missing.text().as_str()), (404, r#"{"error":"Not found"}"#));
    assert_eq!(missing.json(), json!({"error": "Not found"}));

    for bad in ["%", "%zz", "al%2", "%FF", "%C3%28"] {
        let response = call(addr, "GET", &format!("{PREFIX}/get_student_ages/{bad}"));
        assert_eq!(response.status, 400, "{bad}");
        assert!(response.json()["error"].as_str().unwrap().contains("student name"), "{bad}");
    }

    // A read never rewrites the original file (nor changes the database).
    assert_eq!(store.written(), LEGACY_FILE);
}

#[test]
fn authentication_guards_every_student_route_and_only_those() {
    for store in Store::each("students-auth") {
        authentication(&store);
    }
}

fn authentication(store: &Store) {
    // 35 wrong logins from one address: throttling is off here (login_throttle.rs tests it).
    let server = store.start(&[("LOGIN_THROTTLE_FAILURES", "0")]);
    let addr = server.addr();
    let paths = [
        format!("{PREFIX}/get_student_ages"),
        format!("{PREFIX}/get_student_ages/alice"),
        format!("{PREFIX}/students"),
        format!("{PREFIX}/students/alice"),
        format!("{PREFIX}/no-such-route"),
    ];
    let wrong: &[Option<&str>] = &[
        None,
        Some("Basic cm9vdDp3cm9uZw=="), // root:wrong
        Some("Basic dG9vcjpyb290"),     // toor:root
        Some("Basic cm9vdA=="),         // root (no colon)
        Some("Basic !!!notbase64!!!"),
        Some("Basic"),
        Some("Bearer cm9vdDpyb290"),
        Some("cm9vdDpyb290"),
    ];
    for path in &paths {
        for header in wrong {
            let headers: Vec<(&str, &str)> = header.iter().map(|h| ("Authorization", *h)).collect();
            let response = send(addr, "GET", path, &headers, b"");
            assert_eq!(response.status, 401, "{path} {header:?}");
            assert_eq!(response.text(), r#"{"error":"Unauthorized access"}"#);
            assert_eq!(response.header("www-authenticate"), Some(r#"Basic realm="racontemoi", charset="UTF-8""#));
        }
    }
    // A write without credentials changes nothing.
    let sneaky = send(
        addr,
        "POST",
        &format!("{PREFIX}/students"),
        &[("Content-Type", "application/json")],
        br#"{"name":"x","age":1}"#,
    );
    assert_eq!(sneaky.status, 401);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/students/x")).status, 404);

    // The scheme name is case-insensitive; the right credentials pass.
    let lower = send(addr, "GET", &format!("{PREFIX}/students"), &[("Authorization", "basic cm9vdDpyb290")], b"");
    assert_eq!(lower.status, 200);
    // The story route needs no credentials.
    assert_eq!(get(addr, "/racontemoiunehistoire").status, 200);
}

#[test]
fn credentials_come_from_files_too() {
    for store in Store::each("students-secret-files") {
        credentials_from_files(&store);
    }
}

fn credentials_from_files(store: &Store) {
    let user = store.dir().join("username");
    let pass = store.dir().join("password");
    fs::write(&user, "admin\n").unwrap();
    fs::write(&pass, "s3cr3t:pa ss\n").unwrap();
    let env = store.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([("API_USERNAME_FILE", user.to_str().unwrap()), ("API_PASSWORD_FILE", pass.to_str().unwrap())]);
    let server = Server::start(&env);
    let path = format!("{PREFIX}/get_student_ages");
    // admin:s3cr3t:pa ss
    let good = send(server.addr(), "GET", &path, &[("Authorization", "Basic YWRtaW46czNjcjN0OnBhIHNz")], b"");
    assert_eq!(good.status, 200);
    assert_eq!(send(server.addr(), "GET", &path, &[("Authorization", ROOT)], b"").status, 401);
}

#[test]
fn without_credentials_the_student_routes_answer_503() {
    for store in Store::each("students-unconfigured") {
        without_credentials(&store);
    }
}

fn without_credentials(store: &Store) {
    let env = store.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let addr = server.addr();
    for (method, path) in [
        ("GET", format!("{PREFIX}/get_student_ages")),
        ("GET", format!("{PREFIX}/get_student_ages/alice")),
        ("GET", format!("{PREFIX}/students")),
        ("POST", format!("{PREFIX}/students")),
        ("DELETE", format!("{PREFIX}/students/alice")),
    ] {
        let response = send(addr, method, &path, &[("Authorization", ROOT)], b"");
        assert_eq!(response.status, 503, "{method} {path}");
        assert_eq!(response.json(), json!({"error": "student API not configured: set API_USERNAME and API_PASSWORD"}));
    }
    assert_eq!(get(addr, "/racontemoiunehistoire").status, 200);
    assert_eq!(get(addr, "/healthz").status, 200);
    let warnings: Vec<String> =
        server.stderr().into_iter().filter(|line| line.contains(" warn ") && line.contains("API_USERNAME")).collect();
    assert_eq!(warnings.len(), 1, "one startup warning about the missing credentials: {warnings:?}");
    assert_eq!(get(addr, "/readyz").status, 200);
}

/// Issue 21: `cargo run -p back` on a machine without /data, no credentials set: the student API
/// is off, so its store is neither opened nor locked, and the back is ready. (Before, the
/// default store's missing directory kept /readyz at 503.)
#[test]
fn without_credentials_the_store_is_not_opened_and_the_back_is_ready() {
    let dir = temp_dir("students-off");
    let missing = dir.path().join("data/student_age.json");
    let server = Server::start(&[("STUDENT_AGE_FILE", missing.to_str().unwrap())]);
    let ready = get(server.addr(), "/readyz");
    assert_eq!((ready.status, ready.text().as_str()), (200, r#"{"status":"ready"}"#));
    assert!(!server.stderr().iter().any(|line| line.contains("not ready")), "{:?}", server.stderr());
    // Nor is a store that would stop the start read: it is not opened at all.
    fs::write(store_in(&dir), "{not json").unwrap();
    let server = Server::start(&[("STUDENT_AGE_FILE", store_in(&dir).to_str().unwrap())]);
    assert_eq!(get(server.addr(), "/readyz").status, 200);
    assert!(!dir.path().join(".student_age.json.lock").exists(), "no lock taken");
}

#[test]
fn rest_create_read_update_delete() {
    for store in Store::each("students-rest") {
        rest_crud(&store);
    }
}

fn rest_crud(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();
    let students = format!("{PREFIX}/students");

    let list = call(addr, "GET", &students);
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json(),
        json!({"students": [{"name": "alice", "age": 12}, {"name": "bob", "age": 13}], "next_cursor": null})
    );
    assert_eq!(list.header("link"), None, "one page only");
    if store.is_file() {
        assert!(!store.path().exists(), "the sample is not written before the first change");
    }

    let created = call_json(addr, "POST", &students, r#"{"name": "élodie", "age": 9}"#);
    assert_eq!(created.status, 201);
    assert_eq!(created.json(), json!({"name": "élodie", "age": 9}));
    assert_eq!(created.header("location"), Some(format!("{PREFIX}/students/%C3%A9lodie").as_str()));
    let fetched = call(addr, "GET", created.header("location").unwrap());
    assert_eq!((fetched.status, fetched.json()), (200, json!({"name": "élodie", "age": 9})));

    let duplicate = call_json(addr, "POST", &students, r#"{"name": "élodie", "age": 10}"#);
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.json(), json!({"error": "student \"élodie\" already exists"}));

    let updated = call_json(addr, "PUT", &format!("{students}/alice"), r#"{"age": 13}"#);
    assert_eq!((updated.status, updated.json()), (200, json!({"name": "alice", "age": 13})));
    assert_eq!(call_json(addr, "PUT", &format!("{students}/nobody"), r#"{"age": 1}"#).status, 404);

    let deleted = call(addr, "DELETE", &format!("{students}/bob"));
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    let gone = call(addr, "GET", &format!("{students}/bob"));
    assert_eq!((gone.status, gone.json()), (404, json!({"error": "student \"bob\" not found"})));
    assert_eq!(call(addr, "DELETE", &format!("{students}/bob")).status, 404);

    // The legacy routes see the writes, ages as strings; the file keeps the legacy format.
    let legacy = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(legacy.text(), r#"{"student_ages": {"alice": "13", "élodie": "9"}}"#);
    assert_eq!(store.contents(), [("alice".into(), "13".into()), ("élodie".into(), "9".into())]);

    // HEAD answers like GET, without a body.
    let head = call(addr, "HEAD", &students);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(call(addr, "GET", &students).body.len().to_string().as_str()));

    // A restarted server serves what was acknowledged.
    drop(server);
    let server = store.start(&[]);
    assert_eq!(call(server.addr(), "GET", &format!("{PREFIX}/get_student_ages")).text(), legacy.text());
}

#[test]
fn every_invalid_body_is_a_4xx_naming_the_problem() {
    for store in Store::each("students-validation") {
        validation(&store);
    }
}

fn validation(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();
    let students = format!("{PREFIX}/students");
    let alice = format!("{PREFIX}/students/alice");
    let long_name = "é".repeat(101);
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", &students, r#"{"name": "", "age": 1}"#.into(), 400, "name must be 1 to 100 characters"),
        ("POST", &students, format!(r#"{{"name": "{long_name}", "age": 1}}"#), 400, "name must be 1 to 100"),
        ("POST", &students, r#"{"name": "a/b", "age": 1}"#.into(), 400, "'/'"),
        ("POST", &students, r#"{"name": "tab\there", "age": 1}"#.into(), 400, "control characters"),
        ("POST", &students, r#"{"name": 12, "age": 1}"#.into(), 400, "name must be"),
        ("POST", &students, r#"{"name": "x", "age": 12.5}"#.into(), 400, "age must be a whole number from 0 to 150"),
        ("POST", &students, r#"{"name": "x", "age": 12.0}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": "12"}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": -1}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": 151}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": true}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": null}"#.into(), 400, "age must be a whole number"),
        ("POST", &students, r#"{"name": "x", "age": 1, "grade": 3}"#.into(), 400, r#"unknown field "grade""#),
        ("POST", &students, r#"{"name": "x"}"#.into(), 400, r#"missing field "age""#),
        ("POST", &students, "{}".into(), 400, r#"missing fields "name", "age""#),
        ("POST", &students, r#"{"name": "x", "age": 1"#.into(), 400, "malformed JSON"),
        ("POST", &students, "[1, 2]".into(), 400, "must be a JSON object"),
        ("POST", &students, "".into(), 400, "request body is empty"),
        ("PUT", &alice, r#"{"age": 200}"#.into(), 400, "age must be a whole number"),
        ("PUT", &alice, r#"{"name": "alice", "age": 2}"#.into(), 400, r#"unknown field "name""#),
        ("PUT", &alice, "{}".into(), 400, r#"missing field "age""#),
    ];
    for (method, path, body, status, needle) in &cases {
        let response = call_json(addr, method, path, body);
        assert_eq!(response.status, *status, "{method} {path} {body}");
        let error = response.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(needle), "{body}: {error:?} should contain {needle:?}");
    }

    // Content type: JSON only, parameters allowed.
    let body = br#"{"name": "carol", "age": 7}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut headers = vec![("Authorization", ROOT)];
        headers.extend(content_type.map(|ct| ("Content-Type", ct)));
        let response = send(addr, "POST", &students, &headers, body);
        assert_eq!(response.status, 415, "{content_type:?}");
        assert!(response.json()["error"].as_str().unwrap().contains("application/json"));
    }
    let charset = send(
        addr,
        "POST",
        &students,
        &[("Authorization", ROOT), ("Content-Type", "application/json; charset=utf-8")],
        body,
    );
    assert_eq!(charset.status, 201);

    // Size: 16 KiB at most, by Content-Length and while reading a chunked body.
    let big = format!(r#"{{"name": "x", "age": 1, "pad": "{}"}}"#, "a".repeat(17 * 1024));
    let declared = call_json(addr, "POST", &students, &big);
    assert_eq!(declared.status, 413);
    assert!(declared.json()["error"].as_str().unwrap().contains("16384 bytes"));
    let chunked = format!(
        "POST {students} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {ROOT}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let response = parse_response(&exchange(addr, chunked.as_bytes()), false).expect("an answer");
    assert_eq!(response.status, 413);

    // Nothing invalid got in.
    let names: Vec<String> = store.contents().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
}

#[test]
fn routes_methods_and_prefix() {
    for store in Store::each("students-routes") {
        store.seed(LEGACY_FILE);
        routes(&store);
    }
}

fn routes(store: &Store) {
    let server = store.start(&[("STUDENTS_API_PREFIX", "/pozos/api/v1.0")]);
    let addr = server.addr();
    let ok = call(addr, "GET", "/pozos/api/v1.0/get_student_ages/alice");
    assert_eq!((ok.status, ok.text().as_str()), (200, r#"{"alice": "12"}"#));
    assert_eq!(call(addr, "GET", "/supmit/api/v1.0/get_student_ages").status, 404);

    for (method, path, allow) in [
        ("POST", "/pozos/api/v1.0/get_student_ages", "GET, HEAD, OPTIONS"),
        ("DELETE", "/pozos/api/v1.0/get_student_ages/alice", "GET, HEAD, OPTIONS"),
        ("PATCH", "/pozos/api/v1.0/students", "GET, HEAD, POST, OPTIONS"),
        ("POST", "/pozos/api/v1.0/students/alice", "GET, HEAD, PUT, DELETE, OPTIONS"),
    ] {
        let response = call(addr, method, path);
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allow));
        assert_eq!(response.json(), json!({"error": "method not allowed"}));
        let options = send(addr, "OPTIONS", path, &[], b"");
        assert_eq!((options.status, options.header("allow")), (204, Some(allow)), "OPTIONS {path}");
    }
    for path in [
        "/pozos/api/v1.0",
        "/pozos/api/v1.0/",
        "/pozos/api/v1.0/students/",
        "/pozos/api/v1.0/students/a/b",
        "/pozos/api/v1.0/other",
    ] {
        let response = call(addr, "GET", path);
        assert_eq!(response.status, 404, "{path}");
        assert!(response.json()["error"].is_string());
    }
}

#[test]
fn a_store_that_cannot_be_written_still_serves_reads() {
    // Its directory does not exist: the sample is served and writes fail cleanly.
    let dir = temp_dir("students-no-dir");
    let missing = dir.path().join("absent/student_age.json");
    let server = start(&missing, &[]);
    let addr = server.addr();
    let before = call(addr, "GET", &format!("{PREFIX}/get_student_ages")).text();
    let refused = call_json(addr, "POST", &format!("{PREFIX}/students"), r#"{"name": "carol", "age": 7}"#);
    assert_eq!(refused.status, 503);
    assert!(refused.json()["error"].as_str().unwrap().starts_with("student store directory is missing"));
    // Meant to be writable but cannot be: not ready, said in one log line.
    let ready = get(addr, "/readyz");
    assert_eq!(ready.status, 503);
    assert!(ready.json()["reason"].as_str().unwrap().starts_with("student store directory is missing"));
    let said: Vec<String> = server.stderr().into_iter().filter(|l| l.contains("not ready")).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("STUDENTS_READ_ONLY"), "{said:?}");
    assert_eq!(call(addr, "DELETE", &format!("{PREFIX}/students/alice")).status, 503);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages")).text(), before);
    assert!(!missing.exists());
    drop(server);

    // The temporary file cannot be created (a directory is in its way, which stops root too):
    // the write is refused, the file and the answers stay as they were.
    let dir = temp_dir("students-blocked");
    let store = legacy_store(&dir);
    fs::create_dir(dir.path().join(".student_age.json.tmp")).unwrap();
    let server = start(&store, &[]);
    let addr = server.addr();
    let refused = call_json(addr, "PUT", &format!("{PREFIX}/students/alice"), r#"{"age": 30}"#);
    assert!(refused.status >= 500, "{}", refused.status);
    assert!(refused.json()["error"].as_str().unwrap().contains("nothing was changed"));
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages/alice")).text(), r#"{"alice": "12"}"#);
    assert_eq!(fs::read_to_string(&store).unwrap(), LEGACY_FILE);
}

#[test]
fn a_read_only_store_mounted_by_another_user_still_serves_reads() {
    // Real permissions: the back runs as `nobody` (setpriv) over a store owned by root, 0644 in a
    // 0755 directory, like a read-only ConfigMap mount. Skipped where setpriv cannot switch user.
    let dir = temp_dir("students-read-only");
    let store = legacy_store(&dir);
    if !crate::students_support::can_run_as_nobody() {
        eprintln!("skipped: setpriv cannot run the back as uid 65534 here");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o644)).unwrap();
    let server = crate::students_support::start_as_nobody(&store);
    let addr = server.addr();
    let read = call(addr, "GET", &format!("{PREFIX}/get_student_ages/alice"));
    assert_eq!((read.status, read.text().as_str()), (200, r#"{"alice": "12"}"#));
    let refused = call_json(addr, "POST", &format!("{PREFIX}/students"), r#"{"name": "carol", "age": 7}"#);
    assert_eq!(refused.status, 503);
    assert!(
        refused.json()["error"].as_str().unwrap().starts_with("student store is not writable"),
        "{}",
        refused.text()
    );
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/students/carol")).status, 404);
    assert_eq!(get(addr, "/readyz").status, 503, "meant to be writable, and it is not");
    assert_eq!(fs::read_to_string(&store).unwrap(), LEGACY_FILE);
}

#[test]
fn a_store_read_only_by_design_is_ready_and_refuses_writes() {
    for store in Store::each("students-read-only-by-design") {
        store.seed(LEGACY_FILE);
        read_only_by_design(&store);
    }
}

fn read_only_by_design(store: &Store) {
    let server = store.start(&[("STUDENTS_READ_ONLY", "true")]);
    let addr = server.addr();
    assert_eq!(get(addr, "/readyz").status, 200);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages/alice")).text(), r#"{"alice": "12"}"#);
    let refused = call_json(addr, "PUT", &format!("{PREFIX}/students/alice"), r#"{"age": 30}"#);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "student store is read-only (STUDENTS_READ_ONLY=true); nothing was changed");
    assert_eq!(store.written(), LEGACY_FILE);
    assert!(!store.dir().join(".student_age.json.lock").exists(), "a read-only store takes no lock");
}

#[test]
fn a_corrupt_store_stops_the_start_with_one_line() {
    let dir = temp_dir("students-corrupt");
    for content in ["{\"alice\": \"12\"", "[]", r#"{"alice": "twelve"}"#, r#"{"alice": 12.5}"#] {
        fs::write(store_in(&dir), content).unwrap();
        let (code, stdout, stderr) = run_to_exit(
            &[
                ("API_USERNAME", "root"),
                ("API_PASSWORD", "root"),
                ("STUDENT_AGE_FILE", store_in(&dir).to_str().unwrap()),
            ],
            &[],
            Duration::from_secs(10),
        );
        assert!(code.is_some_and(|c| c != 0), "{content}: exit {code:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("student store")).collect();
        assert_eq!(lines.len(), 1, "stdout {stdout:?} stderr {stderr:?}");
        assert!(lines[0].contains(store_in(&dir).to_str().unwrap()) && lines[0].contains("is corrupt"), "{stderr}");
        assert_eq!(fs::read_to_string(store_in(&dir)).unwrap(), content, "never replaced");
    }
}

#[test]
fn the_served_openapi_document_lists_exactly_the_methods_each_route_allows() {
    let store = Store::file("students-openapi");
    let server = store.start(&[]);
    let addr = server.addr();
    let document = get(addr, "/openapi.json");
    assert_eq!(document.status, 200);
    let paths = document.json()["paths"].as_object().cloned().expect("paths");
    for route in ["/get_student_ages", "/get_student_ages/{name}", "/students", "/students/{name}"] {
        assert!(paths.contains_key(&format!("{PREFIX}{route}")), "{route} is not documented");
    }
    for (path, item) in &paths {
        let mut documented: Vec<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| *k != "parameters")
            .map(|k| k.to_ascii_uppercase())
            .collect();
        documented.sort();
        let concrete = path.replace("{name}", "alice");
        let options = send(addr, "OPTIONS", &concrete, &[], b"");
        let mut allowed: Vec<String> =
            options.header("allow").unwrap_or_default().split(',').map(|m| m.trim().to_owned()).collect();
        allowed.sort();
        assert_eq!(documented, allowed, "{path}");
    }
}

#[test]
fn the_rest_list_pages_with_limit_and_cursor_and_the_legacy_list_stays_whole() {
    for store in Store::each("students-paging") {
        paging(&store);
    }
}

fn paging(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();
    let students = format!("{PREFIX}/students");
    for i in 0..250 {
        assert_eq!(call_json(addr, "POST", &students, &format!(r#"{{"name": "s{i:03}", "age": 1}}"#)).status, 201);
    }
    // The default page is 100 students, with the next one's cursor in the body and a Link.
    let first = call(addr, "GET", &students);
    let body = first.json();
    assert_eq!(body["students"].as_array().unwrap().len(), 100);
    assert_eq!(body["students"][0]["name"], "alice");
    let cursor = body["next_cursor"].as_str().expect("a next cursor").to_owned();
    let link = first.header("link").expect("a Link header");
    assert_eq!(link, format!("<{students}?limit=100&cursor={cursor}>; rel=\"next\""));

    // A delete between pages skips nobody and repeats nobody.
    assert_eq!(call(addr, "DELETE", &format!("{students}/s098")).status, 204);
    let next = call(addr, "GET", &format!("{students}?limit=100&cursor={cursor}")).json();
    assert_eq!(next["students"][0]["name"], "s099");
    let walked = list_all(addr);
    assert_eq!(walked.len(), 2 + 250 - 1);
    assert_eq!(walked.iter().filter(|(name, _)| name == "s099").count(), 1);

    // The last page has no cursor and no Link.
    let last = call(addr, "GET", &format!("{students}?limit=1000"));
    assert_eq!(last.json()["students"].as_array().unwrap().len(), 251);
    assert!(last.json()["next_cursor"].is_null());
    assert_eq!(last.header("link"), None);

    for bad in ["limit=0", "limit=1001", "limit=x", "cursor=x", "cursor=-1"] {
        let refused = call(addr, "GET", &format!("{students}?{bad}"));
        assert_eq!(refused.status, 400, "{bad}");
        assert!(refused.json()["error"].as_str().unwrap().contains(bad.split('=').next().unwrap()), "{bad}");
    }
    for unknown in ["=false", "limit=5&page=2"] {
        let refused = call(addr, "GET", &format!("{students}?{unknown}"));
        assert_eq!(refused.status, 400, "{unknown}");
        assert!(refused.json()["error"].as_str().unwrap().contains("unknown query parameter"), "{unknown}");
    }
    // get_student_ages stays whole.
    let legacy = call(addr, "GET", &format!("{PREFIX}/get_student_ages")).json();
    assert_eq!(legacy["student_ages"].as_object().unwrap().len(), 251);
}

#[test]
fn students_max_refuses_a_create_beyond_it_and_leaves_the_file() {
    for store in Store::each("students-max") {
        store.seed(LEGACY_FILE); // 4 students
        students_max(&store);
    }
}

fn students_max(store: &Store) {
    let server = store.start(&[("STUDENTS_MAX", "5")]);
    let addr = server.addr();
    let students = format!("{PREFIX}/students");
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "e", "age": 1}"#).status, 201);
    let before = store.written();
    let refused = call_json(addr, "POST", &students, r#"{"name": "f", "age": 1}"#);
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.json()["error"],
        "student store is full: it holds at most 5 students (STUDENTS_MAX); nothing was changed"
    );
    assert_eq!(store.written(), before, "the file is untouched");
    // Updates and deletes still work, and a delete makes room.
    assert_eq!(call_json(addr, "PUT", &format!("{students}/e"), r#"{"age": 2}"#).status, 200);
    assert_eq!(call(addr, "DELETE", &format!("{students}/e")).status, 204);
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "f", "age": 1}"#).status, 201);

    let (code, _, stderr) = run_to_exit(
        &[("API_USERNAME", "root"), ("API_PASSWORD", "root"), ("STUDENTS_MAX", "0")],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("invalid STUDENTS_MAX"), "{stderr}");
}
