//! `deploydb detect` for people: one line per component with its engines, evidence and the
//! suggested migration command, and a plain sentence when nothing (or only another engine) was
//! found.

use std::collections::BTreeMap;

use super::{POSTGRES, Report};

/// Every name here comes from the repository (folder and file names, package and script names,
/// Cargo feature names), so each is printed inert: no control character, no line starting a
/// CI workflow command.
fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    crate::report::inert(text)
}

pub fn text(report: &Report, root: &str) -> String {
    let mut out = String::new();
    let mut components: BTreeMap<&str, Vec<&super::Finding>> = BTreeMap::new();
    for f in &report.findings {
        components.entry(f.component.as_str()).or_default().push(f);
    }
    for (component, findings) in &components {
        let mut engines: Vec<&str> = findings
            .iter()
            .filter(|f| !f.indirect && report.engines.contains(&f.engine))
            .map(|f| f.engine.as_str())
            .collect();
        engines.sort_unstable();
        engines.dedup();
        let evidence: Vec<String> = findings
            .iter()
            .map(|f| {
                let strength = match f.strength {
                    super::Strength::Runtime => String::new(),
                    other => format!(", {}", other.as_str()),
                };
                format!(
                    "{} ({}:{}{}{strength})",
                    safe(&f.package),
                    safe(&f.file),
                    f.line,
                    if f.indirect { ", indirect" } else { "" }
                )
            })
            .collect();
        let engines = if engines.is_empty() && findings.iter().all(|f| f.indirect) {
            "indirect only".to_string()
        } else if engines.is_empty() {
            "tests, examples or optional only".to_string()
        } else {
            engines.join(", ")
        };
        let shown = safe(component);
        out.push_str(&format!("{shown}: {engines} — {}\n", evidence.join(", ")));
        for m in report.migrations.iter().filter(|m| m.dir == *component) {
            out.push_str(&format!(
                "{shown}: migrate with {}: `{}`\n",
                m.tool,
                safe(&m.command)
            ));
        }
    }
    for m in report
        .migrations
        .iter()
        .filter(|m| !components.contains_key(m.dir.as_str()))
    {
        out.push_str(&format!(
            "{}: migrate with {}: `{}`\n",
            safe(&m.dir),
            m.tool,
            safe(&m.command)
        ));
    }
    for (component, engines) in &report.choices {
        let names: Vec<String> = engines.iter().map(|e| display(e)).collect();
        out.push_str(&format!(
            "{}: supports {} for its own database; the engine is the user's choice\n",
            safe(component),
            names.join(", ")
        ));
    }
    for w in &report.warnings {
        out.push_str(&format!(
            "warning: {}: {}\n",
            safe(&w.file),
            safe(&w.message)
        ));
    }
    if report.uses_postgres() {
        let n = components
            .values()
            .filter(|f| f.iter().any(|f| f.engine == POSTGRES && !f.indirect))
            .count();
        let chosen = report
            .choices
            .values()
            .filter(|engines| engines.iter().any(|e| e == POSTGRES))
            .count();
        let option = if chosen == 0 {
            String::new()
        } else {
            format!(" (an option the user chooses in {chosen})")
        };
        out.push_str(&format!(
            "PostgreSQL is used by {n} component{} in {root}{option}\n",
            if n == 1 { "" } else { "s" }
        ));
    } else if report.engines.is_empty() {
        out.push_str(&format!(
            "no database dependency found in {root}; deploydb has nothing to provision\n"
        ));
    } else {
        let others: Vec<String> = report.engines.iter().map(|e| display(e)).collect();
        let places: Vec<String> = components.keys().map(|c| safe(c).into_owned()).collect();
        out.push_str(&format!(
            "{} found in {}; deploydb provisions PostgreSQL only\n",
            others.join(" and "),
            places.join(", ")
        ));
    }
    out
}

fn display(engine: &str) -> String {
    match engine {
        "mysql" => "MySQL".into(),
        "sqlite" => "SQLite".into(),
        "mongodb" => "MongoDB".into(),
        "redis" => "Redis".into(),
        "sqlserver" => "SQL Server".into(),
        "cockroachdb" => "CockroachDB".into(),
        "postgres" => "PostgreSQL".into(),
        "clickhouse" => "ClickHouse".into(),
        "h2" => "H2".into(),
        other => other.into(),
    }
}
