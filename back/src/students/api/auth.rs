//! HTTP basic authentication (RFC 7617) against the one configured user.
//!
//! The payload is decoded by the `base64` crate and compared with `subtle`, against the
//! `user:password` bytes prepared once at start. The comparison takes a time that depends only on
//! the configured credentials' length, never on how much of a guess is right.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use hyper::header::HeaderValue;
use subtle::ConstantTimeEq;

use crate::config::Credentials;

/// The `WWW-Authenticate` value sent with every 401.
pub(crate) const CHALLENGE: HeaderValue = HeaderValue::from_static(r#"Basic realm="racontemoi", charset="UTF-8""#);

pub(crate) struct BasicAuth {
    /// `user:password`, as a client's decoded payload must read. The username has no `:` (the
    /// configuration refuses it), so equal payloads mean the same user and the same password.
    expected: Vec<u8>,
}

impl BasicAuth {
    pub(crate) fn new(credentials: &Credentials) -> Self {
        BasicAuth { expected: format!("{}:{}", credentials.username, credentials.password).into_bytes() }
    }

    /// True when `header` (the `Authorization` value) carries the configured user and password.
    pub(crate) fn allows(&self, header: Option<&HeaderValue>) -> bool {
        match header.and_then(|value| basic_payload(value.as_bytes())).and_then(decode_base64) {
            Some(decoded) => constant_time_eq(&decoded, &self.expected),
            None => false,
        }
    }
}

/// The credentials part of `Basic <credentials>`; the scheme name is case-insensitive.
fn basic_payload(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let payload = rest.trim_ascii();
    (!payload.is_empty()).then_some(payload)
}

/// Standard base64 (RFC 4648 §4): the `=` padding may be left out, but when present it must be
/// complete; any other character, and non-zero leftover bits, are refused.
fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let engine = if input.ends_with(b"=") { &STANDARD } else { &STANDARD_NO_PAD };
    engine.decode(input).ok()
}

/// Compares `given` with the secret `expected` in constant time: `subtle` compares a copy of
/// `given` cut or zero-padded to `expected`'s length, so the work is always all of `expected`
/// and reveals its length at most, never where a guess first differs.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut same_length = given.to_vec();
    same_length.resize(expected.len(), 0);
    let length_matches = (given.len() as u64).ct_eq(&(expected.len() as u64));
    bool::from(same_length.as_slice().ct_eq(expected) & length_matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        BasicAuth::new(&Credentials { username: "root".into(), password: "p:ss wörd".into() })
    }

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    fn basic(user_pass: &str) -> HeaderValue {
        header(&format!("Basic {}", encode(user_pass.as_bytes())))
    }

    fn encode(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    #[test]
    fn base64_decoding() {
        assert_eq!(decode_base64(b"cm9vdDpyb290"), Some(b"root:root".to_vec()));
        assert_eq!(decode_base64(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(decode_base64(b"YQ"), Some(b"a".to_vec()));
        assert_eq!(decode_base64(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(decode_base64(b""), Some(Vec::new()));
        for bad in [&b"Y"[..], b"YQ=", b"YR==", b"cm9v dA==", b"cm9v*A==", b"YQ===", b"=", b"Y=Q="] {
            assert_eq!(decode_base64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn accepts_the_configured_user() {
        let auth = auth();
        assert!(auth.allows(Some(&basic("root:p:ss wörd"))));
        assert!(auth.allows(Some(&header(&format!("basic   {}", encode("root:p:ss wörd".as_bytes()))))));
        let legacy = BasicAuth::new(&Credentials { username: "root".into(), password: "root".into() });
        assert!(legacy.allows(Some(&header("Basic cm9vdDpyb290"))));
    }

    #[test]
    fn refuses_everything_else() {
        let auth = auth();
        assert!(!auth.allows(None));
        for bad in [
            basic("root:wrong"),
            basic("root:p:ss wörd "),
            basic("root:p:ss wör"),
            basic("toor:p:ss wörd"),
            basic("root"),
            basic(":"),
            basic(""),
            basic("rootp:ss wörd"),
            header("Bearer cm9vdDpyb290"),
            header("Basic"),
            header("Basic "),
            header("Basic !!!!"),
            header("Basiccm9vdDpyb290"),
            header(&format!("Digest {}", encode(b"root:p:ss w\xc3\xb6rd"))),
        ] {
            assert!(!auth.allows(Some(&bad)), "{bad:?}");
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secrets", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"x", b""));
    }
}
