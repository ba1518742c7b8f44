//! The server: builds the application from the configuration and runs it to the end.
//! `accept` binds, accepts and drains; `service` wraps every request; `signals` and `timeout_io`
//! are what `accept` waits on around each connection.

pub(crate) mod accept;
pub(crate) mod service;
pub(crate) mod signals;
pub(crate) mod timeout_io;

use std::sync::Arc;
use std::time::Duration;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::cors::Cors;
use crate::error::StartupError;
use crate::metrics::Metrics;
use crate::ops::{Ops, Readiness};
use crate::router::Router;
use crate::server::accept::Settings;
use crate::server::service::Service;
use crate::server::timeout_io::Timeouts;
use crate::stories::Stories;
use crate::students::StudentsApi;

/// Threads for blocking work (the student store's file writes and fsyncs).
const MAX_BLOCKING_THREADS: usize = 8;
/// How long blocking work may still run once the server has stopped.
const BLOCKING_GRACE: Duration = Duration::from_secs(1);

/// Loads everything, serves until a shutdown signal, then flushes the access log.
pub(crate) fn run(config: Config) -> Result<(), StartupError> {
    let stories = match &config.stories_file {
        Some(path) => Stories::from_file(path)?,
        None => Stories::embedded()?,
    };
    let students = StudentsApi::load(&config.students)?.with_login_throttle(&config.login_throttle);
    for warning in students.warnings() {
        crate::log::warn(warning);
    }
    let metrics = Arc::new(Metrics::new(crate::VERSION));
    let readiness = Arc::new(Readiness::new());
    let mut ops = Ops::new(Arc::clone(&readiness), Arc::clone(&metrics));
    if let Some(throttle) = students.login_throttle() {
        ops = ops.with_login_throttle(throttle);
    }
    let store = students.store().cloned();
    if let Some(store) = &store {
        ops = ops.with_students_store(store.clone());
    }
    let router = Router::new(stories, students, Cors::new(&config.cors), ops);
    let access_log = config.access_log.then(|| Arc::new(AccessLog::new(config.log_format)));
    let service = Arc::new(Service::new(router, metrics, access_log.clone()));
    let settings = Settings {
        addr: config.addr,
        timeouts: Timeouts { header_read: config.header_read_timeout, idle: config.idle_timeout },
        shutdown_timeout: config.shutdown_timeout,
    };

    // One thread runs every connection: hyper's HTTP/1 work is short and CPU-bound, and a single
    // event loop spends no CPU on work stealing or cross-thread wakeups, so it serves the most
    // requests per CPU second (the measure the benchmark holds us to, against one nginx worker).
    // Blocking file work goes to tokio's blocking pool (`spawn_blocking`), never on this thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .map_err(|e| StartupError(format!("cannot start the runtime: {e}")))?;
    let result = runtime.block_on(async {
        if let Some(log) = &access_log {
            log.spawn_flusher();
        }
        // A database connects (and checks the schema) in the background: the server listens meanwhile.
        if let Some(store) = &store {
            store.start();
        }
        accept::run(settings, service, readiness).await
    });
    runtime.shutdown_timeout(BLOCKING_GRACE);
    if let Some(log) = &access_log {
        log.flush();
    }
    if result.is_ok() {
        crate::log::info("stopped");
    }
    result
}
