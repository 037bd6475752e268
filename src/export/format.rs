//! `deploydb env --format shell|dotenv|json|github`: the variables printed for a person or a
//! script to pick up.

use super::Exports;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvFormat {
    /// `export NAME='value'` lines for `eval "$(deploydb env)"`.
    Shell,
    /// `NAME=value` lines.
    Dotenv,
    /// One JSON object.
    Json,
    /// The `NAME<<DELIMITER` form that `$GITHUB_ENV` accepts.
    Github,
}

pub fn render(exports: &Exports, format: EnvFormat) -> Result<String> {
    let mut out = String::new();
    match format {
        EnvFormat::Shell => {
            for (name, value) in &exports.vars {
                out.push_str(&format!("export {name}={}\n", shell_quote(value.expose())));
            }
        }
        EnvFormat::Dotenv => {
            for (name, value) in &exports.vars {
                out.push_str(&super::gitlab::dotenv_line(name, value.expose())?);
            }
        }
        EnvFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = exports
                .vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.expose().into()))
                .collect();
            out = serde_json::to_string_pretty(&map).map_err(|e| Error::internal(e.to_string()))?;
            out.push('\n');
        }
        EnvFormat::Github => {
            for (name, value) in &exports.vars {
                out.push_str(&super::github::heredoc(name, value.expose()));
            }
        }
    }
    Ok(out)
}

/// Single quotes, with each inner `'` written as `'\''`: safe for any value in POSIX shells.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_a_real_shell() {
        let nasty = "a'b\"c $HOME `id` \\ \n end";
        let script = format!("printf %s {}", shell_quote(nasty));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }
}
