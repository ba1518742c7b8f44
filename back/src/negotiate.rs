//! Content negotiation: does the `Accept` header prefer JSON to plain text?

use hyper::header::{HeaderMap, ACCEPT};

/// True when `Accept` ranks `application/json` strictly above `text/plain`. Each type takes the
/// quality of the most specific range that matches it (`type/subtype`, then `type/*`, then `*/*`);
/// a tie, `*/*`, a missing or unreadable header all mean plain text.
pub(crate) fn prefers_json(headers: &HeaderMap) -> bool {
    let mut json = Match::NONE;
    let mut text = Match::NONE;
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let Some((media, quality)) = parse_range(range) else { continue };
            json = json.better(media.specificity_for("application", "json"), quality);
            text = text.better(media.specificity_for("text", "plain"), quality);
        }
    }
    json.quality > text.quality
}

/// The best match so far for one media type: how specific the range was, and its quality.
#[derive(Clone, Copy)]
struct Match {
    specificity: u8,
    quality: u16,
}

impl Match {
    const NONE: Match = Match { specificity: 0, quality: 0 };

    fn better(self, specificity: Option<u8>, quality: u16) -> Match {
        match specificity {
            Some(s) if s > self.specificity || (s == self.specificity && quality > self.quality) => {
                Match { specificity: s, quality }
            }
            _ => self,
        }
    }
}

struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
}

impl MediaRange<'_> {
    /// How specifically this range matches `kind/subtype`: 3 exact, 2 `kind/*`, 1 `*/*`.
    fn specificity_for(&self, kind: &str, subtype: &str) -> Option<u8> {
        if self.kind == "*" && self.subtype == "*" {
            Some(1)
        } else if !self.kind.eq_ignore_ascii_case(kind) {
            None
        } else if self.subtype == "*" {
            Some(2)
        } else if self.subtype.eq_ignore_ascii_case(subtype) {
            Some(3)
        } else {
            None
        }
    }
}

/// `type/subtype;param=value;q=0.5` → the range and its quality in thousandths (1000 = q=1).
fn parse_range(range: &str) -> Option<(MediaRange<'_>, u16)> {
    let mut parts = range.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    let mut quality = 1000;
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.trim().eq_ignore_ascii_case("q") {
                quality = parse_quality(value.trim())?;
            }
        }
    }
    Some((MediaRange { kind, subtype }, quality))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, digit) in fraction.bytes().enumerate() {
        thousandths += u16::from(digit - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn json(accept: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        prefers_json(&headers)
    }

    #[test]
    fn plain_text_unless_json_wins() {
        assert!(!json(&[]));
        assert!(!json(&["*/*"]));
        assert!(!json(&["text/plain"]));
        assert!(!json(&["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]));
        assert!(!json(&["application/json;q=0"]));
        assert!(!json(&["application/json;q=0.5, text/plain"]));
        assert!(!json(&["application/json;q=0.5, text/*;q=0.5"]));
        assert!(!json(&["garbage", "application/json;q=nope"]));
    }

    #[test]
    fn json_when_asked() {
        assert!(json(&["application/json"]));
        assert!(json(&["Application/JSON"]));
        assert!(json(&["application/*"]));
        assert!(json(&["application/json, text/plain;q=0.9"]));
        assert!(json(&["text/plain;q=0.2, application/json;q=0.3"]));
        assert!(json(&["text/html", "application/json; charset=utf-8"]));
        assert!(json(&["application/json, */*;q=0.1"]));
        assert!(json(&["*/*;q=0.1, application/json"]));
    }

    #[test]
    fn most_specific_range_wins() {
        // `text/plain;q=0` excludes text even though `*/*` would allow it.
        assert!(json(&["*/*, text/plain;q=0"]));
        assert!(!json(&["*/*, application/json;q=0"]));
    }

    #[test]
    fn qualities() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.125"), Some(125));
        assert_eq!(parse_quality("0."), Some(0));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("0.1234"), None);
        assert_eq!(parse_quality("2"), None);
        assert_eq!(parse_quality(""), None);
    }
}
