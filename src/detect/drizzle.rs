//! `drizzle.config.{ts,js,mjs,cjs,json}`: the `dialect` (drizzle-kit ≥ 0.21) or the older
//! `driver` decides the engine of the schema drizzle-kit migrates.

use std::sync::OnceLock;

use regex::Regex;

use super::{Found, Manifest};

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    static KEY: OnceLock<Regex> = OnceLock::new();
    let re = KEY.get_or_init(|| {
        Regex::new(r#"["']?\b(dialect|driver)["']?\s*:\s*["']([\w-]+)["']"#).expect("valid regex")
    });
    for caps in re.captures_iter(&manifest.text) {
        let value = caps.get(2).expect("group 2");
        let engine = match value.as_str() {
            "postgresql" | "pg" | "postgres" | "pglite" | "aws-data-api" => "postgres",
            "mysql" | "mysql2" | "singlestore" => "mysql",
            "sqlite" | "turso" | "libsql" | "better-sqlite" | "d1-http" | "expo" => "sqlite",
            _ => continue,
        };
        let key = caps.get(1).expect("group 1").as_str();
        found.findings.push(manifest.finding(
            engine,
            "drizzle",
            &format!("{key}: \"{}\"", value.as_str()),
            manifest.line_at(value.start()),
        ));
    }
}
