//! `package.json`: the dependency tables name the database client. Every workspace package has
//! its own package.json, which the walk finds, so npm/yarn `workspaces` and pnpm workspaces are
//! covered without reading their globs.

use serde_json::Value;

use super::{Found, Manifest, Strength};

const ECOSYSTEM: &str = "node";
const TABLES: &[(&str, Strength)] = &[
    ("dependencies", Strength::Runtime),
    ("devDependencies", Strength::Dev),
    ("optionalDependencies", Strength::Optional),
    ("peerDependencies", Strength::Optional),
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
    ("@prisma/adapter-pg", "postgres"),
    ("@prisma/adapter-neon", "postgres"),
    ("@electric-sql/pglite", "postgres"),
    ("pg-boss", "postgres"),
    ("mysql", "mysql"),
    ("mysql2", "mysql"),
    ("@planetscale/database", "mysql"),
    ("@mikro-orm/mysql", "mysql"),
    ("@mikro-orm/mariadb", "mysql"),
    ("better-sqlite3", "sqlite"),
    ("sqlite3", "sqlite"),
    ("@libsql/client", "sqlite"),
    ("@mikro-orm/sqlite", "sqlite"),
    ("mssql", "sqlserver"),
    ("tedious", "sqlserver"),
    ("mongodb", "mongodb"),
    ("mongoose", "mongodb"),
    ("redis", "redis"),
    ("ioredis", "redis"),
    ("@upstash/redis", "redis"),
    ("bullmq", "redis"),
    ("bull", "redis"),
    ("@clickhouse/client", "clickhouse"),
];

/// Drivers whose scoped forks (`@scope/sqlite3`) count as the driver.
const FORKED: &[&str] = &["sqlite3", "better-sqlite3", "mysql2", "pg"];

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
    // Each package once, at the strongest table that names it.
    let mut names: Vec<(&str, &str, Strength)> = Vec::new();
    for (table, strength) in TABLES {
        for name in json
            .get(table)
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|o| o.keys())
        {
            if !names.iter().any(|(n, _, _)| n == name) {
                names.push((name, table, *strength));
            }
        }
    }
    let mut pg_driver: Option<Strength> = None;
    for (name, table, strength) in &names {
        // A scoped fork of a driver (`@louislam/sqlite3`) is that driver; type packages are not.
        let base = match name.split_once('/') {
            Some((scope, base)) if scope != "@types" && FORKED.contains(&base) => base,
            _ => name,
        };
        if let Some((_, engine)) = DRIVERS.iter().find(|(p, _)| *p == base || p == name) {
            if *engine == "postgres" {
                pg_driver = Some(pg_driver.map_or(*strength, |s| s.min(*strength)));
            }
            found.findings.push(
                manifest
                    .finding(engine, ECOSYSTEM, name, manifest.json_key_line(table, name))
                    .with_strength(*strength),
            );
        }
    }
    if let Some(driver) = pg_driver {
        for (name, table, strength) in names.iter().filter(|(n, _, _)| MULTI_ENGINE.contains(n)) {
            found.findings.push(
                manifest
                    .finding(
                        "postgres",
                        ECOSYSTEM,
                        name,
                        manifest.json_key_line(table, name),
                    )
                    .with_strength(driver.max(*strength)),
            );
        }
    }
}

/// Every package named in the dependency tables, each once.
pub(super) fn dependency_names(json: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = TABLES
        .iter()
        .filter_map(|(t, _)| json.get(t).and_then(Value::as_object))
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
