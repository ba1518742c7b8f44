//! Reading a JSON request body: content type, size cap, syntax, and the exact set of fields.

use std::error::Error as StdError;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// A refused body: the status and the message for `{"error": ...}`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Rejection {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Rejection { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

fn too_large() -> Rejection {
    Rejection {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("request body must be at most {MAX_BODY_BYTES} bytes"),
    }
}

/// Reads the body of a JSON request into its fields, after checking that it is JSON, at most
/// `MAX_BODY_BYTES` (by `Content-Length` first, then while reading, for a chunked or lying body),
/// a JSON object, and has exactly the `fields` listed.
pub(crate) async fn read_object<B>(
    headers: &HeaderMap,
    body: B,
    fields: &[&str],
) -> Result<Map<String, Value>, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    check_content_type(headers)?;
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = read_limited(body).await?;
    parse_object(&bytes, fields)
}

/// `application/json`, with or without parameters such as `; charset=utf-8`.
fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let essence =
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).map(str::trim);
    match essence {
        Some(mime) if mime.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(Rejection {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "request body must be JSON (Content-Type: application/json)".into(),
        }),
    }
}

async fn read_limited<B>(body: B) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(_) => Err(Rejection::bad_request("request body could not be read")),
    }
}

fn parse_object(bytes: &[u8], fields: &[&str]) -> Result<Map<String, Value>, Rejection> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::bad_request("request body is empty: expected a JSON object"));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Rejection::bad_request(format!("malformed JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(Rejection::bad_request("request body must be a JSON object"));
    };
    let expected = quoted_list(fields.iter().copied());
    if let Some(unknown) = object.keys().find(|key| !fields.contains(&key.as_str())) {
        return Err(Rejection::bad_request(format!(
            "unknown field {} (expected: {expected})",
            Value::from(unknown.as_str())
        )));
    }
    let missing: Vec<&str> = fields.iter().copied().filter(|f| !object.contains_key(*f)).collect();
    match missing.len() {
        0 => Ok(object),
        1 => Err(Rejection::bad_request(format!("missing field {}", quoted_list(missing)))),
        _ => Err(Rejection::bad_request(format!("missing fields {}", quoted_list(missing)))),
    }
}

fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use hyper::header::HeaderValue;

    const FIELDS: &[&str] = &["name", "age"];

    fn headers(content_type: Option<&str>, length: Option<usize>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        if let Some(length) = length {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        headers
    }

    fn read(content_type: Option<&str>, body: &str) -> Result<Map<String, Value>, Rejection> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let body = Full::new(Bytes::from(body.to_owned()));
        rt.block_on(read_object(&headers(content_type, None), body, FIELDS))
    }

    fn message(result: Result<Map<String, Value>, Rejection>) -> (u16, String) {
        let rejection = result.unwrap_err();
        (rejection.status.as_u16(), rejection.message)
    }

    #[test]
    fn accepts_a_json_object_with_the_fields() {
        for ct in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"] {
            let object = read(Some(ct), r#"{"name": "a", "age": 1}"#).unwrap();
            assert_eq!(object.get("age"), Some(&Value::from(1)));
        }
    }

    #[test]
    fn content_type_must_be_json() {
        for ct in [None, Some("text/plain"), Some("application/jsonx"), Some("application/x-www-form-urlencoded")] {
            assert_eq!(message(read(ct, r#"{"name": "a", "age": 1}"#)).0, 415, "{ct:?}");
        }
    }

    #[test]
    fn malformed_and_wrongly_shaped_bodies() {
        let json = Some("application/json");
        assert_eq!(message(read(json, "")), (400, "request body is empty: expected a JSON object".into()));
        let (status, text) = message(read(json, "{\"name\": "));
        assert_eq!(status, 400);
        assert!(text.starts_with("malformed JSON: "), "{text}");
        assert_eq!(message(read(json, "[1]")), (400, "request body must be a JSON object".into()));
        assert_eq!(
            message(read(json, r#"{"name": "a", "age": 1, "x": 2}"#)),
            (400, r#"unknown field "x" (expected: "name", "age")"#.into())
        );
        assert_eq!(message(read(json, r#"{"name": "a"}"#)), (400, r#"missing field "age""#.into()));
        assert_eq!(message(read(json, "{}")), (400, r#"missing fields "name", "age""#.into()));
    }

    #[test]
    fn size_is_capped_by_header_and_while_reading() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let big = format!(r#"{{"name": "{}", "age": 1}}"#, "a".repeat(MAX_BODY_BYTES));

        // Declared too large: refused without reading.
        let declared = headers(Some("application/json"), Some(big.len()));
        let result = rt.block_on(read_object(&declared, Full::new(Bytes::from(big.clone())), FIELDS));
        assert_eq!(result.unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);

        // Lying or absent length (chunked): refused once the cap is passed.
        let chunks = big.into_bytes().chunks(1000).map(Bytes::copy_from_slice).collect();
        let lying = headers(Some("application/json"), Some(10));
        let result = rt.block_on(read_object(&lying, Chunked(chunks), FIELDS));
        assert_eq!(result.unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);

        // Exactly at the cap is fine as far as size goes.
        let at_cap = format!(r#"{{"name": "{}", "age": 1}}"#, "a".repeat(MAX_BODY_BYTES - 22));
        assert_eq!(at_cap.len(), MAX_BODY_BYTES);
        let result =
            rt.block_on(read_object(&headers(Some("application/json"), None), Full::new(Bytes::from(at_cap)), FIELDS));
        assert!(result.is_ok());
    }

    /// A body of several frames and no known length, like a chunked upload.
    struct Chunked(std::collections::VecDeque<Bytes>);

    impl Body for Chunked {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }
}
