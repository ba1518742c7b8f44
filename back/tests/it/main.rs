//! The integration tests: one crate, run with `cargo test -p back --test it`. Each module runs the
//! real `back` binary (`common::Server`) and talks to it over real sockets; `students_support`
//! adds what the student-API modules share.

mod common;
mod students_support;

mod hostile;
mod limits;
mod login_throttle;
mod routes;
mod shutdown;
mod startup;
mod students_durability;
mod students_format;
mod students_http;
mod students_postgres;
mod timeouts;
