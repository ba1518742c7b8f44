//! One function per route and method, once the request is authenticated and routed.

use std::error::Error as StdError;

use hyper::body::Body as HttpBody;
use hyper::header::{HeaderValue, LINK, LOCATION, RETRY_AFTER};
use hyper::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::body::{self, Rejection};
use super::percent;
use crate::http::{self, Response};
use crate::students::store::{views, Change, Failure, Store, WriteError};
use crate::students::validate;

/// The legacy 404 body, kept byte for byte.
pub(crate) const LEGACY_NOT_FOUND: &str = "Not found";

/// `GET {prefix}/get_student_ages`: the whole legacy list, as the old clients expect.
pub(crate) async fn legacy_list(store: &Store) -> Response {
    match store.legacy_list().await {
        Ok(list) => http::json_bytes(StatusCode::OK, list),
        Err(failure) => failed(failure),
    }
}

/// `GET {prefix}/get_student_ages/<name>`: `{"<name>": "<age as stored>"}`.
pub(crate) async fn legacy_one(store: &Store, name: &str) -> Response {
    match store.legacy_one(name).await {
        Ok(Some(body)) => http::json_bytes(StatusCode::OK, body),
        Ok(None) => http::error(StatusCode::NOT_FOUND, LEGACY_NOT_FOUND),
        Err(failure) => failed(failure),
    }
}

/// `GET {prefix}/students[?limit=N&cursor=C]`: one page, with the next page's cursor in the body
/// (`next_cursor`) and in a `Link: <...>; rel="next"` header.
pub(crate) async fn list(store: &Store, prefix: &str, query: Option<&str>) -> Response {
    let (limit, cursor) = match paging::parse(query) {
        Ok(params) => params,
        Err(problem) => return http::error(StatusCode::BAD_REQUEST, problem),
    };
    let (body, next) = match store.page(cursor, limit).await {
        Ok(page) => page,
        Err(failure) => return failed(failure),
    };
    let mut response = http::json_bytes(StatusCode::OK, body);
    if let Some(next) = next {
        let link = format!("<{prefix}/students?limit={limit}&cursor={next}>; rel=\"next\"");
        // The prefix is checked at start to be a path: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(LINK, value);
        }
    }
    response
}

/// `GET {prefix}/students/<name>`.
pub(crate) async fn get(store: &Store, name: &str) -> Response {
    match store.student(name).await {
        Ok(Some(body)) => http::json_bytes(StatusCode::OK, body),
        Ok(None) => not_found(name),
        Err(failure) => failed(failure),
    }
}

/// `POST {prefix}/students` with `{"name": ..., "age": ...}`: 201 and `Location`.
pub(crate) async fn create<B>(store: &Store, prefix: &str, headers: &HeaderMap, body: B) -> Response
where
    B: HttpBody,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let (name, age) = match body::read_object(headers, body, &["name", "age"]).await.and_then(|o| name_and_age(&o)) {
        Ok(fields) => fields,
        Err(rejection) => return rejected(rejection),
    };
    let location = format!("{prefix}/students/{}", percent::encode(&name));
    match store.apply(Change::Create { name: name.clone(), age }).await {
        Ok(()) => {
            let mut response = http::json_bytes(StatusCode::CREATED, views::student(&name, age));
            // Percent-encoded, so always a valid header value.
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
        Err(e) => write_failed(e, &name),
    }
}

/// `PUT {prefix}/students/<name>` with `{"age": ...}`.
pub(crate) async fn update<B>(store: &Store, name: &str, headers: &HeaderMap, body: B) -> Response
where
    B: HttpBody,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let age = match body::read_object(headers, body, &["age"]).await.and_then(|o| age_field(&o)) {
        Ok(age) => age,
        Err(rejection) => return rejected(rejection),
    };
    match store.apply(Change::Update { name: name.to_owned(), age }).await {
        Ok(()) => http::json_bytes(StatusCode::OK, views::student(name, age)),
        Err(e) => write_failed(e, name),
    }
}

/// `DELETE {prefix}/students/<name>`: 204.
pub(crate) async fn delete(store: &Store, name: &str) -> Response {
    match store.apply(Change::Delete { name: name.to_owned() }).await {
        Ok(()) => http::empty(StatusCode::NO_CONTENT),
        Err(e) => write_failed(e, name),
    }
}

fn name_and_age(object: &Map<String, Value>) -> Result<(String, u8), Rejection> {
    let name = match object.get("name") {
        Some(Value::String(name)) => name,
        _ => return Err(Rejection::bad_request(validate::NAME_RULE)),
    };
    validate::check_name(name).map_err(Rejection::bad_request)?;
    Ok((name.clone(), age_field(object)?))
}

fn age_field(object: &Map<String, Value>) -> Result<u8, Rejection> {
    let age = object.get("age").unwrap_or(&Value::Null);
    validate::age_from_json(age).map_err(Rejection::bad_request)
}

fn rejected(rejection: Rejection) -> Response {
    http::error(rejection.status, &rejection.message)
}

fn not_found(name: &str) -> Response {
    http::error(StatusCode::NOT_FOUND, &format!("student {} not found", Value::from(name)))
}

fn write_failed(error: WriteError, name: &str) -> Response {
    match error {
        WriteError::Exists => {
            http::error(StatusCode::CONFLICT, &format!("student {} already exists", Value::from(name)))
        }
        WriteError::Missing => not_found(name),
        WriteError::Full(max) => http::error(
            StatusCode::CONFLICT,
            &format!("student store is full: it holds at most {max} students (STUDENTS_MAX); nothing was changed"),
        ),
        WriteError::Failed(failure) => failed(failure),
    }
}

/// A store that could not answer: its status and message, and `Retry-After` on a 503.
fn failed(failure: Failure) -> Response {
    let mut response = http::error(failure.status, &failure.message);
    if let Some(seconds) = failure.retry_after {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}

/// The REST list's query: `limit` (1 to `MAX_LIMIT`, default `DEFAULT_LIMIT`) and `cursor` (the
/// `next_cursor` of the previous page; absent for the first). Any other parameter is refused.
mod paging {
    pub(crate) const DEFAULT_LIMIT: usize = 100;
    pub(crate) const MAX_LIMIT: usize = 1000;
    pub(crate) const LIMIT_RULE: &str = "limit must be a whole number from 1 to 1000";
    pub(crate) const CURSOR_RULE: &str = "cursor must be the next_cursor of an earlier page";
    pub(crate) const UNKNOWN_RULE: &str = "unknown query parameter: the list takes only limit and cursor";

    pub(crate) fn parse(query: Option<&str>) -> Result<(usize, u32), &'static str> {
        let (mut limit, mut cursor) = (DEFAULT_LIMIT, 0);
        for pair in query.unwrap_or_default().split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "limit" => {
                    limit = digits(value)
                        .and_then(|v| v.parse::<usize>().ok())
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or(LIMIT_RULE)?;
                }
                "cursor" => cursor = digits(value).and_then(|v| v.parse::<u32>().ok()).ok_or(CURSOR_RULE)?,
                _ => return Err(UNKNOWN_RULE),
            }
        }
        Ok((limit, cursor))
    }

    /// `value` when it is 1 to 10 ASCII digits (the values never need percent-decoding).
    fn digits(value: &str) -> Option<&str> {
        (!value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit())).then_some(value)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn limits_and_cursors() {
            assert_eq!(parse(None), Ok((100, 0)));
            assert_eq!(parse(Some("limit=5&cursor=42")), Ok((5, 42)));
            assert_eq!(parse(Some("limit=5&&cursor=42&")), Ok((5, 42)));
            for bad in ["limit=5&other=x", "=false", "cursor=1&limit=2&x"] {
                assert_eq!(parse(Some(bad)), Err(UNKNOWN_RULE), "{bad}");
            }
            assert_eq!(parse(Some("limit=1000")), Ok((1000, 0)));
            for bad in ["limit=0", "limit=1001", "limit=", "limit=-1", "limit=1e3", "limit=%31", "limit"] {
                assert_eq!(parse(Some(bad)), Err(LIMIT_RULE), "{bad}");
            }
            for bad in ["cursor=", "cursor=x", "cursor=99999999999", "cursor=-1"] {
                assert_eq!(parse(Some(bad)), Err(CURSOR_RULE), "{bad}");
            }
        }
    }
}
