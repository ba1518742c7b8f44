//! The legacy file format, `student_age.json`: the original flat object, written byte for byte as
//! Python's `json.dump(data, f, indent=4, ensure_ascii=False)` wrote it (no final newline); read
//! flat, or wrapped in `{"student_ages": {...}}` as earlier releases of this back wrote it, straight
//! into the model. `back students import` and `export` read and write it too.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::model::{AddError, Age, Students};
use super::views::{push_pair, AgeForm, StudentRef};
use crate::students::validate;

/// Writes the store file: the original flat format, indented by 4, as `json.dump` did, in
/// chunks of `CHUNK` bytes written straight to `out` (the file: no second buffer).
pub(crate) fn write_file<'a>(out: &mut impl Write, students: impl Iterator<Item = StudentRef<'a>>) -> io::Result<()> {
    const CHUNK: usize = 256 * 1024;
    let mut chunk = Vec::with_capacity(CHUNK + 1024);
    let mut empty = true;
    for student in students {
        chunk.extend_from_slice(if empty { b"{\n    " } else { b",\n    " });
        empty = false;
        push_pair(&mut chunk, &student);
        if chunk.len() >= CHUNK {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    chunk.extend_from_slice(if empty { b"{}" } else { b"\n}" });
    out.write_all(&chunk)
}

/// Reads a store file: the original flat object, or the wrapped one of earlier releases. Ages may
/// be strings (the original format) or JSON integers (a hand-edited file). Any problem is one line.
pub(crate) fn parse(content: &[u8]) -> Result<Students, String> {
    // The file as json.dump(indent=4) writes it has one student a line: the index is sized once.
    let lines = content.iter().filter(|&&b| b == b'\n').count();
    let mut students = Students::with_capacity(content.len() / 8, content.len(), lines);
    let mut deserializer = serde_json::Deserializer::from_slice(content);
    FileSeed(&mut students).deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    students.shrink_to_fit();
    Ok(students)
}

const EXPECTING: &str = "an object of student names to ages, such as {\"alice\": \"12\"}";
const WRAPPER: &str = "student_ages";

/// The whole file, read straight into the model: no value tree, no allocation per name.
struct FileSeed<'s>(&'s mut Students);

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTING)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut wrapped = false;
        let mut first = true;
        while let Some(Name(name)) = map.next_key::<Name>()? {
            if wrapped {
                return Err(de::Error::custom(format!(
                    "a wrapped file holds only the key {WRAPPER:?}, found {}",
                    serde_json::Value::from(name.as_ref())
                )));
            }
            if first && name == WRAPPER {
                // `{"student_ages": {...}}` (earlier releases), or a student called student_ages.
                match map.next_value_seed(FirstValue(&mut *self.0))? {
                    Some(age) => add(self.0, &name, age).map_err(de::Error::custom)?,
                    None => wrapped = true,
                }
            } else {
                let age = map.next_value::<AgeToken>()?;
                add(self.0, &name, age).map_err(de::Error::custom)?;
            }
            first = false;
        }
        Ok(())
    }
}

/// The value of a first key `student_ages`: the wrapped students (read into the model: `None`), or
/// the age of a student of that name.
struct FirstValue<'s>(&'s mut Students);

impl<'de> DeserializeSeed<'de> for FirstValue<'_> {
    type Value = Option<AgeToken<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstValue<'_> {
    type Value = Option<AgeToken<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTING)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(Name(name)) = map.next_key::<Name>()? {
            let age = map.next_value::<AgeToken>()?;
            add(self.0, &name, age).map_err(de::Error::custom)?;
        }
        Ok(None)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        AgeVisitor.visit_borrowed_str(v).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        AgeVisitor.visit_str(v).map(Some)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(AgeToken::Integer(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        AgeVisitor.visit_i64(v).map(Some)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        AgeVisitor.visit_f64(v).map(Some)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        AgeVisitor.visit_bool(v).map(Some)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        AgeVisitor.visit_unit().map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AgeVisitor.visit_seq(seq).map(Some)
    }
}

/// Adds one student read from the file, or says why the file is corrupt.
fn add(students: &mut Students, name: &str, age: AgeToken) -> Result<(), String> {
    // Built only for an error: a million students load without a million allocations.
    let quoted = || serde_json::Value::from(name);
    validate::check_name(name).map_err(|rule| format!("student {}: {rule}", quoted()))?;
    let (age, odd) = match age {
        AgeToken::Text(text) => {
            let value = validate::age_from_text(&text).map_err(|rule| {
                format!("student {}: {rule} (found {})", quoted(), serde_json::Value::from(text.as_ref()))
            })?;
            let plain = itoa::Buffer::new().format(value) == text.as_ref();
            let form = if plain { AgeForm::Text } else { AgeForm::Odd(text.len() as u8) };
            (Age { value, form }, if plain { Cow::Borrowed("") } else { text })
        }
        AgeToken::Integer(number) => {
            let value = u8::try_from(number)
                .ok()
                .filter(|&age| age <= validate::MAX_AGE)
                .ok_or_else(|| format!("student {}: {} (found {number})", quoted(), validate::AGE_RULE))?;
            (Age { value, form: AgeForm::Integer }, Cow::Borrowed(""))
        }
        AgeToken::Other(found) => return Err(format!("student {}: age {found} is not a number or a string", quoted())),
    };
    students.push(name, age, &odd).map_err(|e| match e {
        AddError::Duplicate => format!("student {} appears twice", quoted()),
        AddError::TooLarge => "too many students for one store (over 4 GiB of names)".to_owned(),
    })
}

/// A key, borrowed from the file when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a student name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// An age as the file has it; anything else is kept as a description for the error.
enum AgeToken<'de> {
    Text(Cow<'de, str>),
    Integer(u64),
    Other(String),
}

struct AgeVisitor;

impl<'de> Visitor<'de> for AgeVisitor {
    type Value = AgeToken<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an age")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(AgeToken::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AgeToken::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(AgeToken::Integer(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(AgeToken::Other(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(AgeToken::Other(serde_json::Value::from(v).to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(AgeToken::Other(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(AgeToken::Other("null".to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(AgeToken::Other("[...]".to_owned()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AgeToken::Other("{...}".to_owned()))
    }
}

impl<'de> Deserialize<'de> for AgeToken<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AgeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_pairs(content: &str) -> Result<String, String> {
        let students = parse(content.as_bytes())?;
        Ok(String::from_utf8(crate::students::store::views::legacy_list(students.iter(), 0)).unwrap())
    }

    #[test]
    fn flat_wrapped_and_odd_files_read() {
        let original = "{\n    \"bob\": \"13\",\n    \"alice\": \"12\"\n}\n";
        assert_eq!(names_and_pairs(original).unwrap(), r#"{"student_ages": {"bob": "13", "alice": "12"}}"#);
        let wrapped = r#"{"student_ages": {"zoe": "012", "é\"lo": 9}}"#;
        assert_eq!(names_and_pairs(wrapped).unwrap(), r#"{"student_ages": {"zoe": "012", "é\"lo": 9}}"#);
        assert_eq!(
            names_and_pairs(r#"{"student_ages": "12", "b": "1"}"#).unwrap(),
            r#"{"student_ages": {"student_ages": "12", "b": "1"}}"#
        );
        assert_eq!(names_and_pairs("{}").unwrap(), r#"{"student_ages": {}}"#);
        let error = names_and_pairs(r#"{"student_ages": {"a": "1"}, "b": "2"}"#).unwrap_err();
        assert!(error.contains("only the key"), "{error}");
        let error = names_and_pairs(r#"{"a": "1"} x"#).unwrap_err();
        assert!(error.contains("trailing"), "{error}");
    }

    #[test]
    fn the_file_is_what_json_dump_indent_4_writes() {
        let students = parse(r#"{"bob": 13, "zoe": "012", "Zoë \"Z\"": "9"}"#.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_file(&mut out, students.iter()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n    \"bob\": 13,\n    \"zoe\": \"012\",\n    \"Zoë \\\"Z\\\"\": \"9\"\n}"
        );
        let mut out = Vec::new();
        write_file(&mut out, Students::default().iter()).unwrap();
        assert_eq!(out, b"{}");
    }
}
