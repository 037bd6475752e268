//! Python: `requirements*.txt` (following `-r`/`-c` includes), `pyproject.toml` (PEP 621,
//! Poetry, PDM, uv, PEP 735 dependency groups), `Pipfile` and `setup.cfg`, with names normalised
//! as PEP 503 does, so `Psycopg2_Binary` is `psycopg2-binary`.

use std::path::PathBuf;

use super::{Found, Manifest, Strength};

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
    ("mysql-connector-python", "mysql"),
    ("aiomysql", "mysql"),
    ("asyncmy", "mysql"),
    ("mariadb", "mysql"),
    ("aiosqlite", "sqlite"),
    ("pymongo", "mongodb"),
    ("motor", "mongodb"),
    ("mongoengine", "mongodb"),
    ("beanie", "mongodb"),
    ("redis", "redis"),
    ("django-redis", "redis"),
    ("flask-redis", "redis"),
    ("aioredis", "redis"),
    ("clickhouse-connect", "clickhouse"),
    ("clickhouse-driver", "clickhouse"),
    ("pymssql", "sqlserver"),
    ("mssql-django", "sqlserver"),
];

/// Extras of other packages that bring a driver in: `celery[redis]`,
/// `sqlalchemy[postgresql-asyncpg]`, `psycopg[binary]` is already psycopg.
const EXTRA_ENGINES: &[(&str, &str)] = &[
    ("postgres", "postgres"),
    ("asyncpg", "postgres"),
    ("psycopg", "postgres"),
    ("mysql", "mysql"),
    ("redis", "redis"),
];

/// An extra or group named after an engine (`postgres = ["psycopg2"]`) or after the app's
/// database (`database = ["psycopg2", "pymysql"]`) offers those engines as the app's own
/// database; one named otherwise (`all_ds`, `connectors`) brings drivers the app only queries.
fn names_an_engine(group: &str) -> bool {
    let g = group.to_ascii_lowercase();
    [
        "postgres", "pg", "psycopg", "mysql", "mariadb", "sqlite", "mssql",
    ]
    .iter()
    .any(|e| g == *e || g.starts_with(e))
        || matches!(g.as_str(), "database" | "databases" | "db" | "sql")
}

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

/// Where a requirement was declared: how strong it is, and whether its extra or group names an
/// engine (then it configures the app's own database).
#[derive(Clone, Copy)]
struct Declared {
    strength: Strength,
    configures: bool,
}

impl Declared {
    const RUNTIME: Declared = Declared {
        strength: Strength::Runtime,
        configures: false,
    };

    /// An optional extra (`[project.optional-dependencies]`, `extras_require`).
    fn extra(name: &str) -> Declared {
        Declared {
            strength: Strength::Optional,
            configures: names_an_engine(name),
        }
    }

    /// A development group: never runtime, weaker still when named for tests or docs.
    fn group(name: &str) -> Declared {
        if names_an_engine(name) {
            return Declared::extra(name);
        }
        Declared {
            strength: Strength::of_group(name).max(Strength::Dev),
            configures: false,
        }
    }

    fn of(strength: Strength) -> Declared {
        Declared {
            strength,
            configures: false,
        }
    }
}

/// Records a finding for a requirement string, locating it in the file by its raw name.
fn check_spec(
    manifest: &Manifest,
    found: &mut Found,
    spec: &str,
    line: Option<usize>,
    declared: Declared,
) {
    let Some((name, raw)) = requirement_name(spec) else {
        return;
    };
    let extras: Vec<String> = spec[raw.len()..]
        .trim_start()
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(extras, _)| extras.split(',').map(normalise).collect())
        .unwrap_or_default();
    let mut engines: Vec<(&'static str, String)> = Vec::new();
    if let Some(engine) = engine_of(&name) {
        engines.push((engine, name.clone()));
    }
    for extra in &extras {
        if let Some((_, engine)) = EXTRA_ENGINES.iter().find(|(e, _)| extra.contains(e))
            && !engines.iter().any(|(e, _)| e == engine)
        {
            engines.push((engine, format!("{name}[{extra}]")));
        }
    }
    for (engine, package) in engines {
        let line = line.unwrap_or_else(|| {
            manifest.line_where(|l| l.contains(raw) && !l.trim_start().starts_with('#'))
        });
        let mut finding = manifest
            .finding(engine, ECOSYSTEM, &package, line)
            .with_strength(declared.strength);
        if declared.configures {
            finding = finding.configuring();
        }
        found.findings.push(finding);
    }
}

pub(super) fn read_requirements(manifest: &Manifest, found: &mut Found) {
    // `requirements-dev.txt`, `requirements/test.txt`: the name says what the file is for.
    let mut parts = manifest.rel.rsplit('/');
    let file = parts.next().unwrap_or_default();
    let folder = parts.next().unwrap_or_default();
    let stem = file
        .trim_end_matches(".txt")
        .trim_start_matches("requirements");
    let purpose = if folder == "requirements" {
        format!("{folder}{stem}")
    } else {
        stem.to_string()
    };
    let declared = Declared::of(Strength::of_group(&purpose));
    for (i, line) in manifest.text.lines().enumerate() {
        let text = line.split(" #").next().unwrap_or_default().trim();
        // Options (-r, -c, -e, --index-url) are not requirements; includes are followed separately.
        if text.is_empty() || text.starts_with('#') || text.starts_with('-') {
            continue;
        }
        check_spec(manifest, found, text, Some(i + 1), declared);
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
    let mut specs: Vec<(String, Declared)> = Vec::new();
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let groups = |v: Option<&toml::Value>| -> Vec<(String, Vec<String>)> {
        v.and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(name, group)| (name.clone(), strings(Some(group))))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Poetry's tables: name = version, or name = { version, optional = true }.
    let poetry = |v: Option<&toml::Value>, declared: Declared| -> Vec<(String, Declared)> {
        v.and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(name, spec)| {
                        let optional = spec
                            .get("optional")
                            .and_then(toml::Value::as_bool)
                            .unwrap_or(false);
                        let declared = if optional {
                            Declared::extra(name)
                        } else {
                            declared
                        };
                        (name.clone(), declared)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // PEP 621, and PEP 735 groups (used by uv and PDM).
    for spec in strings(get(&["project", "dependencies"])) {
        specs.push((spec, Declared::RUNTIME));
    }
    for (extra, list) in groups(get(&["project", "optional-dependencies"])) {
        specs.extend(list.into_iter().map(|s| (s, Declared::extra(&extra))));
    }
    for (group, list) in groups(get(&["dependency-groups"])) {
        specs.extend(list.into_iter().map(|s| (s, Declared::group(&group))));
    }
    // Poetry: table keys, in the main table and in groups (`main` is the runtime one).
    specs.extend(poetry(
        get(&["tool", "poetry", "dependencies"]),
        Declared::RUNTIME,
    ));
    specs.extend(poetry(
        get(&["tool", "poetry", "dev-dependencies"]),
        Declared::of(Strength::Dev),
    ));
    if let Some(table) = get(&["tool", "poetry", "group"]).and_then(toml::Value::as_table) {
        for (name, group) in table {
            let declared = if name == "main" {
                Declared::RUNTIME
            } else {
                Declared::group(name)
            };
            specs.extend(poetry(group.get("dependencies"), declared));
        }
    }
    // PDM and uv development dependencies.
    for (group, list) in groups(get(&["tool", "pdm", "dev-dependencies"])) {
        specs.extend(list.into_iter().map(|s| (s, Declared::group(&group))));
    }
    for spec in strings(get(&["tool", "uv", "dev-dependencies"])) {
        specs.push((spec, Declared::of(Strength::Dev)));
    }
    for (spec, declared) in specs {
        check_spec(manifest, found, &spec, None, declared);
    }
}

/// Pipfile is TOML: `[packages]` and `[dev-packages]` tables.
pub(super) fn read_pipfile(manifest: &Manifest, found: &mut Found) {
    let Some(doc) = manifest.toml(found) else {
        return;
    };
    for (table, strength) in [
        ("packages", Strength::Runtime),
        ("dev-packages", Strength::Dev),
    ] {
        let Some(packages) = doc.get(table).and_then(toml::Value::as_table) else {
            continue;
        };
        for name in packages.keys() {
            check_spec(manifest, found, name, None, Declared::of(strength));
        }
    }
}

/// setup.cfg: the `install_requires` (and `extras_require`) lists under `[options]`.
pub(super) fn read_setup_cfg(manifest: &Manifest, found: &mut Found) {
    let mut section = String::new();
    let mut in_list = false;
    let mut declared = Declared::RUNTIME;
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
                declared = if section == "options.extras_require" {
                    Declared::extra(key)
                } else {
                    Declared::RUNTIME
                };
                if in_list && !value.trim().is_empty() {
                    check_spec(manifest, found, value.trim(), Some(i + 1), declared);
                }
            }
            continue;
        }
        if in_list && !trimmed.is_empty() && !trimmed.starts_with('#') {
            check_spec(manifest, found, trimmed, Some(i + 1), declared);
        }
    }
}

/// Whether a file is a Python settings or configuration module: Django's `settings.py` or
/// `settings/` package, Flask's `config.py` / `default_settings.py` / `configs/`, and their
/// shipped examples (`local_settings.py.example`).
pub(super) fn is_settings_module(name: &str, parent: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".py")
        .or_else(|| name.strip_suffix(".py.example"))
        .or_else(|| name.strip_suffix(".py.sample"))
    else {
        return false;
    };
    stem.contains("settings")
        || matches!(stem, "config" | "configuration" | "configuration_example")
        || matches!(parent, "settings" | "configs")
}

/// The engine of a SQLAlchemy or database URL's scheme (`postgresql+psycopg://`,
/// `mysql+pymysql://`, `sqlite:///`, `redis://`).
fn engine_of_url(code: &str) -> Option<(&'static str, String)> {
    // Each `scheme://` that opens a string literal; the scheme names the engine as in `.env`.
    let mut from = 0;
    while let Some(at) = code[from..].find("://").map(|i| i + from) {
        from = at + 3;
        let start = code[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '_'))
            .map_or(0, |i| i + 1);
        let quoted = start > 0 && matches!(code.as_bytes()[start - 1], b'"' | b'\'');
        let scheme = &code[start..at];
        if quoted && let Some(engine) = super::dotenv::engine_of_url(&code[start..at + 3]) {
            return Some((engine, format!("{scheme}://")));
        }
    }
    None
}

/// `DB_ENGINE = "sqlite"` (or `DB_ENGINE: str = …`) with the engine keys `.env` files use; the
/// quoted engine names of a trailing comment are options. Whether the line was one.
fn engine_setting(
    manifest: &Manifest,
    found: &mut Found,
    code: &str,
    line: usize,
    strength: Strength,
) -> bool {
    let Some((left, right)) = code.split_once('=') else {
        return false;
    };
    let key = left.split(':').next().unwrap_or_default().trim();
    if !super::dotenv::ENGINE_KEYS.contains(&key) {
        return false;
    }
    let (value, comment) = right.split_once('#').unwrap_or((right, ""));
    let value = value.trim().trim_matches(['"', '\'']);
    if let Some(engine) = super::dotenv::engine_named(value) {
        found.findings.push(
            manifest
                .finding(engine, "python", &format!("{key} = \"{value}\""), line)
                .with_strength(strength),
        );
    }
    for option in comment
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(super::dotenv::engine_named)
    {
        found.findings.push(
            manifest
                .finding(
                    option,
                    "python",
                    &format!("{key} (documented option)"),
                    line,
                )
                .with_strength(strength.max(Strength::Optional))
                .configuring(),
        );
    }
    true
}

/// Settings modules: Django's `ENGINE` of each database, and database URLs (SQLAlchemy's
/// `SQLALCHEMY_DATABASE_URI`, a `dj_database_url` default, `REDIS_URL`). Several engines chosen
/// by an environment variable are all reported; a commented-out alternative (`#
/// SQLALCHEMY_DATABASE_URI = "postgresql://…"`) is an option the app documents; a module named
/// for tests or development speaks only for those.
pub(super) fn read_settings(manifest: &Manifest, found: &mut Found) {
    let file = manifest.rel.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    let strength = match stem {
        "settings" | "config" | "configuration" | "default_settings" | "base" => Strength::Runtime,
        s if s.contains("example") || s.contains("local") => Strength::Runtime,
        s => Strength::of_group(s),
    };
    for (i, line) in manifest.text.lines().enumerate() {
        let trimmed = line.trim_start();
        let commented = trimmed.starts_with('#');
        let code = trimmed.trim_start_matches('#');
        // A typed setting (`DB_ENGINE: str = "sqlite"  # Options: 'sqlite', 'postgres'`): the
        // value is the default engine, the options in its comment are the others.
        if !commented && engine_setting(manifest, found, code, i + 1, strength) {
            continue;
        }
        let engine = if let Some(at) = code.find("django.db.backends.") {
            let backend: String = code[at + "django.db.backends.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            match backend.as_str() {
                b if b.starts_with("postgresql") => ("postgres", format!("django.db.backends.{b}")),
                "mysql" => ("mysql", "django.db.backends.mysql".into()),
                "sqlite3" => ("sqlite", "django.db.backends.sqlite3".into()),
                _ => continue,
            }
        } else if code.contains("django.contrib.gis.db.backends.postgis") {
            ("postgres", "django.contrib.gis.db.backends.postgis".into())
        } else if code.contains("\"mssql\"") || code.contains("'mssql'") {
            ("sqlserver", "mssql".into())
        } else if let Some(found) = engine_of_url(code)
            && {
                let upper = code.to_ascii_uppercase();
                upper.contains("DATABASE")
                    || upper.contains("SQLALCHEMY")
                    || upper.contains("REDIS")
                    || upper.contains("CACHE")
                    || upper.contains("BROKER")
            }
        {
            found
        } else {
            continue;
        };
        let mut finding = manifest
            .finding(engine.0, "python", &engine.1, i + 1)
            .with_strength(strength);
        if commented {
            finding = finding
                .with_strength(strength.max(Strength::Optional))
                .configuring();
        }
        found.findings.push(finding);
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
