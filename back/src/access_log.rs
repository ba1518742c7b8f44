//! One line per request on stdout (`ACCESS_LOG`), text or JSON (`LOG_FORMAT`).
//!
//! Lines are appended to a buffer and written in batches: when the buffer passes `FLUSH_AT`,
//! every second (`spawn_flusher`) and at shutdown (`flush`). A `write` per request would cost
//! more than the request itself. The timestamp is formatted once per second.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::config::LogFormat;
use crate::timestamp;

/// Buffered bytes that trigger a write. Small enough to keep memory low under load.
const FLUSH_AT: usize = 16 * 1024;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What one access-log line says about a request.
pub(crate) struct Entry<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    /// Body bytes sent.
    pub(crate) bytes: u64,
    pub(crate) duration: Duration,
}

pub(crate) struct AccessLog {
    format: LogFormat,
    state: Mutex<State>,
}

struct State {
    buffer: Vec<u8>,
    clock_secs: u64,
    clock_text: [u8; timestamp::LEN],
}

impl AccessLog {
    pub(crate) fn new(format: LogFormat) -> Self {
        AccessLog {
            format,
            state: Mutex::new(State {
                buffer: Vec::with_capacity(FLUSH_AT + 512),
                clock_secs: 0,
                clock_text: timestamp::format(0),
            }),
        }
    }

    pub(crate) fn record(&self, entry: &Entry) {
        let mut state = self.lock();
        let now = timestamp::now_secs();
        if now != state.clock_secs {
            state.clock_secs = now;
            state.clock_text = timestamp::format(now);
        }
        let State { buffer, clock_text, .. } = &mut *state;
        match self.format {
            LogFormat::Text => write_text(buffer, clock_text, entry),
            LogFormat::Json => write_json(buffer, clock_text, entry),
        }
        if buffer.len() >= FLUSH_AT {
            write_out(buffer);
        }
    }

    /// Writes whatever is buffered.
    pub(crate) fn flush(&self) {
        write_out(&mut self.lock().buffer);
    }

    /// Flushes every second on the current runtime, so a quiet server's lines still show up.
    pub(crate) fn spawn_flusher(self: &Arc<Self>) {
        let log = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                log.flush();
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buffer invalid: keep logging.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn write_out(buffer: &mut Vec<u8>) {
    if buffer.is_empty() {
        return;
    }
    // A closed or full stdout must not take the server down: the lines are dropped.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(buffer);
    let _ = stdout.flush();
    buffer.clear();
}

/// `2026-01-31T23:59:59Z GET /path 200 87B 0.042ms`
fn write_text(out: &mut Vec<u8>, clock: &[u8], entry: &Entry) {
    out.extend_from_slice(clock);
    out.push(b' ');
    out.extend_from_slice(entry.method.as_bytes());
    out.push(b' ');
    // hyper only accepts visible ASCII in the request target: no space or newline can forge a line.
    out.extend_from_slice(entry.path.as_bytes());
    out.push(b' ');
    push_u64(out, u64::from(entry.status));
    out.push(b' ');
    push_u64(out, entry.bytes);
    out.extend_from_slice(b"B ");
    push_millis(out, entry.duration);
    out.extend_from_slice(b"ms\n");
}

/// `{"ts":"...","method":"GET","path":"/path","status":200,"bytes":87,"duration_ms":0.042}`
fn write_json(out: &mut Vec<u8>, clock: &[u8], entry: &Entry) {
    out.extend_from_slice(b"{\"ts\":\"");
    out.extend_from_slice(clock);
    out.extend_from_slice(b"\",\"method\":");
    push_json_string(out, entry.method);
    out.extend_from_slice(b",\"path\":");
    push_json_string(out, entry.path);
    out.extend_from_slice(b",\"status\":");
    push_u64(out, u64::from(entry.status));
    out.extend_from_slice(b",\"bytes\":");
    push_u64(out, entry.bytes);
    out.extend_from_slice(b",\"duration_ms\":");
    push_millis(out, entry.duration);
    out.extend_from_slice(b"}\n");
}

fn push_json_string(out: &mut Vec<u8>, value: &str) {
    // Serialising a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Milliseconds with three decimals (microsecond resolution).
fn push_millis(out: &mut Vec<u8>, duration: Duration) {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    push_u64(out, micros / 1000);
    let fraction = micros % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> Entry<'_> {
        Entry { method: "GET", path, status: 200, bytes: 87, duration: Duration::from_micros(1_042) }
    }

    #[test]
    fn text_line() {
        let mut out = Vec::new();
        write_text(&mut out, b"2026-01-31T23:59:59Z", &entry("/racontemoiunehistoire"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-01-31T23:59:59Z GET /racontemoiunehistoire 200 87B 1.042ms\n"
        );
    }

    #[test]
    fn json_line_escapes_the_path() {
        let mut out = Vec::new();
        write_json(&mut out, b"2026-01-31T23:59:59Z", &entry("/a\"b\\c"));
        let line = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["path"], "/a\"b\\c");
        assert_eq!(value["status"], 200);
        assert_eq!(value["bytes"], 87);
        assert_eq!(value["duration_ms"], 1.042);
        assert_eq!(value["ts"], "2026-01-31T23:59:59Z");
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, u64::MAX);
        out.push(b' ');
        push_millis(&mut out, Duration::from_micros(5));
        assert_eq!(String::from_utf8(out).unwrap(), "0 18446744073709551615 0.005");
    }
}
