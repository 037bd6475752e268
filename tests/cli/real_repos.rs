//! `deploydb detect` on real open-source applications (`fixtures/real/<name>/`: the files
//! detection reads, at their real paths, with a `SOURCE` line naming the repository and commit),
//! compared with what each project's own documentation says (`expected.toml`, written before
//! deploydb was run on it). Three scores, as issue #13 measures them: the exact set of engines,
//! the exact set of (migration tool, folder), and whether PostgreSQL is needed at all. The
//! README's detection section states the scores; this test keeps it true. The cases still wrong
//! are listed below with the reason; a listed case that becomes right fails the test too, so the
//! list only shrinks.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{deploydb, fixtures, run};

/// (fixture, score, why it is still wrong). Each reason says what the manifests cannot show.
const KNOWN_MISSES: &[(&str, Score, &str)] = &[
    (
        "atuin",
        Score::Migrations,
        "six crates embed their sqlx migrations (`sqlx::migrate!`) and run them at start-up; \
         only the Rust source says so, so detect lists six sqlx-cli candidates and `auto` refuses",
    ),
    (
        "ckan",
        Score::Migrations,
        "CKAN's own `ckan db upgrade` drives the core's and each extension's Alembic folders; \
         detect offers each alembic.ini",
    ),
    (
        "ctfd",
        Score::Engines,
        "PostgreSQL is documented on docs.ctfd.io; in the repository psycopg2 is only in a dev \
         group",
    ),
    (
        "ctfd",
        Score::Postgres,
        "PostgreSQL support is documented outside the repository; no manifest names a driver",
    ),
    (
        "docmost",
        Score::Engines,
        "@clickhouse/client is a runtime dependency of an optional analytics feature",
    ),
    (
        "docmost",
        Score::Migrations,
        "the docs run `pnpm nx run server:migration:latest` from the root; detect offers the \
         server package's own `migration:latest` script (a Kysely migrator of the project's own)",
    ),
    (
        "formbricks",
        Score::Migrations,
        "the runner is the project's own script feeding Prisma; detect names it `script`",
    ),
    (
        "karakeep",
        Score::Migrations,
        "`db:migrate` runs the project's own migrate.ts (drizzle-orm's migrator); detect names \
         it `script`",
    ),
    (
        "lemmy",
        Score::Migrations,
        "diesel's layout, but a trigger in the migrations refuses the diesel CLI: only \
         `lemmy_server migration` may run them, which no manifest says",
    ),
    (
        "logto",
        Score::Migrations,
        "`logto db alteration deploy` is the app's own CLI over its alterations/ folder",
    ),
    (
        "mealie",
        Score::Migrations,
        "the app runs Alembic itself at start-up; a plain alembic.ini looks like a command to run",
    ),
    (
        "miniflux",
        Score::Migrations,
        "migrations are Go code run by `miniflux -migrate`",
    ),
    (
        "monica",
        Score::Engines,
        "PostgreSQL support shows only in the CI matrix; every file shipped names SQLite or MySQL",
    ),
    (
        "monica",
        Score::Postgres,
        "PostgreSQL support shows only in the CI matrix",
    ),
    (
        "pixelfed",
        Score::Engines,
        "PostgreSQL support is documented outside the repository; the env files name MySQL",
    ),
    (
        "pixelfed",
        Score::Postgres,
        "PostgreSQL support is documented outside the repository",
    ),
    (
        "plane",
        Score::Engines,
        "pymongo is a runtime requirement used only when MONGO_DB_URL is set",
    ),
    (
        "tandoor",
        Score::Engines,
        "redis is a runtime requirement used only as an optional cache",
    ),
    (
        "uptime-kuma",
        Score::Engines,
        "pg, mssql, mongodb and redis are drivers for the databases it monitors, not its store",
    ),
    (
        "uptime-kuma",
        Score::Postgres,
        "pg is a monitoring driver, not the app's own database",
    ),
    (
        "wikijs",
        Score::Engines,
        "mongodb is a driver for an optional storage module",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Score {
    Engines,
    Migrations,
    Postgres,
}

struct Expected {
    postgres: bool,
    engines: BTreeSet<String>,
    configurable: bool,
    migrations: BTreeSet<(String, String)>,
}

fn expected(dir: &Path) -> Expected {
    let path = dir.join("expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let strings = |v: Option<&toml::Value>| -> BTreeSet<String> {
        v.and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let migrations = doc
        .get("migrations")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            let field = |k: &str| m.get(k).and_then(toml::Value::as_str).unwrap_or_default();
            (field("tool").to_string(), field("dir").to_string())
        })
        .collect();
    Expected {
        postgres: doc
            .get("postgres")
            .and_then(toml::Value::as_bool)
            .unwrap_or_else(|| panic!("{}: no `postgres`", path.display())),
        engines: strings(doc.get("engines")),
        configurable: doc
            .get("configurable")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false),
        migrations,
    }
}

/// Every case, the README's score line, and the known misses agree with what detect says.
#[test]
fn real_repositories_are_read_as_their_documentation_says() {
    let root = fixtures().join("real");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 40,
        "the corpus has {} repositories",
        names.len()
    );
    let mut wrong: Vec<(String, Score, String)> = Vec::new();
    let mut right = [0usize; 3];
    let mut configurable_right = 0;
    for name in &names {
        let dir = root.join(name);
        let source = std::fs::read_to_string(dir.join("SOURCE")).unwrap_or_default();
        assert!(
            source.starts_with("github:") && source.contains('@'),
            "{name}: SOURCE must name the repository and commit"
        );
        let want = expected(&dir);
        let got = run(deploydb(&dir, &["detect", ".", "--format", "json"], &[]))
            .expect_code(0)
            .json();
        let engines: BTreeSet<String> = got["engines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect();
        let migrations: BTreeSet<(String, String)> = got["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["tool"].as_str().unwrap().to_string(),
                    m["dir"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let configurable = got
            .get("choices")
            .and_then(|c| c.as_object())
            .is_some_and(|c| !c.is_empty());
        let checks = [
            (
                Score::Engines,
                engines == want.engines,
                format!("engines {engines:?}, documented {:?}", want.engines),
            ),
            (
                Score::Migrations,
                migrations == want.migrations,
                format!(
                    "migrations {migrations:?}, documented {:?}",
                    want.migrations
                ),
            ),
            (
                Score::Postgres,
                engines.contains("postgres") == want.postgres,
                format!(
                    "postgres {}, documented {}",
                    engines.contains("postgres"),
                    want.postgres
                ),
            ),
        ];
        for (i, (score, ok, detail)) in checks.into_iter().enumerate() {
            if ok {
                right[i] += 1;
            } else {
                wrong.push((name.clone(), score, detail));
            }
        }
        configurable_right += usize::from(configurable == want.configurable);
    }
    let n = names.len();
    let line = format!(
        "engines exact {}/{n}, tool and folder exact {}/{n}, PostgreSQL yes/no {}/{n}",
        right[0], right[1], right[2]
    );
    let report: Vec<String> = wrong
        .iter()
        .map(|(name, score, detail)| format!("{name} {score:?}: {detail}"))
        .collect();
    eprintln!("{line}; engine choice flagged right {configurable_right}/{n}");
    eprintln!("{}", report.join("\n"));
    let unlisted: Vec<&String> = wrong
        .iter()
        .zip(&report)
        .filter(|((name, score, _), _)| {
            !KNOWN_MISSES.iter().any(|(n, s, _)| n == name && s == score)
        })
        .map(|(_, r)| r)
        .collect();
    assert!(
        unlisted.is_empty(),
        "wrong and not listed as known:\n{unlisted:#?}"
    );
    let fixed: Vec<&(&str, Score, &str)> = KNOWN_MISSES
        .iter()
        .filter(|(n, s, _)| !wrong.iter().any(|(name, score, _)| name == n && score == s))
        .collect();
    assert!(
        fixed.is_empty(),
        "listed as known misses but right now: {fixed:?}"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Score on {n} real repositories: {line}.")),
        "README's detection section should say: Score on {n} real repositories: {line}."
    );
}
