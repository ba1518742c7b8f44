//! Configuration from the environment. Every variable of the back is read here, once, at start.
//! A bad value is a one-line error naming the variable (see `ConfigError`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::client_ip::TrustedProxies;
pub(crate) mod database_url;

use database_url::Target;

/// The whole configuration of the back.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) addr: SocketAddr,
    /// `None`: serve the embedded stories file.
    pub(crate) stories_file: Option<PathBuf>,
    pub(crate) cors: CorsOrigins,
    pub(crate) log_format: LogFormat,
    pub(crate) access_log: bool,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) students: StudentsConfig,
    pub(crate) login_throttle: LoginThrottleConfig,
}

/// Which origins may call the back from a browser (`CORS_ALLOW_ORIGIN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CorsOrigins {
    /// No CORS headers at all (the default).
    None,
    /// `*`: any origin.
    Any,
    /// An explicit list of origins such as `http://localhost:8080`.
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The student-ages API's settings.
#[derive(Debug, Clone)]
pub(crate) struct StudentsConfig {
    /// Route prefix, such as `/supmit/api/v1.0`: starts with `/`, no trailing `/`.
    pub(crate) prefix: String,
    /// `None`: the student routes answer 503.
    pub(crate) credentials: Option<Credentials>,
    pub(crate) store_file: PathBuf,
    /// `STUDENTS_READ_ONLY`: the store is read-only by design (a ConfigMap): no lock, writes 503, ready.
    pub(crate) read_only: bool,
    /// `STUDENTS_MAX`: a create beyond this many students is refused (409).
    pub(crate) max: usize,
    /// `STUDENTS_DATABASE_URL`: the students live in PostgreSQL; `None`: in `store_file`.
    pub(crate) database: Option<DatabaseConfig>,
}

/// The PostgreSQL store's settings (`STUDENTS_DATABASE_*`).
#[derive(Debug, Clone)]
pub(crate) struct DatabaseConfig {
    /// The server, the login and TLS, from the URL and `STUDENTS_DATABASE_CA_FILE`.
    pub(crate) target: Target,
    /// Connections kept open at most (`STUDENTS_DATABASE_POOL_SIZE`).
    pub(crate) pool_size: usize,
    /// Time to open a connection, TLS and login included, and to wait for a free one.
    pub(crate) connect_timeout: Duration,
    /// PostgreSQL's `statement_timeout` of every session; also bounds each request's wait.
    pub(crate) statement_timeout: Duration,
}

/// Throttling of failed logins to the student API (`LOGIN_THROTTLE_*`, `TRUSTED_PROXIES`).
#[derive(Debug, Clone)]
pub(crate) struct LoginThrottleConfig {
    /// Wrong logins a client may make in one window; 0 turns throttling off.
    pub(crate) max_failures: u32,
    pub(crate) window: Duration,
    /// Clients tracked at most (the memory bound).
    pub(crate) max_clients: usize,
    /// Peers whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: TrustedProxies,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    pub(crate) variable: &'static str,
    pub(crate) message: String,
}

impl From<ConfigError> for crate::error::StartupError {
    fn from(error: ConfigError) -> Self {
        crate::error::StartupError(error.to_string())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) const DEFAULT_STUDENTS_PREFIX: &str = "/supmit/api/v1.0";
pub(crate) const DEFAULT_STUDENT_AGE_FILE: &str = "/data/student_age.json";
pub(crate) const DEFAULT_STUDENTS_MAX: usize = 100_000;
const DEFAULT_DATABASE_POOL_SIZE: &str = "16";
const DEFAULT_DATABASE_CONNECT_TIMEOUT: &str = "5s";
const DEFAULT_DATABASE_STATEMENT_TIMEOUT: &str = "5s";

impl Config {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Config {
            addr: listen_addr(&env)?,
            stories_file: env.get("STORIES_FILE").map(PathBuf::from),
            cors: env.parse("CORS_ALLOW_ORIGIN", "", parse_cors)?,
            log_format: env.parse("LOG_FORMAT", "text", |v| match v {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("{v:?} is not one of: text, json")),
            })?,
            access_log: env.parse("ACCESS_LOG", "true", parse_bool)?,
            shutdown_timeout: env.parse("SHUTDOWN_TIMEOUT", "10s", parse_duration)?,
            header_read_timeout: env.parse("HEADER_READ_TIMEOUT", "5s", parse_positive_duration)?,
            idle_timeout: env.parse("IDLE_TIMEOUT", "60s", parse_positive_duration)?,
            students: StudentsConfig {
                prefix: env.parse("STUDENTS_API_PREFIX", DEFAULT_STUDENTS_PREFIX, parse_prefix)?,
                credentials: credentials(&env)?,
                store_file: PathBuf::from(
                    env.get("STUDENT_AGE_FILE").unwrap_or_else(|| DEFAULT_STUDENT_AGE_FILE.into()),
                ),
                read_only: env.parse("STUDENTS_READ_ONLY", "false", parse_bool)?,
                max: env.parse("STUDENTS_MAX", &DEFAULT_STUDENTS_MAX.to_string(), |v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("{v:?} is not a whole number above 0"))
                })?,
                database: database(&env)?,
            },
            login_throttle: LoginThrottleConfig {
                max_failures: env.parse("LOGIN_THROTTLE_FAILURES", "10", |v| {
                    v.parse::<u32>().map_err(|_| format!("{v:?} is not a number of failures (0 turns throttling off)"))
                })?,
                window: env.parse("LOGIN_THROTTLE_WINDOW", "1m", parse_positive_duration)?,
                max_clients: env.parse("LOGIN_THROTTLE_MAX_CLIENTS", "10000", |v| match v.parse::<usize>() {
                    Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
                    _ => Err(format!("{v:?} is not a number of clients from 1 to 10000000")),
                })?,
                trusted_proxies: env.parse("TRUSTED_PROXIES", "", TrustedProxies::parse)?,
            },
        })
    }
}

/// `HOST` and `PORT` alone, for `back --healthcheck`, which must not fail on unrelated variables.
pub(crate) fn listen_addr_from_env() -> Result<SocketAddr, ConfigError> {
    let lookup = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    listen_addr(&Env(&lookup))
}

fn listen_addr(env: &Env) -> Result<SocketAddr, ConfigError> {
    let host = env.parse("HOST", "0.0.0.0", |v| {
        v.trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .map_err(|_| format!("{v:?} is not an IPv4 or IPv6 address"))
    })?;
    let port =
        env.parse("PORT", "5000", |v| v.parse::<u16>().map_err(|_| format!("{v:?} is not a port number (0-65535)")))?;
    Ok(SocketAddr::new(host, port))
}

/// The environment seen through a lookup function. An empty value counts as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(
        &self,
        name: &'static str,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.get(name);
        parse(value.as_deref().map(str::trim).unwrap_or(default))
            .map_err(|message| ConfigError { variable: name, message })
    }

    /// `NAME` or the content of the file named by `NAME_FILE` (a mounted secret), not both.
    fn secret(&self, name: &'static str, file_name: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.get(name), self.get(file_name)) {
            (Some(_), Some(_)) => {
                Err(ConfigError { variable: name, message: format!("set either {name} or {file_name}, not both") })
            }
            (Some(value), None) => Ok(Some(value)),
            (None, Some(path)) => {
                let content = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError { variable: file_name, message: format!("cannot read {path:?}: {e}") })?;
                // A secret file usually ends with one newline that is not part of the value.
                let value = content.strip_suffix('\n').unwrap_or(&content);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(ConfigError { variable: file_name, message: format!("{path:?} is empty") });
                }
                Ok(Some(value.to_owned()))
            }
            (None, None) => Ok(None),
        }
    }
}

/// The PostgreSQL store's settings, read only to the students CLI (`back students import|export`).
pub(crate) fn database_from_env() -> Result<Option<DatabaseConfig>, ConfigError> {
    let lookup = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    database(&Env(&lookup))
}

/// `STUDENTS_DATABASE_*`: `None` when no URL is set (the file store). The URL is checked here, and
/// the CA file read, so that a bad one stops the start.
fn database(env: &Env) -> Result<Option<DatabaseConfig>, ConfigError> {
    let pool_size = env.parse("STUDENTS_DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE, |v| match v.parse() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a number of connections from 1 to 1000")),
    })?;
    let connect_timeout =
        env.parse("STUDENTS_DATABASE_CONNECT_TIMEOUT", DEFAULT_DATABASE_CONNECT_TIMEOUT, parse_positive_duration)?;
    let statement_timeout =
        env.parse("STUDENTS_DATABASE_STATEMENT_TIMEOUT", DEFAULT_DATABASE_STATEMENT_TIMEOUT, parse_positive_duration)?;
    let ca_file = env.get("STUDENTS_DATABASE_CA_FILE").map(PathBuf::from);
    let Some(url) = env.secret("STUDENTS_DATABASE_URL", "STUDENTS_DATABASE_URL_FILE")? else {
        return Ok(None);
    };
    let target = database_url::parse(&url, ca_file.as_deref()).map_err(|problem| match problem {
        database_url::Problem::Url(message) => ConfigError { variable: "STUDENTS_DATABASE_URL", message },
        database_url::Problem::CaFile(message) => ConfigError { variable: "STUDENTS_DATABASE_CA_FILE", message },
    })?;
    Ok(Some(DatabaseConfig { target, pool_size, connect_timeout, statement_timeout }))
}

fn credentials(env: &Env) -> Result<Option<Credentials>, ConfigError> {
    let username = env.secret("API_USERNAME", "API_USERNAME_FILE")?;
    let password = env.secret("API_PASSWORD", "API_PASSWORD_FILE")?;
    match (username, password) {
        (Some(username), Some(password)) => {
            if username.contains(':') {
                return Err(ConfigError {
                    variable: "API_USERNAME",
                    message: "a basic-auth username cannot contain ':'".into(),
                });
            }
            Ok(Some(Credentials { username, password }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError {
            variable: "API_PASSWORD",
            message: "API_USERNAME is set but no password (API_PASSWORD or API_PASSWORD_FILE)".into(),
        }),
        (None, Some(_)) => Err(ConfigError {
            variable: "API_USERNAME",
            message: "a password is set but no username (API_USERNAME or API_USERNAME_FILE)".into(),
        }),
    }
}

fn parse_cors(value: &str) -> Result<CorsOrigins, String> {
    let origins: Vec<String> =
        value.split(',').map(str::trim).filter(|o| !o.is_empty()).map(|o| o.trim_end_matches('/').to_owned()).collect();
    if origins.is_empty() {
        return Ok(CorsOrigins::None);
    }
    if origins.iter().any(|o| o == "*") {
        return if origins.len() == 1 {
            Ok(CorsOrigins::Any)
        } else {
            Err("\"*\" cannot be combined with other origins".into())
        };
    }
    for origin in &origins {
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(|| format!("{origin:?} is not an origin like https://example.com"))?;
        if rest.is_empty() || rest.contains('/') || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{origin:?} is not an origin like https://example.com"));
        }
    }
    Ok(CorsOrigins::List(origins))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not a boolean (true or false)")),
    }
}

/// `250ms`, `10s`, `2m`, or a bare number of seconds. humantime parses the number and unit; the
/// check before it keeps to the forms the README documents (no spaces, no other unit).
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let invalid = || format!("{value:?} is not a duration such as 500ms, 10s or 2m");
    let unit = value.trim_start_matches(|c: char| c.is_ascii_digit());
    let duration = match unit {
        "" => Duration::from_secs(value.parse().map_err(|_| invalid())?),
        "ms" | "s" | "m" if unit.len() < value.len() => humantime::parse_duration(value).map_err(|_| invalid())?,
        _ => return Err(invalid()),
    };
    if duration > Duration::from_secs(24 * 3600) {
        return Err(format!("{value:?} is longer than a day"));
    }
    Ok(duration)
}

fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        d if d.is_zero() => Err(format!("{value:?} must be more than zero")),
        d => Ok(d),
    }
}

fn parse_prefix(value: &str) -> Result<String, String> {
    let prefix = value.trim_end_matches('/');
    let valid = prefix.starts_with('/')
        && prefix.len() > 1
        && !prefix.contains("//")
        && prefix.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '%'));
    if valid {
        Ok(prefix.to_owned())
    } else {
        Err(format!("{value:?} is not a path prefix such as /supmit/api/v1.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr, "0.0.0.0:5000".parse().unwrap());
        assert_eq!(c.stories_file, None);
        assert_eq!(c.cors, CorsOrigins::None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.access_log);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(c.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.students.prefix, "/supmit/api/v1.0");
        assert_eq!(c.students.credentials, None);
        assert_eq!(c.students.store_file, PathBuf::from("/data/student_age.json"));
        assert_eq!(c.login_throttle.max_failures, 10);
        assert_eq!(c.login_throttle.window, Duration::from_secs(60));
        assert_eq!(c.login_throttle.max_clients, 10_000);
        assert_eq!(c.login_throttle.trusted_proxies, TrustedProxies::default());
    }

    #[test]
    fn login_throttle() {
        let c = config(&[
            ("LOGIN_THROTTLE_FAILURES", "0"),
            ("LOGIN_THROTTLE_WINDOW", "500ms"),
            ("LOGIN_THROTTLE_MAX_CLIENTS", "5"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"),
        ])
        .unwrap();
        assert_eq!(c.login_throttle.max_failures, 0);
        assert_eq!(c.login_throttle.window, Duration::from_millis(500));
        assert_eq!(c.login_throttle.max_clients, 5);
        assert_eq!(c.login_throttle.trusted_proxies, TrustedProxies::parse("10.0.0.0/8,fd00::/8").unwrap());
    }

    #[test]
    fn ipv6_host_and_port() {
        let c = config(&[("HOST", "::"), ("PORT", "8081")]).unwrap();
        assert_eq!(c.addr, "[::]:8081".parse().unwrap());
        let c = config(&[("HOST", "[::1]")]).unwrap();
        assert_eq!(c.addr, "[::1]:5000".parse().unwrap());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("HOST", "localhost"),
            ("PORT", "70000"),
            ("PORT", "-1"),
            ("LOG_FORMAT", "xml"),
            ("ACCESS_LOG", "maybe"),
            ("SHUTDOWN_TIMEOUT", "10 s"),
            ("HEADER_READ_TIMEOUT", "0"),
            ("IDLE_TIMEOUT", "1h"),
            ("CORS_ALLOW_ORIGIN", "example.com"),
            ("CORS_ALLOW_ORIGIN", "*,https://a.example"),
            ("STUDENTS_API_PREFIX", "api"),
            ("STUDENTS_API_PREFIX", "/"),
            ("LOGIN_THROTTLE_FAILURES", "-1"),
            ("LOGIN_THROTTLE_WINDOW", "0"),
            ("LOGIN_THROTTLE_MAX_CLIENTS", "0"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
            ("STUDENTS_DATABASE_POOL_SIZE", "0"),
            ("STUDENTS_DATABASE_CONNECT_TIMEOUT", "0"),
            ("STUDENTS_DATABASE_STATEMENT_TIMEOUT", "5 s"),
            ("STUDENTS_DATABASE_URL", "mysql://db/x"),
            ("STUDENTS_DATABASE_URL", "postgres://app@db/x?sslmode=verify-full"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{name}={value}");
            assert!(err.to_string().starts_with(&format!("invalid {name}: ")), "{err}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999m").is_err());
        // humantime alone would take these; the README documents none of them.
        for other in ["1h", "10 s", "1m30s", "5sec", "ms", " 10s"] {
            assert!(parse_duration(other).is_err(), "{other}");
        }
    }

    #[test]
    fn cors_lists() {
        let c = config(&[("CORS_ALLOW_ORIGIN", "http://localhost:8080, https://front.example/")]).unwrap();
        assert_eq!(c.cors, CorsOrigins::List(vec!["http://localhost:8080".into(), "https://front.example".into()]));
        assert_eq!(config(&[("CORS_ALLOW_ORIGIN", "*")]).unwrap().cors, CorsOrigins::Any);
    }

    #[test]
    fn prefix_is_normalised() {
        let c = config(&[("STUDENTS_API_PREFIX", "/pozos/api/v1.0/")]).unwrap();
        assert_eq!(c.students.prefix, "/pozos/api/v1.0");
    }

    #[test]
    fn credentials_from_values_and_files() {
        let c = config(&[("API_USERNAME", "root"), ("API_PASSWORD", "root")]).unwrap();
        assert_eq!(c.students.credentials, Some(Credentials { username: "root".into(), password: "root".into() }));

        let dir = tempfile::Builder::new().prefix("racontemoi-config-").tempdir().unwrap();
        let user = dir.path().join("username");
        let pass = dir.path().join("password");
        std::fs::write(&user, "admin\n").unwrap();
        std::fs::write(&pass, "s3cr3t \r\n").unwrap();
        let c = config(&[("API_USERNAME_FILE", user.to_str().unwrap()), ("API_PASSWORD_FILE", pass.to_str().unwrap())])
            .unwrap();
        assert_eq!(c.students.credentials, Some(Credentials { username: "admin".into(), password: "s3cr3t ".into() }));
    }

    #[test]
    fn credentials_errors() {
        assert_eq!(config(&[("API_USERNAME", "root")]).unwrap_err().variable, "API_PASSWORD");
        assert_eq!(config(&[("API_PASSWORD", "root")]).unwrap_err().variable, "API_USERNAME");
        assert_eq!(
            config(&[("API_USERNAME", "a"), ("API_USERNAME_FILE", "/x"), ("API_PASSWORD", "p")]).unwrap_err().variable,
            "API_USERNAME"
        );
        assert_eq!(
            config(&[("API_USERNAME", "a"), ("API_PASSWORD_FILE", "/nonexistent/password")]).unwrap_err().variable,
            "API_PASSWORD_FILE"
        );
        assert_eq!(config(&[("API_USERNAME", "a:b"), ("API_PASSWORD", "p")]).unwrap_err().variable, "API_USERNAME");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = config(&[
            ("API_USERNAME", "root"),
            ("API_PASSWORD", "hunter2"),
            ("STUDENTS_DATABASE_URL", "postgres://app:hunter3@db/x"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter3"));
    }

    #[test]
    fn database_settings() {
        let c = config(&[]).unwrap();
        assert!(c.students.database.is_none(), "the file store by default");
        let c = config(&[("STUDENTS_DATABASE_URL", "postgres://app:pw@db:6432/students")]).unwrap();
        let database = c.students.database.unwrap();
        assert_eq!(database.pool_size, 16);
        assert_eq!(database.connect_timeout, Duration::from_secs(5));
        assert_eq!(database.statement_timeout, Duration::from_secs(5));
        let c = config(&[
            ("STUDENTS_DATABASE_URL", "postgres://app@db/x"),
            ("STUDENTS_DATABASE_POOL_SIZE", "4"),
            ("STUDENTS_DATABASE_CONNECT_TIMEOUT", "250ms"),
            ("STUDENTS_DATABASE_STATEMENT_TIMEOUT", "2s"),
        ])
        .unwrap();
        let database = c.students.database.unwrap();
        assert_eq!(
            (database.pool_size, database.connect_timeout, database.statement_timeout),
            (4, Duration::from_millis(250), Duration::from_secs(2))
        );
        // The URL from a mounted secret, and a CA file that does not exist.
        let dir = tempfile::Builder::new().prefix("racontemoi-config-").tempdir().unwrap();
        let url = dir.path().join("url");
        std::fs::write(&url, "postgres://app:pw@db/x?sslmode=require\n").unwrap();
        let c = config(&[("STUDENTS_DATABASE_URL_FILE", url.to_str().unwrap())]).unwrap();
        assert!(c.students.database.is_some());
        let err = config(&[
            ("STUDENTS_DATABASE_URL_FILE", url.to_str().unwrap()),
            ("STUDENTS_DATABASE_CA_FILE", "/nonexistent/ca.crt"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "STUDENTS_DATABASE_CA_FILE", "{err}");
    }
}
