//! racontemoi back: one random story line, and the student-ages API, on hyper 1 + tokio.
//! `main.rs` only calls into this library; each module is one concern.

pub mod config;
pub mod error;
pub mod http;
pub mod students;
