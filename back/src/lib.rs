//! racontemoi back: one random story line, and the student-ages API, on hyper 1 + tokio.
//! `main.rs` only calls into this library; each module is one concern.

pub mod access_log;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod cors;
pub mod embedded;
pub mod error;
pub mod http;
pub mod log;
pub mod metrics;
pub mod negotiate;
pub mod ops;
pub mod probe;
pub mod router;
pub mod server;
pub mod stories;
pub mod students;
pub mod timestamp;

/// The crate version, shown by `--version` and in `racontemoi_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
