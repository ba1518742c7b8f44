//! Startup errors: printed as one line, then the process exits non-zero.

use std::fmt;

use crate::config::ConfigError;

#[derive(Debug)]
pub(crate) struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

impl From<ConfigError> for StartupError {
    fn from(error: ConfigError) -> Self {
        StartupError(error.to_string())
    }
}
