//! Prisma schemas (`prisma/schema.prisma`, or the multi-file `prisma/schema/` folder): the
//! `datasource` block's `provider` decides the engine, whatever client packages are installed.

use std::sync::OnceLock;

use regex::Regex;

use super::{Found, Manifest};

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    static DATASOURCE: OnceLock<Regex> = OnceLock::new();
    let re = DATASOURCE.get_or_init(|| {
        Regex::new(r#"(?ms)^\s*datasource\s+\w+\s*\{[^}]*?\bprovider\s*=\s*"([^"]*)""#)
            .expect("valid regex")
    });
    // In a multi-file schema only one file has the datasource; the others say nothing.
    let Some(caps) = re.captures(&manifest.text) else {
        return;
    };
    let provider = caps.get(1).expect("group 1");
    let engine = match provider.as_str() {
        "postgresql" | "postgres" => "postgres",
        "mysql" => "mysql",
        "sqlite" => "sqlite",
        "sqlserver" => "sqlserver",
        "mongodb" => "mongodb",
        "cockroachdb" => "cockroachdb",
        other => {
            found
                .warnings
                .push(manifest.warning(format!("unknown datasource provider `{other}`")));
            return;
        }
    };
    let package = format!("provider = \"{}\"", provider.as_str());
    found.findings.push(manifest.finding(
        engine,
        "prisma",
        &package,
        manifest.line_at(provider.start()),
    ));
}
