//! The PostgreSQL store (`STUDENTS_DATABASE_URL`): any number of backs on one database.
//!
//! - **Pool**: deadpool-postgres keeps up to `STUDENTS_DATABASE_POOL_SIZE` connections
//!   (tokio-postgres, TLS by rustls: `tls.rs`); each session has PostgreSQL's
//!   `statement_timeout`; opening one and waiting for a free one are bounded by
//!   `STUDENTS_DATABASE_CONNECT_TIMEOUT`. Statements are prepared once per connection.
//! - **Writes**: each is one statement, so one transaction, answered only after PostgreSQL
//!   reports it committed (`ReadyForQuery` follows the implicit COMMIT). A duplicate name is
//!   refused by the UNIQUE constraint (409), never by a check that could race.
//! - **Order and cursors**: `id` is an identity column, so the order of creation; the legacy list
//!   is `ORDER BY id`, and a REST cursor is the `id` of the first student of the next page
//!   (`WHERE id >= cursor`): a walk sees every student that was there all along exactly once.
//! - **`STUDENTS_MAX` under concurrency** (`schema.rs`): a create inserts only when the id it
//!   takes is within the quota's limit, read in the same statement (no row is written but the
//!   student's); beyond it, one transaction locks the students against writes, counts them
//!   exactly, refuses (409) or inserts and sets the next limit. The students never exceed it.
//! - **The legacy list's cache**: the list last rendered, under the key of the rows it was rendered
//!   from: their count and the XOR of `hashint8extended(rev, 0)` (`rev`: a row version never
//!   used twice, `schema.rs`). A request asks the database only for the current key (`LIST_KEY`,
//!   one row, the same snapshot rules as any read) and serves the cached body when it matches;
//!   otherwise it runs the full SELECT, which gives the rows and their hashes, so the body and its
//!   key come from one snapshot. A write committed before the request started changes the key
//!   (another row set; two sets collide with a chance of 2^-64), on whichever back it was made.
//! - **Failures**: `health.rs` keeps the database's state (connecting, up, down); while it is down
//!   the student routes answer 503 with `Retry-After` at once, and one task reconnects with
//!   backoff. Story routes and `/readyz` never depend on it.

mod health;
pub(crate) mod schema;
mod tls;
pub(crate) mod transfer;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType};
use hyper::StatusCode;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::views::{self, needs_escape, AgeForm, StudentRef};
use super::{Change, Failure, WriteError, READ_ONLY_BY_CONFIGURATION};
use crate::config::DatabaseConfig;
use crate::error::chain;
use health::Health;

/// The list, and each row's hash of its version (the key of the cache: `Rendered`).
const LEGACY_LIST: &str = "SELECT name, age, legacy_age, hashint8extended(rev, 0) FROM students ORDER BY id";
/// The key of the rows a list would show now: their count, and the XOR of the same hashes
/// (`bit_xor` is NULL without rows: 0, as the XOR of no hash).
const LIST_KEY: &str = "SELECT count(*), coalesce(bit_xor(hashint8extended(rev, 0)), 0) FROM students";
const LEGACY_ONE: &str = "SELECT name, age, legacy_age FROM students WHERE name = $1";
const ONE: &str = "SELECT age FROM students WHERE name = $1";
const PAGE: &str = "SELECT id, name, age FROM students WHERE id >= $1 ORDER BY id LIMIT $2";
/// A create in one statement: the next id of the identity, inserted only when it is within the
/// quota's limit (no row when it is not: the count decides, `schema::create_counted`). The CTE
/// calls `nextval` once (a CTE with a volatile function is evaluated once, never inlined).
const CREATE: &str = "WITH next AS (SELECT nextval('students_id_seq') AS id, id_limit FROM student_quota) \
                      INSERT INTO students (id, name, age) OVERRIDING SYSTEM VALUE \
                      SELECT id, $1, $2 FROM next WHERE id <= id_limit RETURNING id";
const UPDATE: &str = "UPDATE students SET age = $2, legacy_age = NULL WHERE name = $1";
const DELETE: &str = "DELETE FROM students WHERE name = $1";

pub(crate) struct PgStore {
    pool: Pool,
    health: Health,
    /// `STUDENTS_MAX`.
    max: usize,
    /// `STUDENTS_READ_ONLY`: honoured as with the file, writes answer 503.
    read_only: bool,
    /// How long one request may use the database: a connection, then its statements.
    deadline: Duration,
    /// The schema is created or migrated (once per process, by the first connection).
    migrated: AtomicBool,
    /// The legacy list last rendered, and the key of its rows.
    list: Mutex<Option<Rendered>>,
    /// Legacy lists served from the cache, and read again (`/metrics`).
    list_hits: AtomicU64,
    list_misses: AtomicU64,
}

/// A rendered legacy list and the key of the rows it shows: (count, XOR of the rows' hashes).
/// Revs are never reused and every INSERT or UPDATE takes a new one, so a key names one content
/// of the table (and its order: `id` never changes). `max(rev)` would not do: `nextval` is not
/// transactional, so a write holding rev 10 may commit after one holding rev 11 was listed, and
/// a delete leaves the maximum as it was.
struct Rendered {
    key: (i64, i64),
    body: Bytes,
}

/// What a legacy list found: the cached body still good, or the rows to render.
enum List {
    Cached(Bytes),
    Read(Vec<Row>),
}

/// The session settings of every connection: the URL's, plus the timeouts of the configuration.
pub(crate) fn session_config(database: &DatabaseConfig) -> tokio_postgres::Config {
    let mut pg = database.target.pg.clone();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(database.connect_timeout);
    }
    let timeout = format!("-c statement_timeout={}", database.statement_timeout.as_millis());
    let options = match pg.get_options() {
        Some(options) if !options.trim().is_empty() => format!("{options} {timeout}"),
        _ => timeout,
    };
    pg.options(options);
    pg
}

impl PgStore {
    /// The pool and the state; nothing connects until `spawn_monitor` (inside the runtime).
    pub(crate) fn new(database: &DatabaseConfig, max: usize, read_only: bool) -> Result<Self, String> {
        let connector = tls::connector(&database.target)?;
        let manager = Manager::from_config(
            session_config(database),
            connector,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(database.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(database.connect_timeout))
            .create_timeout(Some(database.connect_timeout))
            .recycle_timeout(Some(database.connect_timeout))
            .build()
            .map_err(|e| format!("cannot build the student database pool: {e}"))?;
        Ok(PgStore {
            pool,
            health: Health::new(database.target.clone(), database.connect_timeout),
            max,
            read_only,
            deadline: database.connect_timeout + database.statement_timeout + Duration::from_secs(1),
            migrated: AtomicBool::new(false),
            list: Mutex::new(None),
            list_hits: AtomicU64::new(0),
            list_misses: AtomicU64::new(0),
        })
    }

    /// Starts the task that connects, creates the schema, and reconnects with backoff.
    pub(crate) fn spawn_monitor(self: &Arc<Self>) {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                store.health.due().await;
                store.health.attempting();
                let outcome = match tokio::time::timeout(store.deadline, store.attempt()).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err("no answer within the connect and statement timeouts".into()),
                };
                store.health.attempted(outcome);
            }
        });
    }

    /// One connection attempt of the monitor: the schema the first time, then a `SELECT 1`.
    async fn attempt(&self) -> Result<(), String> {
        let mut client = self.pool.get().await.map_err(|e| pool_error(&e))?;
        if self.migrated.load(Ordering::Relaxed) {
            client.simple_query("SELECT 1").await.map_err(|e| chain(&e))?;
        } else {
            let version = schema::migrate(&mut client).await?;
            self.migrated.store(true, Ordering::Relaxed);
            self.health.note(&format!("schema version {version}"));
        }
        Ok(())
    }

    /// The cached list when the table still holds the rows it was rendered from (one small
    /// statement), else the list read and rendered again (see `Rendered`).
    pub(crate) async fn legacy_list(&self) -> Result<Bytes, Failure> {
        let cached = |key: (i64, i64)| {
            let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
            list.as_ref().filter(|r| r.key == key).map(|r| r.body.clone())
        };
        let rows = self
            .with_client(async |client: &mut Object| {
                let check = client.prepare_cached(LIST_KEY).await?;
                let now = client.query_one(&check, &[]).await?;
                if let Some(body) = cached((now.get(0), now.get(1))) {
                    return Ok(List::Cached(body));
                }
                let statement = client.prepare_cached(LEGACY_LIST).await?;
                client.query(&statement, &[]).await.map(List::Read)
            })
            .await
            .map_err(|e| e.read())?;
        let rows = match rows {
            List::Read(rows) => rows,
            List::Cached(body) => {
                self.list_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(body);
            }
        };
        self.list_misses.fetch_add(1, Ordering::Relaxed);
        let key = (rows.len() as i64, rows.iter().fold(0, |xor, row| xor ^ row.get::<_, i64>(3)));
        let hint = rows.len() * 24 + 32;
        let body = Bytes::from(views::legacy_list(rows.iter().map(legacy_ref), hint));
        *self.list.lock().unwrap_or_else(|e| e.into_inner()) = Some(Rendered { key, body: body.clone() });
        Ok(body)
    }

    pub(crate) async fn legacy_one(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let rows = self.query(LEGACY_ONE, &[&name]).await.map_err(|e| e.read())?;
        Ok(rows.first().map(|row| views::legacy_one(&legacy_ref(row))))
    }

    pub(crate) async fn student(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let rows = self.query(ONE, &[&name]).await.map_err(|e| e.read())?;
        Ok(rows.first().map(|row| views::student(name, age_of(row, 0))))
    }

    pub(crate) async fn page(&self, cursor: u32, limit: usize) -> Result<(Vec<u8>, Option<u32>), Failure> {
        let (from, fetch) = (i64::from(cursor), limit as i64 + 1);
        let rows = self.query(PAGE, &[&from, &fetch]).await.map_err(|e| e.read())?;
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
    /// transaction of `schema::create_counted`.
    async fn create(&self, name: &str, age: u8) -> Result<(), WriteError> {
        match self.query(CREATE, &[&name, &i16::from(age)]).await {
            Ok(rows) if !rows.is_empty() => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.write()),
        }
        let max = self.max as i64;
        let outcome = self
            .with_client(async |client: &mut Object| schema::create_counted(client, name, age, max).await)
            .await
            .map_err(|e| e.write())?;
        match outcome {
            schema::Counted::Created => Ok(()),
            schema::Counted::Exists => Err(WriteError::Exists),
            schema::Counted::Full => Err(WriteError::Full(self.max)),
        }
    }

    async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        self.with_client(async |client: &mut Object| {
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
        self.with_client(async |client: &mut Object| {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        })
        .await
    }

    /// Runs `work` on a pooled connection, within `deadline`: a database known to be down, no
    /// connection, a lost one or no answer in time are 503s, and the first two send the state
    /// to "down" (the monitor takes over).
    async fn with_client<T>(
        &self,
        work: impl AsyncFnOnce(&mut Object) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        self.health.usable().await.map_err(DbError::Before)?;
        let mut client = match self.pool.get().await {
            Ok(client) => client,
            Err(PoolError::Timeout(TimeoutType::Wait)) => {
                return Err(DbError::Before(self.health.busy(&format!(
                    "every connection of the pool ({}, STUDENTS_DATABASE_POOL_SIZE) stayed busy",
                    self.pool.status().max_size
                ))))
            }
            Err(e) => return Err(DbError::Before(self.health.lost(&pool_error(&e)))),
        };
        match tokio::time::timeout(self.deadline, work(&mut client)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.classify(e)),
            Err(_) => {
                // The connection is in an unknown state: never give it back to the pool.
                drop(Object::take(client));
                Err(DbError::During(self.health.lost("no answer within the statement timeout")))
            }
        }
    }

    fn classify(&self, error: tokio_postgres::Error) -> DbError {
        let Some(code) = error.code() else {
            // No SQLSTATE: the connection broke (I/O, closed).
            return DbError::During(self.health.lost(&chain(&error)));
        };
        if *code == SqlState::UNIQUE_VIOLATION {
            return DbError::Unique;
        }
        let text = chain(&error);
        let class = &code.code()[..2];
        if class == "08"
            || class == "57" && *code != SqlState::QUERY_CANCELED
            || *code == SqlState::TOO_MANY_CONNECTIONS
        {
            DbError::During(self.health.lost(&text))
        } else if *code == SqlState::QUERY_CANCELED
            || class == "40"
            || *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        {
            DbError::During(self.health.busy(&text))
        } else {
            crate::log::error(&format!("student database: {text}"));
            DbError::During(Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("student database error: {}", error.as_db_error().map_or(&*text, |db| db.message())),
                retry_after: None,
            })
        }
    }

    /// `/metrics`: the database's state and the pool's use.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let status = self.pool.status();
        let up = u8::from(self.health.is_up());
        let gauges = [
            (
                "up",
                "1 while the student database answers, 0 while it is unreachable or not yet connected.",
                up as usize,
            ),
            ("pool_max_size", "Connections the pool may open (STUDENTS_DATABASE_POOL_SIZE).", status.max_size),
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
        let _ = writeln!(out, "racontemoi_students_database_down_total {}", self.health.downs());
        let _ = writeln!(
            out,
            "# HELP racontemoi_students_list_cache_total Legacy lists served from the cache (hit) or read again (miss)."
        );
        let _ = writeln!(out, "# TYPE racontemoi_students_list_cache_total counter");
        for (outcome, count) in [("hit", &self.list_hits), ("miss", &self.list_misses)] {
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

/// Why a database call failed.
enum DbError {
    /// Before anything was sent: nothing changed.
    Before(Failure),
    /// While it ran: a write may or may not have been committed.
    During(Failure),
    /// The UNIQUE constraint on the name.
    Unique,
}

impl DbError {
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

fn pool_error(error: &PoolError) -> String {
    match error {
        PoolError::Backend(e) => chain(e),
        PoolError::Timeout(TimeoutType::Create) => {
            "connecting took longer than STUDENTS_DATABASE_CONNECT_TIMEOUT".into()
        }
        PoolError::Timeout(TimeoutType::Recycle) => "checking a pooled connection took too long".into(),
        other => other.to_string(),
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

    #[test]
    fn session_settings() {
        let target =
            crate::config::database_url::parse("postgres://app@db/x?options=-c%20search_path%3Dstudents", None)
                .unwrap();
        let database = DatabaseConfig {
            target,
            pool_size: 4,
            connect_timeout: Duration::from_millis(1500),
            statement_timeout: Duration::from_secs(2),
        };
        let pg = session_config(&database);
        assert_eq!(pg.get_options(), Some("-c search_path=students -c statement_timeout=2000"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_millis(1500)));
    }
}
