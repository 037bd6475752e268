//! `package.json`: the dependency tables name the database client.

use serde_json::Value;

use super::{Found, Manifest};

const ECOSYSTEM: &str = "node";
const TABLES: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// Package → engine. ORMs that support several engines are absent on purpose: they say
/// nothing until a driver (or a Prisma schema) does.
const PACKAGES: &[(&str, &str)] = &[
    ("pg", "postgres"),
    ("postgres", "postgres"),
    ("pg-promise", "postgres"),
    ("slonik", "postgres"),
    ("@neondatabase/serverless", "postgres"),
    ("@vercel/postgres", "postgres"),
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

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let json: Value = match serde_json::from_str(&manifest.text) {
        Ok(v) => v,
        Err(e) => {
            found
                .warnings
                .push(manifest.warning(format!("not valid JSON: {e}")));
            return;
        }
    };
    for name in dependency_names(&json) {
        if let Some((_, engine)) = PACKAGES.iter().find(|(p, _)| *p == name) {
            let line = manifest.line_of(&format!("\"{name}\""));
            found
                .findings
                .push(manifest.finding(engine, ECOSYSTEM, name, line));
        }
    }
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
