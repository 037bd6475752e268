//! Ruby: `gem "pg"` in the Gemfile, and the `adapter` in Rails' `config/database.yml`.

use super::{Found, Manifest};

const ECOSYSTEM: &str = "ruby";

pub(super) fn read_gemfile(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("gem ")
            .or_else(|| line.strip_prefix("gem("))
        else {
            continue;
        };
        let name = rest.trim().trim_start_matches(['"', '\'']);
        let name = &name[..name.find(['"', '\'']).unwrap_or(name.len())];
        let engine = match name {
            "pg" | "activerecord-postgis-adapter" | "sequel_pg" => "postgres",
            "mysql2" | "trilogy" => "mysql",
            "sqlite3" => "sqlite",
            "mongoid" => "mongodb",
            _ => continue,
        };
        found
            .findings
            .push(manifest.finding(engine, ECOSYSTEM, name, i + 1));
    }
}

pub(super) fn read_database_yml(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let Some(value) = line.trim().strip_prefix("adapter:") else {
            continue;
        };
        let adapter = value.trim().trim_matches(['"', '\'']);
        let engine = match adapter {
            "postgresql" | "postgis" => "postgres",
            "mysql2" | "trilogy" => "mysql",
            "sqlite3" => "sqlite",
            _ => continue,
        };
        found.findings.push(manifest.finding(
            engine,
            ECOSYSTEM,
            &format!("adapter: {adapter}"),
            i + 1,
        ));
    }
}
