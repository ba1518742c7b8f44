//! `STUDENTS_DATABASE_URL`: a libpq-style URL, `postgres://user:pass@host:5432/db?sslmode=...`.
//!
//! tokio-postgres's own parser reads the URL, except two parameters it does not know or does not
//! implement: `sslmode`, whose `verify-ca` and `verify-full` it lacks, and `sslrootcert`, which it
//! refuses. Both are taken out of the query first; what is left goes to `tokio_postgres::Config`.
//! The CA comes from a file (`sslrootcert=` or `STUDENTS_DATABASE_CA_FILE`): the scratch image has
//! no system store, and no webpki roots are built in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// libpq's `sslmode`, all five of the modes that matter (`allow` is refused: nobody should want it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, without verification unless a CA is given (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is verified against the CA only when one is given.
    Require,
    /// TLS, and the certificate chain must lead to the CA; the host name is not checked.
    VerifyCa,
    /// TLS, the chain must lead to the CA, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            _ => Err(format!("sslmode={value:?} is not one of: disable, prefer, require, verify-ca, verify-full")),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where and how to connect: tokio-postgres's configuration (password included, never shown),
/// the TLS mode and the CA's certificates.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) ssl_mode: SslMode,
    /// The CA's certificates, read at start; empty when no CA file is given.
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// The file they came from, for the log lines.
    pub(crate) ca_file: Option<PathBuf>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Target {
    /// `user@host:port/db (sslmode=verify-full, CA /path)`: for log lines, without the password.
    pub(crate) fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .pg
            .get_hosts()
            .iter()
            .zip(self.pg.get_ports().iter().chain(std::iter::repeat(&5432)))
            .map(|(host, port)| match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            })
            .collect();
        let mut text = format!(
            "{}@{}/{} (sslmode={}",
            self.pg.get_user().unwrap_or("?"),
            hosts.join(","),
            self.pg.get_dbname().or(self.pg.get_user()).unwrap_or("?"),
            self.ssl_mode.name()
        );
        if let Some(ca) = &self.ca_file {
            text.push_str(&format!(", CA {}", ca.display()));
        }
        text.push(')');
        text
    }
}

/// What is wrong, and with which variable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    Url(String),
    CaFile(String),
}

/// Parses the URL; `ca_file` is `STUDENTS_DATABASE_CA_FILE`. The CA file is read here.
pub(crate) fn parse(url: &str, ca_file: Option<&Path>) -> Result<Target, Problem> {
    let url = url.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Problem::Url("not a postgres:// or postgresql:// URL".into()));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ssl_mode = None;
    let mut root_cert: Option<String> = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| Problem::Url(format!("the value of {key} is not UTF-8 once percent-decoded")))
        };
        match key {
            "sslmode" => ssl_mode = Some(SslMode::parse(&decoded()?).map_err(Problem::Url)?),
            "sslrootcert" => root_cert = Some(decoded()?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    // tokio-postgres's messages name the option, never the URL (nor its password).
    let mut pg = tokio_postgres::Config::from_str(&rest).map_err(|e| Problem::Url(crate::error::chain(&e)))?;
    if pg.get_hosts().is_empty() {
        return Err(Problem::Url("the URL names no host".into()));
    }
    if pg.get_user().is_none() {
        return Err(Problem::Url("the URL names no user (postgres://USER:PASSWORD@HOST/DB)".into()));
    }
    if pg.get_application_name().is_none() {
        pg.application_name("racontemoi-back");
    }

    let ca = match (root_cert, ca_file) {
        (Some(_), Some(_)) => {
            return Err(Problem::Url("set sslrootcert in the URL or STUDENTS_DATABASE_CA_FILE, not both".into()))
        }
        (Some(path), None) if path == "system" => {
            return Err(Problem::Url(
                "sslrootcert=system is not supported: the image has no system CA store; give the CA's file".into(),
            ))
        }
        (Some(path), None) => Some((PathBuf::from(path), Problem::Url as fn(String) -> Problem)),
        (None, Some(path)) => Some((path.to_owned(), Problem::CaFile as fn(String) -> Problem)),
        (None, None) => None,
    };
    let (roots, ca_file) = match ca {
        Some((path, problem)) => (read_certificates(&path).map_err(problem)?, Some(path)),
        None => (Vec::new(), None),
    };
    // No sslmode, but a CA: it is there to be checked, so verify-full rather than libpq's default
    // `prefer` (which would accept plain text and not check the name). CloudNativePG's `uri` names
    // no sslmode; the chart gives the Cluster's CA beside it.
    let ssl_mode = ssl_mode.unwrap_or(if roots.is_empty() { SslMode::Prefer } else { SslMode::VerifyFull });
    pg.ssl_mode(match ssl_mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    if roots.is_empty() && matches!(ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err(Problem::Url(format!(
            "sslmode={} needs the CA's certificate: sslrootcert=FILE in the URL, or STUDENTS_DATABASE_CA_FILE",
            ssl_mode.name()
        )));
    }
    Ok(Target { pg, ssl_mode, roots, ca_file })
}

/// Every certificate of a PEM file; none is an error.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let content = std::fs::read(path).map_err(|e| format!("cannot read the CA file {shown}: {e}"))?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&content)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the CA file {shown} is not PEM: {e}"))?;
    if certificates.is_empty() {
        return Err(format!("the CA file {shown} holds no certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_postgres::config::Host;

    /// A self-signed certificate (P-256), PEM, for the CA-file tests.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBmjCCAUCgAwIBAgITS9CX4qAUf8C2HPUl4yjy2klZlDAKBggqhkjOPQQDAjAi
MSAwHgYDVQQDDBdyYWNvbnRlbW9pIHVuaXQgdGVzdCBDQTAgFw0yNjEyMDYxMjI0
MTBaGA8yMTI2MTExMjEyMjQxMFowIjEgMB4GA1UEAwwXcmFjb250ZW1vaSB1bml0
IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATWcPTCiJYhoFXPbboR
G78yg3/6VHk1iUIxN63brm0OL5XRShxiRofg/mEd0zzfUH0WwD/GiHftuY5bg9Ll
k+Tgo1MwUTAdBgNVHQ4EFgQU90VwMs//Q9SDzojkRI/R+IyZYRswHwYDVR0jBBgw
FoAU90VwMs//Q9SDzojkRI/R+IyZYRswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO
PQQDAgNIADBFAiAo2wAIy72tZ9Lq06lV6h9s7oae3dGnrFB3bft4WKVwJwIhAKQn
WZ0ihD5NwW/728mBYFNyyb0MPIVDLks88OWxPEc4
-----END CERTIFICATE-----
";

    fn ca_file() -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), CA_PEM).unwrap();
        file
    }

    #[test]
    fn a_plain_url_is_read_by_tokio_postgres_and_prefers_tls() {
        let target = parse("postgres://app:s%40cret@db.example:6432/students", None).unwrap();
        assert_eq!(target.ssl_mode, SslMode::Prefer, "libpq's default");
        assert_eq!(target.pg.get_user(), Some("app"));
        assert_eq!(target.pg.get_password(), Some(&b"s@cret"[..]));
        assert_eq!(target.pg.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(target.pg.get_ports(), [6432]);
        assert_eq!(target.pg.get_dbname(), Some("students"));
        assert_eq!(target.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
        assert_eq!(target.pg.get_application_name(), Some("racontemoi-back"));
        let shown = format!("{target:?}");
        assert_eq!(shown, "app@db.example:6432/students (sslmode=prefer)");
        assert!(!shown.contains("cret"));
    }

    #[test]
    fn every_sslmode() {
        let file = ca_file();
        let ca = file.path().to_str().unwrap();
        for (mode, expected, pg) in [
            ("disable", SslMode::Disable, tokio_postgres::config::SslMode::Disable),
            ("prefer", SslMode::Prefer, tokio_postgres::config::SslMode::Prefer),
            ("require", SslMode::Require, tokio_postgres::config::SslMode::Require),
            ("verify-ca", SslMode::VerifyCa, tokio_postgres::config::SslMode::Require),
            ("verify-full", SslMode::VerifyFull, tokio_postgres::config::SslMode::Require),
        ] {
            let url = format!("postgresql://app@db/x?sslmode={mode}&sslrootcert={ca}&connect_timeout=3");
            let target = parse(&url, None).unwrap_or_else(|e| panic!("{mode}: {e:?}"));
            assert_eq!(target.ssl_mode, expected);
            assert_eq!(target.pg.get_ssl_mode(), pg, "{mode}");
            assert_eq!(target.roots.len(), 1);
            assert_eq!(target.pg.get_connect_timeout(), Some(&Duration::from_secs(3)), "other parameters are kept");
        }
    }

    #[test]
    fn a_ca_without_an_sslmode_means_verify_full() {
        let file = ca_file();
        // CloudNativePG's app Secret: postgresql://, the -rw Service's name, no sslmode.
        let target = parse("postgresql://app:pw@racontemoi-db-rw.racontemoi:5432/app\n", Some(file.path())).unwrap();
        assert_eq!(target.ssl_mode, SslMode::VerifyFull);
        assert_eq!(target.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(target.pg.get_hosts(), [Host::Tcp("racontemoi-db-rw.racontemoi".into())]);
        let url = format!("postgres://app@db/x?sslrootcert={}", file.path().display());
        assert_eq!(parse(&url, None).unwrap().ssl_mode, SslMode::VerifyFull);
        let url = format!("postgres://app@db/x?sslmode=prefer&sslrootcert={}", file.path().display());
        assert_eq!(parse(&url, None).unwrap().ssl_mode, SslMode::Prefer, "an sslmode given wins");
    }

    #[test]
    fn the_ca_comes_from_the_url_or_the_variable_not_both() {
        let file = ca_file();
        let target = parse("postgres://app@db/x?sslmode=verify-full", Some(file.path())).unwrap();
        assert_eq!(target.roots.len(), 1);
        assert_eq!(target.ca_file.as_deref(), Some(file.path()));
        assert!(format!("{target:?}").ends_with(&format!("(sslmode=verify-full, CA {})", file.path().display())));
        let url = format!("postgres://app@db/x?sslrootcert={}", file.path().display());
        assert!(matches!(parse(&url, Some(file.path())), Err(Problem::Url(m)) if m.contains("not both")));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let file = ca_file();
        for (url, ca, needle) in [
            ("mysql://app@db/x", None, "not a postgres://"),
            ("db.example", None, "not a postgres://"),
            ("postgres://app@db/x?sslmode=allow", None, "sslmode=\"allow\" is not one of"),
            ("postgres://app@db/x?sslmode=verify-full", None, "needs the CA"),
            ("postgres://app@db/x?sslmode=verify-ca", None, "needs the CA"),
            ("postgres://app@db/x?sslrootcert=system", None, "system"),
            ("postgres://app@db/x?sslrootcert=/nonexistent/ca.crt", None, "cannot read the CA file"),
            ("postgres://app@db/x?nonsense=1", None, "nonsense"),
            ("postgres://app@/x", None, "no host"),
            ("postgres://db/x", None, "no user"),
            ("postgres://app@db/x?sslmode=verify-full", Some(file.path().parent().unwrap()), "cannot read"),
        ] {
            let problem = parse(url, ca).err().unwrap_or_else(|| panic!("{url} accepted"));
            let (Problem::Url(message) | Problem::CaFile(message)) = &problem;
            assert!(message.contains(needle), "{url}: {message}");
        }
        let empty = tempfile::NamedTempFile::new().unwrap();
        let problem = parse("postgres://app@db/x?sslmode=require", Some(empty.path())).unwrap_err();
        assert!(matches!(problem, Problem::CaFile(m) if m.contains("holds no certificate")));
    }
}
