//! The student-ages API (the rebuilt `student_age.py`): basic auth, a durable JSON store,
//! the legacy read routes and the REST write routes, all under `STUDENTS_API_PREFIX`.
//!
//! Interface used by the router (keep these signatures):
//! - `StudentsApi::load(&StudentsConfig)` at start (reads the store; a corrupt file is an error);
//! - `matches(path)`: is this path under the prefix;
//! - `allow(path)`: the `Allow` value for a path under the prefix (`None`: no such route → 404),
//!   used for 405 and CORS preflight;
//! - `handle(req)`: answers any request whose path `matches`.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::config::StudentsConfig;
use crate::error::StartupError;
use crate::http::{self, Response};

pub struct StudentsApi {
    prefix: String,
}

impl StudentsApi {
    pub fn load(config: &StudentsConfig) -> Result<Self, StartupError> {
        Ok(StudentsApi { prefix: config.prefix.clone() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when `path` is the prefix itself or below it.
    pub fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    pub fn allow(&self, _path: &str) -> Option<&'static str> {
        None
    }

    pub async fn handle(&self, _req: Request<Incoming>) -> Response {
        http::error(StatusCode::NOT_FOUND, "not found")
    }
}
