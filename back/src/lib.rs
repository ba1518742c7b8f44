//! racontemoi back: one random story line, and the student-ages API, on hyper 1 + tokio.
//! `main.rs` only calls `run`, the one public item; each module is one concern, crate-private.

pub(crate) mod access_log;
pub(crate) mod cli;
pub(crate) mod client_ip;
pub(crate) mod config;
pub(crate) mod cors;
pub(crate) mod embedded;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod negotiate;
pub(crate) mod ops;
pub(crate) mod probe;
pub(crate) mod router;
pub(crate) mod server;
pub(crate) mod stories;
pub(crate) mod students;
pub(crate) mod timestamp;

pub use cli::run;

/// The crate version, shown by `--version` and in `racontemoi_build_info`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
