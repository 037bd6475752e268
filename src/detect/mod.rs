//! Whether the repository needs PostgreSQL, and how its schema is migrated, read from the
//! manifests of each ecosystem. Each manifest's folder is a component (a monorepo reports each
//! separately); the repository needs PostgreSQL if any component does. A manifest that cannot be
//! parsed is a warning, never a failure.

mod deno;
mod extras;
mod go;
mod migrations;
mod node;
mod prisma;
mod python;
mod read;
mod ruby;
mod rust;
mod summary;
mod walk;

pub use walk::SKIPPED_DIRS;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
pub use migrations::choose as choose_migration;
pub use summary::text;

pub const POSTGRES: &str = "postgres";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub engine: String,
    pub ecosystem: &'static str,
    pub package: String,
    /// Relative to the project root, with `/` separators.
    pub file: String,
    pub line: usize,
    /// The folder of the component this belongs to, relative to the root (`.` for the root).
    pub component: String,
    /// An indirect (transitive) requirement: reported, but it does not decide the engines.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub indirect: bool,
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
    /// Engines that some component uses directly, sorted.
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

/// One manifest being read: where it is and its text.
pub(crate) struct Manifest {
    pub path: PathBuf,
    pub rel: String,
    pub component: String,
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
            component: self.component.clone(),
            indirect: false,
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
        self.line_where(|l| l.contains(needle))
    }

    pub fn line_where(&self, test: impl Fn(&str) -> bool) -> usize {
        self.text.lines().position(test).map_or(1, |i| i + 1)
    }

    /// The manifest as JSON; a parse failure becomes a warning naming the file.
    pub fn json(&self, found: &mut Found) -> Option<serde_json::Value> {
        serde_json::from_str(&self.text)
            .map_err(|e| {
                found
                    .warnings
                    .push(self.warning(format!("not valid JSON: {e}")))
            })
            .ok()
    }

    /// The manifest as TOML; a parse failure becomes a warning naming the file.
    pub fn toml(&self, found: &mut Found) -> Option<toml::Table> {
        toml::from_str(&self.text)
            .map_err(|e: toml::de::Error| {
                found
                    .warnings
                    .push(self.warning(format!("not valid TOML: {}", e.message().trim())))
            })
            .ok()
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
}

/// What the manifests contributed.
#[derive(Default)]
pub(crate) struct Found {
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
}

type Reader = fn(&Manifest, &mut Found);

/// The reader for a file name, if it is a manifest we understand.
fn reader_for(name: &str) -> Option<Reader> {
    Some(match name {
        "package.json" => node::read,
        "go.mod" => go::read,
        "Cargo.toml" => rust::read,
        "pyproject.toml" => python::read_pyproject,
        "Pipfile" => python::read_pipfile,
        "setup.cfg" => python::read_setup_cfg,
        "Gemfile" => ruby::read_gemfile,
        "database.yml" => ruby::read_database_yml,
        "deno.json" | "deno.jsonc" => deno::read,
        "mix.exs" => extras::read_mix,
        "pom.xml" => extras::read_pom,
        "build.gradle" | "build.gradle.kts" => extras::read_gradle,
        "composer.json" => extras::read_composer,
        n if n.starts_with("requirements") && n.ends_with(".txt") => python::read_requirements,
        n if n.ends_with(".prisma") => prisma::read,
        _ => return None,
    })
}

pub fn scan(root: &Path) -> Result<Report> {
    if !root.is_dir() {
        return Err(
            Error::usage(format!("{} is not a directory", root.display()))
                .with_hint("pass the repository's folder to deploydb detect"),
        );
    }
    let files = walk::manifests(root, |name| {
        reader_for(name).is_some() || migrations::is_marker(name)
    });
    let mut found = Found::default();
    let mut read: BTreeSet<PathBuf> = BTreeSet::new();
    // (file, the component of the requirements file that included it and how deep, if it was
    // included)
    let mut queue: Vec<(PathBuf, Option<(String, usize)>)> = files
        .iter()
        .filter(|p| is_manifest(p))
        .map(|p| (p.clone(), None))
        .collect();
    while let Some((path, included_by)) = queue.pop() {
        if !read.insert(path.clone()) {
            continue;
        }
        let depth = included_by.as_ref().map_or(0, |(_, d)| *d);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Files pulled in by `-r other.txt` are read as requirements whatever their name.
        let requirements = reader_for(name).is_none()
            || (name.starts_with("requirements") && name.ends_with(".txt"));
        let reader = reader_for(name).unwrap_or(python::read_requirements);
        let rel = relative(root, &path);
        let text = match read::text(&path) {
            Ok(text) => text,
            Err(e) => {
                found.warnings.push(Warning {
                    file: rel,
                    message: format!("could not read: {e}"),
                });
                continue;
            }
        };
        // An included file (requirements/base.txt) belongs to the app that includes it.
        let component = included_by
            .map(|(c, _)| c)
            .unwrap_or_else(|| component_of(root, &path, name));
        let manifest = Manifest {
            path: path.clone(),
            rel,
            component,
            text,
        };
        reader(&manifest, &mut found);
        if requirements {
            // Includes are resolved (no `..` or link leads out of the repository, and a loop
            // through `..` is one path, read once) and followed a bounded number deep.
            let component = manifest.component.clone();
            for include in python::includes(&manifest) {
                let Some(resolved) = read::inside(root, &include) else {
                    found.warnings.push(Warning {
                        file: manifest.rel.clone(),
                        message: format!(
                            "includes {}, which is not a file inside the repository; not read",
                            include.strip_prefix(root).unwrap_or(&include).display()
                        ),
                    });
                    continue;
                };
                if depth >= read::MAX_INCLUDE_DEPTH {
                    found.warnings.push(Warning {
                        file: manifest.rel.clone(),
                        message: format!(
                            "includes nested more than {} deep; {} not read",
                            read::MAX_INCLUDE_DEPTH,
                            relative(root, &resolved)
                        ),
                    });
                    continue;
                }
                queue.push((resolved, Some((component.clone(), depth + 1))));
            }
        }
    }
    found
        .findings
        .sort_by(|a, b| (&a.file, a.line, &a.package).cmp(&(&b.file, b.line, &b.package)));
    found.findings.dedup();
    found.warnings.sort_by(|a, b| a.file.cmp(&b.file));
    // Parser messages can span lines (with a source excerpt); a warning is one line.
    for w in &mut found.warnings {
        w.message = w.message.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let migrations = migrations::infer(root, &files, &found.findings);
    let engines: BTreeSet<String> = found
        .findings
        .iter()
        .filter(|f| !f.indirect)
        .map(|f| f.engine.clone())
        .collect();
    let mut warnings = found.warnings;
    for f in found
        .findings
        .iter()
        .filter(|f| f.indirect && f.engine == POSTGRES)
    {
        if !engines.contains(POSTGRES) {
            warnings.push(Warning {
                file: f.file.clone(),
                message: format!(
                    "{} is only an indirect requirement, so it does not count as using PostgreSQL",
                    f.package
                ),
            });
        }
    }
    Ok(Report {
        engines: engines.into_iter().collect(),
        findings: found.findings,
        migrations,
        warnings,
    })
}

fn is_manifest(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    // database.yml only means Rails' config/database.yml.
    reader_for(name).is_some()
        && (name != "database.yml" || path.parent().is_some_and(|p| p.ends_with("config")))
}

/// A manifest's component is its folder; a Prisma schema's is the folder holding `prisma/`,
/// and Rails' `config/database.yml` belongs to the app folder above `config/`.
fn component_of(root: &Path, path: &Path, name: &str) -> String {
    let mut dir = path.parent().unwrap_or(root);
    if name.ends_with(".prisma") {
        if let Some(prisma) = dir
            .ancestors()
            .take(3)
            .find(|d| d.file_name().is_some_and(|n| n == "prisma"))
        {
            dir = prisma.parent().unwrap_or(root);
        }
    } else if name == "database.yml" {
        dir = dir.parent().unwrap_or(root);
    }
    relative(root, dir)
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
