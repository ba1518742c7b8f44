//! The durable student store: the original flat `{"name": "age"}` file of the Flask service and
//! the in-memory snapshot every read is served from.
//!
//! - Reads take the current `Arc<Snapshot>` (a short read lock) and never wait for a write.
//! - Writes are serialised by one async mutex. The new file is written next to the old one,
//!   fsynced, renamed over it, and the directory fsynced; only then is the snapshot swapped.
//!   A failed write leaves the file and the memory as they were.
//! - The file keeps the original format, as Python's `json.dump(data, f, indent=4,
//!   ensure_ascii=False)` wrote it: flat, ages as they were (strings, or integers in a hand-edited
//!   file), key order kept, so the old service and its scripts still read it. The wrapped
//!   `{"student_ages": {...}}` file of earlier releases still loads, and is written flat.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, PoisonError, RwLock};

use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{oneshot, Mutex};

use super::lock::StoreLock;
use super::validate;

pub const READ_ONLY_BY_CONFIGURATION: &str = "student store is read-only (STUDENTS_READ_ONLY=true)";

/// The embedded file used when the store file does not exist yet; the file is written on the first change.
const SAMPLE_FILE: &str = "student_age.sample.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub name: String,
    pub age: u8,
    /// The age as a JSON token, exactly as the file has it (`"012"` or, hand-edited, `13`):
    /// the legacy routes and the file show it unchanged, as the Flask original did.
    pub stored_age: String,
}

impl Student {
    /// A student written through the API: its age is stored as a string, like the original's.
    pub fn new(name: String, age: u8) -> Self {
        Student { name, age, stored_age: format!("\"{age}\"") }
    }
}

/// The students in file order, with an index by name.
#[derive(Debug, Clone, Default)]
pub struct Students {
    entries: Vec<Student>,
    positions: HashMap<String, usize>,
}

impl Students {
    pub fn get(&self, name: &str) -> Option<&Student> {
        self.positions.get(name).and_then(|&at| self.entries.get(at))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Student> {
        self.entries.iter()
    }

    /// Applies one change, or says why it cannot be (and changes nothing).
    fn apply(&mut self, change: Change) -> Result<(), WriteError> {
        match change {
            Change::Create { name, age } => {
                self.insert(Student::new(name, age)).then_some(()).ok_or(WriteError::Exists)
            }
            Change::Update { name, age } => {
                self.replace(Student::new(name, age)).then_some(()).ok_or(WriteError::Missing)
            }
            Change::Delete { name } => self.remove(&name).then_some(()).ok_or(WriteError::Missing),
        }
    }

    /// Adds `student` at the end; false (and no change) when the name is taken.
    fn insert(&mut self, student: Student) -> bool {
        if self.positions.contains_key(&student.name) {
            return false;
        }
        self.positions.insert(student.name.clone(), self.entries.len());
        self.entries.push(student);
        true
    }

    fn replace(&mut self, student: Student) -> bool {
        match self.positions.get(&student.name).and_then(|&at| self.entries.get_mut(at)) {
            Some(slot) => {
                *slot = student;
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, name: &str) -> bool {
        let Some(at) = self.positions.remove(name) else {
            return false;
        };
        if at < self.entries.len() {
            self.entries.remove(at);
        }
        for (i, student) in self.entries.iter().enumerate().skip(at) {
            self.positions.insert(student.name.clone(), i);
        }
        true
    }
}

/// What every read is served from; replaced whole after each committed write.
pub struct Snapshot {
    pub students: Students,
    /// `{"student_ages": {...}}`, ready to send.
    pub legacy_list: Bytes,
    /// `{"students": [...]}`, ready to send.
    pub list: Bytes,
}

impl Snapshot {
    fn new(students: Students) -> Self {
        let legacy_list = Bytes::from(legacy_list_json(&students));
        let list = Bytes::from(list_json(&students));
        Snapshot { students, legacy_list, list }
    }
}

/// The legacy list, spaced like the Flask original: `{"student_ages": {"alice": "12"}}`.
fn legacy_list_json(students: &Students) -> String {
    let pairs: Vec<String> = students.iter().map(legacy_pair).collect();
    format!("{{\"student_ages\": {{{}}}}}", pairs.join(", "))
}

/// One student as the legacy routes and the file show it: `"alice": "12"`.
pub fn legacy_pair(student: &Student) -> String {
    format!("{}: {}", json_string(&student.name), student.stored_age)
}

fn list_json(students: &Students) -> String {
    let items: Vec<String> = students.iter().map(student_json).collect();
    format!("{{\"students\":[{}]}}", items.join(","))
}

/// `{"name":"alice","age":12}`, the REST representation (name first, unlike a sorted `Value`).
pub fn student_json(student: &Student) -> String {
    format!("{{\"name\":{},\"age\":{}}}", json_string(&student.name), student.age)
}

fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// The file as written: the original flat format, byte for byte what Python's
/// `json.dump(data, f, indent=4, ensure_ascii=False)` writes (no final newline).
fn file_json(students: &Students) -> String {
    let lines: Vec<String> = students.iter().map(|s| format!("    {}", legacy_pair(s))).collect();
    if lines.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{\n{}\n}}", lines.join(",\n"))
    }
}

/// Why the store cannot be opened at startup: one line, naming the file.
#[derive(Debug)]
pub struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A change asked for by a write request.
#[derive(Debug, Clone)]
pub enum Change {
    Create { name: String, age: u8 },
    Update { name: String, age: u8 },
    Delete { name: String },
}

/// Why a write was not done.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// Create of a name that exists.
    Exists,
    /// Update or delete of a name that does not exist.
    Missing,
    /// The file could not be replaced; nothing changed.
    Io(Arc<io::Error>),
    /// The file was replaced (and the memory follows it) but the directory could not be synced,
    /// so the change may not survive a power loss.
    NotDurable(Arc<io::Error>),
    /// The write task was lost (the runtime is shutting down).
    Aborted,
    /// This store takes no write (read-only by configuration, or the lock is not held): why.
    Unavailable(Arc<str>),
}

/// Whether a store takes writes.
#[derive(Debug)]
pub enum Access {
    /// The single writer: the lock is held (for as long as the store lives).
    Writable(#[allow(dead_code, reason = "held, never read: dropping it releases the lock")] StoreLock),
    /// Read-only by design (`STUDENTS_READ_ONLY`): no lock, writes refused, ready.
    ReadOnly,
    /// Meant to be writable, but the lock is not held (yet): writes refused, unready; the reason.
    Standby(Arc<str>),
}

type Reply = oneshot::Sender<Result<(), WriteError>>;

pub struct Store {
    path: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Changes waiting for the next group commit, each with where to send its outcome.
    queue: StdMutex<Vec<(Change, Reply)>>,
    writer: Mutex<()>,
    /// True when the file did not exist at start and the embedded sample is served.
    serves_sample: bool,
    access: Access,
}

impl Store {
    /// Reads the store file, or the embedded sample when there is no file. Any other problem
    /// (unreadable, invalid JSON, wrong shape, invalid entry) is an error: the file is never
    /// silently replaced.
    pub fn open(path: &Path, access: Access) -> Result<Self, OpenError> {
        let shown = path.display();
        let (students, serves_sample) = match fs::read(path) {
            Ok(content) => {
                let students =
                    parse(&content).map_err(|e| OpenError(format!("student store {shown} is corrupt: {e}")))?;
                (students, false)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let sample = crate::embedded::file(SAMPLE_FILE)
                    .ok_or_else(|| OpenError(format!("embedded {SAMPLE_FILE} is missing")))?;
                let students =
                    parse(sample).map_err(|e| OpenError(format!("embedded student sample is invalid: {e}")))?;
                (students, true)
            }
            Err(e) => return Err(OpenError(format!("cannot read student store {shown}: {e}"))),
        };
        Ok(Store {
            path: path.to_owned(),
            snapshot: RwLock::new(Arc::new(Snapshot::new(students))),
            queue: StdMutex::new(Vec::new()),
            writer: Mutex::new(()),
            serves_sample,
            access,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn serves_sample(&self) -> bool {
        self.serves_sample
    }

    /// Why this store is not ready (it should write but does not hold the lock), if so.
    pub fn unready_reason(&self) -> Option<&Arc<str>> {
        match &self.access {
            Access::Standby(reason) => Some(reason),
            Access::Writable(_) | Access::ReadOnly => None,
        }
    }

    /// Why this store refuses every write, if it does.
    fn refusal(&self) -> Option<Arc<str>> {
        match &self.access {
            Access::Writable(_) => None,
            Access::ReadOnly => Some(Arc::from(READ_ONLY_BY_CONFIGURATION)),
            Access::Standby(reason) => Some(Arc::clone(reason)),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies `change` durably: `Ok` once the file holding it is committed.
    ///
    /// Concurrent writes are committed in groups: each write queues its change, then waits for
    /// the writer lock; the first to get it commits every queued change with one file write
    /// (one fsync pair for many clients), answers them all, and releases the lock. The work runs
    /// in its own task, so a queued change is committed or refused even if its request goes away,
    /// and the memory always follows the file.
    pub async fn apply(self: &Arc<Self>, change: Change) -> Result<(), WriteError> {
        if let Some(reason) = self.refusal() {
            return Err(WriteError::Unavailable(reason));
        }
        let store = Arc::clone(self);
        tokio::spawn(store.queue_and_commit(change)).await.unwrap_or(Err(WriteError::Aborted))
    }

    async fn queue_and_commit(self: Arc<Self>, change: Change) -> Result<(), WriteError> {
        let (reply, mut answer) = oneshot::channel();
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push((change, reply));
        let _writer = self.writer.lock().await;
        if let Ok(result) = answer.try_recv() {
            return result; // committed by an earlier group
        }
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        let mut students = self.snapshot().students.clone();
        let mut waiting = Vec::with_capacity(batch.len());
        for (change, reply) in batch {
            match students.apply(change) {
                Ok(()) => waiting.push(reply),
                Err(refused) => {
                    let _ = reply.send(Err(refused));
                }
            }
        }
        if !waiting.is_empty() {
            let content = file_json(&students);
            let next = Arc::new(Snapshot::new(students));
            let store = Arc::clone(&self);
            let outcome = tokio::task::spawn_blocking(move || {
                let commit = replace_file(&store.path, content.as_bytes());
                if commit.renamed {
                    *store.snapshot.write().unwrap_or_else(PoisonError::into_inner) = next;
                }
                commit.outcome
            })
            .await
            .unwrap_or(Err(WriteError::Aborted));
            for reply in waiting {
                let _ = reply.send(outcome.clone());
            }
        }
        answer.try_recv().unwrap_or(Err(WriteError::Aborted))
    }
}

struct Commit {
    /// The new file is in place: the memory must follow it.
    renamed: bool,
    outcome: Result<(), WriteError>,
}

/// Atomically replaces `path` with `content`: temporary file in the same directory, fsync,
/// rename over the old file, fsync of the directory. On failure before the rename, the temporary
/// file is removed and the old file is untouched.
fn replace_file(path: &Path, content: &[u8]) -> Commit {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(path.file_name().unwrap_or_default());
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);

    let written = write_synced(&temp, content).and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        // Best effort: the directory may be the very thing that is missing or read-only.
        let _ = fs::remove_file(&temp);
        return Commit { renamed: false, outcome: Err(WriteError::Io(Arc::new(e))) };
    }
    let outcome = File::open(dir).and_then(|d| d.sync_all()).map_err(|e| WriteError::NotDurable(Arc::new(e)));
    Commit { renamed: true, outcome }
}

fn write_synced(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

/// The wrapped file of earlier releases: exactly one key, `student_ages`, holding an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappedFile {
    student_ages: Entries,
}

/// The `student_ages` object, in file order (a `serde_json::Map` would sort it).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of student names to ages, such as {\"alice\": \"12\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Parses and checks a store file: the original flat object, or the wrapped one of earlier
/// releases. Ages may be strings (the original format) or JSON integers (a hand-edited file).
fn parse(content: &[u8]) -> Result<Students, String> {
    // The wrapped form is tried first: it fails at the first key of a flat file, at no cost.
    let entries = match serde_json::from_slice::<WrappedFile>(content) {
        Ok(wrapped) => wrapped.student_ages,
        Err(_) => serde_json::from_slice::<Entries>(content).map_err(|e| e.to_string())?,
    };
    let mut students = Students::default();
    for (name, age) in entries.0 {
        let quoted = json_string(&name);
        validate::check_name(&name).map_err(|rule| format!("student {quoted}: {rule}"))?;
        let (age, stored_age) = match age {
            Value::String(text) => (
                validate::age_from_text(&text)
                    .map_err(|rule| format!("student {quoted}: {rule} (found {})", json_string(&text)))?,
                json_string(&text),
            ),
            Value::Number(number) if number.is_u64() => (
                validate::age_from_json(&Value::Number(number.clone()))
                    .map_err(|rule| format!("student {quoted}: {rule} (found {number})"))?,
                number.to_string(),
            ),
            other => return Err(format!("student {quoted}: age {other} is not a number or a string")),
        };
        if !students.insert(Student { name, age, stored_age }) {
            return Err(format!("student {quoted} appears twice"));
        }
    }
    Ok(students)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("racontemoi-store-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn file(&self, content: &str) -> PathBuf {
            let path = self.0.join("student_age.json");
            fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A writable store (its lock held) at `path`.
    fn open(path: &Path) -> Store {
        let lock = super::super::lock::try_lock(path).expect("the store's lock");
        Store::open(path, Access::Writable(lock)).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn names(store: &Store) -> Vec<String> {
        store.snapshot().students.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn the_sample_is_valid_and_served_when_there_is_no_file() {
        let dir = TempDir::new();
        let store = Store::open(&dir.0.join("student_age.json"), Access::ReadOnly).unwrap();
        assert!(store.serves_sample());
        assert_eq!(&store.snapshot().legacy_list[..], br#"{"student_ages": {"alice": "12", "bob": "13"}}"#);
        assert!(!dir.0.join("student_age.json").exists(), "no file before the first change");
    }

    /// The original `simple_api/student_age.json`, byte for byte.
    const ORIGINAL: &str = "{\n    \"bob\": \"13\",\n    \"alice\": \"12\"\n}\n";

    #[test]
    fn the_original_flat_file_loads_and_is_served_in_its_order() {
        let dir = TempDir::new();
        let path = dir.file(ORIGINAL);
        let store = open(&path);
        assert_eq!(&store.snapshot().legacy_list[..], br#"{"student_ages": {"bob": "13", "alice": "12"}}"#);
        assert_eq!(fs::read_to_string(&path).unwrap(), ORIGINAL, "a read never rewrites the file");
    }

    #[test]
    fn a_hand_edited_file_is_served_as_the_original_would() {
        let dir = TempDir::new();
        let path = dir.file(r#"{"zoe": "012", "élodie": "9", "bob": 13}"#);
        let store = open(&path);
        assert!(!store.serves_sample());
        let snapshot = store.snapshot();
        // Flask's json.load kept 13 an integer, and jsonify served it so.
        assert_eq!(
            &snapshot.legacy_list[..],
            r#"{"student_ages": {"zoe": "012", "élodie": "9", "bob": 13}}"#.as_bytes()
        );
        assert_eq!(
            &snapshot.list[..],
            r#"{"students":[{"name":"zoe","age":12},{"name":"élodie","age":9},{"name":"bob","age":13}]}"#.as_bytes()
        );
        assert_eq!(snapshot.students.get("zoe").map(|s| s.age), Some(12));
    }

    #[test]
    fn the_wrapped_file_of_earlier_releases_still_loads_and_is_written_flat() {
        let dir = TempDir::new();
        let path = dir.file("{\n  \"student_ages\": {\n    \"zoe\": \"14\",\n    \"al\\\"ice\": \"12\"\n  }\n}\n");
        let store = Arc::new(open(&path));
        assert_eq!(names(&store), ["zoe", "al\"ice"]);
        runtime().block_on(store.apply(Change::Create { name: "élodie".into(), age: 9 })).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n    \"zoe\": \"14\",\n    \"al\\\"ice\": \"12\",\n    \"élodie\": \"9\"\n}"
        );
        // A student may be called student_ages: with a string age, the file is flat.
        let path = dir.file(r#"{"student_ages": "12"}"#);
        assert_eq!(names(&Store::open(&path, Access::ReadOnly).unwrap()), ["student_ages"]);
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        let dir = TempDir::new();
        for (content, expected) in [
            ("", "EOF"),
            ("{not json", "key must be a string"),
            ("[]", "an object of student names to ages"),
            ("12", "an object of student names to ages"),
            (r#"{"student_ages": []}"#, "is not a number or a string"),
            (r#"{"a": "twelve"}"#, "age must be a whole number"),
            (r#"{"a": "200"}"#, "age must be a whole number"),
            (r#"{"a": 200}"#, "age must be a whole number"),
            (r#"{"a": -1}"#, "is not a number or a string"),
            (r#"{"a": 12.5}"#, "is not a number or a string"),
            (r#"{"a": null}"#, "is not a number or a string"),
            (r#"{"a/b": "1"}"#, "name must be"),
            (r#"{"a": "1", "a": "2"}"#, "appears twice"),
            (r#"{"student_ages": {"a": "twelve"}}"#, "age must be a whole number"),
        ] {
            let path = dir.file(content);
            let error =
                Store::open(&path, Access::ReadOnly).err().unwrap_or_else(|| panic!("{content} accepted")).to_string();
            assert!(error.starts_with(&format!("student store {} is corrupt: ", path.display())), "{error}");
            assert!(error.contains(expected), "{content}: {error}");
            assert!(!error.contains('\n'), "{error}");
            assert_eq!(fs::read_to_string(&path).unwrap(), content, "never replaced");
        }
    }

    #[test]
    fn an_unreadable_file_is_refused() {
        let dir = TempDir::new();
        let error = Store::open(&dir.0, Access::ReadOnly).err().unwrap().to_string();
        assert!(error.starts_with("cannot read student store"), "{error}");
    }

    #[test]
    fn writes_replace_the_file_and_then_the_snapshot() {
        let dir = TempDir::new();
        let path = dir.0.join("student_age.json");
        let store = Arc::new(open(&path));
        runtime().block_on(async {
            store.apply(Change::Create { name: "élodie".into(), age: 9 }).await.unwrap();
            assert!(matches!(
                store.apply(Change::Create { name: "alice".into(), age: 1 }).await,
                Err(WriteError::Exists)
            ));
            store.apply(Change::Update { name: "alice".into(), age: 150 }).await.unwrap();
            assert!(matches!(
                store.apply(Change::Update { name: "zed".into(), age: 1 }).await,
                Err(WriteError::Missing)
            ));
            store.apply(Change::Delete { name: "bob".into() }).await.unwrap();
            assert!(matches!(store.apply(Change::Delete { name: "bob".into() }).await, Err(WriteError::Missing)));
        });
        assert_eq!(names(&store), ["alice", "élodie"]);
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(content, "{\n    \"alice\": \"150\",\n    \"élodie\": \"9\"\n}");
        assert!(!dir.0.join(".student_age.json.tmp").exists(), "no temporary file left");
        let reopened = Store::open(&path, Access::ReadOnly).unwrap();
        assert_eq!(&reopened.snapshot().legacy_list[..], &store.snapshot().legacy_list[..]);
        assert_eq!(&reopened.snapshot().list[..], &store.snapshot().list[..]);
    }

    #[test]
    fn concurrent_writes_are_committed_in_groups_in_order() {
        let dir = TempDir::new();
        let path = dir.0.join("student_age.json");
        let store = Arc::new(open(&path));
        let results = runtime().block_on(async {
            // 60 creates of 20 names (each name three times) and a delete of bob, all at once.
            let mut tasks: Vec<_> = (0..60)
                .map(|i| {
                    let store = Arc::clone(&store);
                    tokio::spawn(
                        async move { store.apply(Change::Create { name: format!("s{}", i % 20), age: 1 }).await },
                    )
                })
                .collect();
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move { store.apply(Change::Delete { name: "bob".into() }).await }));
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 21);
        assert_eq!(results.iter().filter(|r| matches!(r, Err(WriteError::Exists))).count(), 40);
        let on_disk = Store::open(&path, Access::ReadOnly).unwrap();
        assert_eq!(on_disk.snapshot().students.iter().count(), 21);
        assert!(on_disk.snapshot().students.get("bob").is_none());
        assert_eq!(&on_disk.snapshot().list[..], &store.snapshot().list[..]);
    }

    #[test]
    fn deleting_everything_leaves_a_valid_empty_file() {
        let dir = TempDir::new();
        let path = dir.file(r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        runtime().block_on(store.apply(Change::Delete { name: "a".into() })).unwrap();
        assert_eq!(store.snapshot().students.iter().count(), 0);
        assert_eq!(&store.snapshot().legacy_list[..], br#"{"student_ages": {}}"#);
        assert_eq!(Store::open(&path, Access::ReadOnly).unwrap().snapshot().students.iter().count(), 0);
    }

    #[test]
    fn removal_keeps_the_index_right() {
        let mut students = Students::default();
        for name in ["a", "b", "c", "d"] {
            assert!(students.insert(Student::new(name.into(), 1)));
        }
        assert!(students.remove("b"));
        assert!(!students.remove("b"));
        assert_eq!(students.get("c").map(|s| s.name.as_str()), Some("c"));
        assert_eq!(students.get("d").map(|s| s.name.as_str()), Some("d"));
        assert!(students.replace(Student::new("d".into(), 7)));
        assert_eq!(
            students.iter().map(|s| (s.name.as_str(), s.age)).collect::<Vec<_>>(),
            [("a", 1), ("c", 1), ("d", 7)]
        );
    }

    #[test]
    fn a_store_without_the_lock_refuses_every_write() {
        let dir = TempDir::new();
        let path = dir.file(r#"{"a": "1"}"#);
        for (access, ready) in [(Access::ReadOnly, true), (Access::Standby(Arc::from("waiting")), false)] {
            let store = Arc::new(Store::open(&path, access).unwrap());
            assert_eq!(store.unready_reason().is_none(), ready);
            let result = runtime().block_on(store.apply(Change::Delete { name: "a".into() }));
            assert!(matches!(result, Err(WriteError::Unavailable(_))), "{result:?}");
            assert_eq!(names(&store), ["a"]);
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"a": "1"}"#);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = TempDir::new();
        // A missing directory: the service starts from the sample, and writes fail.
        let elsewhere = super::super::lock::try_lock(&dir.0.join("elsewhere")).unwrap();
        let store =
            Arc::new(Store::open(&dir.0.join("missing/student_age.json"), Access::Writable(elsewhere)).unwrap());
        let before = store.snapshot().legacy_list.clone();
        let result = runtime().block_on(store.apply(Change::Create { name: "carol".into(), age: 7 }));
        assert!(matches!(&result, Err(WriteError::Io(e)) if e.kind() == ErrorKind::NotFound), "{result:?}");
        assert_eq!(store.snapshot().legacy_list, before);

        // The temporary file cannot be created (a directory is in the way), even as root.
        let path = dir.file(r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        fs::create_dir(dir.0.join(".student_age.json.tmp")).unwrap();
        let result = runtime().block_on(store.apply(Change::Create { name: "carol".into(), age: 7 }));
        assert!(matches!(result, Err(WriteError::Io(_))), "{result:?}");
        assert_eq!(names(&store), ["a"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"student_ages": {"a": "1"}}"#);
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = TempDir::new();
        let path = dir.file(r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        // Make the rename fail: the store path becomes a non-empty directory.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), "x").unwrap();
        let result = runtime().block_on(store.apply(Change::Create { name: "b".into(), age: 2 }));
        assert!(matches!(result, Err(WriteError::Io(_))), "{result:?}");
        assert_eq!(names(&store), ["a"]);
        assert!(!dir.0.join(".student_age.json.tmp").exists());
    }
}
