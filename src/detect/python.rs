//! Python: `requirements*.txt` (following `-r`/`-c` includes), `pyproject.toml` (PEP 621,
//! Poetry, PDM, uv, PEP 735 dependency groups), `Pipfile` and `setup.cfg`, with names normalised
//! as PEP 503 does, so `Psycopg2_Binary` is `psycopg2-binary`.

use std::path::PathBuf;

use super::{Found, Manifest};

const ECOSYSTEM: &str = "python";
const POSTGRES_PACKAGES: &[&str] = &[
    "psycopg",
    "psycopg2",
    "psycopg2-binary",
    "psycopg-binary",
    "psycopg-c",
    "asyncpg",
    "pg8000",
];
const OTHER_PACKAGES: &[(&str, &str)] = &[
    ("mysqlclient", "mysql"),
    ("pymysql", "mysql"),
    ("pymongo", "mongodb"),
    ("redis", "redis"),
];

/// PEP 503: lower case, every run of `-`, `_` and `.` becomes one `-`.
pub(super) fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution name at the start of a requirement (`name[extra]>=1 ; marker`).
fn requirement_name(spec: &str) -> Option<(String, &str)> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let raw = &spec[..end];
    (!raw.is_empty()).then(|| (normalise(raw), raw))
}

fn engine_of(name: &str) -> Option<&'static str> {
    if POSTGRES_PACKAGES.contains(&name) {
        return Some("postgres");
    }
    OTHER_PACKAGES
        .iter()
        .find(|(p, _)| *p == name)
        .map(|(_, e)| *e)
}

/// Records a finding for a requirement string, locating it in the file by its raw name.
fn check_spec(manifest: &Manifest, found: &mut Found, spec: &str, line: Option<usize>) {
    let Some((name, raw)) = requirement_name(spec) else {
        return;
    };
    if let Some(engine) = engine_of(&name) {
        let line = line.unwrap_or_else(|| {
            manifest.line_where(|l| l.contains(raw) && !l.trim_start().starts_with('#'))
        });
        found
            .findings
            .push(manifest.finding(engine, ECOSYSTEM, &name, line));
    }
}

pub(super) fn read_requirements(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let text = line.split(" #").next().unwrap_or_default().trim();
        // Options (-r, -c, -e, --index-url) are not requirements; includes are followed separately.
        if text.is_empty() || text.starts_with('#') || text.starts_with('-') {
            continue;
        }
        check_spec(manifest, found, text, Some(i + 1));
    }
}

/// The files a requirements file includes with `-r`/`--requirement`/`-c`/`--constraint`.
pub(super) fn includes(manifest: &Manifest) -> Vec<PathBuf> {
    let dir = manifest
        .path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    manifest
        .text
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = ["-r", "--requirement", "-c", "--constraint"]
                .iter()
                .find_map(|flag| {
                    line.strip_prefix(flag)
                        .filter(|r| r.starts_with([' ', '=', '\t']))
                })?;
            let target = rest.trim_start_matches('=').trim();
            (!target.is_empty()).then(|| dir.join(target))
        })
        .collect()
}

pub(super) fn read_pyproject(manifest: &Manifest, found: &mut Found) {
    let Some(doc) = manifest.toml(found) else {
        return;
    };
    let get = |path: &[&str]| -> Option<&toml::Value> {
        let mut value = doc.get(path[0])?;
        for key in &path[1..] {
            value = value.get(key)?;
        }
        Some(value)
    };
    let mut specs: Vec<String> = Vec::new();
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let tables_of_lists = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table)
            .map(|t| t.values().flat_map(|group| strings(Some(group))).collect())
            .unwrap_or_default()
    };
    let keys = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    // PEP 621, and PEP 735 groups (used by uv and PDM).
    specs.extend(strings(get(&["project", "dependencies"])));
    specs.extend(tables_of_lists(get(&["project", "optional-dependencies"])));
    specs.extend(tables_of_lists(get(&["dependency-groups"])));
    // Poetry: table keys, in the main table and in groups.
    specs.extend(keys(get(&["tool", "poetry", "dependencies"])));
    specs.extend(keys(get(&["tool", "poetry", "dev-dependencies"])));
    if let Some(groups) = get(&["tool", "poetry", "group"]).and_then(toml::Value::as_table) {
        for group in groups.values() {
            specs.extend(keys(group.get("dependencies")));
        }
    }
    // PDM and uv development dependencies.
    specs.extend(tables_of_lists(get(&["tool", "pdm", "dev-dependencies"])));
    specs.extend(strings(get(&["tool", "uv", "dev-dependencies"])));
    for spec in specs {
        check_spec(manifest, found, &spec, None);
    }
}

/// Pipfile is TOML: `[packages]` and `[dev-packages]` tables.
pub(super) fn read_pipfile(manifest: &Manifest, found: &mut Found) {
    let Some(doc) = manifest.toml(found) else {
        return;
    };
    for table in ["packages", "dev-packages"] {
        let Some(packages) = doc.get(table).and_then(toml::Value::as_table) else {
            continue;
        };
        for name in packages.keys() {
            check_spec(manifest, found, name, None);
        }
    }
}

/// setup.cfg: the `install_requires` (and `extras_require`) lists under `[options]`.
pub(super) fn read_setup_cfg(manifest: &Manifest, found: &mut Found) {
    let mut section = String::new();
    let mut in_list = false;
    for (i, line) in manifest.text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_string();
            in_list = false;
            continue;
        }
        let continuation = line.starts_with([' ', '\t']);
        if !continuation {
            in_list = false;
            if let Some((key, value)) = trimmed.split_once('=') {
                let key = key.trim();
                in_list = (section == "options" && key == "install_requires")
                    || section == "options.extras_require";
                if in_list && !value.trim().is_empty() {
                    check_spec(manifest, found, value.trim(), Some(i + 1));
                }
            }
            continue;
        }
        if in_list && !trimmed.is_empty() && !trimmed.starts_with('#') {
            check_spec(manifest, found, trimmed, Some(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(normalise("Psycopg2_Binary"), "psycopg2-binary");
        assert_eq!(normalise("a.-_b"), "a-b");
        let (name, raw) = requirement_name("psycopg[binary]>=3 ; python_version>'3'").unwrap();
        assert_eq!((name.as_str(), raw), ("psycopg", "psycopg"));
    }
}
