//! The routes under the prefix, parsed from the path after it, and what each allows.

/// The routes under the prefix; item routes carry their raw (still percent-encoded) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route<'a> {
    LegacyList,
    LegacyOne(&'a str),
    Collection,
    Item(&'a str),
}

impl<'a> Route<'a> {
    /// `rest` is the path after the prefix, such as `/students/alice`.
    pub(super) fn parse(rest: &'a str) -> Option<Self> {
        let (collection, name) = match rest.strip_prefix('/')?.split_once('/') {
            Some((collection, name)) => (collection, Some(name)),
            None => (rest.strip_prefix('/')?, None),
        };
        match (collection, name) {
            ("get_student_ages", None) => Some(Route::LegacyList),
            ("students", None) => Some(Route::Collection),
            (_, Some(name)) if name.is_empty() || name.contains('/') => None,
            ("get_student_ages", Some(name)) => Some(Route::LegacyOne(name)),
            ("students", Some(name)) => Some(Route::Item(name)),
            _ => None,
        }
    }

    pub(super) fn allow(self) -> &'static str {
        match self {
            Route::LegacyList | Route::LegacyOne(_) => "GET, HEAD, OPTIONS",
            Route::Collection => "GET, HEAD, POST, OPTIONS",
            Route::Item(_) => "GET, HEAD, PUT, DELETE, OPTIONS",
        }
    }

    pub(super) fn name(self) -> Option<&'a str> {
        match self {
            Route::LegacyOne(name) | Route::Item(name) => Some(name),
            Route::LegacyList | Route::Collection => None,
        }
    }
}
