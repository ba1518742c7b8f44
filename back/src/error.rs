//! Startup errors: printed as one line, then the process exits non-zero; and `chain`, any error
//! with its causes on one line.

use std::fmt::{self, Write as _};

#[derive(Debug)]
pub(crate) struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

/// An error and its causes, on one line (tokio-postgres's Display shows only the first).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
