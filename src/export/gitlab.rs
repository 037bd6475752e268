//! GitLab CI: a dotenv report for `artifacts:reports:dotenv`. GitLab accepts one `NAME=value`
//! per line with no quoting, no blank or comment lines and no multi-line values; and it makes
//! the report readable by everyone who can see the pipeline, so secrets are left out unless
//! asked for.

use std::path::Path;

use super::Exports;
use crate::error::{Error, Result};

pub fn dotenv_line(name: &str, value: &str) -> Result<String> {
    if value.contains(['\n', '\r']) {
        return Err(Error::export(format!(
            "{name} has a line break, which a dotenv report cannot hold"
        )));
    }
    Ok(format!("{name}={value}\n"))
}

/// Writes the report (replacing any earlier one) via a temporary file, so a failure leaves no
/// half-written report for GitLab to pick up.
pub fn write_dotenv(path: &Path, exports: &Exports, with_secrets: bool) -> Result<()> {
    let mut text = String::new();
    for (name, value) in &exports.vars {
        if value.is_secret() && !with_secrets {
            continue;
        }
        text.push_str(&dotenv_line(name, value.expose())?);
    }
    let tmp = path.with_extension("deploydb-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            Error::export(format!(
                "could not write the dotenv report {}: {e}",
                path.display()
            ))
        })
}
