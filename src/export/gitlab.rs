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

/// Writes the report, replacing any earlier one. A regular file is written via a temporary
/// file and a rename, so a failure leaves no half-written report for GitLab to pick up; anything
/// else (a pipe, /dev/stdout, /dev/null) is written in place, never replaced.
pub fn write_dotenv(path: &Path, exports: &Exports, with_secrets: bool) -> Result<()> {
    let mut text = String::new();
    for (name, value) in &exports.vars {
        if value.is_secret() && !with_secrets {
            continue;
        }
        text.push_str(&dotenv_line(name, value.expose())?);
    }
    let fail = |e: std::io::Error| {
        Error::export(format!(
            "could not write the dotenv report {}: {e}",
            path.display()
        ))
    };
    let special = std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file());
    if special {
        return std::fs::write(path, text).map_err(fail);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".deploydb-tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
}
