//! The one store interface the handlers use. Two implementations, in their own modules:
//! - `file_store.rs`: the JSON file (`STUDENT_AGE_FILE`), the default; one writer, group commit;
//! - `postgres/`: PostgreSQL (`STUDENTS_DATABASE_URL`); any number of backs, one transaction a write.
//!
//! An enum, not a trait object: the file store's calls stay direct (its futures are ready at once),
//! and one binary holds both. The handlers never look inside it.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;

use super::file_store::FileStore;
pub(crate) use super::model::Change;
use super::model::Refusal;
use super::postgres::PgStore;

/// A store that cannot answer now: the status, the message of the JSON body, and, for a 503, the
/// seconds after which to retry (`Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

/// Why a write was not done.
#[derive(Debug, Clone)]
pub(crate) enum WriteError {
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
    /// The database could not take it (its message says whether anything may have changed).
    Failed(Failure),
}

impl From<Refusal> for WriteError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Exists => WriteError::Exists,
            Refusal::Missing => WriteError::Missing,
            Refusal::Full(max) => WriteError::Full(max),
        }
    }
}

/// The store of one request.
pub(crate) enum Store {
    File(Arc<FileStore>),
    Postgres(Arc<PgStore>),
}

impl Store {
    /// `{"student_ages": {...}}`: every student in the order of creation, ages as stored.
    pub(crate) async fn legacy_list(&self) -> Result<Bytes, Failure> {
        match self {
            Store::File(file) => Ok(file.legacy_list()),
            Store::Postgres(db) => db.legacy_list().await,
        }
    }

    /// `{"alice": "12"}`, or `None` when there is no such student.
    pub(crate) async fn legacy_one(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Store::File(file) => Ok(file.legacy_one(name)),
            Store::Postgres(db) => db.legacy_one(name).await,
        }
    }

    /// `{"name":"alice","age":12}`, or `None`.
    pub(crate) async fn student(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match self {
            Store::File(file) => Ok(file.student(name)),
            Store::Postgres(db) => db.student(name).await,
        }
    }

    /// One REST page of at most `limit` students from `cursor` on, and the next page's cursor.
    pub(crate) async fn page(&self, cursor: u32, limit: usize) -> Result<(Vec<u8>, Option<u32>), Failure> {
        match self {
            Store::File(file) => Ok(file.page(cursor, limit)),
            Store::Postgres(db) => db.page(cursor, limit).await,
        }
    }

    /// Applies `change` durably: `Ok` once it is committed (fsynced file, or database COMMIT).
    pub(crate) async fn apply(&self, change: Change) -> Result<(), WriteError> {
        match self {
            Store::File(file) => file.apply(change).await,
            Store::Postgres(db) => db.apply(change).await,
        }
    }
}
