//! Whether the repository needs PostgreSQL, and how its schema is migrated, read from the
//! manifests of each ecosystem. Each manifest's folder is a component (a monorepo reports each
//! separately); the repository needs PostgreSQL if any component does. A manifest that cannot be
//! parsed is a warning, never a failure.

mod deno;
mod dotenv;
mod drizzle;
mod elixir;
mod go;
mod java;
mod migrations;
mod node;
mod php;
mod prisma;
mod python;
mod read;
mod ruby;
mod rust;
mod strength;
mod summary;
mod walk;

pub use walk::SKIPPED_DIRS;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
pub use migrations::choose as choose_migration;
pub use strength::Strength;
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
    /// How much this finding weighs (see `strength`): its table or group, capped by its place.
    pub strength: Strength,
    /// It selects a backend of the app's own database (a Cargo feature per backend, an extra
    /// named after the engine), so it counts beside runtime drivers.
    #[serde(skip)]
    pub configures: bool,
}

impl Finding {
    pub fn with_strength(mut self, strength: Strength) -> Finding {
        self.strength = strength;
        self
    }

    pub fn configuring(mut self) -> Finding {
        self.configures = true;
        self
    }
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
    /// Engines that some component uses directly, sorted: per component those of its strongest
    /// evidence (runtime, else dev, else optional).
    pub engines: Vec<String>,
    /// Components that support several SQL engines for their own database, with those engines:
    /// PostgreSQL is one option there, not a certainty.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub choices: std::collections::BTreeMap<String, Vec<String>>,
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
            strength: Strength::Runtime,
            configures: false,
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

    /// The line of `"key":` inside the JSON object `"table": {…}` (a dependency, not a script
    /// that mentions it), else the first line naming `"key"`.
    pub fn json_key_line(&self, table: &str, key: &str) -> usize {
        let text = &self.text;
        let is_key_at =
            |needle: &str, at: usize| text[at + needle.len()..].trim_start().starts_with(':');
        let table_needle = format!("\"{table}\"");
        let key_needle = format!("\"{key}\"");
        let table_at = text
            .match_indices(&table_needle)
            .map(|(i, _)| i)
            .find(|i| is_key_at(&table_needle, *i));
        if let Some(start) = table_at {
            let body = start + table_needle.len();
            if let Some(at) = text[body..]
                .match_indices(&key_needle)
                .map(|(i, _)| body + i)
                .find(|i| is_key_at(&key_needle, *i))
            {
                return self.line_at(at);
            }
        }
        self.line_of(&key_needle)
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

/// The reader for a file, if it is a manifest or a configuration file we understand. Most are
/// known by name; some only by name and folder (`config/*.exs`, a Django `settings/` package).
fn reader_for(path: &Path) -> Option<Reader> {
    let name = path.file_name()?.to_str()?;
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    Some(match name {
        "package.json" => node::read,
        "go.mod" => go::read,
        "Cargo.toml" => rust::read,
        "pyproject.toml" => python::read_pyproject,
        "Pipfile" => python::read_pipfile,
        "setup.cfg" => python::read_setup_cfg,
        "Gemfile" => ruby::read_gemfile,
        "database.yml"
        | "database.yml.example"
        | "database.yml.sample"
        | "database.example.yml"
            if parent == "config" =>
        {
            ruby::read_database_yml
        }
        "deno.json" | "deno.jsonc" => deno::read,
        "mix.exs" => elixir::read_mix,
        "pom.xml" => java::read_pom,
        "build.gradle" | "build.gradle.kts" => java::read_gradle,
        "composer.json" => php::read_composer,
        "database.php" if matches!(parent, "config" | "Config") => php::read_laravel_database,
        n if dotenv::is_example(n) => dotenv::read,
        "sqlx-data.json" => rust::read_sqlx_offline,
        n if parent == ".sqlx" && n.starts_with("query-") && ext == "json" => {
            rust::read_sqlx_offline
        }
        n if n.starts_with("requirements") && ext == "txt" => python::read_requirements,
        n if n.ends_with(".prisma") => prisma::read,
        n if n.starts_with("drizzle.config.") => drizzle::read,
        n if n.starts_with("application") && matches!(ext, "properties" | "yml" | "yaml") => {
            java::read_spring
        }
        n if python::is_settings_module(n, parent) => python::read_settings,
        _ if parent == "config" && ext == "exs" => elixir::read_config,
        _ => return None,
    })
}

/// Lockfiles: only their presence is read (which runner a package uses), and the walk's own
/// listing answers that without a probe per folder.
const LOCKFILES: &[&str] = &[
    "pnpm-lock.yaml",
    "yarn.lock",
    "bun.lock",
    "bun.lockb",
    "package-lock.json",
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
];

/// Every file the walk collects: what a reader reads, and what the migration inference asks
/// about (markers, lockfiles, SQL files).
pub(crate) fn wanted(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    migrations::is_marker(name)
        || is_package_manifest(name)
        || name.ends_with(".sql")
        || LOCKFILES.contains(&name)
        || reader_for(path).is_some()
}

/// Manifests that make their folder a package (a component of their own); configuration files
/// belong to the nearest such folder above them.
fn is_package_manifest(name: &str) -> bool {
    matches!(
        name,
        "package.json"
            | "go.mod"
            | "Cargo.toml"
            | "pyproject.toml"
            | "Pipfile"
            | "setup.cfg"
            | "setup.py"
            | "Gemfile"
            | "deno.json"
            | "deno.jsonc"
            | "mix.exs"
            | "pom.xml"
            | "build.gradle"
            | "build.gradle.kts"
            | "composer.json"
            | "manage.py"
    ) || (name.starts_with("requirements") && name.ends_with(".txt"))
}

pub fn scan(root: &Path) -> Result<Report> {
    if !root.is_dir() {
        return Err(
            Error::usage(format!("{} is not a directory", root.display()))
                .with_hint("pass the repository's folder to deploydb detect"),
        );
    }
    let files = walk::manifests(root, wanted);
    let packages: BTreeSet<PathBuf> = files
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_package_manifest)
        })
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let mut found = Found::default();
    let mut read: BTreeSet<PathBuf> = BTreeSet::new();
    // (file, the component of the requirements file that included it and how deep, if it was
    // included)
    // sqlx's offline data is one file per query, all naming the same database: one is enough.
    let mut sqlx_dirs: BTreeSet<&Path> = BTreeSet::new();
    let mut queue: Vec<(PathBuf, Option<(String, usize)>)> = files
        .iter()
        .filter(|p| reader_for(p).is_some())
        .filter(|p| match p.parent() {
            Some(dir) if dir.ends_with(".sqlx") => sqlx_dirs.insert(dir),
            _ => true,
        })
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
        let requirements =
            included_by.is_some() || (name.starts_with("requirements") && name.ends_with(".txt"));
        let reader = if included_by.is_some() {
            python::read_requirements
        } else {
            reader_for(&path).unwrap_or(python::read_requirements)
        };
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
            .unwrap_or_else(|| component_of(root, &path, &packages));
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
    // Where a manifest sits caps what it can say: a test harness's or an example's dependencies
    // are not the app's.
    for f in &mut found.findings {
        f.strength = f.strength.at_most(strength::of_location(&f.file));
    }
    found.findings.sort_by(|a, b| {
        (&a.file, a.line, &a.package, &a.engine, a.strength)
            .cmp(&(&b.file, b.line, &b.package, &b.engine, b.strength))
    });
    found.findings.dedup_by(|a, b| {
        a.file == b.file && a.line == b.line && a.package == b.package && a.engine == b.engine
    });
    found.warnings.sort_by(|a, b| a.file.cmp(&b.file));
    // Parser messages can span lines (with a source excerpt); a warning is one line.
    for w in &mut found.warnings {
        w.message = w.message.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let decision = strength::decide(&found.findings);
    let migrations = migrations::infer(root, &files, &found.findings);
    let engines = decision.engines;
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
        choices: decision.choices,
        findings: found.findings,
        migrations,
        warnings,
    })
}

/// A manifest's component is its folder; a configuration file's (a Prisma schema, Rails'
/// `config/database.yml`, Django settings, `.env.example`) is the nearest folder above it that
/// holds a package manifest, else the root.
fn component_of(root: &Path, path: &Path, packages: &BTreeSet<PathBuf>) -> String {
    let dir = path.parent().unwrap_or(root);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if is_package_manifest(name) {
        return relative(root, dir);
    }
    let package = dir
        .ancestors()
        .take_while(|d| d.starts_with(root))
        .find(|d| packages.contains(*d))
        .unwrap_or(root);
    relative(root, package)
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
