//! Shared helpers for the HTTP tests: run the real `back` binary on a free port and talk to it
//! with a tiny raw HTTP/1.1 client. Every test file that needs a server does `mod common;`.
//!
//! Stable API (other test files depend on it):
//! - `Server::start(&[("VAR", "value")])` spawns the binary with a clean environment plus
//!   `HOST=127.0.0.1 PORT=0` (the given variables win), waits for its `listening on` line and
//!   kills it on drop. `server.addr()`, `server.pid()`, `server.stdout()`, `server.terminate()`,
//!   `server.wait(timeout)`. `Server::start_with_fd_limit(&[..], n)` runs it under `ulimit -n n`.
//! - `run_to_exit(&[..], &[args], timeout)` runs the binary to completion: `(code, stdout, stderr)`.
//! - `send(addr, method, path, headers, body) -> HttpResponse`, `get(addr, path)`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The compiled binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_back");

/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `back` process, killed when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The threads reading stdout and stderr; joined once the process has exited, so that
    /// `stdout()` then holds every line it printed.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts the binary with `env` (on top of `HOST=127.0.0.1`, `PORT=0`) and waits until it listens.
    /// Panics (failing the test) with the process output if it does not start.
    pub fn start(env: &[(&str, &str)]) -> Server {
        match Server::try_start(env) {
            Ok(server) => server,
            Err(message) => panic!("back did not start: {message}"),
        }
    }

    /// Like `start`, with at most `max_open_files` file descriptors (`ulimit -n`).
    pub fn start_with_fd_limit(env: &[(&str, &str)], max_open_files: u32) -> Server {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("ulimit -n {max_open_files} && exec \"$0\"")).arg(BIN);
        match Server::spawn(with_env(command, env)) {
            Ok(server) => server,
            Err(message) => panic!("back did not start: {message}"),
        }
    }

    /// Like `start`, but returns the process output as an error instead of panicking.
    pub fn try_start(env: &[(&str, &str)]) -> Result<Server, String> {
        Server::spawn(command(env))
    }

    fn spawn(mut command: Command) -> Result<Server, String> {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| format!("cannot spawn {BIN}: {e}"))?;
        let stdout_pipe = child.stdout.take().ok_or("no stdout pipe")?;
        let stderr_pipe = child.stderr.take().ok_or("no stderr pipe")?;

        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let readers = vec![
            collect_lines(stdout_pipe, stdout.clone(), Some(addr_tx)),
            collect_lines(stderr_pipe, stderr.clone(), None),
        ];

        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stdout, stderr, readers };
        match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                server.addr = addr;
                Ok(server)
            }
            Err(_) => {
                let status = server.wait(Duration::from_millis(500));
                Err(format!(
                    "no `listening on` line (exit: {status:?})\nstdout: {:?}\nstderr: {:?}",
                    server.stdout(),
                    server.stderr()
                ))
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    /// Lines printed on stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends a signal by name (`TERM`, `INT`, ...).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // The pipes close with the process: read them to the end.
                    for reader in self.readers.drain(..) {
                        let _ = reader.join();
                    }
                    return Some(status);
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }

    /// Waits until a stdout line contains `needle`, up to `timeout`.
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_line(needle, timeout, false)
    }

    /// Waits until a stdout or stderr line contains `needle`, up to `timeout`.
    pub fn wait_for_stdout_or_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_line(needle, timeout, true)
    }

    fn wait_for_line(&self, needle: &str, timeout: Duration, stderr_too: bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let found = |lines: Vec<String>| lines.iter().any(|line| line.contains(needle));
            if found(self.stdout()) || (stderr_too && found(self.stderr())) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a clean environment, `HOST=127.0.0.1 PORT=0`, then `env`.
fn command(env: &[(&str, &str)]) -> Command {
    with_env(Command::new(BIN), env)
}

fn with_env(mut command: Command, env: &[(&str, &str)]) -> Command {
    command.env_clear().env("HOST", "127.0.0.1").env("PORT", "0");
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    // Without a store of its own, the default /data/student_age.json is not writable on a test
    // host: the back would wait for it, unready. Tests that do not use the store make it read-only.
    if !env.iter().any(|(name, _)| matches!(*name, "STUDENT_AGE_FILE" | "STUDENTS_READ_ONLY" | "STUDENTS_DATABASE_URL"))
    {
        command.env("STUDENTS_READ_ONLY", "true");
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Reads `pipe` line by line into `lines`; sends the address of the first `listening on` line.
fn collect_lines(
    pipe: impl Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
    addr: Option<mpsc::Sender<SocketAddr>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut addr = addr;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(found) = listening_addr(&line) {
                if let Some(tx) = addr.take() {
                    let _ = tx.send(found);
                }
            }
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    })
}

/// The address in a `listening on <addr>` log line, text or JSON.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Runs the binary with `env` and `args` until it exits (killed after `timeout`).
/// Returns `(exit code, stdout, stderr)`; the code is `None` when killed by a signal or the timeout.
pub fn run_to_exit(env: &[(&str, &str)], args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = command(env)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn back");
    let mut stdout_pipe = child.stdout.take().expect("stdout");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout_pipe.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    (code, out.join().unwrap_or_default(), err.join().unwrap_or_default())
}

/// A fresh directory under the system temp dir, removed when dropped; `label` names it.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("racontemoi-{label}-")).tempdir().expect("create a temporary directory")
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
/// `Host` and, when there is a body or the method is POST/PUT/PATCH, `Content-Length` are added
/// unless given in `headers`.
pub fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has("connection") {
        request.push_str("Connection: close\r\n");
    }
    if !has("content-length") && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let raw = exchange(addr, &bytes);
    parse_response(&raw, method == "HEAD")
        .unwrap_or_else(|| panic!("bad HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

/// `GET path` with no extra header.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    send(addr, "GET", path, &[], b"")
}

/// Writes `request` on a new connection and reads until the server closes it (10 s at most).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    stream.write_all(request).expect("write request");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

/// Parses one HTTP/1.1 response. With `head`, the body is empty whatever `Content-Length` says.
pub fn parse_response(raw: &[u8], head: bool) -> Option<HttpResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head_text = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let body = if head {
        Vec::new()
    } else {
        match headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()) {
            Some(len) => rest.get(..len)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(HttpResponse { status, headers, body })
}
