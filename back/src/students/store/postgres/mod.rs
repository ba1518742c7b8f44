//! The PostgreSQL store (`STUDENTS_DATABASE_URL`): any number of backs on one database.
//!
//! - **Connections** (`connection.rs`): the one way to a connection, for requests, the monitor
//!   and `students import/export`: the pool (deadpool-postgres, up to
//!   `STUDENTS_DATABASE_POOL_SIZE`), TLS by `sslmode` (`tls.rs`), keepalives, the rules on which
//!   connection goes back to the pool, and a request's deadline (connect timeout + statement
//!   timeout + 1 s). Statements are prepared once per connection.
//! - **Writes**: each is one statement, so one transaction, answered only after PostgreSQL
//!   reports it committed (`ReadyForQuery` follows the implicit COMMIT). A duplicate name is
//!   refused by the UNIQUE constraint (409), never by a check that could race.
//! - **Order and cursors**: `id` is an identity column, so the order of creation; the legacy list
//!   is `ORDER BY id`, and a REST cursor is the `id` of the first student of the next page
//!   (`WHERE id >= cursor`): a walk sees every student that was there all along exactly once.
//! - **`STUDENTS_MAX` under concurrency**: `quota.rs`, both statements and why it is exact.
//! - **The legacy list's cache**: `list_cache.rs`.
//! - **The schema** (`schema.rs`): read at start, migrated only when due.
//! - **Failures**: `health.rs` keeps the database's state (connecting, up, down) and probes it
//!   while up; while it is down the student routes answer 503 with `Retry-After` at once, and one
//!   task reconnects with backoff. Story routes and `/readyz` never depend on it.

mod connection;
mod health;
mod list_cache;
mod quota;
pub(crate) mod schema;
mod tls;
pub(crate) mod transfer;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use deadpool_postgres::Object;
use hyper::StatusCode;
use tokio_postgres::Row;

use super::views::{self, needs_escape, AgeForm, StudentRef};
use super::{Change, Failure, WriteError, READ_ONLY_BY_CONFIGURATION};
use crate::config::DatabaseConfig;
use connection::{Connections, DbError, Kind};
use health::Due;
use list_cache::ListCache;

const LEGACY_ONE: &str = "SELECT name, age, legacy_age FROM students WHERE name = $1";
const ONE: &str = "SELECT age FROM students WHERE name = $1";
const PAGE: &str = "SELECT id, name, age FROM students WHERE id >= $1 ORDER BY id LIMIT $2";
const UPDATE: &str = "UPDATE students SET age = $2, legacy_age = NULL WHERE name = $1";
const DELETE: &str = "DELETE FROM students WHERE name = $1";

pub(crate) struct PgStore {
    connections: Connections,
    /// `STUDENTS_MAX`.
    max: usize,
    /// `STUDENTS_DATABASE_POOL_SIZE`: the gate opens to it again after the server refused more.
    pool_size: usize,
    /// `STUDENTS_READ_ONLY`: honoured as with the file, writes answer 503.
    read_only: bool,
    /// The schema is at this back's version (checked once per process, by the first connection).
    migrated: AtomicBool,
    list: ListCache,
}

impl PgStore {
    /// The pool and the state; nothing connects until `spawn_monitor` (inside the runtime).
    pub(crate) fn new(database: &DatabaseConfig, max: usize, read_only: bool) -> Result<Self, String> {
        Ok(PgStore {
            connections: Connections::new(database)?,
            max,
            pool_size: database.pool_size,
            read_only,
            migrated: AtomicBool::new(false),
            list: ListCache::new(),
        })
    }

    /// Starts the task that connects, checks the schema, probes the database while it is up, and
    /// reconnects with backoff.
    pub(crate) fn spawn_monitor(self: &Arc<Self>) {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let health = &store.connections.health;
            loop {
                if health.due().await == Due::Probe {
                    match store.connections.ping().await {
                        Ok(()) => store.connections.widen(store.pool_size),
                        Err(reason) => drop(store.connections.lost(&reason)),
                    }
                    continue;
                }
                health.attempting();
                let outcome = store.attempt().await;
                health.attempted(outcome);
            }
        });
    }

    /// One connection attempt of the monitor: the schema the first time, then a `SELECT 1`.
    async fn attempt(&self) -> Result<(), String> {
        if self.migrated.load(Ordering::Relaxed) {
            return self.connections.ping().await;
        }
        let version = self.connections.check_schema().await.map_err(|problem| match problem {
            schema::Problem::Unfit(line) => {
                // The server can never serve this back: say so once and stop, as at any start.
                crate::log::error(&line);
                std::process::exit(1);
            }
            schema::Problem::Failed(reason) => reason,
        })?;
        self.migrated.store(true, Ordering::Relaxed);
        self.connections.health.note(&format!("schema version {version}"));
        Ok(())
    }

    /// The cached list when the table still holds the rows it was rendered from (one small
    /// statement), else the list read and rendered again (`list_cache.rs`).
    pub(crate) async fn legacy_list(&self) -> Result<Bytes, Failure> {
        let render = |rows: &[Row]| Bytes::from(views::legacy_list(rows.iter().map(legacy_ref), rows.len() * 24 + 32));
        let epoch = self.connections.epoch();
        self.connections
            .run(Kind::Read, async |client: &mut Object| self.list.list(client, epoch, render).await)
            .await
            .map_err(DbError::read)
    }

    pub(crate) async fn legacy_one(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let rows = self.query(Kind::Read, LEGACY_ONE, &[&name]).await.map_err(DbError::read)?;
        Ok(rows.first().map(|row| views::legacy_one(&legacy_ref(row))))
    }

    pub(crate) async fn student(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let rows = self.query(Kind::Read, ONE, &[&name]).await.map_err(DbError::read)?;
        Ok(rows.first().map(|row| views::student(name, age_of(row, 0))))
    }

    pub(crate) async fn page(&self, cursor: u32, limit: usize) -> Result<(Vec<u8>, Option<u32>), Failure> {
        let (from, fetch) = (i64::from(cursor), limit as i64 + 1);
        let rows = self.query(Kind::Read, PAGE, &[&from, &fetch]).await.map_err(DbError::read)?;
        let next = next_cursor(rows.get(limit).map(|row| row.get::<_, i64>(0))).map_err(|message| Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
            retry_after: None,
        })?;
        let page: Vec<StudentRef> =
            rows.iter().take(limit).map(|row| student_ref(row.get(1), age_of(row, 2), None)).collect();
        Ok((views::page(&page, next), next))
    }

    pub(crate) async fn apply(&self, change: Change) -> Result<(), WriteError> {
        if self.read_only {
            return Err(WriteError::refused(READ_ONLY_BY_CONFIGURATION));
        }
        let done = match &change {
            Change::Create { name, age } => return self.create(name, *age).await,
            Change::Update { name, age } => self.execute(UPDATE, &[name, &i16::from(*age)]).await,
            Change::Delete { name } => self.execute(DELETE, &[name]).await,
        };
        match done {
            Ok(0) => Err(WriteError::Missing),
            Ok(_) => Ok(()),
            Err(e) => Err(e.write()),
        }
    }

    /// A create: one statement within the quota (the common case), or, beyond it, the
    /// transaction that counts (`quota.rs`).
    async fn create(&self, name: &str, age: u8) -> Result<(), WriteError> {
        let max = self.max as i64;
        match self.query(Kind::Write, quota::CREATE, &[&name, &i16::from(age), &max]).await {
            Ok(rows) if !rows.is_empty() => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.write()),
        }
        let outcome = self
            .connections
            .run(Kind::Write, async |client: &mut Object| quota::create_counted(client, name, age, max).await)
            .await
            .map_err(DbError::write)?;
        match outcome {
            quota::Counted::Created => Ok(()),
            quota::Counted::Exists => Err(WriteError::Exists),
            quota::Counted::Full => Err(WriteError::Full(self.max)),
        }
    }

    async fn query(
        &self,
        kind: Kind,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        self.connections
            .run(kind, async |client: &mut Object| {
                let statement = client.prepare_cached(sql).await?;
                client.query(&statement, params).await
            })
            .await
    }

    async fn execute(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, DbError> {
        self.connections
            .run(Kind::Write, async |client: &mut Object| {
                let statement = client.prepare_cached(sql).await?;
                client.execute(&statement, params).await
            })
            .await
    }

    /// `/metrics`: the database's state and the pool's use.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let status = self.connections.status();
        let health = &self.connections.health;
        let up = u8::from(health.is_up());
        let gauges = [
            (
                "up",
                "1 while the student database answers, 0 while it is unreachable or not yet connected.",
                up as usize,
            ),
            ("pool_max_size", "Connections the pool may open (STUDENTS_DATABASE_POOL_SIZE).", status.max_size),
            (
                "pool_usable",
                "Connections requests may use at once: the pool's size, fewer while the server refuses more.",
                self.connections.width(),
            ),
            ("pool_size", "Connections the pool holds now.", status.size),
            ("pool_available", "Connections of the pool idle now.", status.available),
            ("pool_waiting", "Requests waiting for a connection.", status.waiting),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP racontemoi_students_database_{name} {help}");
            let _ = writeln!(out, "# TYPE racontemoi_students_database_{name} gauge");
            let _ = writeln!(out, "racontemoi_students_database_{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP racontemoi_students_database_down_total Times the student database was found unreachable."
        );
        let _ = writeln!(out, "# TYPE racontemoi_students_database_down_total counter");
        let _ = writeln!(out, "racontemoi_students_database_down_total {}", health.downs());
        let _ = writeln!(
            out,
            "# HELP racontemoi_students_list_cache_total Legacy lists served from the cache (hit) or read again (miss)."
        );
        let _ = writeln!(out, "# TYPE racontemoi_students_list_cache_total counter");
        for (outcome, count) in [("hit", &self.list.hits), ("miss", &self.list.misses)] {
            let _ = writeln!(
                out,
                "racontemoi_students_list_cache_total{{outcome=\"{outcome}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
    }
}

/// The next page's cursor: the id of the row after the page (`PAGE` fetches one more than
/// `limit`), which the next page starts from (`id >= cursor`), as the file model's `page` gives
/// the sequence number of the next live slot. `None`: this was the last page.
fn next_cursor(id_after_the_page: Option<i64>) -> Result<Option<u32>, String> {
    id_after_the_page
        .map(|id| u32::try_from(id).map_err(|_| format!("student id {id} is beyond the cursors' range (4294967295)")))
        .transpose()
}

impl DbError {
    /// The answer to a read that failed.
    fn read(self) -> Failure {
        match self {
            DbError::Before(failure) | DbError::During(failure) => failure,
            DbError::Unique => Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "student database error: unexpected unique violation on a read".into(),
                retry_after: None,
            },
        }
    }

    /// The answer to a write that failed: whether anything may have changed, in its words.
    fn write(self) -> WriteError {
        match self {
            DbError::Unique => WriteError::Exists,
            DbError::Before(mut failure) => {
                failure.message.push_str("; nothing was changed");
                WriteError::Failed(failure)
            }
            DbError::During(mut failure) => {
                failure.message.push_str("; the write may or may not have been committed");
                WriteError::Failed(failure)
            }
        }
    }
}

fn age_of(row: &Row, column: usize) -> u8 {
    // The CHECK constraint keeps ages from 0 to 150.
    u8::try_from(row.get::<_, i16>(column)).unwrap_or(0)
}

/// A row of (name, age, legacy_age) as the JSON views take it.
fn legacy_ref(row: &Row) -> StudentRef<'_> {
    student_ref(row.get(0), age_of(row, 1), row.get(2))
}

/// `legacy_age` keeps how the legacy file wrote an age when it was not the plain string: a JSON
/// integer (`13`) or an odd string (`"012"`); NULL for the usual `"13"`.
pub(crate) fn student_ref<'a>(name: &'a str, age: u8, legacy_age: Option<&'a str>) -> StudentRef<'a> {
    let (form, odd) = match legacy_age {
        None => (AgeForm::Text, ""),
        Some(token) => match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(digits) => (AgeForm::Odd(digits.len() as u8), digits),
            None => (AgeForm::Integer, ""),
        },
    };
    StudentRef { name, age, form, odd, plain: !needs_escape(name) }
}

/// The `legacy_age` of a student of the file: the inverse of `student_ref`.
pub(crate) fn legacy_age(student: &StudentRef) -> Option<String> {
    match student.form {
        AgeForm::Text => None,
        AgeForm::Integer => Some(student.age.to_string()),
        AgeForm::Odd(_) => Some(format!("\"{}\"", student.odd)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ages_round_trip() {
        let students = super::super::file::format::parse(br#"{"a": "13", "b": 13, "c": "012", "d\"": "7"}"#).unwrap();
        let rows: Vec<(String, u8, Option<String>)> =
            students.iter().map(|s| (s.name.to_owned(), s.age, legacy_age(&s))).collect();
        assert_eq!(
            rows,
            [
                ("a".into(), 13, None),
                ("b".into(), 13, Some("13".into())),
                ("c".into(), 12, Some("\"012\"".into())),
                ("d\"".into(), 7, None)
            ]
        );
        let back: Vec<StudentRef> = rows.iter().map(|(n, a, l)| student_ref(n, *a, l.as_deref())).collect();
        assert_eq!(back, students.iter().collect::<Vec<_>>());
        let mut file = Vec::new();
        super::super::file::format::write_file(&mut file, back.into_iter()).unwrap();
        assert_eq!(file, b"{\n    \"a\": \"13\",\n    \"b\": 13,\n    \"c\": \"012\",\n    \"d\\\"\": \"7\"\n}");
    }

    #[test]
    fn cursors_are_the_id_after_the_page() {
        assert_eq!(next_cursor(None), Ok(None), "the last page");
        assert_eq!(next_cursor(Some(1)), Ok(Some(1)));
        assert_eq!(next_cursor(Some(4_294_967_295)), Ok(Some(u32::MAX)));
        assert!(next_cursor(Some(4_294_967_296)).unwrap_err().contains("beyond the cursors' range"));
    }
}
