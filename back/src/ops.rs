//! Operations routes: `/healthz` (liveness), `/readyz` (readiness, fails once shutdown begins),
//! `/metrics` and `/openapi.json`. The client of `--healthcheck` and `--probe` is `crate::probe`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::StatusCode;

use crate::embedded::OPENAPI;
use crate::http::{self, Response, NO_STORE};
use crate::metrics::Metrics;
use crate::students::store::Store;
use crate::students::LoginThrottle;

const PROMETHEUS_TEXT: HeaderValue = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// Whether the server takes new work; turned off when shutdown begins, never back on.
#[derive(Debug)]
pub(crate) struct Readiness(AtomicBool);

impl Readiness {
    pub(crate) fn new() -> Self {
        Readiness(AtomicBool::new(true))
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn shutting_down(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) struct Ops {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    login_throttle: Option<Arc<LoginThrottle>>,
    students_store: Option<Store>,
}

impl Ops {
    pub(crate) fn new(readiness: Arc<Readiness>, metrics: Arc<Metrics>) -> Self {
        Ops { readiness, metrics, login_throttle: None, students_store: None }
    }

    /// Adds the login throttle's counters to `/metrics`.
    pub(crate) fn with_login_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.login_throttle = Some(throttle);
        self
    }

    /// Adds the student store's own series (a database's state and pool) to `/metrics`.
    pub(crate) fn with_students_store(mut self, store: Store) -> Self {
        self.students_store = Some(store);
        self
    }

    pub(crate) fn healthz(&self) -> Response {
        http::json_no_store(StatusCode::OK, &br#"{"status":"ok"}"#[..])
    }

    /// 200 while serving; 503 once shutdown begins, or while the student store, meant to be
    /// writable, is not (`store_unready`: why, such as its lock held by another process).
    pub(crate) fn readyz(&self, store_unready: Option<&str>) -> Response {
        if !self.readiness.is_ready() {
            return http::json_no_store(StatusCode::SERVICE_UNAVAILABLE, &br#"{"status":"shutting down"}"#[..]);
        }
        match store_unready {
            None => http::json_no_store(StatusCode::OK, &br#"{"status":"ready"}"#[..]),
            Some(reason) => http::json_no_store(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "not ready", "reason": reason}).to_string(),
            ),
        }
    }

    pub(crate) fn metrics(&self) -> Response {
        let mut text = self.metrics.render();
        if let Some(throttle) = &self.login_throttle {
            throttle.render_metrics(&mut text);
        }
        if let Some(store) = &self.students_store {
            store.render_metrics(&mut text);
        }
        let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
        response.headers_mut().insert(CONTENT_TYPE, PROMETHEUS_TEXT);
        response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
        response
    }

    pub(crate) fn openapi(&self) -> Response {
        http::json_bytes(StatusCode::OK, Bytes::from_static(OPENAPI))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_json() {
        let document: serde_json::Value = serde_json::from_slice(OPENAPI).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    }

    #[test]
    fn readiness_turns_off() {
        let readiness = Arc::new(Readiness::new());
        let ops = Ops::new(readiness.clone(), Arc::new(Metrics::new("0")));
        assert_eq!(ops.readyz(None).status(), StatusCode::OK);
        assert_eq!(ops.readyz(Some("student store locked")).status(), StatusCode::SERVICE_UNAVAILABLE);
        readiness.shutting_down();
        assert_eq!(ops.readyz(None).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ops.healthz().status(), StatusCode::OK);
    }
}
