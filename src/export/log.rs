//! How deploydb's output fits each CI's log: collapsible sections around the migration's
//! output, error annotations that point at the config line, and GitHub's job summary.

use std::path::Path;

use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    Github,
    Gitlab,
    Other,
}

impl Ci {
    pub fn from_env(env: &Env) -> Ci {
        if env.is_true("GITHUB_ACTIONS") {
            Ci::Github
        } else if env.is_true("GITLAB_CI") {
            Ci::Gitlab
        } else {
            Ci::Other
        }
    }

    /// The line that opens a collapsible section, if this CI has them.
    pub fn section_start(self, name: &str, title: &str) -> Option<String> {
        match self {
            Ci::Github => Some(format!("::group::{}", escape_data(title))),
            Ci::Gitlab => Some(format!(
                "\x1b[0Ksection_start:{}:{name}[collapsed=false]\r\x1b[0K{title}",
                unix_now()
            )),
            Ci::Other => None,
        }
    }

    pub fn section_end(self, name: &str) -> Option<String> {
        match self {
            Ci::Github => Some("::endgroup::".to_string()),
            Ci::Gitlab => Some(format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", unix_now())),
            Ci::Other => None,
        }
    }

    /// GitHub's `::error` command for `error`, pointing at the file and line when known.
    /// GitHub's `::error` line for `error`, its file given relative to `workspace` (GitHub
    /// places annotations by the path in the repository, not the runner's absolute one).
    pub fn annotation(self, error: &Error, workspace: Option<&Path>) -> Option<String> {
        if self != Ci::Github {
            return None;
        }
        let mut properties = vec!["title=deploydb".to_string()];
        if let Some((file, line)) = &error.location {
            let file = workspace
                .and_then(|w| file.strip_prefix(w).ok())
                .unwrap_or(file);
            properties.push(format!(
                "file={}",
                escape_property(&file.display().to_string())
            ));
            properties.push(format!("line={line}"));
        }
        let mut message = error.message.clone();
        if let Some(hint) = &error.hint {
            message = format!("{message}\nhint: {hint}");
        }
        Some(format!(
            "::error {}::{}",
            properties.join(","),
            escape_data(&message)
        ))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Workflow command data: `%`, CR and LF are escaped so a message cannot end the command.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Appends markdown to `$GITHUB_STEP_SUMMARY`.
pub fn append_summary(path: &Path, markdown: &str) -> Result<()> {
    super::github::append(path, "GITHUB_STEP_SUMMARY", markdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_and_locate() {
        let error = Error::usage("bad\nvalue 100%")
            .located(Path::new("dir/deploy,db.toml"), 4)
            .with_hint("fix it");
        let line = Ci::Github.annotation(&error, None).unwrap();
        assert_eq!(
            line,
            "::error title=deploydb,file=dir/deploy%2Cdb.toml,line=4::bad%0Avalue 100%25%0Ahint: fix it"
        );
        assert!(Ci::Gitlab.annotation(&error, None).is_none());
        let absolute = Error::usage("x").located(Path::new("/runner/work/app/deploydb.toml"), 2);
        let line = Ci::Github
            .annotation(&absolute, Some(Path::new("/runner/work/app")))
            .unwrap();
        assert!(line.contains("file=deploydb.toml,line=2"), "{line}");
    }

    #[test]
    fn sections() {
        assert_eq!(
            Ci::Github.section_start("m", "migrate").unwrap(),
            "::group::migrate"
        );
        let start = Ci::Gitlab
            .section_start("deploydb_migrate", "migrate")
            .unwrap();
        assert!(
            start.starts_with("\x1b[0Ksection_start:")
                && start.contains(":deploydb_migrate[collapsed=false]\r")
        );
        assert!(Ci::Other.section_end("m").is_none());
    }
}
