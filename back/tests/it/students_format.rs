//! The original `student_age.json` of the Flask service, end to end on the real binary: the flat
//! file loads byte for byte, is served as Flask served it, and after writes is still the flat
//! file that Python's `json.load` (the old service) reads, byte for byte what `json.dump` writes.
//! On both stores: the file itself, or the database's `back students import` and `export`.

use std::process::Command;

use crate::students_support::{call, call_json, Store, PREFIX};

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
    for store in Store::each("students-format") {
        store.seed(ORIGINAL);
        original_file(&store);
    }
}

fn original_file(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();

    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!((all.status, all.text().as_str()), (200, r#"{"student_ages": {"bob": "13", "alice": "12"}}"#));
    if store.is_file() {
        assert_eq!(store.written(), ORIGINAL, "a read never rewrites the file");
    } else {
        assert_eq!(store.export(), ORIGINAL, "export after import gives the original's bytes back");
    }

    let students = format!("{PREFIX}/students");
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "élodie", "age": 9}"#).status, 201);
    assert_eq!(call_json(addr, "POST", &students, r#"{"name": "Zoë \"Z\" O'Neil", "age": 14}"#).status, 201);
    assert_eq!(call_json(addr, "PUT", &format!("{students}/bob"), r#"{"age": 14}"#).status, 200);
    assert_eq!(call(addr, "DELETE", &format!("{students}/alice")).status, 204);

    let written = store.written();
    assert_eq!(written, "{\n    \"bob\": \"14\",\n    \"élodie\": \"9\",\n    \"Zoë \\\"Z\\\" O'Neil\": \"14\"\n}");
    assert_eq!(store.contents().len(), 3);

    let file = store.dir().join("written.json");
    std::fs::write(&file, &written).unwrap();
    let python = match Command::new("python3").arg("-c").arg(PYTHON_CHECK).arg(&file).output() {
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
    for store in Store::each("students-format-int") {
        store.seed("{\"bob\": 13, \"alice\": \"012\"}");
        integer_ages(&store);
    }
}

fn integer_ages(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();
    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(all.text(), r#"{"student_ages": {"bob": 13, "alice": "012"}}"#);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages/bob")).text(), r#"{"bob": 13}"#);
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/students/alice")).json()["age"], 12);
    let created = call_json(addr, "POST", &format!("{PREFIX}/students"), r#"{"name": "carol", "age": 7}"#);
    assert_eq!(created.status, 201);
    assert_eq!(store.written(), "{\n    \"bob\": 13,\n    \"alice\": \"012\",\n    \"carol\": \"7\"\n}");
}

#[test]
fn the_wrapped_file_of_earlier_releases_loads_and_is_written_flat() {
    for store in Store::each("students-format-wrapped") {
        store.seed("{\n  \"student_ages\": {\n    \"alice\": \"12\",\n    \"bob\": \"13\"\n  }\n}\n");
        wrapped(&store);
    }
}

fn wrapped(store: &Store) {
    let server = store.start(&[]);
    let addr = server.addr();
    let all = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(all.text(), r#"{"student_ages": {"alice": "12", "bob": "13"}}"#);
    assert_eq!(call(addr, "DELETE", &format!("{PREFIX}/students/bob")).status, 204);
    assert_eq!(store.written(), "{\n    \"alice\": \"12\"\n}");
}
