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

/// The route of a path served here (the student API routes its own paths).
fn local_route(path: &str) -> Option<Route> {
    match path {
        "/racontemoiunehistoire" => Some(Route::Story),
        "/healthz" => Some(Route::Healthz),
        "/readyz" => Some(Route::Readyz),
        "/metrics" => Some(Route::Metrics),
        "/openapi.json" => Some(Route::Openapi),
        _ => None,
    }
}

pub(crate) struct Router {
    stories: Stories,
    students: StudentsApi,
    cors: Cors,
    ops: Ops,
}

impl Router {
    pub(crate) fn new(stories: Stories, students: StudentsApi, cors: Cors, ops: Ops) -> Self {
        Router { stories, students, cors, ops }
    }

    /// Whether a request to `path` reads its peer address: the student routes do (login throttle).
    pub(crate) fn wants_peer(&self, path: &str) -> bool {
        self.students.matches(path)
    }

    /// Answers any request; also says which route (metrics label) answered.
    pub(crate) async fn route(&self, request: Request<Incoming>) -> (Route, Response) {
        let origin = self.cors.allowed_origin(request.headers());
        let (route, mut response) = self.dispatch(request, origin.is_some()).await;
        self.cors.decorate(&mut response, origin);
        (route, response)
    }

    async fn dispatch(&self, request: Request<Incoming>, cors_allowed: bool) -> (Route, Response) {
        let path = request.uri().path();
        if let Some(route) = local_route(path) {
            let response = match *request.method() {
                // hyper sends the headers of a HEAD answer, with its Content-Length, and no body.
                Method::GET | Method::HEAD => self.local(route, request.headers()),
                Method::OPTIONS => options(request.headers(), cors_allowed, HeaderValue::from_static(LOCAL_ALLOW)),
                _ => http::method_not_allowed(LOCAL_ALLOW),
            };
            return (route, response);
        }
        if self.students.matches(path) {
            if request.method() != Method::OPTIONS {
                // Boxed: the students' future (body reading, group commit) is large, and every
                // request's future, a story's too, would otherwise be that large and be moved
                // (memcpy) by hyper on each request.
                return (Route::Students, Box::pin(self.students.handle(request)).await);
            }
            let response = match self.students.allow(path) {
                Some(allow) => options(request.headers(), cors_allowed, with_options(allow)),
                None => http::not_found(),
            };
            return (Route::Students, response);
        }
        (Route::NotFound, http::not_found())
    }

    fn local(&self, route: Route, headers: &HeaderMap) -> Response {
        match route {
            Route::Story => self.stories.respond(headers),
            Route::Healthz => self.ops.healthz(),
            Route::Readyz => self.ops.readyz(self.students.unready_reason().as_deref()),
            Route::Metrics => self.ops.metrics(),
            Route::Openapi => self.ops.openapi(),
            // Never a `local_route`.
            Route::Students | Route::NotFound => http::not_found(),
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
        assert_eq!(local_route("/healthz"), Some(Route::Healthz));
        for path in ["/healthz/", "/HEALTHZ", "/racontemoiunehistoire/x", "/racontemoi%75nehistoire", "*", ""] {
            assert!(local_route(path).is_none(), "{path}");
        }
    }
}
