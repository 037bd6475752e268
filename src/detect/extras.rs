//! Elixir (`mix.exs`), Java (`pom.xml`, `build.gradle(.kts)`) and PHP (`composer.json`): the
//! PostgreSQL driver named in each.

use serde_json::Value;

use super::{Found, Manifest};

pub(super) fn read_mix(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        if code.contains("{:postgrex") {
            found
                .findings
                .push(manifest.finding("postgres", "elixir", "postgrex", i + 1));
        } else if code.contains("{:myxql") {
            found
                .findings
                .push(manifest.finding("mysql", "elixir", "myxql", i + 1));
        }
    }
}

pub(super) fn read_pom(manifest: &Manifest, found: &mut Found) {
    // A <dependency> with groupId org.postgresql and artifactId postgresql, in either order.
    let text = &manifest.text;
    let mut from = 0;
    while let Some(start) = text[from..].find("<dependency>").map(|i| i + from) {
        let end = text[start..]
            .find("</dependency>")
            .map_or(text.len(), |i| start + i);
        let block = &text[start..end];
        if block.contains("<groupId>org.postgresql</groupId>")
            && block.contains("<artifactId>postgresql</artifactId>")
        {
            let at = start
                + block
                    .find("<artifactId>postgresql</artifactId>")
                    .unwrap_or(0);
            found.findings.push(manifest.finding(
                "postgres",
                "java",
                "org.postgresql:postgresql",
                manifest.line_at(at),
            ));
        }
        from = end;
    }
}

pub(super) fn read_gradle(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if code.contains("org.postgresql:postgresql")
            || code.contains("org.postgresql:r2dbc-postgresql")
        {
            found.findings.push(manifest.finding(
                "postgres",
                "java",
                "org.postgresql:postgresql",
                i + 1,
            ));
        }
    }
}

pub(super) fn read_composer(manifest: &Manifest, found: &mut Found) {
    let Some(json) = manifest.json(found) else {
        return;
    };
    let names: Vec<&str> = ["require", "require-dev"]
        .iter()
        .filter_map(|t| json.get(t).and_then(Value::as_object))
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    // Doctrine and Laravel reach PostgreSQL through pdo_pgsql, so the extension is the evidence.
    for name in &names {
        if matches!(*name, "ext-pgsql" | "ext-pdo_pgsql") {
            let line = manifest.line_of(&format!("\"{name}\""));
            found
                .findings
                .push(manifest.finding("postgres", "php", name, line));
        }
    }
}
