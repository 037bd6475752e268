//! `go.mod`: `require` lines, single or in blocks, for the PostgreSQL drivers. A requirement
//! marked `// indirect` is reported but does not by itself mean the app uses PostgreSQL.

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
    for (i, module, indirect) in requires(&manifest.text) {
        let matches = POSTGRES_MODULES
            .iter()
            .any(|m| module == *m || module.strip_prefix(m).is_some_and(|r| r.starts_with('/')));
        if matches {
            let mut finding = manifest.finding("postgres", ECOSYSTEM, module, i + 1);
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
