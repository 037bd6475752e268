//! Ruby: the gems in the Gemfile (`group :test do … end` and `group:` options weaken them), and
//! the `adapter` per environment in Rails' `config/database.yml` (`test:` and `development:`
//! speak for those only).

use super::{Found, Manifest, Strength};

const ECOSYSTEM: &str = "ruby";

fn engine_of(gem: &str) -> Option<&'static str> {
    Some(match gem {
        "pg" | "activerecord-postgis-adapter" | "sequel_pg" => "postgres",
        "mysql2" | "trilogy" => "mysql",
        "sqlite3" => "sqlite",
        "mongoid" | "mongo" => "mongodb",
        "redis" | "redis-client" | "hiredis" | "redis-rails" | "sidekiq" => "redis",
        "activerecord-sqlserver-adapter" | "tiny_tds" => "sqlserver",
        _ => return None,
    })
}

/// The strength of a `group …` list: `:production` (or none) is runtime, one with
/// `:development` is dev, tests only is test.
fn group_strength(groups: &str) -> Strength {
    let names: Vec<&str> = groups
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty() && *w != "group" && *w != "do" && *w != "groups")
        .collect();
    if names.is_empty() || names.iter().any(|n| *n == "production" || *n == "default") {
        Strength::Runtime
    } else if names.iter().any(|n| n.contains("dev")) {
        Strength::Dev
    } else if names.iter().all(|n| n.contains("test")) {
        Strength::Test
    } else {
        Strength::of_group(&names.join(" ")).max(Strength::Dev)
    }
}

pub(super) fn read_gemfile(manifest: &Manifest, found: &mut Found) {
    // The groups of the enclosing `group … do` blocks, innermost last; other `do` blocks
    // (platforms, source) push nothing that weakens.
    let mut blocks: Vec<Strength> = Vec::new();
    for (i, line) in manifest.text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line == "end" {
            blocks.pop();
            continue;
        }
        if line.ends_with(" do") || line.contains(" do |") {
            let strength = if line.starts_with("group") {
                group_strength(line)
            } else {
                Strength::Runtime
            };
            blocks.push(strength);
            continue;
        }
        let Some(rest) = line
            .strip_prefix("gem ")
            .or_else(|| line.strip_prefix("gem("))
        else {
            continue;
        };
        let name = rest.trim().trim_start_matches(['"', '\'']);
        let name = &name[..name.find(['"', '\'']).unwrap_or(name.len())];
        let Some(engine) = engine_of(name) else {
            continue;
        };
        let mut strength = blocks.iter().copied().max().unwrap_or_default();
        if let Some(at) = rest.find("group:").or_else(|| rest.find("groups:")) {
            strength = strength.max(group_strength(&rest[at..]));
        }
        if rest.contains("require: false") && engine != "postgres" && engine != "mysql" {
            // Loaded on demand, usually by an optional integration.
            strength = strength.max(Strength::Optional);
        }
        found.findings.push(
            manifest
                .finding(engine, ECOSYSTEM, name, i + 1)
                .with_strength(strength),
        );
    }
}

pub(super) fn read_database_yml(manifest: &Manifest, found: &mut Found) {
    let mut environment = Strength::Runtime;
    for (i, line) in manifest.text.lines().enumerate() {
        // A top-level key (`production:`, `test:`, `default: &default`) starts an environment.
        if !line.starts_with([' ', '\t', '#']) && line.contains(':') {
            let key = line.split(':').next().unwrap_or_default().trim();
            environment = match key {
                "test" => Strength::Test,
                "development" => Strength::Dev,
                _ => Strength::Runtime,
            };
        }
        let Some(value) = line.trim().strip_prefix("adapter:") else {
            continue;
        };
        let adapter = value.trim().trim_matches(['"', '\'']);
        let mut engines: Vec<&str> = Vec::new();
        // `<%= ENV.fetch("DB_ADAPTER", "postgresql") %>` or a literal adapter.
        for (name, engine) in [
            ("postgresql", "postgres"),
            ("postgis", "postgres"),
            ("mysql2", "mysql"),
            ("trilogy", "mysql"),
            ("sqlite3", "sqlite"),
            ("sqlserver", "sqlserver"),
        ] {
            if adapter.contains(name) && !engines.contains(&engine) {
                engines.push(engine);
            }
        }
        for engine in engines {
            found.findings.push(
                manifest
                    .finding(engine, ECOSYSTEM, &format!("adapter: {adapter}"), i + 1)
                    .with_strength(environment),
            );
        }
    }
}
