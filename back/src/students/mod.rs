//! The student-ages API: `api/` is the HTTP side (routes, auth, throttle, handlers, bodies),
//! `store/` the one store interface and its two stores (the file, PostgreSQL), `validate.rs` the
//! name and age rules both sides apply.

mod api;
pub(crate) mod store;
mod validate;

pub(crate) use api::{LoginThrottle, StudentsApi};
