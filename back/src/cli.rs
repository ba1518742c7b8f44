//! Command-line arguments. Configuration comes from the environment; arguments only pick a mode.

use std::ffi::OsString;

pub const USAGE: &str = "\
usage: back [--healthcheck | --probe URL [--expect STATUS] | --version | --help]

  (no argument)   run the server (configured by environment variables: HOST, PORT,
                  STORIES_FILE, CORS_ALLOW_ORIGIN, LOG_FORMAT, ACCESS_LOG, SHUTDOWN_TIMEOUT,
                  HEADER_READ_TIMEOUT, IDLE_TIMEOUT, STUDENTS_API_PREFIX, API_USERNAME[_FILE],
                  API_PASSWORD[_FILE], STUDENT_AGE_FILE)
  --healthcheck   GET /healthz of the server on this machine (HOST, PORT); exit 0 if 200
  --probe URL     GET an http:// URL; exit 0 on a 2xx answer
    --expect STATUS   exit 0 only on this status instead (e.g. 401), exit 1 on any other
  --version       print the version
  --help          print this help";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Healthcheck,
    /// GET the URL; success is the expected status, or any 2xx when `expect` is `None`.
    Probe {
        url: String,
        expect: Option<u16>,
    },
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
            let url = url.into_string().map_err(|_| "the --probe URL is not valid UTF-8")?;
            let expect = match args.next() {
                None => None,
                Some(flag) if flag == "--expect" => Some(parse_status(args.next())?),
                Some(extra) => return Err(format!("unexpected argument {extra:?}")),
            };
            Command::Probe { url, expect }
        }
        _ => return Err(format!("unknown argument {first:?}")),
    };
    match args.next() {
        Some(extra) => Err(format!("unexpected argument {extra:?}")),
        None => Ok(command),
    }
}

/// The STATUS of `--expect STATUS`: a three-digit HTTP status code, 100 to 599.
fn parse_status(arg: Option<OsString>) -> Result<u16, String> {
    let arg = arg.ok_or("--expect needs a status code")?;
    arg.to_str()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code))
        .ok_or_else(|| format!("--expect {arg:?}: not an HTTP status code (100 to 599)"))
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
        assert_eq!(parse_strs(&["--probe", "http://a/"]), Ok(Command::Probe { url: "http://a/".into(), expect: None }));
        assert_eq!(
            parse_strs(&["--probe", "http://a/", "--expect", "401"]),
            Ok(Command::Probe { url: "http://a/".into(), expect: Some(401) })
        );
    }

    #[test]
    fn usage_errors() {
        assert!(parse_strs(&["--nope"]).is_err());
        assert!(parse_strs(&["--probe"]).is_err());
        assert!(parse_strs(&["--version", "x"]).is_err());
        assert!(parse_strs(&["serve"]).is_err());
        for bad in [
            &["--expect"][..],
            &["--expect", "4o1"],
            &["--expect", "99"],
            &["--expect", "600"],
            &["--expect", "+40"],
            &["--expect", "4010"],
            &["--nope", "401"],
        ] {
            let args: Vec<&str> = ["--probe", "http://a/"].iter().chain(bad).copied().collect();
            assert!(parse_strs(&args).is_err(), "{args:?}");
        }
        assert!(parse_strs(&["--probe", "http://a/", "--expect", "401", "x"]).is_err());
    }
}
