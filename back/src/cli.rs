//! Command-line arguments. Configuration comes from the environment; arguments only pick a mode.

use std::ffi::OsString;

pub const USAGE: &str = "\
usage: back [--healthcheck | --probe URL | --version | --help]

  (no argument)   run the server (configured by environment variables: HOST, PORT,
                  STORIES_FILE, CORS_ALLOW_ORIGIN, LOG_FORMAT, ACCESS_LOG, SHUTDOWN_TIMEOUT,
                  HEADER_READ_TIMEOUT, IDLE_TIMEOUT, STUDENTS_API_PREFIX, API_USERNAME[_FILE],
                  API_PASSWORD[_FILE], STUDENT_AGE_FILE)
  --healthcheck   GET /healthz of the server on this machine (HOST, PORT); exit 0 if 200
  --probe URL     GET an http:// URL; exit 0 on a 2xx answer
  --version       print the version
  --help          print this help";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Healthcheck,
    Probe(String),
    Version,
    Help,
}

/// Parses the arguments after the program name. The error is a one-line usage problem.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else { return Ok(Command::Serve) };
    let command = match first.to_str() {
        Some("--healthcheck") => Command::Healthcheck,
        Some("--version" | "-V") => Command::Version,
        Some("--help" | "-h") => Command::Help,
        Some("--probe") => {
            let url = args.next().ok_or("--probe needs a URL")?;
            Command::Probe(url.into_string().map_err(|_| "the --probe URL is not valid UTF-8")?)
        }
        _ => return Err(format!("unknown argument {first:?}")),
    };
    match args.next() {
        Some(extra) => Err(format!("unexpected argument {extra:?}")),
        None => Ok(command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands() {
        assert_eq!(parse_strs(&[]), Ok(Command::Serve));
        assert_eq!(parse_strs(&["--healthcheck"]), Ok(Command::Healthcheck));
        assert_eq!(parse_strs(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_strs(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["--probe", "http://a/"]), Ok(Command::Probe("http://a/".into())));
    }

    #[test]
    fn usage_errors() {
        assert!(parse_strs(&["--nope"]).is_err());
        assert!(parse_strs(&["--probe"]).is_err());
        assert!(parse_strs(&["--version", "x"]).is_err());
        assert!(parse_strs(&["serve"]).is_err());
    }
}
