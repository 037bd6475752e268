//! `Cargo.toml`, read with the `cargo_toml` crate: drivers, and ORMs with their postgres feature.

use cargo_toml::{Dependency, Manifest as CargoManifest};

use super::{Found, Manifest};

const ECOSYSTEM: &str = "rust";

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let cargo = match CargoManifest::from_slice(manifest.text.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            found
                .warnings
                .push(manifest.warning(format!("not a valid Cargo.toml: {e}")));
            return;
        }
    };
    let tables = [
        &cargo.dependencies,
        &cargo.dev_dependencies,
        &cargo.build_dependencies,
    ];
    let workspace = cargo.workspace.as_ref().map(|w| &w.dependencies);
    let mut seen: Vec<&str> = Vec::new();
    for (name, dep) in tables.into_iter().chain(workspace).flatten() {
        if seen.contains(&name.as_str()) || !is_postgres(name, dep) {
            continue;
        }
        seen.push(name);
        let line = manifest
            .text
            .lines()
            .position(|l| l.trim_start().starts_with(name.as_str()))
            .map_or(1, |i| i + 1);
        found
            .findings
            .push(manifest.finding("postgres", ECOSYSTEM, name, line));
    }
}

fn is_postgres(name: &str, dep: &Dependency) -> bool {
    let features = |wanted: &dyn Fn(&str) -> bool| match dep {
        Dependency::Detailed(d) => d.features.iter().any(|f| wanted(f)),
        _ => false,
    };
    match dep.package().unwrap_or(name) {
        "tokio-postgres" | "postgres" | "deadpool-postgres" | "bb8-postgres" => true,
        "sqlx" | "diesel" => features(&|f| f == "postgres"),
        "sea-orm" => features(&|f| f.contains("postgres")),
        _ => false,
    }
}
