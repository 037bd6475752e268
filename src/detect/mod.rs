//! Whether the repository needs PostgreSQL, and how its schema is migrated, read from the
//! manifests of each ecosystem. The walk skips dependency and build folders (node_modules,
//! target, virtualenvs), which are most of a large repository's files and say nothing about
//! the app itself.

mod go;
mod migrations;
mod node;
mod prisma;
mod python;
mod rust;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use walkdir::WalkDir;

use crate::error::{Error, Kind, Result};

pub const POSTGRES: &str = "postgres";

/// Folders that never hold the app's own manifests.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "vendor",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".next",
    ".nuxt",
    ".cache",
    ".tox",
    ".terraform",
    ".svelte-kit",
    "coverage",
];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub engine: String,
    pub ecosystem: &'static str,
    pub package: String,
    /// Relative to the project root, with `/` separators.
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Migration {
    pub tool: &'static str,
    pub command: String,
    pub dir: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub engines: Vec<String>,
    pub findings: Vec<Finding>,
    pub migrations: Vec<Migration>,
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn uses_postgres(&self) -> bool {
        self.engines.iter().any(|e| e == POSTGRES)
    }
}

/// One manifest being read: its text and where it is, for findings with line numbers.
pub(crate) struct Manifest {
    pub rel: String,
    pub text: String,
}

impl Manifest {
    pub fn finding(
        &self,
        engine: &str,
        ecosystem: &'static str,
        package: &str,
        line: usize,
    ) -> Finding {
        Finding {
            engine: engine.to_string(),
            ecosystem,
            package: package.to_string(),
            file: self.rel.clone(),
            line: line.max(1),
        }
    }

    pub fn warning(&self, message: impl Into<String>) -> Warning {
        Warning {
            file: self.rel.clone(),
            message: message.into(),
        }
    }

    /// The first line (1-based) on which `needle` occurs, else 1.
    pub fn line_of(&self, needle: &str) -> usize {
        self.text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1)
    }
}

/// What a single manifest contributed.
#[derive(Default)]
pub(crate) struct Found {
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
}

pub fn scan(root: &Path) -> Result<Report> {
    if !root.is_dir() {
        return Err(
            Error::usage(format!("{} is not a directory", root.display()))
                .with_hint("pass the repository's folder to deploydb detect"),
        );
    }
    let mut found = Found::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let walk = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir()
                && e.depth() > 0
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
        });
    for entry in walk {
        let entry = entry.map_err(|e| {
            Error::new(
                Kind::Internal,
                format!("could not walk {}: {e}", root.display()),
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        let reader: Option<fn(&Manifest, &mut Found)> = match name {
            "package.json" => Some(node::read),
            "go.mod" => Some(go::read),
            "Cargo.toml" => Some(rust::read),
            "pyproject.toml" => Some(python::read_pyproject),
            n if n.starts_with("requirements") && n.ends_with(".txt") => {
                Some(python::read_requirements)
            }
            n if n.ends_with(".prisma") => Some(prisma::read),
            _ => None,
        };
        files.push(entry.path().to_path_buf());
        let Some(reader) = reader else { continue };
        // A manifest we cannot read as text is reported, not fatal: the rest still counts.
        let rel = relative(root, entry.path());
        match std::fs::read_to_string(entry.path()) {
            Ok(text) => reader(&Manifest { rel, text }, &mut found),
            Err(e) => found.warnings.push(Warning {
                file: rel,
                message: format!("could not read: {e}"),
            }),
        }
    }
    let migrations = migrations::infer(root, &files, &found.findings);
    let engines: BTreeSet<String> = found.findings.iter().map(|f| f.engine.clone()).collect();
    Ok(Report {
        engines: engines.into_iter().collect(),
        findings: found.findings,
        migrations,
        warnings: found.warnings,
    })
}

pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let text = rel.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        ".".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn node_pg_with_line_and_skipped_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "package.json",
            "{\n  \"name\": \"x\",\n  \"dependencies\": {\n    \"pg\": \"^8\"\n  }\n}\n",
        );
        write(
            dir.path(),
            "node_modules/mysql2/package.json",
            "{\"dependencies\":{\"mysql2\":\"1\"}}",
        );
        let report = scan(dir.path()).unwrap();
        assert_eq!(report.engines, vec!["postgres"]);
        assert_eq!(report.findings.len(), 1);
        let f = &report.findings[0];
        assert_eq!(
            (f.package.as_str(), f.file.as_str(), f.line),
            ("pg", "package.json", 4)
        );
    }

    #[test]
    fn prisma_provider_decides_engine_and_migration() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "web/package.json",
            r#"{"dependencies":{"@prisma/client":"5"},"devDependencies":{"prisma":"5"}}"#,
        );
        write(dir.path(), "web/pnpm-lock.yaml", "");
        write(
            dir.path(),
            "web/prisma/schema.prisma",
            "generator client {\n provider = \"prisma-client-js\"\n}\n\ndatasource db {\n  provider = \"postgresql\"\n  url = env(\"DATABASE_URL\")\n}\n",
        );
        fs::create_dir_all(dir.path().join("web/prisma/migrations")).unwrap();
        let report = scan(dir.path()).unwrap();
        assert!(report.uses_postgres());
        let f = report
            .findings
            .iter()
            .find(|f| f.ecosystem == "prisma")
            .unwrap();
        assert_eq!((f.file.as_str(), f.line), ("web/prisma/schema.prisma", 6));
        assert_eq!(report.migrations.len(), 1);
        assert_eq!(
            report.migrations[0].command,
            "pnpm exec prisma migrate deploy"
        );
        assert_eq!(report.migrations[0].dir, "web");
    }

    #[test]
    fn prisma_mysql_is_not_postgres() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "prisma/schema.prisma",
            "datasource db {\n  provider = \"mysql\"\n  url = env(\"DATABASE_URL\")\n}\n",
        );
        let report = scan(dir.path()).unwrap();
        assert_eq!(report.engines, vec!["mysql"]);
        assert!(!report.uses_postgres());
    }

    #[test]
    fn python_requirements_are_normalised() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "requirements.txt",
            "# deps\nDjango>=4\n\nPsycopg2_Binary==2.9 ; python_version > '3'\n",
        );
        write(dir.path(), "manage.py", "");
        let report = scan(dir.path()).unwrap();
        let f = &report.findings[0];
        assert_eq!((f.package.as_str(), f.line), ("psycopg2-binary", 4));
        assert_eq!(report.migrations[0].command, "python manage.py migrate");
    }

    #[test]
    fn go_mod_pgx_any_major() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "go.mod",
            "module x\n\ngo 1.22\n\nrequire (\n\tgithub.com/jackc/pgx/v5 v5.5.0\n\tgolang.org/x/text v0.1.0 // indirect\n)\nrequire github.com/lib/pq v1.10.0\n",
        );
        let report = scan(dir.path()).unwrap();
        let packages: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.package.as_str(), f.line))
            .collect();
        assert_eq!(
            packages,
            vec![("github.com/jackc/pgx/v5", 6), ("github.com/lib/pq", 9)]
        );
    }

    #[test]
    fn cargo_sqlx_needs_postgres_feature() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"sqlite\"] }\n",
        );
        assert!(!scan(dir.path()).unwrap().uses_postgres());
        write(
            dir.path(),
            "Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n",
        );
        let report = scan(dir.path()).unwrap();
        assert_eq!(report.findings[0].line, 6);
    }

    #[test]
    fn nothing_found_is_empty_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "package.json",
            r#"{"dependencies":{"express":"4"}}"#,
        );
        let report = scan(dir.path()).unwrap();
        assert!(report.engines.is_empty() && report.findings.is_empty());
    }

    #[test]
    fn broken_manifest_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "package.json", "{ not json");
        let report = scan(dir.path()).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].file, "package.json");
    }
}
