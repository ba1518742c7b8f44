//! The HTTP side of the student-ages API (the rebuilt `student_age.py`): basic auth, the legacy
//! read routes and the REST write routes, all under `STUDENTS_API_PREFIX`, over whichever store
//! the configuration names (`super::store`: it never knows which).
//!
//! Interface used by the server and the router (keep these signatures):
//! - `StudentsApi::load(&StudentsConfig)` at start: without credentials the API is off and no
//!   store is opened; else `Store::open`; then `warnings()`: lines the core logs once at startup
//!   (e.g. no credentials configured, the lock held by another process); `store()`: the store, for
//!   the server to `start` in the runtime and for `/metrics`;
//! - `unready_reason()`: why the back must not be ready (the file store should be writable but its
//!   lock is not held), used by `/readyz`; a database that is down never makes the back unready;
//! - `matches(path)`: is this path under the prefix;
//! - `allow(path)`: the `Allow` value for a path under the prefix (`None`: no such route → 404),
//!   used for `OPTIONS` (the router answers it, without authentication, for CORS preflight);
//! - `handle(req)`: answers any other request whose path `matches`, 405 included.
//!
//! Order of checks for every request: configured (503), throttled (429, `throttle`: the
//! credentials are then not checked), authenticated (401), route (404),
//! method (405), then the route's own checks. Nothing about the API shows without credentials.

mod auth;
mod body;
mod handlers;
mod percent;
mod routes;
mod throttle;

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use hyper::body::{Body as HttpBody, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};

use crate::client_ip::{PeerAddr, TrustedProxies};
use crate::config::{LoginThrottleConfig, StudentsConfig};
use crate::error::StartupError;
use crate::http::{self, Response};
use crate::students::store::Store;
use auth::BasicAuth;
use routes::Route;
pub(crate) use throttle::LoginThrottle;
use throttle::Verdict;

pub(crate) const NOT_CONFIGURED: &str = "student API not configured: set API_USERNAME and API_PASSWORD";
/// The legacy 401 body, kept byte for byte.
const UNAUTHORIZED: &str = "Unauthorized access";

pub(crate) struct StudentsApi {
    prefix: String,
    /// `None`: no credentials configured; every student route answers 503.
    auth: Option<BasicAuth>,
    /// `None`: no credentials, the API is off, and no store is opened or locked.
    store: Option<Store>,
    warnings: Vec<String>,
    /// `None` (unit tests): failed logins are not throttled.
    throttle: Option<Arc<LoginThrottle>>,
    trusted_proxies: TrustedProxies,
}

impl StudentsApi {
    pub(crate) fn load(config: &StudentsConfig) -> Result<Self, StartupError> {
        let mut warnings = Vec::new();
        let store = if config.credentials.is_none() {
            warnings.push(format!("{NOT_CONFIGURED}; the student routes answer 503"));
            None
        } else {
            Some(Store::open(config, &mut warnings)?)
        };
        Ok(StudentsApi {
            prefix: config.prefix.clone(),
            auth: config.credentials.as_ref().map(BasicAuth::new),
            store,
            warnings,
            throttle: None,
            trusted_proxies: TrustedProxies::default(),
        })
    }

    /// The store, when the API is on: the server starts it in the runtime, `/metrics` shows it.
    pub(crate) fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Throttles failed logins per client, as `config` says.
    pub(crate) fn with_login_throttle(mut self, config: &LoginThrottleConfig) -> Self {
        self.throttle = Some(Arc::new(LoginThrottle::new(config)));
        self.trusted_proxies = config.trusted_proxies.clone();
        self
    }

    /// Why the back must not be ready (`Store::unready_reason`).
    pub(crate) fn unready_reason(&self) -> Option<Arc<str>> {
        self.store.as_ref().and_then(Store::unready_reason)
    }

    /// The login throttle, for its metrics.
    pub(crate) fn login_throttle(&self) -> Option<Arc<LoginThrottle>> {
        self.throttle.clone()
    }

    /// Lines to log once at startup, as warnings.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// True when `path` is the prefix itself or below it.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.rest(path).is_some()
    }

    pub(crate) fn allow(&self, path: &str) -> Option<&'static str> {
        self.rest(path).and_then(Route::parse).map(Route::allow)
    }

    pub(crate) async fn handle(&self, req: Request<Incoming>) -> Response {
        self.respond(req).await
    }

    fn rest<'p>(&self, path: &'p str) -> Option<&'p str> {
        path.strip_prefix(self.prefix.as_str()).filter(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    async fn respond<B>(&self, req: Request<B>) -> Response
    where
        B: HttpBody,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let Some(auth) = &self.auth else {
            return http::error(StatusCode::SERVICE_UNAVAILABLE, NOT_CONFIGURED);
        };
        let (parts, body) = req.into_parts();
        let header = parts.headers.get(AUTHORIZATION);
        let verdict = match &self.throttle {
            Some(throttle) => {
                let peer = parts.extensions.get::<PeerAddr>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
                let client = self.trusted_proxies.client(peer, &parts.headers);
                // A request without credentials is refused but guesses nothing: it is not counted.
                throttle.attempt(client, Instant::now(), header.is_some(), || auth.allows(header))
            }
            None if auth.allows(header) => Verdict::Allowed,
            None => Verdict::Denied,
        };
        match verdict {
            Verdict::Allowed => {}
            Verdict::Denied => {
                let mut response = http::error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
                response.headers_mut().insert(WWW_AUTHENTICATE, auth::CHALLENGE);
                return response;
            }
            Verdict::Throttled(retry) => return throttled(retry),
        }
        let Some(route) = self.rest(parts.uri.path()).and_then(Route::parse) else {
            return http::error(StatusCode::NOT_FOUND, handlers::LEGACY_NOT_FOUND);
        };
        let name = match route.name().map(percent::decode).transpose() {
            Ok(name) => name.unwrap_or_default(),
            Err(e) => return http::error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let Some(store) = &self.store else {
            return http::error(StatusCode::SERVICE_UNAVAILABLE, NOT_CONFIGURED);
        };
        match (route, &parts.method) {
            // HEAD answers like GET; hyper sends the headers without the body.
            (Route::LegacyList, &(Method::GET | Method::HEAD)) => handlers::legacy_list(store).await,
            (Route::LegacyOne(_), &(Method::GET | Method::HEAD)) => handlers::legacy_one(store, &name).await,
            (Route::Collection, &(Method::GET | Method::HEAD)) => {
                handlers::list(store, &self.prefix, parts.uri.query()).await
            }
            (Route::Collection, &Method::POST) => handlers::create(store, &self.prefix, &parts.headers, body).await,
            (Route::Item(_), &(Method::GET | Method::HEAD)) => handlers::get(store, &name).await,
            (Route::Item(_), &Method::PUT) => handlers::update(store, &name, &parts.headers, body).await,
            (Route::Item(_), &Method::DELETE) => handlers::delete(store, &name).await,
            _ => http::method_not_allowed(route.allow()),
        }
    }
}

/// 429 with `Retry-After` in whole seconds, rounded up (at least 1).
fn throttled(retry: std::time::Duration) -> Response {
    let seconds = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = http::error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("too many failed logins from this address: retry in {seconds} s"),
    );
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Credentials;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use std::path::PathBuf;

    const ROOT_ROOT: &str = "Basic cm9vdDpyb290";

    fn api(credentials: bool, store_file: PathBuf) -> StudentsApi {
        StudentsApi::load(&StudentsConfig {
            prefix: "/supmit/api/v1.0".into(),
            credentials: credentials.then(|| Credentials { username: "root".into(), password: "root".into() }),
            store_file,
            // Read-only: these tests need no lock, and a missing directory starts no waiting thread.
            read_only: true,
            max: crate::config::DEFAULT_STUDENTS_MAX,
            database: None,
        })
        .unwrap()
    }

    fn missing_store() -> PathBuf {
        std::env::temp_dir().join(format!("racontemoi-mod-{}/none/student_age.json", std::process::id()))
    }

    fn call(api: &StudentsApi, method: &str, path: &str, auth: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let response = api.respond(request).await;
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        })
    }

    #[test]
    fn throttled_answers_round_retry_after_up() {
        for (retry, seconds) in [(0, "1"), (1, "1"), (1_000, "1"), (1_001, "2"), (59_999, "60")] {
            let response = throttled(std::time::Duration::from_millis(retry));
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[RETRY_AFTER], seconds, "{retry} ms");
            assert_eq!(response.headers().get(WWW_AUTHENTICATE), None);
        }
    }

    #[test]
    fn routes_and_allow() {
        assert_eq!(Route::parse("/get_student_ages"), Some(Route::LegacyList));
        assert_eq!(Route::parse("/get_student_ages/al%20ice"), Some(Route::LegacyOne("al%20ice")));
        assert_eq!(Route::parse("/students"), Some(Route::Collection));
        assert_eq!(Route::parse("/students/bob"), Some(Route::Item("bob")));
        for none in ["", "/", "/students/", "/students/a/b", "/get_student_ages/", "/other", "/studentsx", "students"] {
            assert_eq!(Route::parse(none), None, "{none:?}");
        }
        let api = api(true, missing_store());
        assert!(api.matches("/supmit/api/v1.0"));
        assert!(api.matches("/supmit/api/v1.0/anything"));
        assert!(!api.matches("/supmit/api/v1.01"));
        assert!(!api.matches("/racontemoiunehistoire"));
        assert_eq!(api.allow("/supmit/api/v1.0/students"), Some("GET, HEAD, POST, OPTIONS"));
        assert_eq!(api.allow("/supmit/api/v1.0/nothing"), None);
    }

    #[test]
    fn not_configured_answers_503_and_warns() {
        let api = api(false, missing_store());
        assert!(api.auth.is_none());
        assert!(api.warnings().iter().any(|w| w.starts_with(NOT_CONFIGURED)));
        let (status, body) = call(&api, "GET", "/supmit/api/v1.0/get_student_ages", Some(ROOT_ROOT));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, format!(r#"{{"error":"{NOT_CONFIGURED}"}}"#));
    }

    #[test]
    fn authentication_comes_first() {
        let api = api(true, missing_store());
        for path in ["/supmit/api/v1.0/get_student_ages", "/supmit/api/v1.0/nothing"] {
            let (status, body) = call(&api, "GET", path, None);
            assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, r#"{"error":"Unauthorized access"}"#));
        }
    }

    #[test]
    fn legacy_reads() {
        let api = api(true, missing_store());
        let read = |path: &str| call(&api, "GET", &format!("/supmit/api/v1.0{path}"), Some(ROOT_ROOT));
        assert_eq!(
            read("/get_student_ages"),
            (StatusCode::OK, r#"{"student_ages": {"alice": "12", "bob": "13"}}"#.into())
        );
        assert_eq!(read("/get_student_ages/alice"), (StatusCode::OK, r#"{"alice": "12"}"#.into()));
        assert_eq!(read("/get_student_ages/zed"), (StatusCode::NOT_FOUND, r#"{"error":"Not found"}"#.into()));
        assert_eq!(read("/get_student_ages/%FF").0, StatusCode::BAD_REQUEST);
        assert_eq!(read("/students/bob"), (StatusCode::OK, r#"{"name":"bob","age":13}"#.into()));
        assert_eq!(read("/nothing"), (StatusCode::NOT_FOUND, r#"{"error":"Not found"}"#.into()));
        let (status, _) = call(&api, "PATCH", "/supmit/api/v1.0/students", Some(ROOT_ROOT));
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
