//! PHP: `composer.json`. Laravel and Doctrine reach their database through PDO, so the PDO
//! extensions and the client libraries are the evidence; the engine a Laravel app is set up for
//! is in `.env.example` (`DB_CONNECTION`, read by `dotenv`).

use serde_json::Value;

use super::{Found, Manifest, Strength};

const PACKAGES: &[(&str, &str)] = &[
    ("ext-pgsql", "postgres"),
    ("ext-pdo_pgsql", "postgres"),
    ("ext-mysqli", "mysql"),
    ("ext-pdo_mysql", "mysql"),
    ("ext-pdo_sqlite", "sqlite"),
    ("ext-sqlite3", "sqlite"),
    ("ext-redis", "redis"),
    ("predis/predis", "redis"),
    ("ext-mongodb", "mongodb"),
    ("mongodb/mongodb", "mongodb"),
    ("ext-sqlsrv", "sqlserver"),
    ("ext-pdo_sqlsrv", "sqlserver"),
];

pub(super) fn read_composer(manifest: &Manifest, found: &mut Found) {
    let Some(json) = manifest.json(found) else {
        return;
    };
    for (table, strength) in [
        ("require", Strength::Runtime),
        ("require-dev", Strength::Dev),
        ("suggest", Strength::Optional),
    ] {
        let Some(names) = json.get(table).and_then(Value::as_object) else {
            continue;
        };
        for name in names.keys() {
            if let Some((_, engine)) = PACKAGES.iter().find(|(p, _)| p == name) {
                let line = manifest.json_key_line(table, name);
                found.findings.push(
                    manifest
                        .finding(engine, "php", name, line)
                        .with_strength(strength),
                );
            }
        }
    }
}

/// A Laravel application: the framework in `require` (and `artisan` beside it, checked by the
/// migration inference).
pub(super) fn is_laravel(json: &Value) -> bool {
    json.get("require")
        .and_then(Value::as_object)
        .is_some_and(|r| r.contains_key("laravel/framework"))
}

/// Laravel's `config/database.php`: `'default' => env('DB_CONNECTION', 'mysql')` is the engine
/// out of the box. The connections listed below it say nothing: every stock copy of the file
/// lists SQLite, MySQL, MariaDB, PostgreSQL and SQL Server, whatever the app supports.
pub(super) fn read_laravel_database(manifest: &Manifest, found: &mut Found) {
    let engine = |driver: &str| match driver {
        "pgsql" => Some("postgres"),
        "mysql" | "mariadb" => Some("mysql"),
        "sqlite" => Some("sqlite"),
        _ => None,
    };
    let quoted = |text: &str| -> Vec<String> {
        text.split(['\'', '"'])
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.trim();
        if code.starts_with("//") || code.starts_with('*') {
            continue;
        }
        let words = quoted(code);
        let (Some(key), Some(value)) = (words.first(), words.last()) else {
            continue;
        };
        if key != "default" || !code.contains("DB_CONNECTION") {
            continue;
        }
        if let Some(engine) = engine(value) {
            found.findings.push(manifest.finding(
                engine,
                "laravel",
                &format!("'{key}' => '{value}'"),
                i + 1,
            ));
        }
    }
}
