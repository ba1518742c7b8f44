//! The story lines and `GET /racontemoiunehistoire`.
//!
//! Lines come from the files of `back/data/stories/` (embedded in the binary, read in name order)
//! or from `STORIES_FILE`.
//! Both answers of every line (plain text and `{"histoire": ...}`) are built once at start:
//! a request only clones a `Bytes` (a reference count), it never reads a file or allocates a body.

use std::path::Path;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, VARY};
use hyper::StatusCode;

use crate::embedded;
use crate::error::StartupError;
use crate::http::{self, Response, JSON, NO_STORE, TEXT_PLAIN};
use crate::negotiate;

/// One story, ready to send.
#[derive(Debug)]
struct Story {
    text: Bytes,
    json: Bytes,
}

#[derive(Debug)]
pub(crate) struct Stories {
    lines: Vec<Story>,
    /// The answer headers, built once: cloning a map is cheaper than hashing names per request.
    text_headers: HeaderMap,
    json_headers: HeaderMap,
}

impl Stories {
    /// The stories embedded at build time: every file of `back/data/stories/`, in name order.
    pub(crate) fn embedded() -> Result<Self, StartupError> {
        let mut lines = Vec::new();
        for (name, content) in embedded::story_files() {
            lines.extend(
                parse_lines(content)
                    .map_err(|problem| StartupError(format!("embedded stories file {name} {problem}")))?,
            );
        }
        Ok(Self::new(lines))
    }

    /// The stories of `STORIES_FILE`.
    pub(crate) fn from_file(path: &Path) -> Result<Self, StartupError> {
        let content = std::fs::read(path)
            .map_err(|e| StartupError(format!("invalid STORIES_FILE: cannot read {path:?}: {e}")))?;
        Self::parse(&content).map_err(|problem| StartupError(format!("invalid STORIES_FILE: {path:?} {problem}")))
    }

    /// One story a line (the format of every stories file): blank lines are skipped, surrounding spaces and `\r` trimmed.
    /// The error completes a sentence about the file ("is not valid UTF-8 ...").
    pub(crate) fn parse(content: &[u8]) -> Result<Self, String> {
        parse_lines(content).map(Self::new)
    }

    fn new(lines: Vec<Story>) -> Self {
        Stories { lines, text_headers: answer_headers(TEXT_PLAIN), json_headers: answer_headers(JSON) }
    }

    /// A random story, as JSON when the request's `Accept` prefers it, else as plain text.
    pub(crate) fn respond(&self, request: &HeaderMap) -> Response {
        let Some(story) = fastrand::choice(&self.lines) else {
            return http::error(StatusCode::INTERNAL_SERVER_ERROR, "no story to tell");
        };
        let (body, headers) = if negotiate::prefers_json(request) {
            (&story.json, &self.json_headers)
        } else {
            (&story.text, &self.text_headers)
        };
        let mut response = hyper::Response::new(Full::new(body.clone()));
        *response.headers_mut() = headers.clone();
        response
    }
}

/// The stories of one file (at least one, else an error completing a sentence about the file).
fn parse_lines(content: &[u8]) -> Result<Vec<Story>, String> {
    let text = std::str::from_utf8(content).map_err(|e| {
        let line = content.get(..e.valid_up_to()).map_or(0, |ok| ok.iter().filter(|&&b| b == b'\n').count()) + 1;
        format!("is not valid UTF-8 (line {line})")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<Story> = text.lines().map(str::trim).filter(|line| !line.is_empty()).map(Story::new).collect();
    if lines.is_empty() {
        return Err("has no story (it is empty or blank)".into());
    }
    Ok(lines)
}

fn answer_headers(content_type: HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CACHE_CONTROL, NO_STORE);
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    headers
}

impl Story {
    fn new(line: &str) -> Self {
        let json = serde_json::json!({ "histoire": line }).to_string();
        Story { text: Bytes::copy_from_slice(line.as_bytes()), json: Bytes::from(json) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::ACCEPT;

    fn texts(stories: &Stories) -> Vec<&[u8]> {
        stories.lines.iter().map(|s| s.text.as_ref()).collect()
    }

    #[test]
    fn lines_are_trimmed_and_blanks_skipped() {
        let stories =
            Stories::parse("\u{feff}Il était une fois.\r\n\r\n  \n Le loup dort. \nFin\n".as_bytes()).unwrap();
        assert_eq!(texts(&stories), vec!["Il était une fois.".as_bytes(), "Le loup dort.".as_bytes(), b"Fin"]);
        assert_eq!(stories.lines[0].json, Bytes::from(r#"{"histoire":"Il était une fois."}"#));
    }

    #[test]
    fn empty_blank_and_binary_content_is_refused() {
        assert!(Stories::parse(b"").unwrap_err().contains("no story"));
        assert!(Stories::parse(b" \r\n\n\t\n").unwrap_err().contains("no story"));
        assert_eq!(Stories::parse(b"ok\nok\n\xff\xfe").unwrap_err(), "is not valid UTF-8 (line 3)");
    }

    #[test]
    fn json_escapes_quotes() {
        let stories = Stories::parse(br#"Il dit "bonjour" \o/"#).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&stories.lines[0].json).unwrap();
        assert_eq!(value["histoire"], r#"Il dit "bonjour" \o/"#);
    }

    #[test]
    fn embedded_file_has_a_hundred_stories() {
        let stories = Stories::embedded().unwrap();
        assert!(stories.lines.len() >= 100, "{}", stories.lines.len());
        assert!(texts(&stories).iter().all(|line| !line.is_empty() && line.len() < 400));
    }

    #[test]
    fn negotiates_the_body() {
        let stories = Stories::parse("Une seule histoire.".as_bytes()).unwrap();
        let response = stories.respond(&HeaderMap::new());
        assert_eq!(response.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[VARY], "Accept");

        let mut request = HeaderMap::new();
        request.insert(ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(stories.respond(&request).headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn missing_file_is_a_startup_error() {
        let error = Stories::from_file(Path::new("/nonexistent/stories.txt")).err().unwrap();
        assert!(error.0.starts_with("invalid STORIES_FILE: cannot read"), "{}", error.0);
    }
}
