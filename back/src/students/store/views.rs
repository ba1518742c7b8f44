//! The JSON views of the students, as both stores answer them:
//! - the legacy answers, spaced like the Flask original: `{"student_ages": {"alice": "12"}}`;
//! - the REST representation: `{"name":"alice","age":12}`, and pages of them.
//!
//! A store hands its students over as `StudentRef`s: the file store from its model, the
//! PostgreSQL store from its rows.

/// How an age is written in the file and shown by the legacy routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgeForm {
    /// `"12"`: the original format, and every age written through the API.
    Text,
    /// `12`: a JSON integer, from a hand-edited file (Flask kept it an integer).
    Integer,
    /// A string that is not the plain decimal form, such as `"012"`: its digits follow the name in
    /// the arena (1 to 3 of them).
    Odd(u8),
}

/// A student as the views see it, borrowed from a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StudentRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) age: u8,
    pub(crate) form: AgeForm,
    /// The digits of an `Odd` age ("012"); empty otherwise.
    pub(crate) odd: &'a str,
    /// The name needs no JSON escaping.
    pub(crate) plain: bool,
}

/// True when `name` must be escaped in a JSON string (a `"` or `\`; control characters are refused
/// by the name rule, but are checked too).
pub(crate) fn needs_escape(name: &str) -> bool {
    name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Appends `text` as a JSON string, UTF-8 kept (as serde_json and Python with
/// `ensure_ascii=False` write it).
fn push_string(out: &mut Vec<u8>, text: &str) {
    push_known(out, text, !needs_escape(text));
}

/// Like `push_string`, for a text already known to need no escaping (`plain`) or to need some.
fn push_known(out: &mut Vec<u8>, text: &str, plain: bool) {
    if !plain {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// `"alice": "12"`: one student as the file and the legacy routes show it, the age as stored.
pub(crate) fn push_pair(out: &mut Vec<u8>, student: &StudentRef) {
    push_known(out, student.name, student.plain);
    out.extend_from_slice(b": ");
    let mut digits = itoa::Buffer::new();
    match student.form {
        AgeForm::Text => {
            out.push(b'"');
            out.extend_from_slice(digits.format(student.age).as_bytes());
            out.push(b'"');
        }
        AgeForm::Integer => out.extend_from_slice(digits.format(student.age).as_bytes()),
        AgeForm::Odd(_) => {
            out.push(b'"');
            out.extend_from_slice(student.odd.as_bytes());
            out.push(b'"');
        }
    }
}

/// `{"alice": "12"}`: the legacy answer for one student.
pub(crate) fn legacy_one(student: &StudentRef) -> Vec<u8> {
    let mut out = Vec::with_capacity(student.name.len() + 16);
    out.push(b'{');
    push_pair(&mut out, student);
    out.push(b'}');
    out
}

/// `{"student_ages": {"alice": "12", "bob": "13"}}`, whole, as the old clients expect.
pub(crate) fn legacy_list<'a>(students: impl Iterator<Item = StudentRef<'a>>, size_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_hint);
    out.extend_from_slice(b"{\"student_ages\": {");
    for (i, student) in students.enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        push_pair(&mut out, &student);
    }
    out.extend_from_slice(b"}}");
    out
}

/// `{"name":"alice","age":12}`: the REST representation (name first).
pub(crate) fn student(name: &str, age: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 24);
    push_student(&mut out, name, age);
    out
}

fn push_student(out: &mut Vec<u8>, name: &str, age: u8) {
    out.extend_from_slice(b"{\"name\":");
    push_string(out, name);
    out.extend_from_slice(b",\"age\":");
    out.extend_from_slice(itoa::Buffer::new().format(age).as_bytes());
    out.push(b'}');
}

/// `{"students":[...],"next_cursor":"42"}` (`null` on the last page).
pub(crate) fn page(students: &[StudentRef], next_cursor: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(students.iter().map(|s| s.name.len() + 24).sum::<usize>() + 48);
    out.extend_from_slice(b"{\"students\":[");
    for (i, student) in students.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_student(&mut out, student.name, student.age);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    match next_cursor {
        Some(cursor) => {
            out.push(b'"');
            out.extend_from_slice(itoa::Buffer::new().format(cursor).as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_views() {
        assert_eq!(student("é\"", 7), r#"{"name":"é\"","age":7}"#.as_bytes());
        let all = [
            StudentRef { name: "a", age: 1, form: AgeForm::Text, odd: "", plain: true },
            StudentRef { name: "b", age: 2, form: AgeForm::Integer, odd: "", plain: true },
        ];
        assert_eq!(
            page(&all, Some(5)),
            br#"{"students":[{"name":"a","age":1},{"name":"b","age":2}],"next_cursor":"5"}"#
        );
        assert_eq!(page(&[], None), br#"{"students":[],"next_cursor":null}"#);
        assert_eq!(legacy_one(&all[1]), br#"{"b": 2}"#);
    }
}
