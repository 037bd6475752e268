//! Elixir: the drivers in `mix.exs` (`only: :test` and `optional: true` weaken them) and the Ecto
//! adapters named in `config/*.exs` (the repo's own database, per environment file).

use super::{Found, Manifest, Strength};

const ECOSYSTEM: &str = "elixir";
const DRIVERS: &[(&str, &str)] = &[
    ("{:postgrex", "postgres"),
    ("{:myxql", "mysql"),
    ("{:mariaex", "mysql"),
    ("{:ecto_sqlite3", "sqlite"),
    ("{:exqlite", "sqlite"),
    ("{:tds", "sqlserver"),
    ("{:redix", "redis"),
    ("{:ecto_ch", "clickhouse"),
    ("{:ch,", "clickhouse"),
    ("{:mongodb_driver", "mongodb"),
];
const ADAPTERS: &[(&str, &str)] = &[
    ("Ecto.Adapters.Postgres", "postgres"),
    ("Ecto.Adapters.MyXQL", "mysql"),
    ("Ecto.Adapters.SQLite3", "sqlite"),
    ("Ecto.Adapters.Tds", "sqlserver"),
    ("Ecto.Adapters.ClickHouse", "clickhouse"),
];

pub(super) fn read_mix(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        for (needle, engine) in DRIVERS {
            if !code.contains(needle) {
                continue;
            }
            let package = needle.trim_start_matches("{:").trim_end_matches(',');
            let strength = if code.contains("optional: true") {
                Strength::Optional
            } else if code.contains("only: :test") {
                Strength::Test
            } else if code.contains("only: :dev") || code.contains("only: [:dev") {
                Strength::Dev
            } else {
                Strength::Runtime
            };
            found.findings.push(
                manifest
                    .finding(engine, ECOSYSTEM, package, i + 1)
                    .with_strength(strength),
            );
        }
    }
}

/// `config/*.exs`: `adapter: Ecto.Adapters.Postgres`. `test.exs` and `dev.exs` speak for tests
/// and development only.
pub(super) fn read_config(manifest: &Manifest, found: &mut Found) {
    let file = manifest.rel.rsplit('/').next().unwrap_or_default();
    let strength = match file {
        "test.exs" => Strength::Test,
        "dev.exs" => Strength::Dev,
        _ => Strength::Runtime,
    };
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        for (adapter, engine) in ADAPTERS {
            if code.contains(adapter) {
                found.findings.push(
                    manifest
                        .finding(engine, ECOSYSTEM, adapter, i + 1)
                        .with_strength(strength),
                );
            }
        }
    }
}
