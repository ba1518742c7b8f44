fn main() {
    match back::config::Config::from_env() {
        Ok(config) => println!("{config:?}"),
        Err(error) => {
            eprintln!("back: {error}");
            std::process::exit(2);
        }
    }
}
