//! The command line: arguments only pick a mode (configuration comes from the environment), and
//! `run` carries it out: the server, or a one-shot command. `main.rs` only calls `run`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, Config};
use crate::{log, probe, server};

/// Exit code of a usage or configuration error.
const USAGE_ERROR: u8 = 2;

pub(crate) const USAGE: &str = "\
usage: back [--healthcheck | --probe URL [--expect STATUS] | --version | --help]
       back students import FILE [--replace] | back students export

  (no argument)   run the server, configured by environment variables (HOST, PORT, ...: the
                  configuration table of the README lists every one)
  --healthcheck   GET /healthz of the server on this machine (HOST, PORT); exit 0 if 200
  --probe URL     GET an http:// URL; exit 0 on a 2xx answer
    --expect STATUS   exit 0 only on this status instead (e.g. 401), exit 1 on any other
  --version       print the version
  --help          print this help
  students import FILE [--replace]
                  load a student_age.json (flat or wrapped) into the database of
                  STUDENTS_DATABASE_URL, in one transaction; refused if one of its students is
                  already there, unless --replace (the database then holds the file's students)
  students export write the database's students to stdout in the original flat format";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Serve,
    Healthcheck,
    /// GET the URL; success is the expected status, or any 2xx when `expect` is `None`.
    Probe {
        url: String,
        expect: Option<u16>,
    },
    Version,
    Help,
    /// `students import FILE [--replace]`.
    StudentsImport {
        file: PathBuf,
        replace: bool,
    },
    /// `students export`.
    StudentsExport,
}

/// Runs the command given by `args` (the arguments after the program name); its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    match parse(args) {
        Ok(Command::Serve) => serve(),
        Ok(Command::Healthcheck) => healthcheck(),
        Ok(Command::Probe { url, expect }) => probe_url(&url, expect),
        Ok(Command::StudentsImport { file, replace }) => students_command(|database| {
            crate::students::store::postgres::transfer::import(database, &file, replace)
                .map(|line| eprintln!("back: {line}"))
        }),
        Ok(Command::StudentsExport) => students_command(|database| {
            crate::students::store::postgres::transfer::export(database, &mut std::io::stdout().lock()).map(|_| ())
        }),
        Ok(Command::Version) => {
            println!("back {}", crate::VERSION);
            ExitCode::SUCCESS
        }
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("back: {problem}\n{USAGE}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            log::error(&error.to_string());
            return ExitCode::from(USAGE_ERROR);
        }
    };
    log::init(config.log_format);
    match server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error(&error.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Runs a `students` command on the database of `STUDENTS_DATABASE_URL`.
fn students_command(command: impl FnOnce(&config::DatabaseConfig) -> Result<(), String>) -> ExitCode {
    let database = match config::database_from_env() {
        Ok(Some(database)) => database,
        Ok(None) => {
            eprintln!("back: STUDENTS_DATABASE_URL (or STUDENTS_DATABASE_URL_FILE) is not set: import and export work on the database");
            return ExitCode::from(USAGE_ERROR);
        }
        Err(error) => {
            eprintln!("back: {error}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    match command(&database) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("back: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn healthcheck() -> ExitCode {
    let result = config::listen_addr_from_env().map_err(|e| e.to_string()).and_then(probe::healthcheck);
    report(result.map(|status| (status, status == 200)), "/healthz")
}

fn probe_url(url: &str, expect: Option<u16>) -> ExitCode {
    let result = probe::parse_url(url).and_then(|parsed| probe::probe(&parsed));
    report(result.map(|status| (status, probe::is_expected(status, expect))), url)
}

/// One line about the probe, and its exit code.
fn report(result: Result<(u16, bool), String>, target: &str) -> ExitCode {
    match result {
        Ok((status, true)) => {
            println!("ok: {target} answered {status}");
            ExitCode::SUCCESS
        }
        Ok((status, false)) => {
            eprintln!("fail: {target} answered {status}");
            ExitCode::FAILURE
        }
        Err(problem) => {
            eprintln!("fail: {target}: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments after the program name. The error is a one-line usage problem.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
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
        Some("students") => return parse_students(args),
        _ => return Err(format!("unknown argument {first:?}")),
    };
    match args.next() {
        Some(extra) => Err(format!("unexpected argument {extra:?}")),
        None => Ok(command),
    }
}

/// `students import FILE [--replace]` or `students export`, after `students`.
fn parse_students(mut args: impl Iterator<Item = OsString>) -> Result<Command, String> {
    let command = match args.next().as_ref().and_then(|a| a.to_str()) {
        Some("import") => {
            let (mut file, mut replace) = (None, false);
            for arg in args {
                match arg.to_str() {
                    Some("--replace") if !replace => replace = true,
                    _ if file.is_none() && !arg.to_string_lossy().starts_with("--") => file = Some(PathBuf::from(arg)),
                    _ => return Err(format!("unexpected argument {arg:?}")),
                }
            }
            let file = file.ok_or("students import needs a FILE (a student_age.json)")?;
            return Ok(Command::StudentsImport { file, replace });
        }
        Some("export") => Command::StudentsExport,
        _ => return Err("students takes import FILE [--replace] or export".into()),
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
        assert_eq!(
            parse_strs(&["students", "import", "s.json"]),
            Ok(Command::StudentsImport { file: "s.json".into(), replace: false })
        );
        assert_eq!(
            parse_strs(&["students", "import", "--replace", "s.json"]),
            Ok(Command::StudentsImport { file: "s.json".into(), replace: true })
        );
        assert_eq!(parse_strs(&["students", "export"]), Ok(Command::StudentsExport));
        for bad in [
            &["students"][..],
            &["students", "import"],
            &["students", "import", "a", "b"],
            &["students", "import", "a", "--force"],
            &["students", "export", "x"],
            &["students", "list"],
        ] {
            assert!(parse_strs(bad).is_err(), "{bad:?}");
        }
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
