//! Request metrics in Prometheus text format: counters by route and status, requests in flight,
//! a latency histogram and the build version. Plain relaxed atomics: recording costs a few
//! uncontended increments per request.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hyper::StatusCode;

/// The fixed set of route labels (never a raw path: its cardinality would be unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Story,
    Healthz,
    Readyz,
    Metrics,
    Openapi,
    Students,
    NotFound,
}

impl Route {
    const ALL: [Route; 7] =
        [Route::Story, Route::Healthz, Route::Readyz, Route::Metrics, Route::Openapi, Route::Students, Route::NotFound];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Route::Story => "story",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Openapi => "openapi",
            Route::Students => "students",
            Route::NotFound => "not_found",
        }
    }
}

/// Status codes the back answers with; anything else is counted as `other`.
const STATUSES: [u16; 20] =
    [200, 201, 204, 301, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 431, 500, 503, 504];
const STATUS_SLOTS: usize = STATUSES.len() + 1;

/// Upper bounds of the latency buckets, in seconds and in nanoseconds.
const BUCKETS: [(&str, u64); 14] = [
    ("0.0001", 100_000),
    ("0.00025", 250_000),
    ("0.0005", 500_000),
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
    ("5", 5_000_000_000),
];

pub(crate) struct Metrics {
    requests: [[AtomicU64; STATUS_SLOTS]; Route::ALL.len()],
    in_flight: AtomicI64,
    /// Non-cumulative counts; the last slot is above every bound (`+Inf`).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_nanos: AtomicU64,
    version: &'static str,
    /// TCP connections accepted: with a proxy that reuses its connections, far fewer than requests.
    connections_accepted: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(version: &'static str) -> Self {
        Metrics {
            requests: [const { [const { AtomicU64::new(0) }; STATUS_SLOTS] }; Route::ALL.len()],
            in_flight: AtomicI64::new(0),
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            duration_sum_nanos: AtomicU64::new(0),
            version,
            connections_accepted: AtomicU64::new(0),
        }
    }

    pub(crate) fn connection_accepted(&self) {
        self.connections_accepted.fetch_add(1, Relaxed);
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    pub(crate) fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    /// Counts one answered request.
    pub(crate) fn observe(&self, route: Route, status: StatusCode, duration: Duration) {
        let slot = STATUSES.iter().position(|&s| s == status.as_u16()).unwrap_or(STATUSES.len());
        if let Some(counter) = self.requests.get(route as usize).and_then(|row| row.get(slot)) {
            counter.fetch_add(1, Relaxed);
        }
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS.iter().position(|&(_, bound)| nanos <= bound).unwrap_or(BUCKETS.len());
        if let Some(counter) = self.buckets.get(bucket) {
            counter.fetch_add(1, Relaxed);
        }
        self.duration_sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP http_requests_total HTTP requests answered, by route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (route, row) in Route::ALL.iter().zip(&self.requests) {
            for (slot, counter) in row.iter().enumerate() {
                let count = counter.load(Relaxed);
                if count == 0 {
                    continue;
                }
                let label = route.label();
                match STATUSES.get(slot) {
                    Some(status) => {
                        writeln!(out, "http_requests_total{{route=\"{label}\",status=\"{status}\"}} {count}")
                    }
                    None => writeln!(out, "http_requests_total{{route=\"{label}\",status=\"other\"}} {count}"),
                }
                .ok();
            }
        }

        out.push_str("# HELP http_requests_in_flight HTTP requests being handled.\n");
        out.push_str("# TYPE http_requests_in_flight gauge\n");
        writeln!(out, "http_requests_in_flight {}", self.in_flight.load(Relaxed)).ok();

        out.push_str("# HELP http_request_duration_seconds Time to produce a response.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (&(bound, _), counter) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += counter.load(Relaxed);
            writeln!(out, "http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}").ok();
        }
        cumulative += self.buckets.last().map_or(0, |c| c.load(Relaxed));
        writeln!(out, "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}").ok();
        let sum = self.duration_sum_nanos.load(Relaxed) as f64 / 1e9;
        writeln!(out, "http_request_duration_seconds_sum {sum}").ok();
        writeln!(out, "http_request_duration_seconds_count {cumulative}").ok();

        out.push_str("# HELP http_connections_accepted_total TCP connections accepted.\n");
        out.push_str("# TYPE http_connections_accepted_total counter\n");
        writeln!(out, "http_connections_accepted_total {}", self.connections_accepted.load(Relaxed)).ok();

        out.push_str("# HELP racontemoi_build_info Version of the running back.\n");
        out.push_str("# TYPE racontemoi_build_info gauge\n");
        writeln!(out, "racontemoi_build_info{{version=\"{}\"}} 1", self.version).ok();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_status_and_bucket() {
        let metrics = Metrics::new("1.2.3");
        metrics.observe(Route::Story, StatusCode::OK, Duration::from_micros(50));
        metrics.observe(Route::Story, StatusCode::OK, Duration::from_millis(3));
        metrics.observe(Route::NotFound, StatusCode::NOT_FOUND, Duration::from_secs(9));
        metrics.observe(Route::Students, StatusCode::IM_A_TEAPOT, Duration::ZERO);
        metrics.request_started();
        metrics.connection_accepted();
        let text = metrics.render();
        assert!(text.contains("http_requests_total{route=\"story\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("http_requests_total{route=\"not_found\",status=\"404\"} 1\n"));
        assert!(text.contains("http_requests_total{route=\"students\",status=\"other\"} 1\n"));
        assert!(text.contains("http_requests_in_flight 1\n"));
        assert!(text.contains("http_request_duration_seconds_bucket{le=\"0.0001\"} 2\n"));
        assert!(text.contains("http_request_duration_seconds_bucket{le=\"0.005\"} 3\n"));
        assert!(text.contains("http_request_duration_seconds_bucket{le=\"5\"} 3\n"));
        assert!(text.contains("http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("http_request_duration_seconds_count 4\n"));
        assert!(text.contains("racontemoi_build_info{version=\"1.2.3\"} 1\n"));
        assert!(text.contains("http_connections_accepted_total 1\n"));
        assert!(!text.contains("healthz"));
    }
}
