//! Cold-start poller, built by bench/coldstart.py with plain `rustc -O` (std only, no crate).
//!
//! usage: coldstart RUNS PORT PATH [HEADER] -- PROGRAM [ARGS...]
//!
//! RUNS times: note the time, spawn PROGRAM (inherits the environment), then poll
//! 127.0.0.1:PORT every POLL_INTERVAL with a fresh connection and `GET PATH` (with the request
//! header line HEADER, e.g. `Authorization: Basic ...`) until the answer starts with `HTTP/1.x 200`; print the elapsed microseconds, one line per run; then stop the
//! server with SIGINT (a fast shutdown for the back, nginx, gunicorn and Flask alike), SIGKILL if it
//! is still there after STOP_GRACE, and reap it.
//! A refused connect on loopback costs a few microseconds, so the resolution is about
//! POLL_INTERVAL plus one sleep's overshoot (~60-100 µs in all).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POLL_INTERVAL: Duration = Duration::from_micros(50);
const GIVE_UP: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(10);
const SIGINT: i32 = 2;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

fn answered_200(port: u16, path: &str, header: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}Connection: close\r\n\r\n");
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
        && &head[9..12] == b"200"
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dashes = args.iter().position(|a| a == "--").unwrap_or(0);
    if !(dashes == 4 || dashes == 5) || args.len() <= dashes + 1 {
        eprintln!("usage: coldstart RUNS PORT PATH [HEADER] -- PROGRAM [ARGS...]");
        std::process::exit(2);
    }
    let runs: u32 = args[1].parse().expect("RUNS");
    let port: u16 = args[2].parse().expect("PORT");
    let path = &args[3];
    let header = if dashes == 5 { format!("{}\r\n", args[4]) } else { String::new() };
    let program = &args[dashes + 1];
    let program_args = &args[dashes + 2..];
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(program_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server");
        while !answered_200(port, path, &header) {
            if started.elapsed() > GIVE_UP || child.try_wait().ok().flatten().is_some() {
                eprintln!("coldstart: no 200 from :{port}{path} (server exited or timed out)");
                let _ = child.kill();
                std::process::exit(1);
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        println!("{}", started.elapsed().as_micros());
        stop(&mut child);
    }
}

fn stop(child: &mut Child) {
    unsafe { kill(child.id() as i32, SIGINT) };
    let asked = Instant::now();
    while child.try_wait().expect("reap the server").is_none() {
        if asked.elapsed() > STOP_GRACE {
            eprintln!("coldstart: the server ignored SIGINT for {STOP_GRACE:?}; killed");
            let _ = child.kill();
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
