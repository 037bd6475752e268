//! The environment as an explicit map. Stages read CI variables from here, never from the
//! process, so tests can hand them a fake CI run and the binary can hand them the real one.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process environment (variables that are not UTF-8 are converted lossily).
    pub fn from_process() -> Self {
        Env(std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect())
    }

    /// A variable's value; set-but-empty counts as unset, as CI systems set many variables to
    /// the empty string (GitHub's `GITHUB_HEAD_REF` outside pull requests).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn is_true(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1" | "yes"))
    }

    /// Whether this is a CI job: there the pipeline, not the repository, decides where the
    /// admin credential comes from, and a missing one is an error rather than a reason to use a
    /// local server.
    pub fn in_ci(&self) -> bool {
        ["CI", "GITHUB_ACTIONS", "GITLAB_CI"]
            .iter()
            .any(|name| self.is_true(name))
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// Adds the variables of a `.env` file (`NAME=value`, optional `export `, values optionally
    /// in single or double quotes, `#` comments). Variables already set are kept: the file is a
    /// default, the environment overrides it.
    pub fn load_dotenv(&mut self, path: &std::path::Path) -> crate::error::Result<()> {
        use crate::error::Error;
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!(
                "the env file {} cannot be read: {e}",
                path.display()
            ))
        })?;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else {
                return Err(Error::usage(format!(
                    "{}:{}: expected NAME=value",
                    path.display(),
                    i + 1
                ))
                .located(path, i + 1));
            };
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                // The line itself is never echoed: a malformed line is often a value (a URL
                // with its password) that lost its `NAME=`.
                return Err(Error::usage(format!(
                    "{}:{}: the text before `=` is not a variable name (letters, digits and _)",
                    path.display(),
                    i + 1
                ))
                .located(path, i + 1));
            }
            let value = value.trim();
            let value = if let Some(inner) =
                value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
            {
                inner.replace("\\n", "\n").replace("\\\"", "\"")
            } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
            {
                inner.to_string()
            } else {
                value
                    .split(" #")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            self.0.entry(name.to_string()).or_insert(value);
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_env_file_line_is_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "DEPLOYDB_ADMIN_URL postgresql://u:hunter2@h/db?sslmode=require\n",
        )
        .unwrap();
        let err = Env::default().load_dotenv(&path).unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert!(err.message.contains(":1:"), "{}", err.message);
    }

    #[test]
    fn dotenv_files_fill_in_but_do_not_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# local\nexport DEPLOYDB_APP=shop\nA=\"two words\"\nB='lit $x'\nC=plain # note\nKEEP=file\n",
        )
        .unwrap();
        let mut env: Env = [("KEEP", "process")].into_iter().collect();
        env.load_dotenv(&path).unwrap();
        assert_eq!(env.get("DEPLOYDB_APP"), Some("shop"));
        assert_eq!(env.get("A"), Some("two words"));
        assert_eq!(env.get("B"), Some("lit $x"));
        assert_eq!(env.get("C"), Some("plain"));
        assert_eq!(env.get("KEEP"), Some("process"));
        std::fs::write(&path, "OK=1\nnot a line\n").unwrap();
        let err = env.load_dotenv(&path).unwrap_err();
        assert!(err.message.contains(":2:"), "{}", err.message);
    }
}
