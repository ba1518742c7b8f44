//! Process log lines (start, stop, warnings): information on stdout, problems on stderr, one line
//! each, in the `LOG_FORMAT` chosen at start. Request lines are `access_log`'s business.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::LogFormat;
use crate::timestamp;

/// Set once at start; text until then (a configuration error is reported before the format is known).
static JSON: AtomicBool = AtomicBool::new(false);

pub(crate) fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

pub(crate) fn info(message: &str) {
    let _ = std::io::stdout().lock().write_all(line("info", message).as_bytes());
}

pub(crate) fn warn(message: &str) {
    let _ = std::io::stderr().lock().write_all(line("warn", message).as_bytes());
}

pub(crate) fn error(message: &str) {
    let _ = std::io::stderr().lock().write_all(line("error", message).as_bytes());
}

fn line(level: &str, message: &str) -> String {
    // A message never spans lines, whatever it quotes.
    let message = message.replace(['\n', '\r'], " ");
    if JSON.load(Ordering::Relaxed) {
        let mut line = serde_json::json!({ "ts": timestamp::now(), "level": level, "msg": message }).to_string();
        line.push('\n');
        line
    } else {
        format!("{} {level} {message}\n", timestamp::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_line_is_one_line() {
        let line = line("info", "listening on 127.0.0.1:5000\nforged");
        assert!(line.ends_with(" info listening on 127.0.0.1:5000 forged\n"), "{line}");
        assert_eq!(line.matches('\n').count(), 1);
    }
}
