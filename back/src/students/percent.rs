//! Percent-encoding of the student name in a path segment (RFC 3986).
//!
//! Decoding is strict: a `%` not followed by two hex digits, or bytes that are not UTF-8 once
//! decoded, are refused rather than guessed at. `+` is a literal plus sign in a path.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
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
pub fn decode(segment: &str) -> Result<String, DecodeError> {
    if !segment.contains('%') {
        return Ok(segment.to_owned());
    }
    let mut bytes = Vec::with_capacity(segment.len());
    let mut input = segment.bytes();
    while let Some(byte) = input.next() {
        if byte == b'%' {
            let high = input.next().and_then(hex_value).ok_or(DecodeError::BadEscape)?;
            let low = input.next().and_then(hex_value).ok_or(DecodeError::BadEscape)?;
            bytes.push(high << 4 | low);
        } else {
            bytes.push(byte);
        }
    }
    String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Encodes `text` for use as one path segment: everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
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
