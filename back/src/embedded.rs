//! The files embedded in the binary, so that it runs with no configuration: `back/data/stories.txt`
//! (the default stories), `back/data/student_age.sample.json` (the first student store) and
//! `back/openapi.json` (served at `/openapi.json`).
//!
//! Each is an `include_bytes!`: a missing file is a build error, never a runtime one.

pub const STORIES: &[u8] = include_bytes!("../data/stories.txt");
pub const STUDENT_SAMPLE: &[u8] = include_bytes!("../data/student_age.sample.json");
pub const OPENAPI: &[u8] = include_bytes!("../openapi.json");

/// The embedded `back/data/<name>`, for callers that name it (`None` for any other name).
pub fn file(name: &str) -> Option<&'static [u8]> {
    match name {
        "stories.txt" => Some(STORIES),
        "student_age.sample.json" => Some(STUDENT_SAMPLE),
        _ => None,
    }
}
