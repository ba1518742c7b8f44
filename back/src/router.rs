//! Dispatch by path and method, CORS on every route, 404 and 405.

use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW};
use hyper::{Method, Request, StatusCode};

use crate::cors::Cors;
use crate::http::{self, Response};
use crate::metrics::Route;
use crate::ops::Ops;
use crate::stories::Stories;
use crate::students::StudentsApi;

/// What every route outside the student API accepts.
const LOCAL_ALLOW: &str = "GET, HEAD, OPTIONS";

/// The routes served here (the student API routes its own paths).
#[derive(Clone, Copy)]
enum Local {
    Story,
    Healthz,
    Readyz,
    Metrics,
    Openapi,
}

impl Local {
    fn from_path(path: &str) -> Option<Self> {
        match path {
            "/racontemoiunehistoire" => Some(Local::Story),
            "/healthz" => Some(Local::Healthz),
            "/readyz" => Some(Local::Readyz),
            "/metrics" => Some(Local::Metrics),
            "/openapi.json" => Some(Local::Openapi),
            _ => None,
        }
    }

    fn route(self) -> Route {
        match self {
            Local::Story => Route::Story,
            Local::Healthz => Route::Healthz,
            Local::Readyz => Route::Readyz,
            Local::Metrics => Route::Metrics,
            Local::Openapi => Route::Openapi,
        }
    }
}

pub struct Router {
    stories: Stories,
    students: StudentsApi,
    cors: Cors,
    ops: Ops,
}

impl Router {
    pub fn new(stories: Stories, students: StudentsApi, cors: Cors, ops: Ops) -> Self {
        Router { stories, students, cors, ops }
    }

    /// Answers any request; also says which route (metrics label) answered.
    pub async fn route(&self, request: Request<Incoming>) -> (Route, Response) {
        let origin = self.cors.allowed_origin(request.headers());
        let (route, mut response) = self.dispatch(request, origin.is_some()).await;
        self.cors.decorate(&mut response, origin);
        (route, response)
    }

    async fn dispatch(&self, request: Request<Incoming>, cors_allowed: bool) -> (Route, Response) {
        let path = request.uri().path();
        if let Some(local) = Local::from_path(path) {
            let response = match *request.method() {
                // hyper sends the headers of a HEAD answer, with its Content-Length, and no body.
                Method::GET | Method::HEAD => self.local(local, request.headers()),
                Method::OPTIONS => options(request.headers(), cors_allowed, HeaderValue::from_static(LOCAL_ALLOW)),
                _ => http::method_not_allowed(LOCAL_ALLOW),
            };
            return (local.route(), response);
        }
        if self.students.matches(path) {
            if request.method() != Method::OPTIONS {
                return (Route::Students, self.students.handle(request).await);
            }
            let response = match self.students.allow(path) {
                Some(allow) => options(request.headers(), cors_allowed, with_options(allow)),
                None => http::not_found(),
            };
            return (Route::Students, response);
        }
        (Route::NotFound, http::not_found())
    }

    fn local(&self, local: Local, headers: &HeaderMap) -> Response {
        match local {
            Local::Story => self.stories.respond(headers),
            Local::Healthz => self.ops.healthz(),
            Local::Readyz => self.ops.readyz(self.students.unready_reason().as_deref()),
            Local::Metrics => self.ops.metrics(),
            Local::Openapi => self.ops.openapi(),
        }
    }
}

/// 204 to `OPTIONS`, with `Allow`, and the CORS preflight headers when it is one.
fn options(request: &HeaderMap, cors_allowed: bool, allow: HeaderValue) -> Response {
    let mut response = http::empty(StatusCode::NO_CONTENT);
    Cors::preflight(request, cors_allowed, allow.clone(), &mut response);
    response.headers_mut().insert(ALLOW, allow);
    response
}

/// A route's `Allow` value with `OPTIONS`, which the router answers for every route.
fn with_options(allow: &'static str) -> HeaderValue {
    if allow.split(',').any(|method| method.trim() == "OPTIONS") {
        HeaderValue::from_static(allow)
    } else {
        HeaderValue::from_str(&format!("{allow}, OPTIONS")).unwrap_or(HeaderValue::from_static(allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_is_added_once() {
        assert_eq!(with_options("GET, POST"), "GET, POST, OPTIONS");
        assert_eq!(with_options("GET, OPTIONS"), "GET, OPTIONS");
    }

    #[test]
    fn local_paths_are_exact() {
        assert!(Local::from_path("/healthz").is_some());
        for path in ["/healthz/", "/HEALTHZ", "/racontemoiunehistoire/x", "/racontemoi%75nehistoire", "*", ""] {
            assert!(Local::from_path(path).is_none(), "{path}");
        }
    }
}
