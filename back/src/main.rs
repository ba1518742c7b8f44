//! `back`: parse the command line, then run the server or a one-shot command.

use std::process::ExitCode;

use back::cli::{self, Command};
use back::config::{self, Config};
use back::{log, probe, server};

/// Exit code of a usage or configuration error.
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Serve) => serve(),
        Ok(Command::Healthcheck) => healthcheck(),
        Ok(Command::Probe { url, expect }) => probe_url(&url, expect),
        Ok(Command::Version) => {
            println!("back {}", back::VERSION);
            ExitCode::SUCCESS
        }
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("back: {problem}\n{}", cli::USAGE);
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
