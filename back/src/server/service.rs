//! What happens around every request: in-flight accounting, timing, metrics and the access log.

use std::sync::Arc;
use std::time::Instant;

use hyper::body::{Body as _, Incoming};
use hyper::{Method, Request};

use crate::access_log::{AccessLog, Entry};
use crate::http::Response;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::server::timeout_io::ConnActivity;

pub(crate) struct Service {
    router: Router,
    metrics: Arc<Metrics>,
    access_log: Option<Arc<AccessLog>>,
}

impl Service {
    pub(crate) fn new(router: Router, metrics: Arc<Metrics>, access_log: Option<Arc<AccessLog>>) -> Self {
        Service { router, metrics, access_log }
    }

    /// Counts one accepted TCP connection (`http_connections_accepted_total`).
    pub(crate) fn connection_accepted(&self) {
        self.metrics.connection_accepted();
    }

    /// Whether a request to `path` reads its peer address (the student routes' login throttle).
    pub(crate) fn wants_peer(&self, path: &str) -> bool {
        self.router.wants_peer(path)
    }

    pub(crate) async fn handle(&self, request: Request<Incoming>, connection: &ConnActivity) -> Response {
        let _in_flight = InFlight::enter(&self.metrics, connection);
        let started = Instant::now();
        // Kept only for the log line; both clones are cheap (the URI shares the read buffer).
        let logged = self.access_log.as_ref().map(|_| (request.method().clone(), request.uri().clone()));

        let (route, response) = self.router.route(request).await;

        let elapsed = started.elapsed();
        self.metrics.observe(route, response.status(), elapsed);
        if let (Some(log), Some((method, uri))) = (&self.access_log, logged) {
            let bytes = if method == Method::HEAD { 0 } else { response.body().size_hint().exact().unwrap_or(0) };
            log.record(&Entry {
                method: method.as_str(),
                path: uri.path(),
                status: response.status().as_u16(),
                bytes,
                duration: elapsed,
            });
        }
        response
    }
}

/// Counts a request as in flight until dropped, even if its connection is dropped mid-way.
struct InFlight<'a> {
    metrics: &'a Metrics,
    connection: &'a ConnActivity,
}

impl<'a> InFlight<'a> {
    fn enter(metrics: &'a Metrics, connection: &'a ConnActivity) -> Self {
        metrics.request_started();
        connection.request_started();
        InFlight { metrics, connection }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.request_ended();
        self.connection.request_ended();
    }
}
