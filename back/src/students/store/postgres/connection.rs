//! The one way to a connection, for requests, the health monitor and `students import/export`
//! alike, with one set of rules:
//!
//! - **Opening** (`Opener`): the URL as `STUDENTS_DATABASE_URL_FILE` holds it now (a rotated
//!   password needs no restart), the session settings of the configuration (`statement_timeout`),
//!   TCP keepalives and `tcp_user_timeout` from the timeouts (a server that went silent is noticed
//!   by the kernel within them), TLS by `sslmode` (none on a Unix socket, as libpq).
//! - **Using** (`Connections::run`): a permit of the pool's gate (waited for within the connect
//!   timeout), a pooled connection, the work; all of it within the request's deadline (connect
//!   timeout + statement timeout + 1 s). A connection goes back to the pool only when the work
//!   ended in an answer from a server that can still take it: one that timed out, broke, or
//!   answered from a read-only server (25006) is discarded, never returned.
//! - **Emptying**: a broken connection or a read-only server empties the pool (its other
//!   connections went to the same server), and so does the move to "down" (`Health`); connections
//!   in use then are discarded when they come back (`epoch`). The legacy list's cache is keyed on
//!   the epoch too: it is emptied whenever the back loses its database.
//! - **Retrying**: a read whose connection broke, and any statement refused as read-only (nothing
//!   was done), runs once more on a fresh connection; any other write never does.
//! - **Limits, not outages**: when the server refuses one more connection (53300, too many) while
//!   the pool holds some, the gate shrinks to what it holds, so requests wait for one of them
//!   instead of failing; the monitor widens it again later (`widen`). With none held, it is an
//!   outage like any other.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType};
use hyper::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config as PgConfig};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::health::{self, Health};
use super::{schema, tls, Failure};
use crate::config::{DatabaseConfig, UrlFile};
use crate::error::chain;

/// The longest the monitor waits for the schema to be checked or migrated.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the gate stays narrowed after the server refused a connection (53300).
const NARROWED_FOR: Duration = Duration::from_secs(30);

/// The session settings of every connection: the URL's, plus the timeouts of the configuration.
fn session_config(base: &PgConfig, database: &DatabaseConfig) -> PgConfig {
    let mut pg = base.clone();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(database.connect_timeout);
    }
    let timeout = format!("-c statement_timeout={}", database.statement_timeout.as_millis());
    let options = match pg.get_options() {
        Some(options) if !options.trim().is_empty() => format!("{options} {timeout}"),
        _ => timeout,
    };
    pg.options(options);
    // A server that stops answering (its node died: no reset comes) is given up by the kernel:
    // an idle connection after the connect timeout of silence and three unanswered probes a
    // second apart, one with data in flight once it has waited as long as a request may.
    pg.keepalives(true);
    pg.keepalives_idle(database.connect_timeout.max(Duration::from_secs(1)));
    pg.keepalives_interval(Duration::from_secs(1));
    pg.keepalives_retries(3);
    pg.tcp_user_timeout(database.connect_timeout + database.statement_timeout);
    pg
}

/// Opens connections: the pool's, the monitor's and the CLI's.
pub(crate) struct Opener {
    database: DatabaseConfig,
    tls: MakeRustlsConnect,
    /// The last URL the file gave that parsed (the start's until it changes), and the last
    /// problem logged about it (logged once).
    current: Mutex<(PgConfig, Option<String>)>,
}

impl Opener {
    pub(crate) fn new(database: &DatabaseConfig) -> Result<Self, String> {
        Ok(Opener {
            database: database.clone(),
            tls: tls::connector(&database.target)?,
            current: Mutex::new((session_config(&database.target.pg, database), None)),
        })
    }

    /// The settings to open the next connection with: the URL file read again, when there is one.
    fn settings(&self) -> PgConfig {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = &self.database.url_file {
            match UrlFile::read(file) {
                Ok(target) => {
                    current.0 = session_config(&target.pg, &self.database);
                    current.1 = None;
                }
                Err(problem) => {
                    if current.1.as_deref() != Some(&problem) {
                        crate::log::error(&format!(
                            "STUDENTS_DATABASE_URL_FILE {}: {problem}; connecting with the last URL it gave",
                            file.path.display()
                        ));
                        current.1 = Some(problem);
                    }
                }
            }
        }
        current.0.clone()
    }

    /// One connection, and the task that runs its I/O (aborting it closes the connection).
    pub(crate) async fn open(&self) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let pg = self.settings();
        let on_socket = pg.get_hosts().iter().all(|host| !matches!(host, tokio_postgres::config::Host::Tcp(_)));
        Ok(if on_socket {
            // PostgreSQL never speaks TLS on a Unix socket.
            let (client, connection) = pg.connect(tokio_postgres::NoTls).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        } else {
            let (client, connection) = pg.connect(self.tls.clone()).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        })
    }
}

/// deadpool's way in: every pooled connection is opened by the `Opener`.
struct PoolConnect(Arc<Opener>);

impl deadpool_postgres::Connect for PoolConnect {
    fn connect(
        &self,
        _: &PgConfig,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + '_>,
    > {
        Box::pin(self.0.open())
    }
}

/// Why a database call failed.
#[derive(Debug)]
pub(crate) enum DbError {
    /// Before anything was sent, or refused by the server as a whole: nothing changed.
    Before(Failure),
    /// While it ran: a write may or may not have been committed.
    During(Failure),
    /// The UNIQUE constraint on the name.
    Unique,
}

/// What the statement of a `run` does: a read may run again on a fresh connection, a write not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// The pool, its gate, the database's state, and the request deadline.
pub(crate) struct Connections {
    pool: Pool,
    pub(crate) health: Health,
    /// Requests using the database at once: the pool's size, or fewer while the server refuses
    /// more connections (`narrow`).
    gate: Arc<Semaphore>,
    /// The gate's size now, permits still to take back from requests that hold them, and when it
    /// was narrowed.
    width: AtomicUsize,
    debt: AtomicUsize,
    narrowed_at: Mutex<Option<Instant>>,
    /// Bumped whenever the pool is emptied: a connection taken before is never given back.
    epoch: AtomicU64,
    /// How long one request may use the database: a connection, then its statements.
    pub(crate) deadline: Duration,
}

/// A connection in use; dropped without `keep`, it is discarded, never returned to the pool (a
/// request cut by its deadline drops it so).
struct Lease<'a> {
    object: Option<Object>,
    permit: Option<OwnedSemaphorePermit>,
    epoch: u64,
    keep: bool,
    connections: &'a Connections,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            if !self.keep || self.epoch != self.connections.epoch.load(Ordering::Acquire) {
                drop(Object::take(object));
            }
        }
        if let Some(permit) = self.permit.take() {
            self.connections.give_back(permit);
        }
    }
}

impl Connections {
    pub(crate) fn new(database: &DatabaseConfig) -> Result<Self, String> {
        let opener = Arc::new(Opener::new(database)?);
        let manager = Manager::from_connect(
            database.target.pg.clone(),
            PoolConnect(opener),
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
        Ok(Connections {
            pool,
            health: Health::new(database.target.clone(), database.connect_timeout),
            gate: Arc::new(Semaphore::new(database.pool_size)),
            width: AtomicUsize::new(database.pool_size),
            debt: AtomicUsize::new(0),
            narrowed_at: Mutex::new(None),
            epoch: AtomicU64::new(0),
            deadline: database.connect_timeout + database.statement_timeout + Duration::from_secs(1),
        })
    }

    /// The epoch of the pool's connections: it changes whenever the pool is emptied.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    /// The gate's size now (`/metrics`).
    pub(crate) fn width(&self) -> usize {
        self.width.load(Ordering::Relaxed)
    }

    /// Empties the pool: idle connections are closed now, those in use when they come back.
    pub(crate) fn empty(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.pool.retain(|_, _| false);
    }

    /// The database is unreachable: down (the monitor takes over), the pool emptied. The 503.
    pub(crate) fn lost(&self, reason: &str) -> Failure {
        let (failure, turned) = self.health.lost(reason);
        if turned {
            self.empty();
        }
        failure
    }

    /// Runs `work` on a pooled connection within the deadline (see the top for the rules).
    pub(crate) async fn run<T>(
        &self,
        kind: Kind,
        work: impl AsyncFnOnce(&mut Object) -> Result<T, tokio_postgres::Error> + Clone,
    ) -> Result<T, DbError> {
        self.health.usable().await.map_err(DbError::Before)?;
        let fault = match tokio::time::timeout(self.deadline, self.attempts(kind, work)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(fault)) => fault,
            // The lease, dropped with the attempt, discarded its connection.
            Err(_) => Fault::Silent,
        };
        Err(match fault {
            Fault::Answered(error) => error,
            Fault::Unreachable(reason) => DbError::Before(self.lost(&reason)),
            Fault::AllBusy => DbError::Before(self.all_busy()),
            Fault::ReadOnly(reason) => DbError::Before(self.health.busy(&reason)),
            Fault::Broken(reason) => match kind {
                Kind::Read => DbError::Before(self.health.busy(&reason)),
                // A lost connection: worded as unavailable rather than busy.
                Kind::Write => DbError::During(health::unavailable(Instant::now())),
            },
            Fault::Silent => {
                let failure = self.lost(SILENT);
                match kind {
                    Kind::Read => DbError::Before(failure),
                    Kind::Write => DbError::During(failure),
                }
            }
        })
    }

    /// The monitor's way: `work` on a pooled connection, the same rules, bounded by the connect
    /// timeout, without waiting for the database's state (the monitor makes it); why it failed.
    async fn check<T>(
        &self,
        work: impl AsyncFnOnce(&mut Object) -> Result<T, tokio_postgres::Error> + Clone,
    ) -> Result<T, String> {
        let timeout = self.pool.timeouts().create.unwrap_or(self.deadline);
        match tokio::time::timeout(timeout, self.attempts(Kind::Read, work)).await {
            Ok(outcome) => outcome.map_err(Fault::reason),
            Err(_) => Err(SILENT.into()),
        }
    }

    /// The monitor's check that the database answers: a `SELECT 1` by `check`.
    pub(crate) async fn ping(&self) -> Result<(), String> {
        self.check(async |client: &mut Object| client.simple_query("SELECT 1").await).await.map(drop)
    }

    /// The schema checked, or created or migrated (`schema.rs`), on a pooled connection. A
    /// migration runs without the statement timeout; `MIGRATION_TIMEOUT` bounds it here, so that a
    /// server gone silent never holds the monitor.
    pub(crate) async fn check_schema(&self) -> Result<i32, schema::Problem> {
        let checked = async {
            let mut lease = self.lease().await.map_err(|fault| schema::Problem::Failed(fault.reason()))?;
            let object = lease.object.as_mut().expect("a lease holds its connection until dropped");
            let version = schema::migrate(object).await?;
            lease.keep = true;
            Ok(version)
        };
        tokio::time::timeout(MIGRATION_TIMEOUT.max(self.deadline), checked)
            .await
            .unwrap_or_else(|_| Err(schema::Problem::Failed(format!("the schema check: {SILENT}"))))
    }

    async fn attempts<T>(
        &self,
        kind: Kind,
        work: impl AsyncFnOnce(&mut Object) -> Result<T, tokio_postgres::Error> + Clone,
    ) -> Result<T, Fault> {
        let mut again = true;
        loop {
            let mut lease = self.lease().await?;
            let object = lease.object.as_mut().expect("a lease holds its connection until dropped");
            let error = match work.clone()(object).await {
                Ok(value) => {
                    lease.keep = true;
                    return Ok(value);
                }
                Err(error) => error,
            };
            match self.classify(&error) {
                Verdict::Keep(answer) => {
                    lease.keep = true;
                    return Err(Fault::Answered(answer));
                }
                Verdict::ReadOnly => {
                    // This server takes no write: the address has moved (a demoted primary, a
                    // standby). Nothing was done, so once more on a fresh connection.
                    drop(lease);
                    self.empty();
                    if !again {
                        return Err(Fault::ReadOnly(chain(&error)));
                    }
                }
                Verdict::Broken => {
                    drop(lease);
                    self.empty();
                    if kind == Kind::Write || !again {
                        return Err(Fault::Broken(chain(&error)));
                    }
                }
            }
            again = false;
        }
    }

    /// A permit of the gate and a connection.
    async fn lease(&self) -> Result<Lease<'_>, Fault> {
        let started = Instant::now();
        let wait = self.pool.timeouts().wait.unwrap_or(self.deadline);
        loop {
            let remaining = wait.saturating_sub(started.elapsed());
            let permit = match tokio::time::timeout(remaining, Arc::clone(&self.gate).acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(Fault::AllBusy),
            };
            let epoch = self.epoch();
            match self.pool.get().await {
                Ok(object) => {
                    return Ok(Lease {
                        object: Some(object),
                        permit: Some(permit),
                        epoch,
                        keep: false,
                        connections: self,
                    })
                }
                Err(PoolError::Timeout(TimeoutType::Wait)) => {
                    self.give_back(permit);
                    return Err(Fault::AllBusy);
                }
                Err(PoolError::Backend(e)) if e.code() == Some(&SqlState::TOO_MANY_CONNECTIONS) => {
                    let held = self.pool.status().size;
                    self.give_back(permit);
                    if held == 0 {
                        return Err(Fault::Unreachable(chain(&e)));
                    }
                    self.narrow(held, &chain(&e));
                }
                Err(e) => {
                    self.give_back(permit);
                    return Err(Fault::Unreachable(pool_error(&e)));
                }
            }
        }
    }

    fn all_busy(&self) -> Failure {
        self.health
            .busy(&format!("every connection of the pool ({}, STUDENTS_DATABASE_POOL_SIZE) stayed busy", self.width()))
    }

    /// The server refused one more connection: requests share the `held` ones from now on.
    fn narrow(&self, held: usize, reason: &str) {
        let width = self.width.swap(held, Ordering::AcqRel);
        if width > held {
            let cut = width - held;
            let forgotten = self.gate.forget_permits(cut);
            self.debt.fetch_add(cut - forgotten, Ordering::AcqRel);
            crate::log::warn(&format!(
                "student database refused more connections ({reason}): the {held} held are shared until it takes more"
            ));
        }
        *self.narrowed_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// A permit back to the gate, or forgotten while the gate is narrower than the permits out.
    fn give_back(&self, permit: OwnedSemaphorePermit) {
        let owed = self.debt.fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| debt.checked_sub(1)).is_ok();
        if owed {
            permit.forget();
        }
    }

    /// The monitor, once in a while: a gate narrowed long enough ago opens to the pool's size again
    /// (if the server still refuses, the next refusal narrows it again).
    pub(crate) fn widen(&self, size: usize) {
        let mut narrowed = self.narrowed_at.lock().unwrap_or_else(PoisonError::into_inner);
        if narrowed.is_some_and(|at| at.elapsed() >= NARROWED_FOR) {
            *narrowed = None;
            let width = self.width.swap(size, Ordering::AcqRel);
            let mut add = size.saturating_sub(width);
            // First cancel what requests still owe.
            while add > 0 {
                match self.debt.fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| debt.checked_sub(1)) {
                    Ok(_) => add -= 1,
                    Err(_) => break,
                }
            }
            self.gate.add_permits(add);
        }
    }

    fn classify(&self, error: &tokio_postgres::Error) -> Verdict {
        let Some(code) = error.code() else {
            // No SQLSTATE: the connection broke (I/O, closed).
            return Verdict::Broken;
        };
        if *code == SqlState::UNIQUE_VIOLATION {
            return Verdict::Keep(DbError::Unique);
        }
        if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            return Verdict::ReadOnly;
        }
        let class = &code.code()[..2];
        if class == "08" || class == "57" && *code != SqlState::QUERY_CANCELED {
            // Connection exceptions; admin or crash shutdown, cannot connect now.
            return Verdict::Broken;
        }
        if *code == SqlState::QUERY_CANCELED || class == "40" || *code == SqlState::LOCK_NOT_AVAILABLE {
            // The statement was rolled back (its timeout, a deadlock, a lock): nothing changed.
            return Verdict::Keep(DbError::Before(self.health.busy(&chain(error))));
        }
        let text = chain(error);
        crate::log::error(&format!("student database: {text}"));
        Verdict::Keep(DbError::During(Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("student database error: {}", error.as_db_error().map_or(&*text, |db| db.message())),
            retry_after: None,
        }))
    }
}

/// Why a use of the database failed, before it is worded for a request or the monitor.
enum Fault {
    /// The server answered: the error to give.
    Answered(DbError),
    /// No connection could be had: none opened (refused, too slow, login failed).
    Unreachable(String),
    /// Every permit of the gate stayed taken.
    AllBusy,
    /// The server takes no write, even on a fresh connection.
    ReadOnly(String),
    /// The connection broke while in use.
    Broken(String),
    /// No answer within the time allowed.
    Silent,
}

impl Fault {
    fn reason(self) -> String {
        match self {
            Fault::Answered(DbError::Before(failure) | DbError::During(failure)) => failure.message,
            Fault::Answered(DbError::Unique) => "unexpected unique violation".into(),
            Fault::Unreachable(reason) | Fault::ReadOnly(reason) | Fault::Broken(reason) => reason,
            Fault::AllBusy => "every connection of the pool stayed busy".into(),
            Fault::Silent => SILENT.into(),
        }
    }
}

const SILENT: &str = "no answer within the connect and statement timeouts";

/// What an error means for its connection and its request.
enum Verdict {
    /// The connection is fine: back to the pool; the error to answer.
    Keep(DbError),
    /// The server takes no write (25006).
    ReadOnly,
    /// The connection is gone.
    Broken,
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

#[cfg(test)]
mod tests {
    use super::*;

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
            url_file: None,
        };
        let pg = session_config(&database.target.pg, &database);
        assert_eq!(pg.get_options(), Some("-c search_path=students -c statement_timeout=2000"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_millis(1500)));
        assert!(pg.get_keepalives());
        assert_eq!(pg.get_keepalives_idle(), Duration::from_millis(1500));
        assert_eq!(pg.get_tcp_user_timeout(), Some(&Duration::from_millis(3500)));
    }
}
