//! The store under load and under crashes, on the real binary: concurrent writers lose nothing,
//! and a SIGKILL during a write storm never loses an acknowledged write nor corrupts the file; on
//! both stores. Then what only one of them does: one writer per file; many backs per database.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::temp_dir;
use crate::students_support::{call, call_json, list_all, read_store, start, store_in, try_create, Store, PREFIX};

const CLIENTS: usize = 50;
const WRITES_PER_CLIENT: usize = 20;

#[test]
fn fifty_clients_writing_twenty_students_each_lose_nothing() {
    for store in Store::each("students-concurrency") {
        fifty_clients(&store);
    }
}

fn fifty_clients(store: &Store) {
    let server = store.start(&[("ACCESS_LOG", "false")]);
    let addr = server.addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            thread::spawn(move || {
                (0..WRITES_PER_CLIENT)
                    .map(|i| try_create(addr, &format!("client{client}-student{i}"), (i % 151) as u8))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for client in clients {
        let statuses = client.join().expect("client thread");
        assert!(statuses.iter().all(|s| *s == Some(201)), "{statuses:?}");
    }
    eprintln!("{} writes in {:?}", CLIENTS * WRITES_PER_CLIENT, started.elapsed());

    let expected = CLIENTS * WRITES_PER_CLIENT + 2; // the sample's alice and bob
    assert_eq!(list_all(addr).len(), expected);
    let on_disk = store.contents();
    assert_eq!(on_disk.len(), expected);
    for client in 0..CLIENTS {
        for i in 0..WRITES_PER_CLIENT {
            let name = format!("client{client}-student{i}");
            assert!(on_disk.iter().any(|(n, age)| *n == name && *age == (i % 151).to_string()), "{name} missing");
        }
    }

    let legacy = call(addr, "GET", &format!("{PREFIX}/get_student_ages")).body;
    drop(server);
    let restarted = store.start(&[("ACCESS_LOG", "false")]);
    assert_eq!(call(restarted.addr(), "GET", &format!("{PREFIX}/get_student_ages")).body, legacy);
}

#[test]
fn sigkill_during_a_write_storm_never_loses_an_acknowledged_write() {
    for store in Store::each("students-crash") {
        sigkill_storm(&store);
    }
}

fn sigkill_storm(store: &Store) {
    const ROUNDS: usize = 5;
    const WRITERS: usize = 8;
    const MAX_WRITES_PER_WRITER: usize = 500;
    let mut acknowledged: HashSet<String> = HashSet::new();

    for round in 0..ROUNDS {
        let server = store.start(&[("ACCESS_LOG", "false")]);
        let addr = server.addr();
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let stop = Arc::clone(&stop);
                let acks = Arc::clone(&acks);
                thread::spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0..MAX_WRITES_PER_WRITER {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let name = format!("r{round}-w{writer}-{i}");
                        match try_create(addr, &name, 1) {
                            Some(201) => {
                                acked.push(name);
                                acks.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(status) => panic!("{name}: unexpected {status}"),
                            None => break, // the server is gone
                        }
                    }
                    acked
                })
            })
            .collect();
        // Let the storm build up, then kill without warning, at a different moment each round.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acks.load(Ordering::Relaxed) < 10 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(13 * round as u64));
        server.signal("KILL");
        stop.store(true, Ordering::Relaxed);
        let mut round_acked = 0;
        for writer in writers {
            let acked = writer.join().expect("writer thread");
            round_acked += acked.len();
            acknowledged.extend(acked);
        }
        drop(server);

        let on_disk: HashSet<String> = store.contents().into_iter().map(|(name, _)| name).collect();
        let lost: Vec<&String> = acknowledged.iter().filter(|name| !on_disk.contains(*name)).collect();
        assert!(lost.is_empty(), "round {round}: {} acknowledged writes lost, e.g. {:?}", lost.len(), lost.first());
        eprintln!("round {round}: {round_acked} acknowledged, {} students on disk", on_disk.len());
        assert!(round_acked > 0, "round {round}: the storm wrote nothing before the kill");
    }

    // The store left by the last kill starts a server that serves every acknowledged student.
    let server = store.start(&[("ACCESS_LOG", "false")]);
    let served: HashSet<String> = list_all(server.addr()).into_iter().map(|(name, _)| name).collect();
    assert!(acknowledged.iter().all(|name| served.contains(name)));
}

#[test]
fn two_backs_on_one_file_never_both_write() {
    let dir = temp_dir("students-two-backs");
    let first = start(&store_in(&dir), &[("ACCESS_LOG", "false")]);
    assert_eq!(crate::common::get(first.addr(), "/readyz").status, 200);
    let second = start(&store_in(&dir), &[("ACCESS_LOG", "false")]);
    let waiting = crate::common::get(second.addr(), "/readyz");
    assert_eq!(waiting.status, 503, "{}", waiting.text());
    assert!(waiting.json()["reason"].as_str().unwrap().contains("locked by another back process"));

    // The first writes; the second refuses every write, and never touches the file.
    for i in 0..20 {
        assert_eq!(try_create(first.addr(), &format!("first-{i}"), 1), Some(201));
        let refused = call_json(second.addr(), "POST", &format!("{PREFIX}/students"), r#"{"name": "x", "age": 1}"#);
        assert_eq!(refused.status, 503);
        assert!(refused.json()["error"].as_str().unwrap().ends_with("nothing was changed"), "{}", refused.text());
        assert_eq!(call(second.addr(), "DELETE", &format!("{PREFIX}/students/alice")).status, 503);
    }
    let last = call_json(first.addr(), "PUT", &format!("{PREFIX}/students/first-19"), r#"{"age": 42}"#);
    assert_eq!(last.status, 200);
    first.signal("KILL");
    drop(first);

    // The second takes the lock, loads the file as the first left it, and serves its last write.
    let deadline = Instant::now() + Duration::from_secs(20);
    while crate::common::get(second.addr(), "/readyz").status != 200 {
        assert!(Instant::now() < deadline, "the second back never became ready");
        thread::sleep(Duration::from_millis(20));
    }
    let served = call(second.addr(), "GET", &format!("{PREFIX}/students/first-19"));
    assert_eq!((served.status, served.json()["age"].as_u64()), (200, Some(42)));
    assert_eq!(try_create(second.addr(), "second-0", 2), Some(201));
    let on_disk = read_store(&store_in(&dir));
    assert_eq!(on_disk.len(), 2 + 20 + 1);
    assert!(on_disk.contains(&("first-19".to_owned(), "42".to_owned())));
}

#[test]
fn two_backs_on_one_database_both_write_and_read_each_others_writes_at_once() {
    let Some(store) = Store::postgres("students-two-backs-db") else { return };
    let first = store.start(&[("ACCESS_LOG", "false")]);
    let second = store.start(&[("ACCESS_LOG", "false")]);
    for server in [&first, &second] {
        assert_eq!(crate::common::get(server.addr(), "/readyz").status, 200);
    }
    let (a, b) = (first.addr(), second.addr());
    // Writes alternate between the backs; each one's write is read by the other at once.
    for i in 0..20 {
        let (writer, reader) = if i % 2 == 0 { (a, b) } else { (b, a) };
        assert_eq!(try_create(writer, &format!("s{i}"), 1), Some(201));
        let read = call(reader, "GET", &format!("{PREFIX}/students/s{i}"));
        assert_eq!(read.status, 200, "s{i} written by one back is not read by the other");
        assert_eq!(call_json(reader, "PUT", &format!("{PREFIX}/students/s{i}"), r#"{"age": 2}"#).status, 200);
        assert_eq!(call(writer, "GET", &format!("{PREFIX}/students/s{i}")).json()["age"], 2);
    }
    // A duplicate through the other back is refused by the database.
    let duplicate = call_json(b, "POST", &format!("{PREFIX}/students"), r#"{"name": "s0", "age": 3}"#);
    assert_eq!(duplicate.status, 409);
    // Both at once: every acknowledged create is there exactly once, in both backs' lists.
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let addr = if w % 2 == 0 { a } else { b };
            thread::spawn(move || (0..25).filter(|i| try_create(addr, &format!("w{w}-{i}"), 1) == Some(201)).count())
        })
        .collect();
    let acked: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(acked, 16 * 25);
    let (from_a, from_b) = (list_all(a), list_all(b));
    assert_eq!(from_a, from_b, "both backs list the same students in the same order");
    assert_eq!(from_a.len(), 2 + 20 + 16 * 25);
    let names: HashSet<&String> = from_a.iter().map(|(name, _)| name).collect();
    assert_eq!(names.len(), from_a.len(), "no student twice");
    assert_eq!(from_a[..3].iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["alice", "bob", "s0"]);
}

/// The legacy list's ages, by name, as one back serves it.
fn legacy_ages(addr: std::net::SocketAddr) -> serde_json::Map<String, serde_json::Value> {
    let list = call(addr, "GET", &format!("{PREFIX}/get_student_ages"));
    assert_eq!(list.status, 200);
    list.json()["student_ages"].as_object().expect("an object of ages").clone()
}

/// The `racontemoi_students_list_cache_total` counter of one outcome.
fn list_cache(addr: std::net::SocketAddr, outcome: &str) -> u64 {
    let line = format!("racontemoi_students_list_cache_total{{outcome=\"{outcome}\"}} ");
    let metrics = crate::common::get(addr, "/metrics").text();
    let value = metrics.lines().find_map(|l| l.strip_prefix(&line)).unwrap_or_else(|| panic!("{line} in {metrics}"));
    value.parse().unwrap()
}

/// Issue 26, item 8: lists that miss the cache together (after a write) read the table once; the
/// others wait for that read and serve its body.
#[test]
fn lists_that_miss_together_read_the_table_once() {
    let Some(store) = Store::postgres("students-list-refill-db") else { return };
    let server = store.start(&[("ACCESS_LOG", "false")]);
    let addr = server.addr();
    // Enough rows that the full read takes a while, and keep-alive clients ready at once.
    for i in 0..300 {
        assert_eq!(try_create(addr, &format!("row{i}"), 1), Some(201));
    }
    for round in 0..3 {
        assert_eq!(
            call_json(addr, "PUT", &format!("{PREFIX}/students/row0"), &format!(r#"{{"age": {round}}}"#)).status,
            200
        );
        let misses = list_cache(addr, "miss");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let barrier = std::sync::Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    legacy_ages(addr)["row0"].clone()
                })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.join().unwrap(), round.to_string(), "every list shows the write");
        }
        assert_eq!(list_cache(addr, "miss") - misses, 1, "16 lists after one write read the table once");
    }
}

#[test]
fn the_legacy_list_cache_never_serves_a_list_older_than_a_write_through_another_back() {
    let Some(store) = Store::postgres("students-list-cache-db") else { return };
    let first = store.start(&[("ACCESS_LOG", "false")]);
    let second = store.start(&[("ACCESS_LOG", "false")]);
    let (a, b) = (first.addr(), second.addr());
    // Unchanged: the second list is the cache's, on each back.
    for addr in [a, b] {
        assert_eq!(legacy_ages(addr), legacy_ages(addr));
        assert!(list_cache(addr, "hit") >= 1, "a list read twice without a write comes from the cache");
    }
    // One writer: every update, create and delete through one back is in the next list of the other.
    for i in 0..150u64 {
        let (writer, reader) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let _ = legacy_ages(reader); // the reader's cache holds the list before the write
        let age = i % 151;
        let put = call_json(writer, "PUT", &format!("{PREFIX}/students/alice"), &format!(r#"{{"age": {age}}}"#));
        assert_eq!(put.status, 200);
        assert_eq!(legacy_ages(reader)["alice"], age.to_string(), "update {i} through one back, listed by the other");
        if i % 10 == 0 {
            assert_eq!(try_create(writer, &format!("c{i}"), 1), Some(201));
            assert!(legacy_ages(reader).contains_key(&format!("c{i}")), "create {i}");
            assert_eq!(call(writer, "DELETE", &format!("{PREFIX}/students/c{i}")).status, 204);
            assert!(!legacy_ages(reader).contains_key(&format!("c{i}")), "delete {i}");
        }
    }
    // Concurrent updates (their revs may commit out of order): each writer owns a student, and
    // after each acknowledged update the other back's next list shows that very age.
    for w in 0..8 {
        assert_eq!(try_create(a, &format!("owner{w}"), 0), Some(201));
    }
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let (writer, reader) = if w % 2 == 0 { (a, b) } else { (b, a) };
            thread::spawn(move || {
                for i in 1..=40u64 {
                    let age = (w * 40 + i) % 151;
                    let path = format!("{PREFIX}/students/owner{w}");
                    assert_eq!(call_json(writer, "PUT", &path, &format!(r#"{{"age": {age}}}"#)).status, 200);
                    let listed = legacy_ages(reader);
                    assert_eq!(listed[&format!("owner{w}")], age.to_string(), "writer {w}, update {i}: a stale list");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer saw a stale list");
    }
    // Both backs agree at the end, and the cache served some of it.
    assert_eq!(legacy_ages(a), legacy_ages(b));
    assert!(list_cache(a, "miss") > 0 && list_cache(b, "miss") > 0);
}

#[test]
fn a_version_1_database_is_migrated_its_list_cached_and_its_quota_kept() {
    let Some(store) = Store::postgres("students-migrate-db") else { return };
    let url = store.database().expect("a database").url.clone();
    let first = store.start(&[("ACCESS_LOG", "false")]);
    assert_eq!(try_create(first.addr(), "zoe", 9), Some(201));
    drop(first);
    // Back to the schema of version 1, as a back of that version left it (versions 2 and 3 undone).
    crate::students_support::admin(
        &url,
        "DROP TRIGGER students_truncated ON students; DROP FUNCTION students_truncated();
         DROP TRIGGER students_new_rev ON students; DROP FUNCTION students_new_rev();
         ALTER TABLE students DROP COLUMN rev; DROP SEQUENCE students_rev; DROP TABLE student_quota;
         CREATE TABLE student_allowance (slot smallint PRIMARY KEY,
             remaining integer NOT NULL CHECK (remaining >= 0)) WITH (fillfactor = 10);
         INSERT INTO student_allowance SELECT s, 5 FROM generate_series(0, 127) AS s;
         DELETE FROM racontemoi_schema WHERE version >= 2;",
    );
    let second = store.start(&[("ACCESS_LOG", "false")]);
    let addr = second.addr();
    let listed = legacy_ages(addr);
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["alice", "bob", "zoe"]);
    assert_eq!(legacy_ages(addr), listed);
    assert_eq!(list_cache(addr, "hit"), 1, "the migrated rows have revs: the second list is cached");
    assert_eq!(call_json(addr, "PUT", &format!("{PREFIX}/students/zoe"), r#"{"age": 10}"#).status, 200);
    assert_eq!(legacy_ages(addr)["zoe"], "10");
    // The quota replaced the allowance: the first create counts, and STUDENTS_MAX holds.
    drop(second);
    let third = store.start(&[("ACCESS_LOG", "false"), ("STUDENTS_MAX", "4")]);
    assert_eq!(try_create(third.addr(), "yann", 1), Some(201));
    assert_eq!(try_create(third.addr(), "xavier", 1), Some(409));
    let (code, out, _) = store.cli(&["students", "export"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"zoe\": \"10\""), "{out}");
}

#[test]
fn students_max_holds_across_backs_writing_at_once() {
    let Some(store) = Store::postgres("students-max-db") else { return };
    // The sample's 2 students, and room for 38 more: 2 backs, 12 writers, 10 creates each.
    let servers = [
        store.start(&[("STUDENTS_MAX", "40"), ("ACCESS_LOG", "false")]),
        store.start(&[("STUDENTS_MAX", "40"), ("ACCESS_LOG", "false")]),
    ];
    let addrs: Vec<_> = servers.iter().map(|s| s.addr()).collect();
    let writers: Vec<_> = (0..12)
        .map(|w| {
            let addr = addrs[w % 2];
            thread::spawn(move || (0..10).map(|i| try_create(addr, &format!("w{w}-{i}"), 1)).collect::<Vec<_>>())
        })
        .collect();
    let statuses: Vec<Option<u16>> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == Some(201)).count(), 38, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == Some(409)).count(), 120 - 38, "{statuses:?}");
    assert_eq!(list_all(addrs[0]).len(), 40);
    // A delete makes room for one more, through either back.
    assert_eq!(call(addrs[1], "DELETE", &format!("{PREFIX}/students/alice")).status, 204);
    assert_eq!(try_create(addrs[0], "one-more", 1), Some(201));
    assert_eq!(try_create(addrs[1], "one-too-many", 1), Some(409));
}
