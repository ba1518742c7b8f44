//! The original `student_age.json` of the Flask service, end to end on the real binary: the flat
//! file loads byte for byte, is served as Flask served it, and after writes is still the flat
//! file that Python's `json.load` (the old service) reads, byte for byte what `json.dump` writes.

use std::fs;
use std::process::Command;

use crate::common::temp_dir;
use crate::students_support::{call, call_json, read_store, start, store_in, PREFIX};

/// `simple_api/student_age.json` of the public student-list project, byte for byte.
const ORIGINAL: &str = "{\n    \"bob\": \"13\",\n    \"alice\": \"12\"\n}\n";

/// Loads the file as `student_age.py` did, checks it is a flat name → string object, and prints
/// what `json.dump(data, f, indent=4, ensure_ascii=False)` would write for it.
const PYTHON_CHECK: &str = r#"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
assert type(data) is dict, type(data)
for name, age in data.items():
    assert type(name) is str and type(age) is str, (name, age)
sys.stdout.write(json.dumps(data, indent=4, ensure_ascii=False))
"#;

#[test]
fn the_original_flat_file_loads_is_served_and_stays_flat_for_python() {
    let dir = temp_dir("students-format");
    fs::write(store_in(&dir), ORIGINAL).unwrap();
    let server = start(&store_in(&dir), &[]);
    let addr = server.addr();

    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!((all.status, all.text().as_str()), (200, r#"{"student_ages": {"bob": "13", "alice": "12"}}"#));
    assert_eq!(fs::read_to_string(store_in(&dir)).unwrap(), ORIGINAL, "a read never rewrites the file");

    let students = format!("{PREFIX}/students");
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "élodie", "age": 9}"#).status, 201);
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "Zoë \"Z\" O'Neil", "age": 14}"#).status, 201);
    assert_eq!(call_json(addr, "PUT", &format!("{students}/bob"), r#"{"age": 14}"#).status, 200);
    assert_eq!(call(addr, "DELETE", &format!("{students}/alice")).status, 204);

    let written = fs::read_to_string(store_in(&dir)).unwrap();
    assert_eq!(written, "{\n    \"bob\": \"14\",\n    \"élodie\": \"9\",\n    \"Zoë \\\"Z\\\" O'Neil\": \"14\"\n}");
    assert_eq!(read_store(&store_in(&dir)).len(), 3);

    let python = match Command::new("python3").arg("-c").arg(PYTHON_CHECK).arg(store_in(&dir)).output() {
        Ok(output) => output,
        Err(e) => {
            eprintln!("skipped the json.load check: python3 cannot run here ({e})");
            return;
        }
    };
    assert!(python.status.success(), "json.load refused the file: {}", String::from_utf8_lossy(&python.stderr));
    assert_eq!(String::from_utf8(python.stdout).unwrap(), written, "not what json.dump(indent=4) writes");
}

#[test]
fn a_hand_edited_integer_age_is_served_and_kept_as_flask_would() {
    let dir = temp_dir("students-format-int");
    fs::write(store_in(&dir), "{\"bob\": 13, \"alice\": \"012\"}").unwrap();
    let server = start(&store_in(&dir), &[]);
    let addr = server.addr();
    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(all.text(), r#"{"student_ages": {"bob": 13, "alice": "012"}}"#);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages/bob")).text(), r#"{"bob": 13}"#);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/students/alice")).json()["age"], 12);
    let created = call_json(addr, "POST", &format!("{PREFIX}/students"), r#"{"name": "carol", "age": 7}"#);
    assert_eq!(created.status, 201);
    assert_eq!(
        fs::read_to_string(store_in(&dir)).unwrap(),
        "{\n    \"bob\": 13,\n    \"alice\": \"012\",\n    \"carol\": \"7\"\n}"
    );
}

#[test]
fn the_wrapped_file_of_earlier_releases_loads_and_is_written_flat() {
    let dir = temp_dir("students-format-wrapped");
    fs::write(store_in(&dir), "{\n  \"student_ages\": {\n    \"alice\": \"12\",\n    \"bob\": \"13\"\n  }\n}\n")
        .unwrap();
    let server = start(&store_in(&dir), &[]);
    let addr = server.addr();
    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(all.text(), r#"{"student_ages": {"alice": "12", "bob": "13"}}"#);
    assert_eq!(call(addr, "DELETE", &format!("{PREFIX}/students/bob")).status, 204);
    assert_eq!(fs::read_to_string(store_in(&dir)).unwrap(), "{\n    \"alice\": \"12\"\n}");
}
