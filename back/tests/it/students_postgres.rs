//! What only the PostgreSQL store does, on a real server (`RACONTEMOI_TEST_DATABASE_URL`; skipped
//! with one line without it): `back students import` and `export`, and a database that is not
//! there: the back starts, serves stories, stays ready, answers 503 on the student routes, and
//! connects by itself once the database comes. (The API itself runs on both stores in
//! `students_http`, `students_format` and `students_durability`.)

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{get, run_to_exit, Server};
use crate::students_support::{admin, call, Store, PREFIX};

#[test]
fn import_refuses_students_already_there_unless_replace() {
    let Some(store) = Store::postgres("students-import") else { return };
    let file = store.dir().join("more.json");
    std::fs::write(&file, r#"{"zoe": "14", "alice": "99"}"#).unwrap();
    let path = file.to_str().unwrap();
    let before = store.export();
    let (code, _, stderr) = store.cli(&["students", "import", path]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("1 of the file's students are already in the database (\"alice\")"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(store.export(), before, "nothing changed");

    std::fs::write(&file, r#"{"zoe": "14", "élodie": 9}"#).unwrap();
    let (code, _, stderr) = store.cli(&["students", "import", path]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("imported 2 students from"), "{stderr}");
    assert_eq!(
        store.export(),
        "{\n    \"alice\": \"12\",\n    \"bob\": \"13\",\n    \"zoe\": \"14\",\n    \"élodie\": 9\n}\n",
        "added after the others, in the file's order, ages as the file wrote them"
    );

    std::fs::write(&file, r#"{"student_ages": {"bob": "7"}}"#).unwrap();
    let (code, _, stderr) = store.cli(&["students", "import", "--replace", path]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("(replacing 4)"), "{stderr}");
    assert_eq!(store.export(), "{\n    \"bob\": \"7\"\n}\n", "a wrapped file, written flat");

    // A file that the file store would refuse is refused, and changes nothing.
    std::fs::write(&file, r#"{"a": "1", "a": "2"}"#).unwrap();
    let (code, _, stderr) = store.cli(&["students", "import", "--replace", path]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not a student_age.json") && stderr.contains("appears twice"), "{stderr}");
    assert_eq!(store.export(), "{\n    \"bob\": \"7\"\n}\n");
}

#[test]
fn import_and_export_need_the_database_url() {
    for args in [&["students", "export"][..], &["students", "import", "x.json"]] {
        let (code, stdout, stderr) = run_to_exit(&[], args, Duration::from_secs(10));
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("STUDENTS_DATABASE_URL"), "{stderr}");
    }
    let (code, _, stderr) = run_to_exit(
        &[("STUDENTS_DATABASE_URL", "postgres://x@db/x?sslmode=bogus")],
        &["students", "export"],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("invalid STUDENTS_DATABASE_URL: sslmode=\"bogus\""), "{stderr}");
}

#[test]
fn an_unreachable_database_fails_only_the_student_routes() {
    // A port nobody listens on: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://app:secret@127.0.0.1:{port}/students?sslmode=disable");
    let server = Server::start(&[("STUDENTS_DATABASE_URL", &url), ("API_USERNAME", "root"), ("API_PASSWORD", "root")]);
    let addr = server.addr();
    for _ in 0..3 {
        let refused = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
        assert_eq!(refused.status, 503);
        assert_eq!(refused.json()["error"], "student database is unavailable: retry later");
        let retry: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=5).contains(&retry), "{retry}");
    }
    assert_eq!(get(addr, "/racontemoiunehistoire").status, 200);
    assert_eq!(get(addr, "/readyz").status, 200, "a dependency down never makes the back unready");
    let metrics = get(addr, "/metrics").text();
    assert!(metrics.contains("racontemoi_students_database_up 0\n"), "{metrics}");
    assert!(metrics.contains("racontemoi_students_database_pool_max_size 16\n"), "{metrics}");
    let lines: Vec<String> = server.stderr().into_iter().filter(|l| l.contains("is unreachable")).collect();
    assert!(!lines.is_empty() && lines.len() <= 2, "{lines:?}");
    assert!(lines[0].contains(&format!("app@127.0.0.1:{port}/students (sslmode=disable) is unreachable")), "{lines:?}");
    assert!(!lines[0].contains("secret"), "never the password");
}

#[test]
fn a_database_that_comes_later_is_used_without_a_restart() {
    let Some(store) = Store::postgres("students-later") else { return };
    let db = store.database().unwrap();
    // The database is away (renamed) when the back starts.
    admin(&db.admin_url, &format!("ALTER DATABASE {0} RENAME TO {0}_away", db.name));
    let server = store.start(&[]);
    let addr = server.addr();
    assert_eq!(call(addr, "GET", &format!("{PREFIX}/get_student_ages")).status, 503);
    assert_eq!(get(addr, "/readyz").status, 200);
    admin(&db.admin_url, &format!("ALTER DATABASE {0}_away RENAME TO {0}", db.name));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
        if answer.status == 200 {
            assert_eq!(answer.text(), r#"{"student_ages": {"alice": "12", "bob": "13"}}"#);
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.text());
        assert!(Instant::now() < deadline, "the back never connected");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(get(addr, "/metrics").text().contains("racontemoi_students_database_up 1\n"));
    assert!(server.wait_for_stdout("reachable again", Duration::from_secs(5)), "{:?}", server.stdout());
}
