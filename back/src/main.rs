//! `back`: the command line, carried out by the library (`cli::run`).

fn main() -> std::process::ExitCode {
    back::run(std::env::args_os().skip(1))
}
