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

/// Where a test back keeps its students. The student-API tests run once per store (`Store::each`):
/// the file, and a fresh PostgreSQL database when `RACONTEMOI_TEST_DATABASE_URL` names a server.
/// Both start as a new deployment does: the file store serves its embedded sample (alice 12,
/// bob 13), and the database gets the same students by `back students import`.
pub enum Store {
    File { dir: TempDir },
    Postgres { dir: TempDir, db: TestDatabase },
}

impl Store {
    /// The file store, then the PostgreSQL store (see `postgres`).
    pub fn each(label: &str) -> Vec<Store> {
        let mut stores = vec![Store::file(label)];
        stores.extend(Store::postgres(label));
        stores
    }

    pub fn file(label: &str) -> Store {
        Store::File { dir: common::temp_dir(label) }
    }

    /// A fresh database on the server of `RACONTEMOI_TEST_DATABASE_URL` (an admin URL), holding
    /// the sample. Without it, one line says the variant is skipped, unless
    /// `RACONTEMOI_REQUIRE_POSTGRES=1` (the back stage sets it) makes that a failure.
    pub fn postgres(label: &str) -> Option<Store> {
        let db = TestDatabase::create(label)?;
        let store = Store::Postgres { dir: common::temp_dir(label), db };
        store.seed(SAMPLE);
        Some(store)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::File { .. } => "file",
            Store::Postgres { .. } => "postgres",
        }
    }

    pub fn is_file(&self) -> bool {
        matches!(self, Store::File { .. })
    }

    /// The test database, for the PostgreSQL store.
    pub fn database(&self) -> Option<&TestDatabase> {
        match self {
            Store::File { .. } => None,
            Store::Postgres { db, .. } => Some(db),
        }
    }

    /// A scratch directory of the test.
    pub fn dir(&self) -> &Path {
        match self {
            Store::File { dir } | Store::Postgres { dir, .. } => dir.path(),
        }
    }

    /// The file store's path (also set, unused, for the database store).
    pub fn path(&self) -> PathBuf {
        self.dir().join("student_age.json")
    }

    /// The variables that pick this store.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("STUDENT_AGE_FILE", self.path().to_str().expect("UTF-8 temp path").to_owned())];
        if let Store::Postgres { db, .. } = self {
            env.push(("STUDENTS_DATABASE_URL", db.url.clone()));
        }
        env
    }

    /// A back with `root:root` on this store, plus `extra` variables.
    pub fn start(&self, extra: &[(&str, &str)]) -> Server {
        eprintln!("store: {}", self.kind());
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(&[("API_USERNAME", "root"), ("API_PASSWORD", "root")]);
        all.extend_from_slice(extra);
        Server::start(&all)
    }

    /// Puts `content` (a student_age.json) in the store before a back starts: the file itself, or
    /// `back students import --replace` of it.
    pub fn seed(&self, content: &str) {
        match self {
            Store::File { .. } => std::fs::write(self.path(), content).expect("write the store"),
            Store::Postgres { .. } => {
                let file = self.dir().join("seed.json");
                std::fs::write(&file, content).expect("write the seed");
                let (code, _, stderr) = self.cli(&["students", "import", "--replace", file.to_str().unwrap()]);
                assert_eq!(code, Some(0), "import failed: {stderr}");
            }
        }
    }

    /// Runs `back ARGS` with this store's variables: (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        common::run_to_exit(&env, args, Duration::from_secs(30))
    }

    /// What the store holds, as the original flat file: the file's bytes, or what `back students
    /// export` prints without the one final newline it adds (so both compare with what
    /// `json.dump(indent=4)` writes).
    pub fn written(&self) -> String {
        match self {
            Store::File { .. } => std::fs::read_to_string(self.path()).expect("read the store"),
            Store::Postgres { .. } => {
                let exported = self.export();
                exported.strip_suffix('\n').expect("export ends with a newline").to_owned()
            }
        }
    }

    /// `back students export`'s whole output.
    pub fn export(&self) -> String {
        let (code, stdout, stderr) = self.cli(&["students", "export"]);
        assert_eq!(code, Some(0), "export failed: {stderr}");
        stdout
    }

    /// The names and ages the store holds (sorted by name); panics unless it is the original flat
    /// format, ages as strings.
    pub fn contents(&self) -> Vec<(String, String)> {
        match self {
            Store::File { .. } => read_store(&self.path()),
            Store::Postgres { .. } => {
                let file = self.dir().join("export.json");
                std::fs::write(&file, self.export()).expect("write the export");
                read_store(&file)
            }
        }
    }
}

/// The embedded sample of a new file store.
const SAMPLE: &str = include_str!("../../data/student_age.sample.json");

/// A database of its own on the test server, dropped at the end.
pub struct TestDatabase {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

static DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl TestDatabase {
    /// `None` (and one line) when no server is given; see `Store::postgres`.
    pub fn create(label: &str) -> Option<TestDatabase> {
        let Some(admin_url) = std::env::var("RACONTEMOI_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(
                std::env::var("RACONTEMOI_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "RACONTEMOI_REQUIRE_POSTGRES=1 but RACONTEMOI_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped the PostgreSQL variant of {label}: RACONTEMOI_TEST_DATABASE_URL is not set");
            return None;
        };
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .take(30)
            .collect();
        let n = DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("it_{label}_{}_{n}", std::process::id());
        admin(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = &base[..base.rfind('/').expect("a URL with a database")];
        let url = if query.is_empty() { format!("{server}/{name}") } else { format!("{server}/{name}?{query}") };
        Some(TestDatabase { admin_url, name, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// Runs one statement on the admin URL's database.
pub fn admin(url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to RACONTEMOI_TEST_DATABASE_URL: {e:?}"));
        let connection = tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        drop(client);
        let _ = connection.await;
    });
}
