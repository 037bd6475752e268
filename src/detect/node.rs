//! `package.json`: the dependency tables name the database client. Every workspace package has
//! its own package.json, which the walk finds, so npm/yarn `workspaces` and pnpm workspaces are
//! covered without reading their globs.

use serde_json::Value;

use super::{Found, Manifest};

const ECOSYSTEM: &str = "node";
const TABLES: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// Package → engine for drivers and single-engine clients.
const DRIVERS: &[(&str, &str)] = &[
    ("pg", "postgres"),
    ("postgres", "postgres"),
    ("pg-promise", "postgres"),
    ("slonik", "postgres"),
    ("@neondatabase/serverless", "postgres"),
    ("@vercel/postgres", "postgres"),
    ("@mikro-orm/postgresql", "postgres"),
    ("mysql", "mysql"),
    ("mysql2", "mysql"),
    ("better-sqlite3", "sqlite"),
    ("sqlite3", "sqlite"),
    ("@libsql/client", "sqlite"),
    ("mongodb", "mongodb"),
    ("mongoose", "mongodb"),
    ("redis", "redis"),
    ("ioredis", "redis"),
];

/// Query builders and ORMs that speak several engines: they count as PostgreSQL evidence only
/// beside a PostgreSQL driver, since on their own they say nothing about the engine.
const MULTI_ENGINE: &[&str] = &[
    "kysely",
    "typeorm",
    "sequelize",
    "@mikro-orm/core",
    "drizzle-orm",
    "knex",
];

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let Some(json) = manifest.json(found) else {
        return;
    };
    let names = dependency_names(&json);
    let mut has_pg_driver = false;
    for name in &names {
        if let Some((_, engine)) = DRIVERS.iter().find(|(p, _)| p == name) {
            has_pg_driver |= *engine == "postgres";
            found
                .findings
                .push(manifest.finding(engine, ECOSYSTEM, name, line(manifest, name)));
        }
    }
    if has_pg_driver {
        for name in names.iter().filter(|n| MULTI_ENGINE.contains(n)) {
            found.findings.push(manifest.finding(
                "postgres",
                ECOSYSTEM,
                name,
                line(manifest, name),
            ));
        }
    }
}

fn line(manifest: &Manifest, name: &str) -> usize {
    manifest.line_of(&format!("\"{name}\""))
}

/// Every package named in the dependency tables, each once.
pub(super) fn dependency_names(json: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = TABLES
        .iter()
        .filter_map(|t| json.get(t).and_then(Value::as_object))
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
