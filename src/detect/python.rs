//! Python: `requirements*.txt` lines and `pyproject.toml` dependency lists, with names
//! normalised as PEP 503 does, so `Psycopg2_Binary` is `psycopg2-binary`.

use super::{Found, Manifest};

const ECOSYSTEM: &str = "python";
const POSTGRES_PACKAGES: &[&str] = &[
    "psycopg",
    "psycopg2",
    "psycopg2-binary",
    "psycopg-binary",
    "asyncpg",
    "pg8000",
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
fn requirement_name(spec: &str) -> Option<String> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    (!name.is_empty()).then(|| normalise(name))
}

fn check(manifest: &Manifest, found: &mut Found, spec: &str, line: usize) {
    if let Some(name) = requirement_name(spec)
        && POSTGRES_PACKAGES.contains(&name.as_str())
    {
        found
            .findings
            .push(manifest.finding("postgres", ECOSYSTEM, &name, line));
    }
}

pub(super) fn read_requirements(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let line_text = line.split('#').next().unwrap_or_default().trim();
        // Options (-r, -c, -e, --index-url) are not requirements; included files are walked anyway.
        if line_text.is_empty() || line_text.starts_with('-') {
            continue;
        }
        check(manifest, found, line_text, i + 1);
    }
}

pub(super) fn read_pyproject(manifest: &Manifest, found: &mut Found) {
    let doc: toml::Table = match toml::from_str(&manifest.text) {
        Ok(t) => t,
        Err(e) => {
            found
                .warnings
                .push(manifest.warning(format!("not valid TOML: {}", e.message())));
            return;
        }
    };
    let project = doc.get("project");
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
    specs.extend(strings(project.and_then(|p| p.get("dependencies"))));
    if let Some(optional) = project
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(toml::Value::as_table)
    {
        for group in optional.values() {
            specs.extend(strings(Some(group)));
        }
    }
    // Poetry keeps dependencies as table keys.
    if let Some(poetry) = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(toml::Value::as_table)
    {
        specs.extend(poetry.keys().cloned());
    }
    for spec in specs {
        let Some(name) = requirement_name(&spec) else {
            continue;
        };
        let raw = spec
            .trim()
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .next()
            .unwrap_or_default()
            .to_string();
        let line = manifest.line_of(&raw);
        check(manifest, found, &name, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(normalise("Psycopg2_Binary"), "psycopg2-binary");
        assert_eq!(normalise("a.-_b"), "a-b");
        assert_eq!(
            requirement_name("psycopg[binary]>=3 ; python_version>'3'"),
            Some("psycopg".into())
        );
    }
}
