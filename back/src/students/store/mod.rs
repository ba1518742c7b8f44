//! The one store interface the API uses, and what every store shares: the change a write asks
//! for, the errors a handler turns into an answer, and the JSON views (`views.rs`). Two stores,
//! each in its own module, each opening itself from its configuration and owning its waits:
//! - `file/`: the JSON file (`STUDENT_AGE_FILE`), the default; one writer (its lock), group commit;
//! - `postgres/`: PostgreSQL (`STUDENTS_DATABASE_URL`); any number of backs, one transaction a write.
//!
//! An enum, not a trait object: the file store's calls stay direct (its futures are ready at once),
//! and one binary holds both. The API never looks inside it.

pub(crate) mod file;
pub(crate) mod postgres;
pub(crate) mod views;

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;

use crate::config::StudentsConfig;
use crate::error::StartupError;
use file::FileSlot;
use postgres::PgStore;

/// Why a store takes no write when `STUDENTS_READ_ONLY=true`, whichever it is.
pub(crate) const READ_ONLY_BY_CONFIGURATION: &str = "student store is read-only (STUDENTS_READ_ONLY=true)";

/// A store that cannot answer now: the status, the message of the JSON body, and, for a 503, the
/// seconds after which to retry (`Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

/// Why a write was not done, in terms every store shares; what only one store knows (an I/O
/// error, a lost connection) is a `Failure` it words itself.
#[derive(Debug, Clone)]
pub(crate) enum WriteError {
    /// Create of a name that exists.
    Exists,
    /// Update or delete of a name that does not exist.
    Missing,
    /// A create beyond `STUDENTS_MAX` (the limit).
    Full(usize),
    /// The store could not take it: the answer to give (its message says whether anything may
    /// have changed).
    Failed(Failure),
}

/// A change asked for by a write request.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Create { name: String, age: u8 },
    Update { name: String, age: u8 },
    Delete { name: String },
}

/// Where the students are: opened once at start, shared by every request.
#[derive(Clone)]
pub(crate) enum Store {
    File(FileSlot),
    Postgres(Arc<PgStore>),
}

impl Store {
    /// The store the configuration names: PostgreSQL when `STUDENTS_DATABASE_URL` is set (it
    /// connects once `start` runs), else the file (its lock taken or waited for, the file read; a
    /// corrupt file is an error). `warnings`: lines the core logs once at startup.
    pub(crate) fn open(config: &StudentsConfig, warnings: &mut Vec<String>) -> Result<Self, StartupError> {
        match &config.database {
            Some(database) => Ok(Store::Postgres(Arc::new(
                PgStore::new(database, config.max, config.read_only).map_err(StartupError)?,
            ))),
            None => file::open(config, warnings).map(Store::File),
        }
    }

    /// Starts what the store runs in the background, inside the runtime (the database's monitor).
    pub(crate) fn start(&self) {
        match self {
            Store::File(_) => {}
            Store::Postgres(db) => db.spawn_monitor(),
        }
    }

    /// Why the back must not be ready: the file store should be writable, but its lock is not
    /// held. A database that is down never makes the back unready.
    pub(crate) fn unready_reason(&self) -> Option<Arc<str>> {
        match self {
            Store::File(slot) => slot.current().unready_reason().cloned(),
            Store::Postgres(_) => None,
        }
    }

    /// `/metrics`: the store's own series (the database's state and pool).
    pub(crate) fn render_metrics(&self, out: &mut String) {
        match self {
            Store::File(_) => {}
            Store::Postgres(db) => db.render_metrics(out),
        }
    }

    /// `{"student_ages": {...}}`: every student in the order of creation, ages as stored.
    pub(crate) async fn legacy_list(&self) -> Result<Bytes, Failure> {
        match self {
            Store::File(slot) => Ok(slot.current().legacy_list()),
            Store::Postgres(db) => db.legacy_list().await,
        }
    }

    /// `{"alice": "12"}`, or `None` when there is no such student.
    pub(crate) async fn legacy_one(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Store::File(slot) => Ok(slot.current().legacy_one(name)),
            Store::Postgres(db) => db.legacy_one(name).await,
        }
    }

    /// `{"name":"alice","age":12}`, or `None`.
    pub(crate) async fn student(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Store::File(slot) => Ok(slot.current().student(name)),
            Store::Postgres(db) => db.student(name).await,
        }
    }

    /// One REST page of at most `limit` students from `cursor` on, and the next page's cursor.
    pub(crate) async fn page(&self, cursor: u32, limit: usize) -> Result<(Vec<u8>, Option<u32>), Failure> {
        match self {
            Store::File(slot) => Ok(slot.current().page(cursor, limit)),
            Store::Postgres(db) => db.page(cursor, limit).await,
        }
    }

    /// Applies `change` durably: `Ok` once it is committed (fsynced file, or database COMMIT).
    pub(crate) async fn apply(&self, change: Change) -> Result<(), WriteError> {
        match self {
            Store::File(slot) => slot.current().apply(change).await.map_err(WriteError::from),
            Store::Postgres(db) => db.apply(change).await,
        }
    }
}

impl WriteError {
    /// A write this store takes none of now (read-only by configuration, or the file's lock not
    /// held): 503, nothing changed.
    pub(crate) fn refused(reason: &str) -> Self {
        WriteError::Failed(Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("{reason}; nothing was changed"),
            retry_after: None,
        })
    }
}
