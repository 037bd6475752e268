//! `go.mod`: `require` lines, single or in blocks, for the PostgreSQL drivers. A requirement
//! marked `// indirect` is reported but does not by itself mean the app uses PostgreSQL.

use super::{Found, Manifest};

const ECOSYSTEM: &str = "go";
/// Module path prefixes and their engine; major versions (`/v4`, `/v5`) all match.
const MODULES: &[(&str, &str)] = &[
    ("github.com/jackc/pgx", "postgres"),
    ("github.com/lib/pq", "postgres"),
    ("gorm.io/driver/postgres", "postgres"),
    ("github.com/uptrace/bun/dialect/pgdialect", "postgres"),
    ("github.com/uptrace/bun/driver/pgdriver", "postgres"),
    ("github.com/go-pg/pg", "postgres"),
    ("github.com/go-sql-driver/mysql", "mysql"),
    ("gorm.io/driver/mysql", "mysql"),
    ("github.com/uptrace/bun/dialect/mysqldialect", "mysql"),
    ("github.com/mattn/go-sqlite3", "sqlite"),
    ("modernc.org/sqlite", "sqlite"),
    ("github.com/ncruces/go-sqlite3", "sqlite"),
    ("github.com/glebarez/sqlite", "sqlite"),
    ("github.com/glebarez/go-sqlite", "sqlite"),
    ("gorm.io/driver/sqlite", "sqlite"),
    ("github.com/uptrace/bun/dialect/sqlitedialect", "sqlite"),
    ("github.com/redis/go-redis", "redis"),
    ("github.com/go-redis/redis", "redis"),
    ("github.com/gomodule/redigo", "redis"),
    ("github.com/redis/rueidis", "redis"),
    ("go.mongodb.org/mongo-driver", "mongodb"),
    ("github.com/denisenkom/go-mssqldb", "sqlserver"),
    ("github.com/microsoft/go-mssqldb", "sqlserver"),
    ("gorm.io/driver/sqlserver", "sqlserver"),
    ("github.com/ClickHouse/clickhouse-go", "clickhouse"),
];

/// The engine of a module path, if it is a driver we know.
pub(super) fn engine_of(module: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(m, _)| module == *m || module.strip_prefix(m).is_some_and(|r| r.starts_with('/')))
        .map(|(_, e)| *e)
}

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    for (i, module, indirect) in requires(&manifest.text) {
        if let Some(engine) = engine_of(module) {
            let mut finding = manifest.finding(engine, ECOSYSTEM, module, i + 1);
            finding.indirect = indirect;
            found.findings.push(finding);
        }
    }
}

/// (0-based line, module path, indirect) for every requirement.
pub(super) fn requires(text: &str) -> Vec<(usize, &str, bool)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, raw) in text.lines().enumerate() {
        let (code, comment) = raw.split_once("//").unwrap_or((raw, ""));
        let line = code.trim();
        let spec = if in_block {
            if line.starts_with(')') {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest.starts_with('(') {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        if let Some(module) = spec.split_whitespace().next() {
            out.push((i, module, comment.trim() == "indirect"));
        }
    }
    out
}
