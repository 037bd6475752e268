//! From the manifests and the files beside them, the command that applies pending migrations
//! and the folder to run it in — one suggestion per tool found in a component. Each ecosystem
//! reads what its own tool reads (Prisma's `package.json` key and `prisma.config.ts`, drizzle's
//! config, `diesel.toml`, `alembic.ini`, Flask-Migrate's folder, Ecto, artisan, Flyway); the
//! repository's own `migrate` script or Makefile target, where there is one, is what runs.

mod compiled;
mod frameworks;
mod node;
mod python;
mod scripts;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Finding, Migration, Report, relative};
use crate::error::{Error, Result};

/// Files that are not manifests but say which migration tool is in use.
const MARKERS: &[&str] = &[
    "manage.py",
    "alembic.ini",
    ".sequelizerc",
    "diesel.toml",
    "schema.sql",
    "rails",
    "artisan",
    "Makefile",
    "env.py",
];

/// Configuration files some tools are found by, known by the start of their name.
const MARKER_PREFIXES: &[&str] = &["knexfile.", "prisma.config.", "ormconfig."];

pub(super) fn is_marker(name: &str) -> bool {
    MARKERS.contains(&name) || MARKER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// What a suggester sees of one folder.
pub(super) struct Folder<'a> {
    pub root: &'a Path,
    pub dir: &'a Path,
    pub rel: String,
    /// Every file the walk found (manifests, markers, `.sql` files), sorted.
    pub files: &'a [PathBuf],
    pub findings: &'a [Finding],
}

impl<'a> Folder<'a> {
    pub fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).exists()
    }

    pub fn text(&self, rel: &str) -> Option<String> {
        super::read::text(&self.dir.join(rel)).ok()
    }

    /// The engines this folder's own findings use (any strength).
    pub fn engines(&self) -> BTreeSet<&str> {
        self.findings
            .iter()
            .filter(|f| f.component == self.rel && !f.indirect)
            .map(|f| f.engine.as_str())
            .collect()
    }

    /// Walked files under this folder, as paths relative to it.
    pub fn files_below(&self) -> impl Iterator<Item = (&'a Path, String)> + '_ {
        self.files.iter().filter_map(|f| {
            let rel = f.strip_prefix(self.dir).ok()?;
            Some((f.as_path(), rel.to_string_lossy().replace('\\', "/")))
        })
    }
}

/// One suggestion: the tool, and the command as it would be typed in the folder.
pub(super) type Found = Vec<(&'static str, String)>;

pub(super) fn infer(root: &Path, files: &[PathBuf], findings: &[Finding]) -> Vec<Migration> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([root.to_path_buf()]);
    for file in files {
        let Some(parent) = file.parent() else {
            continue;
        };
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".sql") {
            continue;
        }
        // db/schema.sql and bin/rails belong to the folder above.
        let dir = match (name, parent.file_name().and_then(|n| n.to_str())) {
            ("schema.sql", Some("db")) | ("rails", Some("bin")) => parent.parent().unwrap_or(root),
            _ => parent,
        };
        dirs.insert(dir.to_path_buf());
    }
    let mut out: Vec<Migration> = Vec::new();
    let mut covered: BTreeSet<PathBuf> = BTreeSet::new();
    for dir in &dirs {
        let folder = Folder {
            root,
            dir,
            rel: relative(root, dir),
            files,
            findings,
        };
        let mut found: Found = Vec::new();
        node::suggest(&folder, &mut found);
        python::suggest(&folder, &mut found);
        compiled::suggest(&folder, &mut found);
        frameworks::suggest(&folder, &mut found);
        covered.extend(scripts::merge(&folder, &mut found));
        if found.is_empty() {
            plain_sql(dir, &mut found);
        }
        out.extend(found.into_iter().map(|(tool, command)| Migration {
            tool,
            command,
            dir: folder.rel.clone(),
        }));
    }
    // A workspace root's script that runs a member's migration script stands for it, and so
    // does one that runs a tool the members are found to use (`pnpm --filter db exec prisma
    // migrate deploy`).
    let covered: BTreeSet<String> = covered.iter().map(|d| relative(root, d)).collect();
    let scripted: Vec<(String, &'static str)> = out
        .iter()
        .filter(|m| scripts::is_script_command(&m.command))
        .map(|m| (m.dir.clone(), m.tool))
        .collect();
    out.retain(|m| {
        // A test harness's or an example's migrations are not the app's.
        super::strength::of_location(&format!("{}/-", m.dir)) == super::Strength::Runtime
            && !covered.contains(&m.dir)
            && !scripted.iter().any(|(dir, tool)| {
                *tool == m.tool
                    && m.dir != *dir
                    && (dir == "." || m.dir.starts_with(&format!("{dir}/")))
            })
    });
    out
}

/// The folders from `dir` up to the repository root, nearest first: a workspace member's
/// lockfile is usually the workspace root's.
pub(super) fn up_to_root<'a>(dir: &'a Path, root: &'a Path) -> impl Iterator<Item = &'a Path> {
    dir.ancestors().take_while(move |d| d.starts_with(root))
}

/// `db/migrations/*.sql` (dbmate's format when the files have `-- migrate:up`), else
/// `db/schema.sql` and/or plain `db/migrations/*.sql`, applied by deploydb's built-in `sql`.
fn plain_sql(dir: &Path, found: &mut Found) {
    let migrations = dir.join("db/migrations");
    let sql: Vec<PathBuf> = std::fs::read_dir(&migrations)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    if !sql.is_empty() {
        let dbmate = sql
            .iter()
            .any(|p| super::read::text(p).is_ok_and(|t| t.contains("-- migrate:up")));
        if dbmate {
            found.push((
                "dbmate",
                "dbmate --migrations-dir db/migrations --no-dump-schema up".into(),
            ));
        } else {
            // deploydb's built-in SQL migrations (`migrate::sql`): each file once, with a ledger.
            found.push(("sql", "sql".into()));
        }
    } else if dir.join("db/schema.sql").exists() {
        found.push(("sql", "sql".into()));
    }
}

/// For `[migrate] command = "auto"`: the one suggestion, or an error that lists the candidates.
pub fn choose(report: &Report) -> Result<&Migration> {
    match report.migrations.as_slice() {
        [only] => Ok(only),
        [] => Err(Error::usage(
            "[migrate] command is \"auto\", but no migration tool was detected",
        )
        .with_hint("set [migrate] command to the command that applies your migrations")),
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|m| format!("`{}` in {}", m.command, m.dir))
                .collect();
            let components: BTreeSet<&str> = several.iter().map(|m| m.dir.as_str()).collect();
            let why = if components.len() == 1 {
                "one component has several migration tools"
            } else {
                "several components have migrations"
            };
            Err(Error::usage(format!(
                "[migrate] command is \"auto\", but {why}: {}",
                list.join(", ")
            ))
            .with_hint("set [migrate] command to the one to run, or point --path at one component"))
        }
    }
}

#[cfg(test)]
mod runner_tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The workspace root's lockfile decides the runner for every member; Python tools run in
    /// the project's own environment; dbmate never rewrites the checkout's schema.
    #[test]
    fn commands_run_with_the_projects_own_runner() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "pnpm-lock.yaml", "");
        write(
            root,
            "apps/api/package.json",
            r#"{"devDependencies":{"knex":"3","dbmate":"2"}}"#,
        );
        write(root, "apps/api/knexfile.js", "module.exports = {};");
        write(root, "services/web/uv.lock", "");
        write(
            root,
            "services/web/manage.py",
            "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"web.settings\")",
        );
        write(root, "services/jobs/Pipfile.lock", "{}");
        write(
            root,
            "services/jobs/alembic.ini",
            "[alembic]\nscript_location = %(here)s/alembic\n",
        );
        write(root, "services/jobs/alembic/env.py", "");
        let files = [
            root.join("apps/api/knexfile.js"),
            root.join("apps/api/package.json"),
            root.join("services/web/manage.py"),
            root.join("services/jobs/alembic.ini"),
        ];
        let commands: Vec<String> = infer(root, &files, &[])
            .into_iter()
            .map(|m| format!("{} in {}", m.command, m.dir))
            .collect();
        for expected in [
            "pnpm exec knex migrate:latest in apps/api",
            "pnpm exec dbmate --no-dump-schema up in apps/api",
            "uv run python manage.py migrate in services/web",
            "pipenv run alembic upgrade head in services/jobs",
        ] {
            assert!(
                commands.contains(&expected.to_string()),
                "{expected}: {commands:?}"
            );
        }
    }
}
