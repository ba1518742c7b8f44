//! Start-up and the command line: bad configuration, bad stories files, `--version`, `--help`,
//! `--healthcheck`, `--probe`, unknown arguments. Always the real binary.

use std::time::Duration;

use crate::common::{run_to_exit, temp_dir, Server};

const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn bad_configuration_is_one_line_naming_the_variable_and_exit_2() {
    for (name, value) in [
        ("PORT", "eighty"),
        ("PORT", "65536"),
        ("HOST", "localhost"),
        ("LOG_FORMAT", "xml"),
        ("ACCESS_LOG", "perhaps"),
        ("SHUTDOWN_TIMEOUT", "soon"),
        ("HEADER_READ_TIMEOUT", "0"),
        ("IDLE_TIMEOUT", "-1s"),
        ("CORS_ALLOW_ORIGIN", "front.example"),
        ("STUDENTS_API_PREFIX", "no-slash"),
    ] {
        let (code, stdout, stderr) = run_to_exit(&[(name, value)], &[], TIMEOUT);
        assert_eq!(code, Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}={value}: {stderr:?}");
        assert!(stderr.contains(&format!("invalid {name}")), "{name}={value}: {stderr:?}");
        assert!(!stderr.contains("panicked"));
        assert!(!stdout.contains("listening on"));
    }
}

#[test]
fn bad_stories_file_is_one_line_and_a_failure_exit() {
    let temp = temp_dir("startup");
    let dir = temp.path().to_path_buf();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let blank = dir.join("blank.txt");
    std::fs::write(&blank, "\n \r\n\t\n").unwrap();
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, b"une histoire\n\xc3\x28\xff\n").unwrap();
    let missing = dir.join("missing.txt");

    for (path, expected) in [
        (&empty, "no story"),
        (&blank, "no story"),
        (&binary, "not valid UTF-8 (line 2)"),
        (&missing, "cannot read"),
        (&dir, "cannot read"),
    ] {
        let (code, stdout, stderr) = run_to_exit(&[("STORIES_FILE", path.to_str().unwrap())], &[], TIMEOUT);
        assert!(matches!(code, Some(c) if c != 0), "{path:?}: {code:?}");
        assert_eq!(stderr.lines().count(), 1, "{path:?}: {stderr:?}");
        assert!(stderr.contains("STORIES_FILE") && stderr.contains(expected), "{path:?}: {stderr:?}");
        assert!(!stderr.contains("panicked"));
        assert!(!stdout.contains("listening on"));
    }
}

#[test]
fn unreadable_stories_file() {
    // Root reads any file whatever its mode; the check only means something for other users.
    if running_as_root() {
        return;
    }
    let dir = temp_dir("unreadable");
    let path = dir.path().join("stories.txt");
    std::fs::write(&path, "histoire\n").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let (code, _, stderr) = run_to_exit(&[("STORIES_FILE", path.to_str().unwrap())], &[], TIMEOUT);
    assert!(matches!(code, Some(c) if c != 0));
    assert!(stderr.contains("cannot read"), "{stderr}");
}

/// Whether this process runs as root (uid 0), read from /proc to avoid a libc dependency.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn the_port_in_use_is_a_failure_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run_to_exit(&[("PORT", &port)], &[], TIMEOUT);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = run_to_exit(&[], &["--version"], TIMEOUT);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.trim(), format!("back {}", env!("CARGO_PKG_VERSION")));
    let (code, stdout, _) = run_to_exit(&[], &["--help"], TIMEOUT);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("--healthcheck") && stdout.contains("--probe URL"));
}

#[test]
fn unknown_arguments_are_usage_errors() {
    for args in [&["--bogus"][..], &["serve"], &["--probe"], &["--version", "extra"]] {
        let (code, stdout, stderr) = run_to_exit(&[], args, TIMEOUT);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stderr.starts_with("back: ") && stderr.contains("usage:"), "{stderr}");
        assert!(!stdout.contains("listening on"));
    }
}

#[test]
fn healthcheck_probes_its_own_port() {
    let server = Server::start(&[]);
    let port = server.addr().port().to_string();
    let (code, stdout, stderr) = run_to_exit(&[("PORT", &port)], &["--healthcheck"], TIMEOUT);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // The wildcard address is probed on loopback.
    let (code, _, _) = run_to_exit(&[("PORT", &port), ("HOST", "0.0.0.0")], &["--healthcheck"], TIMEOUT);
    assert_eq!(code, Some(0));
    drop(server);
    let (code, _, stderr) = run_to_exit(&[("PORT", &port)], &["--healthcheck"], TIMEOUT);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn healthcheck_on_ipv6_loopback() {
    let Ok(server) = Server::try_start(&[("HOST", "::1")]) else {
        return; // no IPv6 on this machine
    };
    let port = server.addr().port().to_string();
    let (code, stdout, stderr) = run_to_exit(&[("PORT", &port), ("HOST", "::1")], &["--healthcheck"], TIMEOUT);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

#[test]
fn probe_any_url() {
    let server = Server::start(&[]);
    let base = format!("http://{}", server.addr());
    let probe = |path: &str| run_to_exit(&[], &["--probe", &format!("{base}{path}")], TIMEOUT);
    let (code, stdout, _) = probe("/readyz");
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(probe("/racontemoiunehistoire?x=1").0, Some(0));
    assert_eq!(probe("/nope").0, Some(1));
    let (code, _, stderr) = run_to_exit(&[], &["--probe", "https://example.com/"], TIMEOUT);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("only http://"), "{stderr}");
}

#[test]
fn probe_expects_a_given_status() {
    let server = Server::start(&[]);
    let url = |path: &str| format!("http://{}{path}", server.addr());
    let expect = |path: &str, status: &str| run_to_exit(&[], &["--probe", &url(path), "--expect", status], TIMEOUT);
    let (code, stdout, _) = expect("/nope", "404");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("answered 404"), "{stdout}");
    // The expected status only: a 2xx fails when another one is expected.
    let (code, _, stderr) = expect("/healthz", "404");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("answered 200"), "{stderr}");
    assert_eq!(expect("/healthz", "200").0, Some(0));
    // A server that is down fails whatever is expected.
    let down = url("/nope");
    drop(server);
    assert_eq!(run_to_exit(&[], &["--probe", &down, "--expect", "404"], TIMEOUT).0, Some(1));
    let (code, _, stderr) = run_to_exit(&[], &["--probe", &down, "--expect", "four"], TIMEOUT);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--expect"), "{stderr}");
}

#[test]
fn probe_times_out_on_a_silent_server() {
    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let (code, _, stderr) = run_to_exit(&[], &["--probe", &url], TIMEOUT);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
