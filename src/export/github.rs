//! GitHub Actions: `::add-mask::` commands, and `$GITHUB_ENV` / `$GITHUB_OUTPUT` files in the
//! multi-line form (`NAME<<DELIMITER`) with a random delimiter, so that no value — a branch
//! name is attacker-controlled — can end its entry early and inject another variable.

use std::io::Write;
use std::path::Path;

use super::Exports;
use crate::error::{Error, Result};
use crate::secret::random_hex;

/// The mask commands for each secret; GitHub masks values line by line, so a multi-line value
/// gets one command per line. The runner unescapes a command's value (`%0D`, `%0A`, then
/// `%25`), so a value is escaped the other way round first: a password holding `%25` must
/// register itself, not the `%` the runner would read.
pub fn masks(secrets: &[&str]) -> String {
    let mut out = String::new();
    for secret in secrets {
        for line in secret.lines().filter(|l| !l.is_empty()) {
            out.push_str(&format!("::add-mask::{}\n", escape_data(line)));
        }
    }
    out
}

/// A workflow command's value as the runner expects it (its `ActionCommand` escape table).
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn heredoc(name: &str, value: &str) -> String {
    let mut delimiter = format!("ghadelimiter_{}", random_hex(16));
    while value.contains(&delimiter) {
        delimiter = format!("ghadelimiter_{}", random_hex(16));
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

pub fn append_env(path: &Path, exports: &Exports) -> Result<()> {
    let text: String = exports
        .vars
        .iter()
        .map(|(n, v)| heredoc(n, v.expose()))
        .collect();
    append(path, "GITHUB_ENV", &text)
}

pub fn append_outputs(path: &Path, outputs: &[(&str, &str)]) -> Result<()> {
    let text: String = outputs.iter().map(|(n, v)| heredoc(n, v)).collect();
    append(path, "GITHUB_OUTPUT", &text)
}

/// Appends to one of the runner's files (`$GITHUB_ENV`, `$GITHUB_OUTPUT`, the step summary).
pub(crate) fn append(path: &Path, what: &str, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            Error::export(format!(
                "could not append to ${what} ({}): {e}",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the runner does to a command's value (ActionCommand.Unescape: `%0D`, `%0A`, `%25`
    /// in that order), applied to what `masks` prints, gives back each secret's line.
    #[test]
    fn masks_survive_the_runners_unescaping() {
        let unescape = |v: &str| {
            v.replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        };
        for secret in ["p%25w", "100%", "a%0Ab", "%250D", "plain"] {
            let printed = masks(&[secret]);
            let value = printed.trim_end().strip_prefix("::add-mask::").unwrap();
            assert_eq!(unescape(value), secret, "{printed}");
        }
    }
}
