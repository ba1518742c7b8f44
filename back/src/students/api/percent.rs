//! Percent-encoding of the student name in a path segment (RFC 3986), with `percent-encoding`.
//!
//! Decoding is strict: a `%` not followed by two hex digits, or bytes that are not UTF-8 once
//! decoded, are refused rather than guessed at (the crate would keep such a `%` as it is).
//! `+` is a literal plus sign in a path.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    BadEscape,
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::BadEscape => {
                "student name has an invalid percent-encoding (% must be followed by two hex digits)"
            }
            DecodeError::NotUtf8 => "student name is not valid UTF-8 once percent-decoded",
        })
    }
}

/// Decodes every `%XX` of a path segment.
pub(crate) fn decode(segment: &str) -> Result<String, DecodeError> {
    let well_formed = segment
        .split('%')
        .skip(1)
        .all(|after| after.as_bytes().get(..2).is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return Err(DecodeError::BadEscape);
    }
    match percent_decode_str(segment).decode_utf8() {
        Ok(name) => Ok(name.into_owned()),
        Err(_) => Err(DecodeError::NotUtf8),
    }
}

/// Encodes `text` for use as one path segment: everything but RFC 3986 unreserved characters.
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_leaves_the_rest() {
        assert_eq!(decode("alice"), Ok("alice".into()));
        assert_eq!(decode("%C3%A9lodie"), Ok("élodie".into()));
        assert_eq!(decode("%c3%a9lodie"), Ok("élodie".into()));
        assert_eq!(decode("jean%20paul+x"), Ok("jean paul+x".into()));
        assert_eq!(decode("a%2Fb"), Ok("a/b".into()));
        assert_eq!(decode("élodie"), Ok("élodie".into()));
    }

    #[test]
    fn refuses_bad_escapes() {
        for bad in ["%", "%4", "a%g1", "%%41", "abc%2"] {
            assert_eq!(decode(bad), Err(DecodeError::BadEscape), "{bad}");
        }
    }

    #[test]
    fn refuses_invalid_utf8() {
        for bad in ["%FF", "%C3", "%C3%28", "%ED%A0%80"] {
            assert_eq!(decode(bad), Err(DecodeError::NotUtf8), "{bad}");
        }
    }

    #[test]
    fn encode_round_trips() {
        assert_eq!(encode("alice"), "alice");
        assert_eq!(encode("élodie"), "%C3%A9lodie");
        assert_eq!(encode("a b/c%"), "a%20b%2Fc%25");
        for name in ["élodie", "a b", "x%y", "日本", "~._-"] {
            assert_eq!(decode(&encode(name)).as_deref(), Ok(name));
        }
    }
}
