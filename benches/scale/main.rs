//! deploydb on a server with thousands of databases (issue #10): `list`, `check`, warm `ensure`
//! and `prune --dry-run` when the app has 20 databases among 100, 1,000 and 2,000, against the
//! one `psql` query a user would run instead; and a real `prune` against a bare `DROP DATABASE`
//! loop in one `psql` session, per dropped database. The other databases carry deploydb records
//! of another app (the worst case for the catalog filter, which cannot skip them by comment),
//! and each has its role, which the admin belongs to, as deploydb leaves them.
//!
//! `cargo bench --bench scale` (DEPLOYDB_BENCH_RUNS=N to change the repetitions,
//! DEPLOYDB_BENCH_NO_WRITE=1 to leave BENCHMARKS.md alone). It needs ~15 GB of free disk in the
//! temp folder for 2,000 databases, takes about ten minutes, and removes everything after.

#[allow(dead_code)]
#[path = "../floor/inputs.rs"]
mod inputs;
#[allow(dead_code)]
#[path = "../floor/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../floor/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../floor/table.rs"]
mod table;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use measure::{Stat, pair, time};
use server::{Bench, PASSWORD};
use table::{Row, Series};

/// The app's own databases, present at every size.
const APP_DATABASES: usize = 20;
const SIZES: [usize; 3] = [100, 1_000, 2_000];
/// Drops per prune round, and rounds (each side alternately).
const DROPS: usize = 50;
const ROUNDS: usize = 3;

fn main() {
    let runs: usize = std::env::var("DEPLOYDB_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let load_before = measure::load();
    let bench = Bench::start_in(runs, Some(PathBuf::from("/var/tmp")));
    // Shared isolation on both sides: the floor drops databases only, so deploydb must not be
    // dropping roles as well.
    fs::write(
        bench.repo.path().join("deploydb.toml"),
        "app = \"bench\"\nisolation = \"shared\"\n",
    )
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let live = scratch.path().join("live.txt");
    let mut live_branches = vec!["main".to_string()];
    for i in 0..APP_DATABASES {
        ensure(&bench, &format!("app-{i}"));
        live_branches.push(format!("app-{i}"));
    }
    fs::write(&live, live_branches.join("\n") + "\n").unwrap();
    let live = live.to_str().unwrap().to_string();
    let other_record = bench
        .superuser(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = 'bench--app-0'",
        )
        .trim()
        .replace("\"app\":\"bench\"", "\"app\":\"other\"");
    assert!(
        other_record.contains("\"app\":\"other\""),
        "the record's shape changed: {other_record}"
    );

    let listing = "select datname from pg_database where datname like 'bench-%'";
    let probe = "select 1 from pg_database where datname = 'bench--app-0'";
    let figures: [(&str, Vec<&str>, &str, &str); 4] = [
        ("list", vec!["list"], listing, "psql listing"),
        ("check", vec!["check"], probe, "psql probe"),
        (
            "warm ensure",
            vec!["ensure", "--timeline", "branch:app-0"],
            probe,
            "psql probe",
        ),
        (
            "prune --dry-run",
            vec!["prune", "--dry-run", "--branches-from", &live],
            listing,
            "psql listing",
        ),
    ];
    let mut points: Vec<Vec<(String, Stat, Stat)>> = vec![Vec::new(); figures.len()];
    let mut rows = Vec::new();
    let mut filled = 0;
    for size in SIZES {
        let existing = bench.count_databases();
        let add = size.saturating_sub(existing);
        fill(&bench, scratch.path(), filled, add, &other_record);
        filled += add;
        for (i, (_, args, floor_sql, _)) in figures.iter().enumerate() {
            let ours = || time(bench.deploydb(args));
            let floor = || time(bench.psql(floor_sql));
            ours();
            let (o, f) = pair(bench.runs, |_| ours(), |_| floor());
            points[i].push((bench.count_databases().to_string(), o, f));
            if size == *SIZES.last().unwrap() && i < 2 {
                rows.push(Row::within(
                    &format!(
                        "`{}` at {} databases, {APP_DATABASES} of them the app's",
                        figures[i].0,
                        bench.count_databases()
                    ),
                    &format!("`psql -c \"{floor_sql}\"`"),
                    (o, f),
                    50.0,
                ));
            }
        }
    }
    let mut series: Vec<Series> = figures
        .iter()
        .zip(points)
        .map(|((title, _, _, floor_name), points)| Series {
            title: format!("`{title}` as the server fills"),
            size_name: "databases on the server".into(),
            floor_name: (*floor_name).into(),
            points,
            why: "the catalog is read once and filtered on the server to the app's own names \
                  and records, and sizes are measured only for the rows shown; the filter still \
                  reads every database's comment, which is the growth that remains."
                .into(),
        })
        .collect();
    series[2].why = "one name looked up through pg_database's unique index, whatever the \
                     number of databases."
        .into();

    let (ours, floor) = prune_rounds(&bench, scratch.path(), &live);
    rows.push(Row::timed(
        &format!(
            "real `prune`, per dropped database ({DROPS} per round, {} databases on the server)",
            bench.count_databases()
        ),
        &format!("`DROP DATABASE` ×{DROPS} in one `psql -f` session, per database"),
        (ours, floor),
        1.2,
    ));

    let context = format!(
        "Measured on {} cores, PostgreSQL {}, release build, data on disk (/var/tmp), \
         {} interleaved runs per pair ({ROUNDS} rounds of {DROPS} drops for prune); \
         1-minute load average {load_before} before, {} after.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bench.superuser("show server_version").trim(),
        bench.runs,
        measure::load(),
    );
    let text = table::render(&rows, &series, &context);
    println!("\n{text}");
    if std::env::var_os("DEPLOYDB_BENCH_NO_WRITE").is_none() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
        table::write_into(&path, "scale", &text);
        println!("written into {}", path.display());
    }
}

fn ensure(bench: &Bench, branch: &str) {
    time(bench.deploydb(&["ensure", "--timeline", &format!("branch:{branch}")]));
}

/// `count` more databases of app `other`, each with a deploydb record and a role granted to
/// the admin (what role isolation leaves: an admin that belongs to every timeline's role),
/// created by the superuser from one script per hundred (CREATE DATABASE cannot share a
/// transaction).
fn fill(bench: &Bench, dir: &Path, from: usize, count: usize, record: &str) {
    for chunk in (from..from + count).collect::<Vec<_>>().chunks(100) {
        let mut sql = String::new();
        for n in chunk {
            let name = format!("other--filler-{n}");
            sql.push_str(&format!(
                "CREATE DATABASE \"{name}\";\nCOMMENT ON DATABASE \"{name}\" IS $r${record}$r$;\n\
                 CREATE ROLE \"{name}\" LOGIN;\nGRANT \"{name}\" TO bench_admin;\n"
            ));
        }
        run_script(bench, dir, "bench_super", &sql);
    }
}

/// Alternating rounds: deploydb prunes `DROPS` gone branches of the app; psql drops `DROPS`
/// plain databases the admin made, one statement each. Per-database times of each round.
fn prune_rounds(bench: &Bench, dir: &Path, live: &str) -> (Stat, Stat) {
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for i in 0..DROPS {
            ensure(bench, &format!("gone-{round}-{i}"));
        }
        ours.push(time(bench.deploydb(&["prune", "--branches-from", live])) / DROPS as u32);

        let create: String = (0..DROPS)
            .map(|i| format!("CREATE DATABASE \"floor-{round}-{i}\";\n"))
            .collect();
        run_script(bench, dir, "bench_admin", &create);
        let drop: String = (0..DROPS)
            .map(|i| format!("DROP DATABASE \"floor-{round}-{i}\";\n"))
            .collect();
        floor.push(time_script(bench, dir, "bench_admin", &drop) / DROPS as u32);
    }
    let left = bench.superuser("select count(*) from pg_database where datname like 'bench--gone-%' or datname like 'floor-%'");
    assert_eq!(left.trim(), "0", "both sides dropped everything");
    (Stat::of(ours), Stat::of(floor))
}

fn script_command(bench: &Bench, dir: &Path, user: &str, sql: &str) -> Command {
    let file = dir.join("script.sql");
    fs::write(&file, sql).unwrap();
    let password = if user == "bench_admin" {
        PASSWORD.to_string()
    } else {
        bench.super_password().to_string()
    };
    let mut c = Command::new(&bench.psql);
    c.args([
        "-XAtq",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-U",
        user,
    ])
    .args(["-d", "postgres", "-p", &bench.port().to_string(), "-f"])
    .arg(&file)
    .env_clear()
    .env("PGPASSWORD", password)
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    c
}

fn run_script(bench: &Bench, dir: &Path, user: &str, sql: &str) {
    time(script_command(bench, dir, user, sql));
}

fn time_script(bench: &Bench, dir: &Path, user: &str, sql: &str) -> Duration {
    time(script_command(bench, dir, user, sql))
}
