//! Helpers shared by the student-API HTTP tests (`students_*.rs`), on top of `common`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::common::{self, HttpResponse, Server};

pub const PREFIX: &str = "/supmit/api/v1.0";
/// `root:root`, the credentials compose sets for local use (as the Flask original did).
pub const ROOT: &str = "Basic cm9vdDpyb290";

/// The store path in `dir` (the file itself is not created).
pub fn store_in(dir: &TempDir) -> PathBuf {
    dir.path().join("student_age.json")
}

/// A back with `root:root` and its store at `store`, plus `extra` variables.
pub fn start(store: &Path, extra: &[(&str, &str)]) -> Server {
    let store = store.to_str().expect("UTF-8 temp path");
    let mut env = vec![("API_USERNAME", "root"), ("API_PASSWORD", "root"), ("STUDENT_AGE_FILE", store)];
    env.extend_from_slice(extra);
    Server::start(&env)
}

/// An authenticated request without a body.
pub fn call(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    common::send(addr, method, path, &[("Authorization", ROOT)], b"")
}

/// An authenticated request with a JSON body.
pub fn call_json(addr: SocketAddr, method: &str, path: &str, body: &str) -> HttpResponse {
    common::send(addr, method, path, &[("Authorization", ROOT), ("Content-Type", "application/json")], body.as_bytes())
}

/// Every student of the REST list, following `next_cursor` page after page: (name, age) in order.
pub fn list_all(addr: SocketAddr) -> Vec<(String, u64)> {
    let mut all = Vec::new();
    let mut path = format!("{PREFIX}/students?limit=1000");
    loop {
        let page = call(addr, "GET", &path);
        assert_eq!(page.status, 200, "{}", page.text());
        let body = page.json();
        for student in body["students"].as_array().expect("a students array") {
            all.push((student["name"].as_str().unwrap().to_owned(), student["age"].as_u64().unwrap()));
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{PREFIX}/students?limit=1000&cursor={cursor}"),
            None => return all,
        }
    }
}

/// `POST {PREFIX}/students` with a name and age, without panicking when the server is gone
/// (the crash test kills it mid-storm): `None` when no complete answer came back.
pub fn try_create(addr: SocketAddr, name: &str, age: u8) -> Option<u16> {
    let body = serde_json::json!({ "name": name, "age": age }).to_string();
    let request = format!(
        "POST {PREFIX}/students HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {ROOT}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    common::parse_response(&raw, false).map(|response| response.status)
}

/// The names and ages of a store file (sorted by name); panics (failing the test) unless it is
/// the original flat format: one object of names to age strings.
pub fn read_store(path: &Path) -> Vec<(String, String)> {
    let content = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_slice(&content)
        .unwrap_or_else(|e| panic!("store is not JSON ({e}): {}", String::from_utf8_lossy(&content)));
    let ages = value.as_object().expect("a flat object of names to ages");
    ages.iter()
        .map(|(name, age)| (name.clone(), age.as_str().expect("ages are written as strings").to_owned()))
        .collect()
}

/// A back run as user `nobody` (uid 65534) through `setpriv`, killed on drop.
pub struct NobodyServer {
    child: std::process::Child,
    addr: SocketAddr,
}

impl NobodyServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NobodyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SETPRIV_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// True when this machine can run the back as `nobody` (root, setpriv, a binary nobody may run).
pub fn can_run_as_nobody() -> bool {
    std::process::Command::new("setpriv")
        .args(SETPRIV_NOBODY)
        .args([common::BIN, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts the back as `nobody` with `root:root` and its store at `store`.
pub fn start_as_nobody(store: &Path) -> NobodyServer {
    use std::io::BufRead;
    let mut child = std::process::Command::new("setpriv")
        .args(SETPRIV_NOBODY)
        .arg(common::BIN)
        .env_clear()
        .envs([("HOST", "127.0.0.1"), ("PORT", "0"), ("API_USERNAME", "root"), ("API_PASSWORD", "root")])
        .env("STUDENT_AGE_FILE", store)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn setpriv");
    let stdout = child.stdout.take().expect("stdout pipe");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = common::listening_addr(&line) {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("the back, run as nobody, did not start");
    NobodyServer { child, addr }
}
