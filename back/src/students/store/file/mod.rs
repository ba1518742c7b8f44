//! The file store (the default, `STUDENT_AGE_FILE`): the durable writer of the file, group commit,
//! and the model (`model.rs`) every read is served from. Its parts: `open.rs` (opened from the
//! configuration: the single-writer lock taken, or waited for, `lock.rs`), `format.rs` (the legacy
//! file format), `durable.rs` (a file replaced atomically and fsynced).
//!
//! - Reads take the model's read lock for a lookup or a page; the legacy list is rendered once per
//!   committed state and kept until the next commit.
//! - Writes are serialised by one async mutex and committed in groups: the changes queued while a
//!   commit runs are checked as one `Plan` against the model (which they do not change), the new
//!   file is streamed from the model with the plan applied into a temporary file next to the old
//!   one, fsynced, renamed over it, and the directory fsynced. Only then does the model take the
//!   plan, in O(changes). A failed write leaves the file and the memory as they were.
//!   The file is written in 256 KiB chunks straight from the model: no copy of the data is built.
//! - A write costs its own I/O plus one pass over the students to render the file: no copy of the
//!   model, no re-serialised answers, no re-indexing.
//! - The file keeps the original flat format (`json.rs`).

use std::fmt;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, PoisonError, RwLock, RwLockReadGuard};

use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::{oneshot, Mutex};

mod durable;
pub(crate) mod format;
mod lock;
pub(crate) mod model;
mod open;

use super::views;
use super::{Change, Failure, WriteError, READ_ONLY_BY_CONFIGURATION};
use durable::{replace_file, Unsaved};
use lock::StoreLock;
use model::{Plan, Refusal, Students};
pub(crate) use open::{open, FileSlot};

/// Why the store cannot be opened at startup: one line, naming the file.
#[derive(Debug)]
pub(crate) struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a store takes writes.
#[derive(Debug)]
pub(crate) enum Access {
    /// The single writer: the lock is held (for as long as the store lives).
    Writable(#[allow(dead_code, reason = "held, never read: dropping it releases the lock")] StoreLock),
    /// Read-only by design (`STUDENTS_READ_ONLY`): no lock, writes refused, ready.
    ReadOnly,
    /// Meant to be writable, but the lock is not held (yet): writes refused, unready; the reason.
    Standby(Arc<str>),
}

type Reply = oneshot::Sender<Result<(), FileError>>;

/// The model and a counter of its committed states.
struct Committed {
    students: Students,
    generation: u64,
}

pub(crate) struct FileStore {
    path: PathBuf,
    committed: RwLock<Committed>,
    /// The legacy list of one committed state (its generation), rendered on first demand.
    legacy_list: StdMutex<Option<(u64, Bytes)>>,
    /// Changes waiting for the next group commit, each with where to send its outcome.
    queue: StdMutex<Vec<(Change, Reply)>>,
    writer: Mutex<()>,
    /// True when the file did not exist at start and the embedded sample is served.
    serves_sample: bool,
    access: Access,
    /// `STUDENTS_MAX`: a create beyond it is refused.
    max: usize,
}

impl FileStore {
    /// Reads the store file, or the embedded sample when there is no file. Any other problem
    /// (unreadable, invalid JSON, wrong shape, invalid entry) is an error: the file is never
    /// silently replaced.
    pub(crate) fn open(path: &Path, access: Access, max: usize) -> Result<Self, OpenError> {
        let shown = path.display();
        let (students, serves_sample) = match fs::read(path) {
            Ok(content) => {
                let students =
                    format::parse(&content).map_err(|e| OpenError(format!("student store {shown} is corrupt: {e}")))?;
                (students, false)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let students = format::parse(crate::embedded::STUDENT_SAMPLE)
                    .map_err(|e| OpenError(format!("embedded student sample is invalid: {e}")))?;
                (students, true)
            }
            Err(e) => return Err(OpenError(format!("cannot read student store {shown}: {e}"))),
        };
        Ok(FileStore {
            path: path.to_owned(),
            committed: RwLock::new(Committed { students, generation: 0 }),
            legacy_list: StdMutex::new(None),
            queue: StdMutex::new(Vec::new()),
            writer: Mutex::new(()),
            serves_sample,
            access,
            max,
        })
    }

    pub(crate) fn serves_sample(&self) -> bool {
        self.serves_sample
    }

    pub(crate) fn len(&self) -> usize {
        self.read().students.len()
    }

    /// Why this store is not ready (it should write but does not hold the lock), if so.
    pub(crate) fn unready_reason(&self) -> Option<&Arc<str>> {
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

    fn read(&self) -> RwLockReadGuard<'_, Committed> {
        self.committed.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the committed students (hold it short: a commit waits for it).
    pub(crate) fn with_students<T>(&self, f: impl FnOnce(&Students) -> T) -> T {
        f(&self.read().students)
    }

    /// `{"student_ages": {...}}` of the committed state, rendered once per commit.
    pub(crate) fn legacy_list(&self) -> Bytes {
        let committed = self.read();
        let mut cache = self.legacy_list.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((generation, list)) = &*cache {
            if *generation == committed.generation {
                return list.clone();
            }
        }
        *cache = None; // free the stale one before rendering the next
        let students = &committed.students;
        let list = Bytes::from(views::legacy_list(students.iter(), students.text_len() + 10 * students.len() + 32));
        *cache = Some((committed.generation, list.clone()));
        list
    }

    /// `{"alice": "12"}`: the legacy answer for one student, if there is one.
    pub(crate) fn legacy_one(&self, name: &str) -> Option<Vec<u8>> {
        self.with_students(|students| students.get(name).map(|student| views::legacy_one(&student)))
    }

    /// `{"name":"alice","age":12}`, if there is such a student.
    pub(crate) fn student(&self, name: &str) -> Option<Vec<u8>> {
        self.with_students(|students| students.get(name).map(|student| views::student(student.name, student.age)))
    }

    /// One REST page from `cursor`, and the next page's cursor.
    pub(crate) fn page(&self, cursor: u32, limit: usize) -> (Vec<u8>, Option<u32>) {
        self.with_students(|students| {
            let (page, next) = students.page(cursor, limit);
            (views::page(&page, next), next)
        })
    }

    /// Applies `change` durably: `Ok` once the file holding it is committed.
    ///
    /// Concurrent writes are committed in groups: each write queues its change, then waits for
    /// the writer lock; the first to get it commits every queued change with one file write
    /// (one fsync pair for many clients), answers them all, and releases the lock. The work runs
    /// in its own task, so a queued change is committed or refused even if its request goes away,
    /// and the memory always follows the file.
    pub(crate) async fn apply(self: &Arc<Self>, change: Change) -> Result<(), FileError> {
        if let Some(reason) = self.refusal() {
            return Err(FileError::Unavailable(reason));
        }
        let store = Arc::clone(self);
        tokio::spawn(store.queue_and_commit(change)).await.unwrap_or(Err(FileError::Aborted))
    }

    async fn queue_and_commit(self: Arc<Self>, change: Change) -> Result<(), FileError> {
        let (reply, mut answer) = oneshot::channel();
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).push((change, reply));
        let _writer = self.writer.lock().await;
        if let Ok(result) = answer.try_recv() {
            return result; // committed by an earlier group
        }
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        let mut plan = Plan::default();
        let mut waiting = Vec::with_capacity(batch.len());
        {
            let committed = self.read();
            for (change, reply) in batch {
                match plan.add(&committed.students, change, self.max) {
                    Ok(()) => waiting.push(reply),
                    Err(refused) => {
                        let _ = reply.send(Err(refused.into()));
                    }
                }
            }
        }
        if !waiting.is_empty() {
            let store = Arc::clone(&self);
            let outcome =
                tokio::task::spawn_blocking(move || store.commit(plan)).await.unwrap_or(Err(FileError::Aborted));
            for reply in waiting {
                let _ = reply.send(outcome.clone());
            }
        }
        answer.try_recv().unwrap_or(Err(FileError::Aborted))
    }

    /// Writes the file with `plan` applied, then (once it is in place) applies `plan` to the model.
    /// Only the writer changes the model, so it cannot change between the two.
    fn commit(&self, plan: Plan) -> Result<(), FileError> {
        let outcome = replace_file(&self.path, |out| {
            let committed = self.read();
            format::write_file(out, committed.students.iter_with(&plan))
        });
        if !matches!(outcome, Err(Unsaved::NotWritten(_))) {
            let mut committed = self.committed.write().unwrap_or_else(PoisonError::into_inner);
            committed.students.apply(plan);
            committed.generation += 1;
            *self.legacy_list.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        outcome.map_err(|unsaved| match unsaved {
            Unsaved::NotWritten(e) => FileError::Io(Arc::new(e)),
            Unsaved::NotSynced(e) => FileError::NotDurable(Arc::new(e)),
        })
    }
}

/// Why the file store did not do a write: the refusals every store shares, and its own failures.
#[derive(Debug, Clone)]
pub(crate) enum FileError {
    /// Create of a name that exists.
    Exists,
    /// Update or delete of a name that does not exist.
    Missing,
    /// A create beyond `STUDENTS_MAX` (the limit).
    Full(usize),
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

impl From<Refusal> for FileError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Exists => FileError::Exists,
            Refusal::Missing => FileError::Missing,
            Refusal::Full(max) => FileError::Full(max),
        }
    }
}

/// The answer to give: the file's own failures worded here, for the handlers.
impl From<FileError> for WriteError {
    fn from(error: FileError) -> Self {
        let failure = |status, message| WriteError::Failed(Failure { status, message, retry_after: None });
        match error {
            FileError::Exists => WriteError::Exists,
            FileError::Missing => WriteError::Missing,
            FileError::Full(max) => WriteError::Full(max),
            FileError::Io(e) => {
                let (status, problem) = io_problem(e.kind());
                failure(status, format!("{problem}: {e}; nothing was changed"))
            }
            FileError::NotDurable(e) => failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("student store was written but its directory could not be synced: {e}"),
            ),
            FileError::Aborted => failure(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down".into()),
            FileError::Unavailable(reason) => WriteError::refused(&reason),
        }
    }
}

/// What an I/O error on the store means, and the status of a write it stops.
pub(super) fn io_problem(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::ReadOnlyFilesystem => (StatusCode::SERVICE_UNAVAILABLE, "student store is read-only"),
        ErrorKind::PermissionDenied => (StatusCode::SERVICE_UNAVAILABLE, "student store is not writable"),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            (StatusCode::INSUFFICIENT_STORAGE, "student store is full")
        }
        ErrorKind::NotFound | ErrorKind::NotADirectory => {
            (StatusCode::SERVICE_UNAVAILABLE, "student store directory is missing")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "student store cannot be written"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// A fresh directory, removed when dropped.
    fn temp_dir() -> TempDir {
        tempfile::Builder::new().prefix("racontemoi-store-").tempdir().unwrap()
    }

    /// Writes `content` to the store file of `dir`; its path.
    fn write_store(dir: &TempDir, content: &str) -> PathBuf {
        let path = dir.path().join("student_age.json");
        fs::write(&path, content).unwrap();
        path
    }

    /// A writable store (its lock held) at `path`.
    fn open(path: &Path) -> FileStore {
        let lock = super::lock::try_lock(path).expect("the store's lock");
        FileStore::open(path, Access::Writable(lock), MAX).unwrap()
    }

    const MAX: usize = 100_000;

    impl FileStore {
        /// Every student, as one REST page.
        fn list(&self) -> Vec<u8> {
            self.with_students(|s| views::page(&s.iter().collect::<Vec<_>>(), None))
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn names(store: &FileStore) -> Vec<String> {
        store.with_students(|s| s.iter().map(|s| s.name.to_owned()).collect())
    }

    #[test]
    fn the_sample_is_valid_and_served_when_there_is_no_file() {
        let dir = temp_dir();
        let store = FileStore::open(&dir.path().join("student_age.json"), Access::ReadOnly, MAX).unwrap();
        assert!(store.serves_sample());
        assert_eq!(&store.legacy_list()[..], br#"{"student_ages": {"alice": "12", "bob": "13"}}"#);
        assert!(!dir.path().join("student_age.json").exists(), "no file before the first change");
    }

    /// The original `simple_api/student_age.json`, byte for byte.
    const ORIGINAL: &str = "{\n    \"bob\": \"13\",\n    \"alice\": \"12\"\n}\n";

    #[test]
    fn the_original_flat_file_loads_and_is_served_in_its_order() {
        let dir = temp_dir();
        let path = write_store(&dir, ORIGINAL);
        let store = open(&path);
        assert_eq!(&store.legacy_list()[..], br#"{"student_ages": {"bob": "13", "alice": "12"}}"#);
        assert_eq!(fs::read_to_string(&path).unwrap(), ORIGINAL, "a read never rewrites the file");
    }

    #[test]
    fn a_hand_edited_file_is_served_as_the_original_would() {
        let dir = temp_dir();
        let path = write_store(&dir, r#"{"zoe": "012", "élodie": "9", "bob": 13}"#);
        let store = open(&path);
        assert!(!store.serves_sample());
        // Flask's json.load kept 13 an integer, and jsonify served it so.
        assert_eq!(
            &store.legacy_list()[..],
            r#"{"student_ages": {"zoe": "012", "élodie": "9", "bob": 13}}"#.as_bytes()
        );
        assert_eq!(
            &store.list()[..],
            r#"{"students":[{"name":"zoe","age":12},{"name":"élodie","age":9},{"name":"bob","age":13}],"next_cursor":null}"#.as_bytes()
        );
        assert_eq!(store.with_students(|s| s.get("zoe").map(|s| s.age)), Some(12));
    }

    #[test]
    fn the_wrapped_file_of_earlier_releases_still_loads_and_is_written_flat() {
        let dir = temp_dir();
        let path =
            write_store(&dir, "{\n  \"student_ages\": {\n    \"zoe\": \"14\",\n    \"al\\\"ice\": \"12\"\n  }\n}\n");
        let store = Arc::new(open(&path));
        assert_eq!(names(&store), ["zoe", "al\"ice"]);
        runtime().block_on(store.apply(Change::Create { name: "élodie".into(), age: 9 })).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n    \"zoe\": \"14\",\n    \"al\\\"ice\": \"12\",\n    \"élodie\": \"9\"\n}"
        );
        // A student may be called student_ages: with a string age, the file is flat.
        let path = write_store(&dir, r#"{"student_ages": "12"}"#);
        assert_eq!(names(&FileStore::open(&path, Access::ReadOnly, MAX).unwrap()), ["student_ages"]);
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        let dir = temp_dir();
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
            let path = write_store(&dir, content);
            let error = FileStore::open(&path, Access::ReadOnly, MAX)
                .err()
                .unwrap_or_else(|| panic!("{content} accepted"))
                .to_string();
            assert!(error.starts_with(&format!("student store {} is corrupt: ", path.display())), "{error}");
            assert!(error.contains(expected), "{content}: {error}");
            assert!(!error.contains('\n'), "{error}");
            assert_eq!(fs::read_to_string(&path).unwrap(), content, "never replaced");
        }
    }

    #[test]
    fn an_unreadable_file_is_refused() {
        let dir = temp_dir();
        let error = FileStore::open(dir.path(), Access::ReadOnly, MAX).err().unwrap().to_string();
        assert!(error.starts_with("cannot read student store"), "{error}");
    }

    #[test]
    fn writes_replace_the_file_and_then_the_snapshot() {
        let dir = temp_dir();
        let path = dir.path().join("student_age.json");
        let store = Arc::new(open(&path));
        runtime().block_on(async {
            store.apply(Change::Create { name: "élodie".into(), age: 9 }).await.unwrap();
            assert!(matches!(
                store.apply(Change::Create { name: "alice".into(), age: 1 }).await,
                Err(FileError::Exists)
            ));
            store.apply(Change::Update { name: "alice".into(), age: 150 }).await.unwrap();
            assert!(matches!(
                store.apply(Change::Update { name: "zed".into(), age: 1 }).await,
                Err(FileError::Missing)
            ));
            store.apply(Change::Delete { name: "bob".into() }).await.unwrap();
            assert!(matches!(store.apply(Change::Delete { name: "bob".into() }).await, Err(FileError::Missing)));
        });
        assert_eq!(names(&store), ["alice", "élodie"]);
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(content, "{\n    \"alice\": \"150\",\n    \"élodie\": \"9\"\n}");
        assert!(!dir.path().join(".student_age.json.tmp").exists(), "no temporary file left");
        let reopened = FileStore::open(&path, Access::ReadOnly, MAX).unwrap();
        assert_eq!(&reopened.legacy_list()[..], &store.legacy_list()[..]);
        assert_eq!(&reopened.list()[..], &store.list()[..]);
    }

    #[test]
    fn concurrent_writes_are_committed_in_groups_in_order() {
        let dir = temp_dir();
        let path = dir.path().join("student_age.json");
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
        assert_eq!(results.iter().filter(|r| matches!(r, Err(FileError::Exists))).count(), 40);
        let on_disk = FileStore::open(&path, Access::ReadOnly, MAX).unwrap();
        assert_eq!(on_disk.len(), 21);
        assert!(on_disk.with_students(|s| s.get("bob").is_none()));
        assert_eq!(&on_disk.list()[..], &store.list()[..]);
    }

    #[test]
    fn deleting_everything_leaves_a_valid_empty_file() {
        let dir = temp_dir();
        let path = write_store(&dir, r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        runtime().block_on(store.apply(Change::Delete { name: "a".into() })).unwrap();
        assert_eq!(store.len(), 0);
        assert_eq!(&store.legacy_list()[..], br#"{"student_ages": {}}"#);
        assert_eq!(FileStore::open(&path, Access::ReadOnly, MAX).unwrap().len(), 0);
    }

    #[test]
    fn a_store_without_the_lock_refuses_every_write() {
        let dir = temp_dir();
        let path = write_store(&dir, r#"{"a": "1"}"#);
        for (access, ready) in [(Access::ReadOnly, true), (Access::Standby(Arc::from("waiting")), false)] {
            let store = Arc::new(FileStore::open(&path, access, MAX).unwrap());
            assert_eq!(store.unready_reason().is_none(), ready);
            let result = runtime().block_on(store.apply(Change::Delete { name: "a".into() }));
            assert!(matches!(result, Err(FileError::Unavailable(_))), "{result:?}");
            assert_eq!(names(&store), ["a"]);
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"a": "1"}"#);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = temp_dir();
        // A missing directory: the service starts from the sample, and writes fail.
        let elsewhere = super::lock::try_lock(&dir.path().join("elsewhere")).unwrap();
        let store = Arc::new(
            FileStore::open(&dir.path().join("missing/student_age.json"), Access::Writable(elsewhere), MAX).unwrap(),
        );
        let before = store.legacy_list();
        let result = runtime().block_on(store.apply(Change::Create { name: "carol".into(), age: 7 }));
        assert!(matches!(&result, Err(FileError::Io(e)) if e.kind() == ErrorKind::NotFound), "{result:?}");
        assert_eq!(store.legacy_list(), before);

        // The temporary file cannot be created (a directory is in the way), even as root.
        let path = write_store(&dir, r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        fs::create_dir(dir.path().join(".student_age.json.tmp")).unwrap();
        let result = runtime().block_on(store.apply(Change::Create { name: "carol".into(), age: 7 }));
        assert!(matches!(result, Err(FileError::Io(_))), "{result:?}");
        assert_eq!(names(&store), ["a"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"student_ages": {"a": "1"}}"#);
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = temp_dir();
        let path = write_store(&dir, r#"{"student_ages": {"a": "1"}}"#);
        let store = Arc::new(open(&path));
        // Make the rename fail: the store path becomes a non-empty directory.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), "x").unwrap();
        let result = runtime().block_on(store.apply(Change::Create { name: "b".into(), age: 2 }));
        assert!(matches!(result, Err(FileError::Io(_))), "{result:?}");
        assert_eq!(names(&store), ["a"]);
        assert!(!dir.path().join(".student_age.json.tmp").exists());
    }

    /// The status and message a handler answers for an I/O error of the file.
    fn status_of(kind: ErrorKind) -> (u16, String) {
        match WriteError::from(FileError::Io(Arc::new(io::Error::from(kind)))) {
            WriteError::Failed(failure) => (failure.status.as_u16(), failure.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn store_failures_map_to_clear_5xx_answers() {
        let (status, message) = status_of(ErrorKind::ReadOnlyFilesystem);
        assert_eq!(status, 503);
        assert!(message.starts_with("student store is read-only: "), "{message}");
        assert!(message.contains("nothing was changed"));
        assert_eq!(status_of(ErrorKind::PermissionDenied).0, 503);
        assert_eq!(status_of(ErrorKind::StorageFull).0, 507);
        assert_eq!(status_of(ErrorKind::QuotaExceeded).0, 507);
        assert_eq!(status_of(ErrorKind::NotFound).0, 503);
        assert_eq!(status_of(ErrorKind::Other).0, 500);
        assert!(matches!(WriteError::from(FileError::Exists), WriteError::Exists));
        assert!(matches!(WriteError::from(FileError::Missing), WriteError::Missing));
    }
}
