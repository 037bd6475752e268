//! `go.mod`: `require` lines, single or in blocks, for the PostgreSQL drivers.

use super::{Found, Manifest};

const ECOSYSTEM: &str = "go";
/// Module path prefixes; pgx's major versions (`/v4`, `/v5`) all match.
const POSTGRES_MODULES: &[&str] = &[
    "github.com/jackc/pgx",
    "github.com/lib/pq",
    "gorm.io/driver/postgres",
    "github.com/uptrace/bun/dialect/pgdialect",
];

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let mut in_block = false;
    for (i, raw) in manifest.text.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or_default().trim();
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
        let Some(module) = spec.split_whitespace().next() else {
            continue;
        };
        let matches = POSTGRES_MODULES
            .iter()
            .any(|m| module == *m || module.strip_prefix(m).is_some_and(|r| r.starts_with('/')));
        if matches {
            found
                .findings
                .push(manifest.finding("postgres", ECOSYSTEM, module, i + 1));
        }
    }
}
