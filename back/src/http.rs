//! The response body type and the JSON helpers every handler shares.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::StatusCode;

/// Every response body is a single buffer; handlers never stream.
pub(crate) type Body = Full<Bytes>;
pub(crate) type Response = hyper::Response<Body>;

pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub(crate) const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
pub(crate) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A response with `body` as `application/json`.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// A response with `value` serialised as JSON.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    json_bytes(status, value.to_string())
}

/// A JSON response that caches must not keep (health and readiness change over time).
pub(crate) fn json_no_store(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = json_bytes(status, body);
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    response
}

/// An answer without a body, such as 204.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = hyper::Response::new(Body::default());
    *response.status_mut() = status;
    response
}

/// `{"error": message}` with `status`: the shape of every error of the back.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// 404 for a path no route serves.
pub(crate) fn not_found() -> Response {
    json_bytes(StatusCode::NOT_FOUND, Bytes::from_static(br#"{"error":"not found"}"#))
}

/// 405 with the `Allow` header listing what the route accepts.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}
