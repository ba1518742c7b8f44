//! HTTP basic authentication (RFC 7617) against the one configured user.
//!
//! The comparison takes a time that depends only on the configured credentials' lengths, never
//! on how much of a guess is right.

use hyper::header::HeaderValue;

use crate::config::Credentials;

/// The `WWW-Authenticate` value sent with every 401.
pub const CHALLENGE: HeaderValue = HeaderValue::from_static(r#"Basic realm="racontemoi", charset="UTF-8""#);

pub struct BasicAuth {
    username: Vec<u8>,
    password: Vec<u8>,
}

impl BasicAuth {
    pub fn new(credentials: &Credentials) -> Self {
        BasicAuth {
            username: credentials.username.as_bytes().to_vec(),
            password: credentials.password.as_bytes().to_vec(),
        }
    }

    /// True when `header` (the `Authorization` value) carries the configured user and password.
    pub fn allows(&self, header: Option<&HeaderValue>) -> bool {
        let Some(decoded) = header.and_then(|value| basic_payload(value.as_bytes())).and_then(decode_base64) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (username, password) = decoded.split_at(colon);
        let password = password.get(1..).unwrap_or_default();
        // `&`, not `&&`: the password is compared even when the user is wrong.
        constant_time_eq(username, &self.username) & constant_time_eq(password, &self.password)
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

/// Standard base64 (RFC 4648 §4); the `=` padding may be left out, any other character is refused.
fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let unpadded = input.strip_suffix(b"==").or_else(|| input.strip_suffix(b"=")).unwrap_or(input);
    if input.len() != unpadded.len() && !input.len().is_multiple_of(4) {
        return None;
    }
    if unpadded.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(unpadded.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &c in unpadded {
        buffer = buffer << 6 | u32::from(sextet(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero, so every payload has exactly one encoding.
    (buffer == 0).then_some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Compares `given` with the secret `expected`, always walking all of `expected`: the time spent
/// reveals the secret's length at most, never where a guess first differs.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        difference |= std::hint::black_box(g ^ e);
    }
    difference == 0
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

    /// Test-only encoder, to build headers for any credentials.
    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
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
