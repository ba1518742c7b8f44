//! The rules for a student's name and age, shared by the request bodies and the store file.

use serde_json::Value;

pub(crate) const MAX_NAME_CHARS: usize = 100;
pub(crate) const MAX_AGE: u8 = 150;

pub(crate) const NAME_RULE: &str = "name must be 1 to 100 characters, without control characters or '/'";
pub(crate) const AGE_RULE: &str = "age must be a whole number from 0 to 150";

/// Checks a name: 1 to 100 Unicode scalar values, no control character, no `/` (which could
/// never be addressed as one path segment).
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    let mut count = 0;
    for c in name.chars() {
        count += 1;
        if count > MAX_NAME_CHARS || c.is_control() || c == '/' {
            return Err(NAME_RULE);
        }
    }
    if count == 0 {
        return Err(NAME_RULE);
    }
    Ok(())
}

/// An age in a request body: a JSON integer from 0 to 150. Strings such as `"12"` are refused
/// (the REST API is typed), and so are floats, even `12.0`, booleans and null.
pub(crate) fn age_from_json(value: &Value) -> Result<u8, &'static str> {
    value.as_u64().and_then(|n| u8::try_from(n).ok()).filter(|&age| age <= MAX_AGE).ok_or(AGE_RULE)
}

/// An age as the legacy file stores it: the decimal digits of a whole number from 0 to 150.
pub(crate) fn age_from_text(text: &str) -> Result<u8, &'static str> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AGE_RULE);
    }
    text.parse::<u8>().ok().filter(|&age| age <= MAX_AGE).ok_or(AGE_RULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        for good in ["alice", "élodie", "Jean-Paul O'Neil", "日本語", " spaced ", "a+b", "😀"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_name(&"é".repeat(100)), Ok(()));
        for bad in ["", "a/b", "/", "tab\there", "new\nline", "nul\0", "del\u{7f}", "c1\u{85}"] {
            assert_eq!(check_name(bad), Err(NAME_RULE), "{bad:?}");
        }
        assert_eq!(check_name(&"é".repeat(101)), Err(NAME_RULE));
    }

    #[test]
    fn json_ages() {
        assert_eq!(age_from_json(&json!(0)), Ok(0));
        assert_eq!(age_from_json(&json!(12)), Ok(12));
        assert_eq!(age_from_json(&json!(150)), Ok(150));
        for bad in [
            json!(151),
            json!(256),
            json!(-1),
            json!(12.5),
            json!(12.0),
            json!("12"),
            json!(true),
            json!(null),
            json!([12]),
            json!({"age": 12}),
            json!(1e30),
            json!(u64::MAX),
        ] {
            assert_eq!(age_from_json(&bad), Err(AGE_RULE), "{bad}");
        }
    }

    #[test]
    fn text_ages() {
        assert_eq!(age_from_text("12"), Ok(12));
        assert_eq!(age_from_text("0"), Ok(0));
        assert_eq!(age_from_text("012"), Ok(12));
        assert_eq!(age_from_text("150"), Ok(150));
        for bad in ["", "151", "-1", "+1", " 12", "12 ", "1.5", "twelve", "0150", "99999999999"] {
            assert_eq!(age_from_text(bad), Err(AGE_RULE), "{bad:?}");
        }
    }
}
