//! The example environment a repository documents (`.env.example`, `.env.sample`, `.env.dist`,
//! `example.env`): the engine chosen by `DB_CONNECTION`-style settings (Laravel, TypeORM and
//! many self-hosted apps) and the scheme of database URLs (`DATABASE_URL=postgres://…`). Only
//! the variable's name and the engine are reported, never the value: an example file can still
//! hold a real password.

use super::{Found, Manifest, Strength};

/// Whether a file name is an environment file a repository ships: `.env.example`,
/// `.env.sample`, `.env.template`, `.env.docker`, `example.env`. A bare `.env` is a developer's
/// own and is not read.
pub(super) fn is_example(name: &str) -> bool {
    // Called for every file of the walk: no allocation until the name looks like an env file.
    let bytes = name.as_bytes();
    let starts = |p: &str| {
        bytes
            .get(..p.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
    };
    let ends = |p: &str| {
        bytes.len() >= p.len() && bytes[bytes.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
    };
    if starts(".env.") {
        return bytes.len() > ".env.".len();
    }
    if !(starts("env.") || ends(".env")) {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    ["example", "sample", "dist", "template"]
        .iter()
        .any(|w| lower.contains(w))
}

/// `.env.testing` and `.env.development` speak for tests and development only.
fn strength_of(name: &str) -> Strength {
    let lower = name.to_ascii_lowercase();
    let mut purpose = lower.trim_start_matches('.').replace("env", "");
    // `example`, `sample` and `template` say what the file is, not what it configures.
    for word in ["example", "sample", "template", "dist"] {
        purpose = purpose.replace(word, "");
    }
    let purpose = purpose.replace(['.', '-', '_'], " ");
    Strength::of_group(&purpose)
}

/// Settings whose value names the engine.
pub(super) const ENGINE_KEYS: &[&str] = &[
    "DB_CONNECTION",
    "DB_TYPE",
    "DB_DRIVER",
    "DB_DIALECT",
    "DB_ENGINE",
    "DB_CLIENT",
    "DB_VENDOR",
    "DATABASE_TYPE",
    "DATABASE_ENGINE",
    "DATABASE_DIALECT",
    "DATABASE_CLIENT",
    "DATABASE_DRIVER",
];

pub(super) fn engine_named(value: &str) -> Option<&'static str> {
    Some(match value.to_ascii_lowercase().as_str() {
        "pgsql" | "postgres" | "postgresql" | "pg" | "postgresdb" => "postgres",
        "mysql" | "mysql2" | "mariadb" | "mariadbdb" | "mysqldb" => "mysql",
        "sqlite" | "sqlite3" | "better-sqlite3" => "sqlite",
        "sqlsrv" | "mssql" | "sqlserver" => "sqlserver",
        "mongodb" | "mongo" => "mongodb",
        _ => return None,
    })
}

pub(super) fn engine_of_url(value: &str) -> Option<&'static str> {
    let scheme = value.split_once("://")?.0.to_ascii_lowercase();
    let base = scheme.split('+').next().unwrap_or_default();
    Some(match base {
        "postgres" | "postgresql" | "pg" => "postgres",
        "mysql" | "mariadb" => "mysql",
        "sqlite" => "sqlite",
        "redis" | "rediss" => "redis",
        "mongodb" => "mongodb",
        "sqlserver" | "mssql" => "sqlserver",
        _ => return None,
    })
}

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let strength = strength_of(manifest.rel.rsplit('/').next().unwrap_or_default());
    // The comment block above a setting: where the other values it takes are documented
    // (`# Use "pgsql" for PostgreSQL`, `# DB_CONNECTION=sqlite`).
    let mut comments: Vec<(usize, &str)> = Vec::new();
    for (i, line) in manifest.text.lines().enumerate() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some(comment) = line.strip_prefix('#') {
            comments.push((i, comment));
            continue;
        }
        let block = std::mem::take(&mut comments);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let value = value
            .split(" #")
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches(['"', '\'']);
        if ENGINE_KEYS.contains(&key) {
            for (j, comment) in &block {
                let words = comment
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .filter(|w| !w.is_empty());
                let mut seen: Vec<&str> = Vec::new();
                for engine in words.filter_map(engine_named) {
                    if seen.contains(&engine) {
                        continue;
                    }
                    seen.push(engine);
                    found.findings.push(
                        manifest
                            .finding(
                                engine,
                                "dotenv",
                                &format!("{key} (documented option)"),
                                j + 1,
                            )
                            .with_strength(strength.max(Strength::Optional))
                            .configuring(),
                    );
                }
            }
        }
        let engine = if ENGINE_KEYS.contains(&key) {
            engine_named(value)
        } else if key == "REDIS_HOST" && !value.is_empty() {
            Some("redis")
        } else if key.ends_with("URL") || key.ends_with("URI") || key.ends_with("DSN") {
            engine_of_url(value)
        } else {
            None
        };
        if let Some(engine) = engine {
            found.findings.push(
                manifest
                    .finding(engine, "dotenv", key, i + 1)
                    .with_strength(strength),
            );
        }
    }
}
