//! From the manifests and the files beside them, the command that applies pending migrations
//! and the folder to run it in — one suggestion per tool found in a component.

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
];

pub(super) fn is_marker(name: &str) -> bool {
    MARKERS.contains(&name)
}

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
        // db/schema.sql and bin/rails belong to the folder above.
        let dir = match (name, parent.file_name().and_then(|n| n.to_str())) {
            ("schema.sql", Some("db")) | ("rails", Some("bin")) => parent.parent().unwrap_or(root),
            _ => parent,
        };
        dirs.insert(dir.to_path_buf());
    }
    let mut out = Vec::new();
    for dir in &dirs {
        let rel = relative(root, dir);
        let mut found: Vec<(&'static str, String)> = Vec::new();
        node(dir, root, &mut found);
        python(dir, root, &mut found);
        go(dir, &mut found);
        rust(dir, &rel, findings, &mut found);
        ruby(dir, &mut found);
        if found.is_empty() {
            plain_sql(dir, &mut found);
        }
        out.extend(found.into_iter().map(|(tool, command)| Migration {
            tool,
            command,
            dir: rel.clone(),
        }));
    }
    out
}

fn exists(dir: &Path, rel: &str) -> bool {
    dir.join(rel).exists()
}

fn node(dir: &Path, root: &Path, found: &mut Vec<(&'static str, String)>) {
    let Ok(text) = super::read::text(&dir.join("package.json")) else {
        return;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let names = super::node::dependency_names(&json);
    let has = |n: &str| names.contains(&n);
    let run = node_runner(dir, root);
    if (has("prisma") || has("@prisma/client"))
        && (exists(dir, "prisma/schema.prisma") || exists(dir, "prisma/schema"))
    {
        let action = if exists(dir, "prisma/migrations") {
            "migrate deploy"
        } else {
            "db push"
        };
        found.push(("prisma", format!("{run} prisma {action}")));
    }
    if has("knex") {
        found.push(("knex", format!("{run} knex migrate:latest")));
    }
    if has("drizzle-kit") {
        found.push(("drizzle-kit", format!("{run} drizzle-kit migrate")));
    }
    if has("node-pg-migrate") {
        found.push(("node-pg-migrate", format!("{run} node-pg-migrate up")));
    }
    if has("dbmate") {
        // Without --no-dump-schema dbmate rewrites db/schema.sql in the checkout on every run.
        found.push(("dbmate", format!("{run} dbmate --no-dump-schema up")));
    }
    if has("typeorm") {
        let source = [
            "src/data-source.ts",
            "src/data-source.js",
            "data-source.ts",
            "data-source.js",
            "src/db/data-source.ts",
        ]
        .into_iter()
        .find(|f| exists(dir, f));
        if let Some(source) = source {
            found.push((
                "typeorm",
                format!("{run} typeorm migration:run -d {source}"),
            ));
        }
    }
    if has("sequelize-cli") || (has("sequelize") && exists(dir, ".sequelizerc")) {
        found.push(("sequelize", format!("{run} sequelize-cli db:migrate")));
    }
}

/// The folders from `dir` up to the repository root, nearest first: a workspace member's
/// lockfile is usually the workspace root's.
fn up_to_root<'a>(dir: &'a Path, root: &'a Path) -> impl Iterator<Item = &'a Path> {
    dir.ancestors().take_while(move |d| d.starts_with(root))
}

/// The package runner the repository uses, from the nearest lockfile up to the root.
fn node_runner(dir: &Path, root: &Path) -> &'static str {
    for d in up_to_root(dir, root) {
        if exists(d, "pnpm-lock.yaml") {
            return "pnpm exec";
        } else if exists(d, "yarn.lock") {
            return "yarn";
        } else if exists(d, "bun.lockb") || exists(d, "bun.lock") {
            return "bunx";
        } else if exists(d, "package-lock.json") {
            return "npx";
        }
    }
    "npx"
}

/// How a Python command runs inside the project's environment: the tool that manages it (from
/// the nearest lockfile up to the root), else the repository's own virtualenv, else as it is.
fn python_runner(dir: &Path, root: &Path) -> (&'static str, &'static str) {
    for d in up_to_root(dir, root) {
        if exists(d, "uv.lock") {
            return ("uv run ", "");
        } else if exists(d, "poetry.lock") {
            return ("poetry run ", "");
        } else if exists(d, "Pipfile.lock") {
            return ("pipenv run ", "");
        }
    }
    // No lockfile committed: the project's own pyproject.toml still says who manages it.
    for d in up_to_root(dir, root) {
        let text = super::read::text(&d.join("pyproject.toml")).unwrap_or_default();
        if text.contains("[tool.poetry") {
            return ("poetry run ", "");
        } else if text.contains("[tool.uv") {
            return ("uv run ", "");
        }
    }
    if exists(dir, ".venv/bin/python") {
        return ("", ".venv/bin/");
    }
    ("", "")
}

fn python(dir: &Path, root: &Path, found: &mut Vec<(&'static str, String)>) {
    let (run, bin) = python_runner(dir, root);
    if exists(dir, "manage.py") {
        found.push(("django", format!("{run}{bin}python manage.py migrate")));
    }
    if exists(dir, "alembic.ini") {
        found.push(("alembic", format!("{run}{bin}alembic upgrade head")));
    }
}

fn go(dir: &Path, found: &mut Vec<(&'static str, String)>) {
    let Ok(text) = super::read::text(&dir.join("go.mod")) else {
        return;
    };
    let modules: Vec<&str> = super::go::requires(&text)
        .into_iter()
        .map(|(_, m, _)| m)
        .collect();
    let uses = |prefix: &str| modules.iter().any(|m| m.starts_with(prefix));
    let migrations = ["migrations", "db/migrations", "sql/migrations"]
        .into_iter()
        .find(|d| exists(dir, d))
        .unwrap_or("migrations");
    if uses("github.com/golang-migrate/migrate") {
        found.push((
            "golang-migrate",
            format!("migrate -path {migrations} -database \"$DATABASE_URL\" up"),
        ));
    }
    if uses("github.com/pressly/goose") {
        found.push((
            "goose",
            format!("goose -dir {migrations} postgres \"$DATABASE_URL\" up"),
        ));
    }
}

fn rust(dir: &Path, rel: &str, findings: &[Finding], found: &mut Vec<(&'static str, String)>) {
    if !exists(dir, "Cargo.toml") {
        return;
    }
    let uses = |package: &str| {
        findings
            .iter()
            .any(|f| f.package == package && f.component == rel)
    };
    if uses("sqlx") && exists(dir, "migrations") {
        found.push(("sqlx-cli", "sqlx migrate run".into()));
    }
    if uses("diesel") && (exists(dir, "diesel.toml") || exists(dir, "migrations")) {
        found.push(("diesel", "diesel migration run".into()));
    }
}

fn ruby(dir: &Path, found: &mut Vec<(&'static str, String)>) {
    let Ok(gemfile) = super::read::text(&dir.join("Gemfile")) else {
        return;
    };
    let rails = gemfile.lines().any(|l| {
        let l = l.trim();
        l.starts_with("gem \"rails\"") || l.starts_with("gem 'rails'")
    });
    if rails && exists(dir, "bin/rails") {
        found.push(("rails", "bin/rails db:migrate".into()));
    }
}

/// `db/migrations/*.sql` (dbmate's format when the files have `-- migrate:up`), else
/// `db/schema.sql` and/or plain `db/migrations/*.sql`, applied by deploydb's built-in `sql`.
fn plain_sql(dir: &Path, found: &mut Vec<(&'static str, String)>) {
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
    } else if exists(dir, "db/schema.sql") {
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
        write(root, "services/web/uv.lock", "");
        write(root, "services/web/manage.py", "");
        write(root, "services/jobs/Pipfile.lock", "{}");
        write(root, "services/jobs/alembic.ini", "");
        let files = [
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
