//! GitLab CI: a dotenv report for `artifacts:reports:dotenv`. GitLab accepts one `NAME=value`
//! per line with no quoting, no blank or comment lines and no multi-line values; and it makes
//! the report readable by everyone who can see the pipeline, so secrets are left out unless
//! asked for.

use std::io::Write;
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
/// else the pipeline names (a pipe, /dev/stdout, /dev/null) is written in place, never
/// replaced. A symbolic link is refused: a repository can commit one where the report goes, and
/// writing through it would overwrite its target (with secrets, under `--dotenv-secrets`). The
/// temporary file is created new (never opened through a link) and private; the report keeps
/// mode 0600 when it holds secrets.
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
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::export(format!(
                "the dotenv report {} is a symbolic link; deploydb does not write through links",
                path.display()
            ))
            .with_hint(
                "remove the link from the repository, or name another file with --dotenv-file",
            ));
        }
        Ok(m) if !m.file_type().is_file() => return std::fs::write(path, text).map_err(fail),
        _ => {}
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".deploydb-report-")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    #[cfg(unix)]
    if !with_secrets {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
