//! `Cargo.toml`, read with the `cargo_toml` crate: drivers, and ORMs with their postgres
//! feature. `dep = { workspace = true }` resolves to the workspace root's
//! `[workspace.dependencies]`, with the member's extra features added.

use std::path::Path;

use cargo_toml::{Dependency, DepsSet, Manifest as CargoManifest};

use super::{Found, Manifest};

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
    let tables = [
        &cargo.dependencies,
        &cargo.dev_dependencies,
        &cargo.build_dependencies,
    ];
    let mut seen: Vec<&str> = Vec::new();
    // A workspace root's own [workspace.dependencies] only declare versions: a member that uses
    // them is what counts, and it is read on its own.
    for (name, dep) in tables.into_iter().flatten() {
        if seen.contains(&name.as_str()) || !is_postgres(name, dep, workspace.as_ref()) {
            continue;
        }
        seen.push(name);
        let line = manifest.line_where(|l| {
            let l = l.trim_start();
            l.starts_with(name.as_str()) && l[name.len()..].trim_start().starts_with(['=', '.'])
        });
        found
            .findings
            .push(manifest.finding("postgres", ECOSYSTEM, name, line));
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

fn is_postgres(name: &str, dep: &Dependency, workspace: Option<&DepsSet>) -> bool {
    let (package, features): (&str, Vec<&str>) = match dep {
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
    };
    match package {
        "tokio-postgres" | "postgres" | "deadpool-postgres" | "bb8-postgres" | "sqlx-postgres" => {
            true
        }
        "sqlx" | "diesel" => features.contains(&"postgres"),
        "sea-orm" => features.iter().any(|f| f.contains("postgres")),
        _ => false,
    }
}
