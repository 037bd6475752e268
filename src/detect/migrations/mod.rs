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
    /// Every file the walk found (manifests, markers, lockfiles, `.sql` files), sorted.
    pub files: &'a [PathBuf],
    pub findings: &'a [Finding],
    /// Files already read by some folder's suggester: a package.json is asked for by the
    /// package's own tools, its scripts and every member below it.
    pub read: &'a std::cell::RefCell<std::collections::HashMap<PathBuf, Option<String>>>,
}

impl<'a> Folder<'a> {
    pub fn exists(&self, rel: &str) -> bool {
        self.exists_in(self.dir, rel)
    }

    pub fn text(&self, rel: &str) -> Option<String> {
        self.text_in(self.dir, rel)
    }

    /// Whether `dir/rel` exists. A file of a kind the walk collects is looked up in its listing
    /// (a folder of a monorepo would otherwise cost a dozen failed probes); anything else, a
    /// folder such as `prisma/migrations`, is asked of the file system.
    pub fn exists_in(&self, dir: &Path, rel: &str) -> bool {
        let path = dir.join(rel);
        if super::wanted(&path) {
            self.files.binary_search(&path).is_ok()
        } else {
            path.exists()
        }
    }

    /// The text of `dir/rel`, without a probe for a file the walk would have listed.
    pub fn text_in(&self, dir: &Path, rel: &str) -> Option<String> {
        let path = dir.join(rel);
        if super::wanted(&path) && self.files.binary_search(&path).is_err() {
            return None;
        }
        if let Some(text) = self.read.borrow().get(&path) {
            return text.clone();
        }
        let text = super::read::text(&path).ok();
        self.read.borrow_mut().insert(path, text.clone());
        text
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
        // The listing is sorted, and a folder's files sort together right after it.
        let start = self.files.partition_point(|f| f.as_path() < self.dir);
        self.files[start..].iter().map_while(|f| {
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
    let read = std::cell::RefCell::default();
    for dir in &dirs {
        let folder = Folder {
            root,
            dir,
            rel: relative(root, dir),
            files,
            findings,
            read: &read,
        };
        let mut found: Found = Vec::new();
        node::suggest(&folder, &mut found);
        python::suggest(&folder, &mut found);
        compiled::suggest(&folder, &mut found);
        frameworks::suggest(&folder, &mut found);
        covered.extend(scripts::merge(&folder, &mut found));
        if found.is_empty() {
            plain_sql(&folder, &mut found);
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
fn plain_sql(folder: &Folder, found: &mut Found) {
    let sql: Vec<&Path> = folder
        .files_below()
        .filter(|(_, rel)| {
            rel.strip_prefix("db/migrations/")
                .is_some_and(|name| !name.contains('/'))
        })
        .map(|(path, _)| path)
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
    } else if folder.exists("db/schema.sql") {
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
                .map(|m| {
                    format!(
                        "`{}` in {}",
                        crate::report::inert(&m.command),
                        crate::report::inert(&m.dir)
                    )
                })
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
        // What the walk lists (lockfiles included) is what the inference knows.
        let files = super::super::walk::manifests(root, super::super::wanted);
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
