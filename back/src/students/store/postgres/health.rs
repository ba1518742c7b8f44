//! The database's state, as every request and `/metrics` see it, and the one task that
//! (re)connects with backoff.
//!
//! - `Connecting`: an attempt runs (at start, or a retry): requests wait for its outcome, at most
//!   the connect timeout;
//! - `Up`: requests use the pool; one that finds the database unreachable turns the state to
//!   `Down` (retry at once) and wakes the task; the task also probes it every `PROBE_EVERY`, so
//!   that a server gone silent is noticed on a back that serves nothing meanwhile;
//! - `Down`: requests answer 503 at once, with `Retry-After` until the next attempt; the task
//!   tries again after 100 ms, then doubling up to 2 s (with jitter), and needs no restart.
//!
//! One log line when the database is found unreachable (or for another reason), one when it is
//! back: a wrong CA says so in that line (`tls::explain`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use tokio::sync::{watch, Notify};

use super::Failure;
use crate::config::database_url::Target;

const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often the task checks a database that is up.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// What the task is to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Connect (the first time, or after a failure).
    Attempt,
    /// Check the database that is up.
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Up,
    Down { retry_at: Instant },
}

pub(super) struct Health {
    phase: watch::Sender<Phase>,
    /// Wakes the task when a request found the database lost.
    wake: Notify,
    target: Target,
    connect_timeout: Duration,
    /// The reason of the last "unreachable" line (`None` while up): logged once per reason.
    logged: Mutex<Option<String>>,
    /// Something to add to the next "connected" line (the schema version).
    note: Mutex<Option<String>>,
    downs: AtomicU64,
    /// The wait after the next failed attempt.
    backoff: Mutex<Duration>,
}

impl Health {
    pub(super) fn new(target: Target, connect_timeout: Duration) -> Self {
        Health {
            phase: watch::Sender::new(Phase::Connecting),
            wake: Notify::new(),
            target,
            connect_timeout,
            logged: Mutex::new(None),
            note: Mutex::new(None),
            downs: AtomicU64::new(0),
            backoff: Mutex::new(BACKOFF_FIRST),
        }
    }

    pub(super) fn is_up(&self) -> bool {
        *self.phase.borrow() == Phase::Up
    }

    pub(super) fn downs(&self) -> u64 {
        self.downs.load(Ordering::Relaxed)
    }

    pub(super) fn note(&self, text: &str) {
        *self.note.lock().unwrap_or_else(PoisonError::into_inner) = Some(text.to_owned());
    }

    /// `Ok` once the database is up; a 503 at once while it is down, or when an attempt in
    /// progress does not succeed within the connect timeout.
    pub(super) async fn usable(&self) -> Result<(), Failure> {
        // The common case, without a timer or a subscription.
        let now = *self.phase.borrow();
        match now {
            Phase::Up => return Ok(()),
            Phase::Down { retry_at } => return Err(unavailable(retry_at)),
            Phase::Connecting => {}
        }
        let mut phase = self.phase.subscribe();
        let deadline = tokio::time::sleep(self.connect_timeout);
        tokio::pin!(deadline);
        loop {
            let now = *phase.borrow_and_update();
            match now {
                Phase::Up => return Ok(()),
                Phase::Down { retry_at } => return Err(unavailable(retry_at)),
                Phase::Connecting => {}
            }
            tokio::select! {
                changed = phase.changed() => if changed.is_err() {
                    return Err(unavailable(Instant::now()));
                },
                () = &mut deadline => return Err(unavailable(Instant::now() + BACKOFF_FIRST)),
            }
        }
    }

    /// The connection was lost (or none could be opened): the state turns `Down` if it was `Up`,
    /// the task tries again at once. The 503 to answer, and whether the state turned.
    pub(super) fn lost(&self, reason: &str) -> (Failure, bool) {
        let now = Instant::now();
        let turned = self.phase.send_if_modified(|phase| match phase {
            Phase::Up => {
                *phase = Phase::Down { retry_at: now };
                true
            }
            _ => false,
        });
        if turned {
            self.went_down(reason);
            self.wake.notify_one();
        }
        (unavailable(now), turned)
    }

    /// The database answered but could not do it now (timeout, lock, serialization): a 503, the
    /// state unchanged.
    pub(super) fn busy(&self, reason: &str) -> Failure {
        Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("student database is busy ({reason}): retry later"),
            retry_after: Some(1),
        }
    }

    fn went_down(&self, reason: &str) {
        self.downs.fetch_add(1, Ordering::Relaxed);
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.as_deref() == Some(reason) {
            return;
        }
        let why = match super::tls::explain(reason, &self.target) {
            Some(explained) => format!("{explained}: {reason}"),
            None => reason.to_owned(),
        };
        crate::log::error(&format!(
            "student database {} is unreachable: {why}; the student routes answer 503 until it is back (retrying \
             with backoff)",
            self.target.describe()
        ));
        *logged = Some(reason.to_owned());
    }

    fn came_up(&self) {
        let was_down = self.logged.lock().unwrap_or_else(PoisonError::into_inner).take().is_some();
        let note = self.note.lock().unwrap_or_else(PoisonError::into_inner).take();
        let note = note.map(|n| format!(", {n}")).unwrap_or_default();
        let what = if was_down { "reachable again" } else { "connected" };
        crate::log::info(&format!("student database {} {what}{note}", self.target.describe()));
    }

    /// Waits until an attempt is due (the database found lost, or the backoff over; the first
    /// attempt is due at once), or, while it is up, a probe (every `PROBE_EVERY`).
    pub(super) async fn due(&self) -> Due {
        loop {
            let phase = *self.phase.borrow();
            match phase {
                Phase::Connecting => return Due::Attempt,
                Phase::Up => {
                    tokio::select! {
                        () = tokio::time::sleep(PROBE_EVERY) => if self.is_up() { return Due::Probe },
                        () = self.wake.notified() => {}
                    }
                }
                Phase::Down { retry_at } => {
                    tokio::select! {
                        () = tokio::time::sleep_until(retry_at.into()) => return Due::Attempt,
                        () = self.wake.notified() => {}
                    }
                }
            }
        }
    }

    /// An attempt starts: requests wait for its outcome.
    pub(super) fn attempting(&self) {
        self.phase.send_replace(Phase::Connecting);
    }

    /// An attempt's outcome: up, or down until after the backoff (which then doubles).
    pub(super) fn attempted(&self, outcome: Result<(), String>) {
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(()) => {
                *backoff = BACKOFF_FIRST;
                self.came_up();
                self.phase.send_replace(Phase::Up);
            }
            Err(reason) => {
                let jitter = backoff.mul_f64(0.8 + 0.4 * fastrand::f64());
                self.phase.send_replace(Phase::Down { retry_at: Instant::now() + jitter });
                self.went_down(&reason);
                *backoff = (*backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// 503 with `Retry-After`: whole seconds until `retry_at`, at least 1.
pub(super) fn unavailable(retry_at: Instant) -> Failure {
    let wait = retry_at.saturating_duration_since(Instant::now());
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Failure {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "student database is unavailable: retry later".into(),
        retry_after: Some(seconds.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn health() -> Arc<Health> {
        let target = crate::config::database_url::parse("postgres://app@127.0.0.1:1/x?sslmode=disable", None).unwrap();
        Arc::new(Health::new(target, Duration::from_millis(200)))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// The monitor's loop (as `PgStore::spawn_monitor` runs it) on a fake attempt that succeeds,
    /// fails twice, then succeeds.
    async fn monitor(health: Arc<Health>, attempts: Arc<AtomicUsize>) {
        loop {
            if health.due().await == Due::Probe {
                continue;
            }
            health.attempting();
            let n = attempts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            health.attempted(if n == 1 || n == 2 { Err("connection refused".to_owned()) } else { Ok(()) });
        }
    }

    #[test]
    fn requests_wait_for_the_first_attempt_then_follow_the_state() {
        runtime().block_on(async {
            let health = health();
            let attempts = Arc::new(AtomicUsize::new(0));
            let task = tokio::spawn(monitor(Arc::clone(&health), Arc::clone(&attempts)));
            // The first request waits for the first attempt, which succeeds.
            assert_eq!(health.usable().await, Ok(()));
            assert!(health.is_up());
            // A request finds the connection lost: 503, down, and the task retries by itself.
            let (failure, turned) = health.lost("connection closed");
            assert!(turned);
            assert_eq!((failure.status, failure.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
            assert_eq!(health.downs(), 1);
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut refused = 0;
            while !health.is_up() {
                assert!(Instant::now() < deadline, "never came back");
                if let Err(failure) = health.usable().await {
                    assert_eq!(failure.status, StatusCode::SERVICE_UNAVAILABLE);
                    assert!(failure.retry_after.unwrap() >= 1);
                    refused += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(refused > 0, "503s while it was down");
            assert_eq!(attempts.load(Ordering::Relaxed), 4, "1 ok, 2 failed with backoff, 1 ok");
            task.abort();
        });
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(unavailable(Instant::now()).retry_after, Some(1));
        assert_eq!(unavailable(Instant::now() + Duration::from_millis(2500)).retry_after, Some(3));
    }
}
