//! From what detection found, the command that applies pending migrations, and where to run it.

use std::path::{Path, PathBuf};

use super::{Finding, Migration, relative};

pub(super) fn infer(root: &Path, files: &[PathBuf], findings: &[Finding]) -> Vec<Migration> {
    let mut out = Vec::new();
    let has_file = |dir: &Path, name: &str| dir.join(name).exists();
    for file in files {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let dir = file.parent().unwrap_or(root);
        let rel_dir = relative(root, dir);
        let mut push = |tool, command: String| {
            out.push(Migration {
                tool,
                command,
                dir: rel_dir.clone(),
            })
        };
        match name {
            "package.json" => {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let names = super::node::dependency_names(&json);
                let runner = node_runner(dir);
                let schema = ["prisma/schema.prisma", "prisma/schema"]
                    .iter()
                    .any(|s| has_file(dir, s));
                if names
                    .iter()
                    .any(|n| *n == "prisma" || *n == "@prisma/client")
                    && schema
                {
                    let action = if has_file(dir, "prisma/migrations") {
                        "migrate deploy"
                    } else {
                        "db push"
                    };
                    push("prisma", format!("{runner} prisma {action}"));
                } else if names.contains(&"knex") {
                    push("knex", format!("{runner} knex migrate:latest"));
                }
            }
            "alembic.ini" => push("alembic", "alembic upgrade head".into()),
            "manage.py" => push("django", "python manage.py migrate".into()),
            "Cargo.toml" if has_file(dir, "migrations") && mentions(findings, &rel_dir, "sqlx") => {
                push("sqlx-cli", "sqlx migrate run".into())
            }
            _ => {}
        }
    }
    out
}

/// The package runner the repository uses, from its lockfile.
fn node_runner(dir: &Path) -> &'static str {
    if dir.join("pnpm-lock.yaml").exists() {
        "pnpm exec"
    } else if dir.join("yarn.lock").exists() {
        "yarn"
    } else if dir.join("bun.lockb").exists() || dir.join("bun.lock").exists() {
        "bunx"
    } else {
        "npx"
    }
}

fn mentions(findings: &[Finding], dir: &str, package: &str) -> bool {
    findings
        .iter()
        .any(|f| f.package == package && (dir == "." || f.file.starts_with(&format!("{dir}/"))))
}
