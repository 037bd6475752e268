//! The repository's own way to migrate: a `package.json` script or a Makefile target named like
//! `migrate` / `db:migrate`. Where it wraps a tool already suggested, the script replaces that
//! tool's bare command (it carries the flags and paths the project chose); where it runs a tool
//! nothing else found (`node-pg-migrate` from `npx` only), it adds that tool; a script whose
//! tool is unknown is suggested only when nothing else was.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Folder, Found, node};

/// Words in a script's name that make it a migration.
fn is_migrate_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split([':', '-', '_', '/', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    let migrate = words
        .iter()
        .any(|w| matches!(*w, "migrate" | "migration" | "migrations"));
    // Scripts that make, revert or reset migrations are not what a deploy runs.
    let other = words.iter().any(|w| {
        matches!(
            *w,
            "create"
                | "new"
                | "make"
                | "generate"
                | "gen"
                | "rollback"
                | "down"
                | "undo"
                | "revert"
                | "reset"
                | "status"
                | "dev"
                | "test"
                | "redo"
                | "fresh"
                | "diff"
                | "check"
                | "list"
                | "show"
                | "watch"
                | "e2e"
                | "codegen"
                | "seed"
        )
    });
    migrate && !other
}

/// Commands inside a script that are not for a deploy.
fn is_deployable(body: &str) -> bool {
    ![
        "migrate dev",
        "migrate reset",
        "migrate:rollback",
        "migrate:make",
        "migration:generate",
        "migration:create",
        "makemigrations",
        "revision --autogenerate",
        "--create-only",
        " down",
        "drizzle-kit generate",
    ]
    .iter()
    .any(|bad| body.contains(bad))
}

/// The tool a command line runs, if it is one deploydb knows.
pub(super) fn tool_in(body: &str) -> Option<&'static str> {
    const TOOLS: &[(&str, &str)] = &[
        ("prisma migrate", "prisma"),
        ("prisma db push", "prisma"),
        ("drizzle-kit", "drizzle-kit"),
        ("knex migrate", "knex"),
        ("knex-migrator", "knex"),
        ("node-pg-migrate", "node-pg-migrate"),
        ("typeorm", "typeorm"),
        ("sequelize", "sequelize"),
        ("mikro-orm", "mikro-orm"),
        ("kysely migrate", "kysely"),
        ("dbmate", "dbmate"),
        ("manage.py migrate", "django"),
        ("flask db upgrade", "flask-migrate"),
        ("manage.py db upgrade", "flask-migrate"),
        ("alembic upgrade", "alembic"),
        ("goose", "goose"),
        ("migrate -path", "golang-migrate"),
        ("migrate -source", "golang-migrate"),
        ("sqlx migrate", "sqlx-cli"),
        ("diesel migration", "diesel"),
        ("rails db:migrate", "rails"),
        ("rake db:migrate", "rails"),
        ("ecto.migrate", "ecto"),
        ("artisan migrate", "laravel"),
        ("flyway", "flyway"),
        ("liquibase", "liquibase"),
    ];
    TOOLS
        .iter()
        .find(|(needle, _)| body.contains(needle))
        .map(|(_, tool)| *tool)
}

/// The scripts of every package.json at or below the folder: (package folder, name, body).
fn all_scripts(folder: &Folder) -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    for (path, rel) in folder.files_below() {
        if rel.rsplit('/').next() != Some("package.json") {
            continue;
        }
        let dir = path.parent().unwrap_or(folder.dir).to_path_buf();
        let Some(json) = folder
            .text_in(&dir, "package.json")
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        else {
            continue;
        };
        for (name, body) in json
            .get("scripts")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(body) = body.as_str() {
                out.push((dir.clone(), name.clone(), body.to_string()));
            }
        }
    }
    out
}

/// The tool a script runs, following the scripts it calls by name (`npm run x -w pkg`,
/// `turbo run x`, `pnpm --filter pkg x`) a few levels deep, with the package folders it
/// reached.
fn resolve(
    scripts: &[(PathBuf, String, String)],
    dir: &Path,
    name: &str,
    body: &str,
    depth: usize,
) -> (Option<&'static str>, Vec<PathBuf>) {
    if let Some(tool) = tool_in(body) {
        return (Some(tool), Vec::new());
    }
    if depth == 0 {
        return (None, Vec::new());
    }
    let mut reached = Vec::new();
    for token in body.split_whitespace().map(|t| t.trim_matches(['"', '\''])) {
        for (d, n, b) in scripts {
            if n != token || (d == dir && n == name) || !is_deployable(b) {
                continue;
            }
            let (tool, mut deeper) = resolve(scripts, d, n, b, depth - 1);
            if d != dir {
                reached.push(d.clone());
            }
            reached.append(&mut deeper);
            if tool.is_some() {
                return (tool, reached);
            }
        }
    }
    (None, reached)
}

/// One way to migrate the repository's own scripts offer.
struct Candidate {
    rank: u8,
    command: String,
    tool: &'static str,
    /// Package folders whose scripts this one runs: their own suggestions are covered by it.
    covers: Vec<PathBuf>,
}

/// Scripts before targets; among scripts, one named for deploys or production first.
fn candidates(folder: &Folder) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    if let Some(json) = node::package_json(folder)
        && let Some(scripts) = json.get("scripts").and_then(Value::as_object)
    {
        let (_, run) = node::runner(folder);
        let every = all_scripts(folder);
        for (name, body) in scripts {
            let Some(body) = body.as_str() else { continue };
            // `db:deploy` running `prisma migrate deploy` is a migration by what it runs.
            let deploys = name.to_ascii_lowercase().contains("deploy")
                && tool_in(body).is_some()
                && !name.contains("dev");
            if !(is_migrate_name(name) || deploys) || !is_deployable(body) {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let rank = if lower.contains("deploy") || lower.contains("prod") {
                0
            } else if matches!(lower.as_str(), "migrate" | "db:migrate")
                || ["latest", "up", "run", "apply"]
                    .iter()
                    .any(|w| lower.split([':', '-', '_']).any(|p| p == *w))
            {
                1
            } else {
                2
            };
            let (tool, covers) = resolve(&every, folder.dir, name, body, 3);
            out.push(Candidate {
                rank,
                command: format!("{run} {name}"),
                tool: tool.unwrap_or("script"),
                covers,
            });
        }
    }
    if let Some(makefile) = folder.text("Makefile") {
        for (target, recipe) in make_targets(&makefile) {
            if is_migrate_name(&target) && is_deployable(&recipe) {
                out.push(Candidate {
                    rank: 3,
                    command: format!("make {target}"),
                    tool: tool_in(&recipe).unwrap_or("script"),
                    covers: Vec::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| (a.rank, &a.command).cmp(&(b.rank, &b.command)));
    out
}

/// `target:` lines of a Makefile with their tab-indented recipe joined.
fn make_targets(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(recipe) = line.strip_prefix('\t') {
            if let Some((_, body)) = out.last_mut() {
                body.push_str(recipe);
                body.push('\n');
            }
            continue;
        }
        let Some((target, rest)) = line.split_once(':') else {
            continue;
        };
        let target = target.trim();
        if target.is_empty()
            || rest.starts_with('=')
            || target.starts_with('.')
            || target.contains([' ', '$', '%', '='])
        {
            continue;
        }
        out.push((target.to_string(), String::new()));
    }
    out
}

/// Whether a suggested command runs one of the repository's scripts or targets.
pub(super) fn is_script_command(command: &str) -> bool {
    ["npm run ", "pnpm run ", "yarn run ", "bun run ", "make "]
        .iter()
        .any(|p| command.starts_with(p))
}

/// Puts the folder's own scripts in; returns the package folders a chosen script covers.
pub(super) fn merge(folder: &Folder, found: &mut Found) -> Vec<PathBuf> {
    let mut added_script = false;
    let mut replaced: Vec<&'static str> = Vec::new();
    let mut covered = Vec::new();
    for candidate in candidates(folder) {
        let Candidate {
            command,
            tool,
            covers,
            ..
        } = candidate;
        if tool == "script" {
            if found.is_empty() && !added_script {
                found.push(("script", command));
                covered.extend(covers);
                added_script = true;
            }
            continue;
        }
        if replaced.contains(&tool) {
            continue;
        }
        replaced.push(tool);
        if let Some(existing) = found.iter_mut().find(|(t, _)| *t == tool) {
            existing.1 = command;
        } else if !found.iter().any(|(t, _)| *t == "script") {
            found.push((tool, command));
        }
        covered.extend(covers);
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_names_and_bodies() {
        assert!(is_migrate_name("db:migrate"));
        assert!(is_migrate_name("migrate:deploy"));
        assert!(is_migrate_name("db-migrate"));
        assert!(!is_migrate_name("migrate:dev"));
        assert!(!is_migrate_name("db:migrate:create"));
        assert!(!is_migrate_name("migrations:generate"));
        assert!(!is_migrate_name("build"));
        assert!(!is_deployable("prisma migrate dev"));
        assert_eq!(tool_in("node-pg-migrate up -m db"), Some("node-pg-migrate"));
        assert_eq!(tool_in("node scripts/migrate.js"), None);
        let targets =
            make_targets("migrate:\n\tgoose -dir sql up\nX := 1\nbuild: dep\n\tgo build\n");
        assert_eq!(targets[0], ("migrate".into(), "goose -dir sql up\n".into()));
        assert_eq!(targets[1].0, "build");
    }
}
