//! Node's migration tools, found where the tools themselves look: Prisma's schema (the
//! `prisma` key of `package.json`, `prisma.config.ts`, `prisma/` or the package root), a
//! drizzle config anywhere in the package (passed with `--config` when not at its root), a
//! knexfile, a TypeORM data source named by the package's scripts, `.sequelizerc`.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::{Folder, Found, up_to_root};

/// The package runner the repository uses, from the nearest lockfile up to the root:
/// (exec prefix, run prefix).
pub(super) fn runner(folder: &Folder) -> (&'static str, &'static str) {
    for d in up_to_root(folder.dir, folder.root) {
        let has = |f: &str| folder.exists_in(d, f);
        if has("pnpm-lock.yaml") {
            return ("pnpm exec", "pnpm run");
        } else if has("yarn.lock") {
            return ("yarn", "yarn run");
        } else if has("bun.lockb") || has("bun.lock") {
            return ("bunx", "bun run");
        } else if has("package-lock.json") {
            return ("npx", "npm run");
        }
    }
    ("npx", "npm run")
}

pub(super) fn package_json(folder: &Folder) -> Option<Value> {
    serde_json::from_str(&folder.text("package.json")?).ok()
}

/// Dependency names of this package and of the packages above it up to the root: a workspace
/// root's devDependencies (drizzle-kit, prisma) serve every member.
fn dependencies(folder: &Folder) -> Vec<String> {
    let mut names = Vec::new();
    for d in up_to_root(folder.dir, folder.root) {
        let Some(text) = folder.text_in(d, "package.json") else {
            continue;
        };
        if let Ok(json) = serde_json::from_str::<Value>(&text) {
            names.extend(
                crate::detect::node::dependency_names(&json)
                    .into_iter()
                    .map(str::to_string),
            );
        }
    }
    names
}

fn first_capture(re: &'static OnceLock<Regex>, pattern: &str, text: &str) -> Option<String> {
    let re = re.get_or_init(|| Regex::new(pattern).expect("valid regex"));
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// A file of this package (not of a nested package) whose name starts with `prefix`, nearest
/// the package root first.
fn own_file(folder: &Folder, prefix: &str) -> Option<String> {
    let mut candidates: Vec<String> = folder
        .files_below()
        .filter(|(path, rel)| {
            let name = rel.rsplit('/').next().unwrap_or_default();
            name.starts_with(prefix)
                && !rel.contains("node_modules/")
                && !has_nested_package(folder, path)
        })
        .map(|(_, rel)| rel)
        .collect();
    candidates.sort_by_key(|r| (r.matches('/').count(), r.clone()));
    candidates.into_iter().next()
}

/// Whether a package.json sits between the folder and this file.
fn has_nested_package(folder: &Folder, file: &std::path::Path) -> bool {
    file.parent()
        .into_iter()
        .flat_map(|p| p.ancestors())
        .take_while(|d| *d != folder.dir && d.starts_with(folder.dir))
        .any(|d| folder.exists_in(d, "package.json"))
}

pub(super) fn suggest(folder: &Folder, found: &mut Found) {
    let Some(json) = package_json(folder) else {
        return;
    };
    let own = crate::detect::node::dependency_names(&json);
    let all = dependencies(folder);
    let has_own = |n: &str| own.contains(&n);
    let has = |n: &str| all.iter().any(|a| a == n);
    let (exec, _) = runner(folder);
    prisma(
        folder,
        &json,
        exec,
        has_own("prisma") || has_own("@prisma/client"),
        found,
    );
    if let Some(config) = own_file(folder, "drizzle.config.")
        && (has("drizzle-kit") || has_own("drizzle-orm"))
    {
        let flag = if config.contains('/') {
            format!(" --config {config}")
        } else {
            String::new()
        };
        found.push(("drizzle-kit", format!("{exec} drizzle-kit migrate{flag}")));
    }
    if has_own("knex")
        && let Some(knexfile) = own_file(folder, "knexfile.")
    {
        let flag = if knexfile.contains('/') {
            format!(" --knexfile {knexfile}")
        } else {
            String::new()
        };
        found.push(("knex", format!("{exec} knex migrate:latest{flag}")));
    }
    if has_own("node-pg-migrate") {
        found.push(("node-pg-migrate", format!("{exec} node-pg-migrate up")));
    }
    if has_own("dbmate") {
        // Without --no-dump-schema dbmate rewrites db/schema.sql in the checkout on every run.
        found.push(("dbmate", format!("{exec} dbmate --no-dump-schema up")));
    }
    if has_own("typeorm")
        && let Some(source) = typeorm_source(folder, &json)
    {
        let command = match source {
            Some(source) => format!("{exec} typeorm migration:run -d {source}"),
            None => format!("{exec} typeorm migration:run"),
        };
        found.push(("typeorm", command));
    }
    if has_own("sequelize-cli") || (has_own("sequelize") && folder.exists(".sequelizerc")) {
        found.push(("sequelize", format!("{exec} sequelize-cli db:migrate")));
    }
    if has_own("@mikro-orm/migrations") && has_own("@mikro-orm/cli") {
        found.push(("mikro-orm", format!("{exec} mikro-orm migration:up")));
    }
    if has_own("kysely-ctl") {
        found.push(("kysely", format!("{exec} kysely migrate:latest")));
    }
}

/// Prisma reads its schema from the `prisma.schema` key of package.json, from
/// `prisma.config.ts`, else `prisma/schema.prisma`, the `prisma/schema/` folder or
/// `schema.prisma`; the migrations folder sits beside the schema.
fn prisma(folder: &Folder, json: &Value, exec: &str, depends: bool, found: &mut Found) {
    static CONFIG_SCHEMA: OnceLock<Regex> = OnceLock::new();
    if !depends {
        return;
    }
    let configured = json
        .pointer("/prisma/schema")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            ["ts", "mts", "js", "mjs", "cjs"]
                .iter()
                .find_map(|ext| folder.text(&format!("prisma.config.{ext}")))
                .and_then(|text| {
                    first_capture(&CONFIG_SCHEMA, r#"schema\s*:\s*["'`]([^"'`]+)["'`]"#, &text)
                })
        })
        .map(|s| s.trim_start_matches("./").to_string());
    let default = ["prisma/schema.prisma", "prisma/schema", "schema.prisma"]
        .into_iter()
        .find(|p| folder.exists(p))
        .map(str::to_string);
    let Some(schema) = configured.clone().or(default) else {
        return;
    };
    if !folder.exists(&schema) {
        return;
    }
    let schema_dir = if schema.ends_with(".prisma") {
        schema.rsplit_once('/').map_or("", |(d, _)| d).to_string()
    } else {
        schema.clone()
    };
    let parent = schema_dir.rsplit_once('/').map_or("", |(d, _)| d);
    let migrations = [
        format!("{schema_dir}/migrations"),
        format!("{parent}/migrations"),
    ];
    let action = if migrations
        .iter()
        .any(|m| folder.exists(m.trim_start_matches('/')))
    {
        "migrate deploy"
    } else {
        "db push"
    };
    found.push(("prisma", format!("{exec} prisma {action}")));
}

/// The data source TypeORM's CLI needs: the file a package script passes with `-d` /
/// `--dataSource`, else a conventional path; `Some(None)` when an `ormconfig` file makes the
/// flag unnecessary (TypeORM ≤ 0.2).
fn typeorm_source(folder: &Folder, json: &Value) -> Option<Option<String>> {
    static FLAG: OnceLock<Regex> = OnceLock::new();
    let scripts = json.get("scripts").and_then(Value::as_object);
    for body in scripts.into_iter().flat_map(|s| s.values()) {
        let Some(body) = body.as_str() else { continue };
        if !body.contains("typeorm") {
            continue;
        }
        if let Some(source) = first_capture(
            &FLAG,
            r#"(?:-d|--dataSource|--data-source)[ =]["']?([^\s"']+)"#,
            body,
        ) {
            let source = source.trim_start_matches("./").to_string();
            if folder.exists(&source) {
                return Some(Some(source));
            }
        }
    }
    if ["json", "js", "ts", "yml", "yaml", "env"]
        .iter()
        .any(|ext| folder.exists(&format!("ormconfig.{ext}")))
    {
        return Some(None);
    }
    [
        "src/data-source.ts",
        "src/data-source.js",
        "data-source.ts",
        "data-source.js",
        "src/db/data-source.ts",
        "src/database/data-source.ts",
        "src/config/data-source.ts",
    ]
    .into_iter()
    .find(|f| folder.exists(f))
    .map(|f| Some(f.to_string()))
}
