//! `Cargo.toml`, read with the `cargo_toml` crate: drivers, and ORMs with their postgres
//! feature. `dep = { workspace = true }` resolves to the workspace root's
//! `[workspace.dependencies]`, with the member's extra features added.

use std::path::Path;

use cargo_toml::{Dependency, DepsSet, Manifest as CargoManifest};

use super::{Found, Manifest, Strength};

const ECOSYSTEM: &str = "rust";

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let cargo = match CargoManifest::from_slice(manifest.text.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            // The parser's message carries a source excerpt; keep its first and last lines.
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = match lines.as_slice() {
                [] => String::new(),
                [only] => only.to_string(),
                [first, .., last] => format!("{first}: {last}"),
            };
            found
                .warnings
                .push(manifest.warning(format!("not a valid Cargo.toml: {message}")));
            return;
        }
    };
    let workspace = workspace_dependencies(manifest, &cargo);
    // Features on by default, one level of indirection followed: what `cargo build` gets.
    let mut default: Vec<&str> = Vec::new();
    let mut pending: Vec<&str> = vec!["default"];
    while let Some(feature) = pending.pop() {
        for entry in cargo.features.get(feature).into_iter().flatten() {
            let entry = entry.strip_prefix("dep:").unwrap_or(entry);
            if !default.contains(&entry) {
                default.push(entry);
                pending.push(entry);
            }
        }
    }
    let tables = [
        (&cargo.dependencies, Strength::Runtime),
        // Cargo's dev-dependencies build only tests, examples and benchmarks.
        (&cargo.dev_dependencies, Strength::Test),
        (&cargo.build_dependencies, Strength::Dev),
    ];
    let mut seen: Vec<(&str, &str)> = Vec::new();
    // A workspace root's own [workspace.dependencies] only declare versions: a member that uses
    // them is what counts, and it is read on its own.
    for (table, strength) in tables {
        for (name, dep) in table {
            let (package, features) = resolve(name, dep, workspace.as_ref());
            let optional = dep.optional() && !default.contains(&name.as_str());
            for engine in engines_of(package, &features) {
                if seen.contains(&(name.as_str(), engine)) {
                    continue;
                }
                seen.push((name, engine));
                let line = manifest.line_where(|l| {
                    let l = l.trim_start();
                    l.starts_with(name.as_str())
                        && l[name.len()..].trim_start().starts_with(['=', '.'])
                });
                let mut finding = manifest.finding(engine, ECOSYSTEM, name, line);
                if optional {
                    finding = finding
                        .with_strength(strength.max(Strength::Optional))
                        .configuring();
                } else {
                    finding = finding.with_strength(strength);
                }
                found.findings.push(finding);
            }
        }
    }
    // `[features] postgresql = ["diesel/postgres"]`: a backend the build can choose.
    for (feature, entries) in &cargo.features {
        for entry in entries {
            let Some((dep, dep_feature)) = entry.split_once('/') else {
                continue;
            };
            let dep = dep.trim_end_matches('?');
            let Some(declared) = cargo.dependencies.get(dep) else {
                continue;
            };
            let (package, _) = resolve(dep, declared, workspace.as_ref());
            for engine in engines_of(package, &[dep_feature]) {
                let line = manifest.line_where(|l| {
                    let l = l.trim_start();
                    l.starts_with(feature.as_str())
                        && l[feature.len()..].trim_start().starts_with('=')
                });
                let strength = if default.contains(&feature.as_str()) {
                    Strength::Runtime
                } else {
                    Strength::Optional
                };
                found.findings.push(
                    manifest
                        .finding(
                            engine,
                            ECOSYSTEM,
                            &format!("{feature} = [\"{entry}\"]"),
                            line,
                        )
                        .with_strength(strength)
                        .configuring(),
                );
            }
        }
    }
}

/// `[workspace.dependencies]` of this manifest's workspace: its own, or the nearest ancestor's.
fn workspace_dependencies(manifest: &Manifest, own: &CargoManifest) -> Option<DepsSet> {
    if let Some(ws) = &own.workspace {
        return Some(ws.dependencies.clone());
    }
    // The repository's root is the manifest's path less its relative one: the search for the
    // workspace's Cargo.toml stops there.
    let depth = Path::new(&manifest.rel).components().count();
    let root = manifest.path.ancestors().nth(depth)?;
    let dir = manifest.path.parent()?;
    dir.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root))
        .find_map(|dir| {
            let text = super::read::text(&dir.join("Cargo.toml")).ok()?;
            let parent = CargoManifest::from_slice(text.as_bytes()).ok()?;
            parent.workspace.map(|w| w.dependencies)
        })
}

/// The package a dependency names and the features it turns on, a `workspace = true` one
/// resolved against the workspace's table with the member's features added.
fn resolve<'a>(
    name: &'a str,
    dep: &'a Dependency,
    workspace: Option<&'a DepsSet>,
) -> (&'a str, Vec<&'a str>) {
    match dep {
        Dependency::Simple(_) => (name, Vec::new()),
        Dependency::Detailed(d) => (
            d.package.as_deref().unwrap_or(name),
            d.features.iter().map(String::as_str).collect(),
        ),
        Dependency::Inherited(inherited) => {
            let base = workspace.and_then(|w| w.get(name));
            let mut features: Vec<&str> = inherited.features.iter().map(String::as_str).collect();
            let mut package = name;
            if let Some(Dependency::Detailed(d)) = base {
                features.extend(d.features.iter().map(String::as_str));
                package = d.package.as_deref().unwrap_or(name);
            }
            (package, features)
        }
    }
}

/// The engines a crate reaches with these features: drivers by name, the multi-engine ORMs
/// (sqlx, diesel, sea-orm) by the backend features turned on.
fn engines_of(package: &str, features: &[&str]) -> Vec<&'static str> {
    let single = match package {
        "tokio-postgres" | "postgres" | "deadpool-postgres" | "bb8-postgres" | "sqlx-postgres"
        | "r2d2_postgres" => Some("postgres"),
        "rusqlite" | "sqlite" | "libsql" | "sqlx-sqlite" | "r2d2_sqlite" | "deadpool-sqlite" => {
            Some("sqlite")
        }
        "mysql" | "mysql_async" | "sqlx-mysql" => Some("mysql"),
        "redis" | "deadpool-redis" | "bb8-redis" | "fred" => Some("redis"),
        "mongodb" => Some("mongodb"),
        "tiberius" => Some("sqlserver"),
        "clickhouse" => Some("clickhouse"),
        _ => None,
    };
    if let Some(engine) = single {
        return vec![engine];
    }
    if !matches!(package, "sqlx" | "diesel" | "sea-orm" | "diesel-async") {
        return Vec::new();
    }
    let mut engines = Vec::new();
    for (needle, engine) in [
        ("postgres", "postgres"),
        ("mysql", "mysql"),
        ("sqlite", "sqlite"),
    ] {
        if features.iter().any(|f| f.contains(needle)) {
            engines.push(engine);
        }
    }
    engines
}

/// sqlx's offline data (`.sqlx/query-*.json`, or the older `sqlx-data.json`): the database the
/// queries were checked against (`"db_name": "PostgreSQL"`, `"db": "PostgreSQL"`).
pub(super) fn read_sqlx_offline(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let line = line.trim();
        let Some(value) = line
            .strip_prefix("\"db_name\":")
            .or_else(|| line.strip_prefix("\"db\":"))
        else {
            continue;
        };
        let value = value.trim().trim_end_matches(',').trim_matches('"');
        let engine = match value {
            "PostgreSQL" => "postgres",
            "MySQL" => "mysql",
            "SQLite" => "sqlite",
            _ => continue,
        };
        found.findings.push(manifest.finding(
            engine,
            ECOSYSTEM,
            &format!("sqlx offline data ({value})"),
            i + 1,
        ));
        return;
    }
}
