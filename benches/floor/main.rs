//! deploydb against the floors a user would compare it with, measured side by side in one run
//! on one throwaway server: the real `psql` binary, `cat` as the hop any log relay must make,
//! `pgbench -C` for bare connections, `find` and `rg --files` for the walk. Each pair runs
//! interleaved; the table shows medians with min–max and the machine's load, and is written
//! into BENCHMARKS.md.
//!
//! `cargo bench --bench floor` (DEPLOYDB_BENCH_RUNS=N to change the repetitions,
//! DEPLOYDB_BENCH_LARGE=1 to add the 1,000,000-file and 1,000-database points,
//! DEPLOYDB_BENCH_NO_WRITE=1 to leave BENCHMARKS.md alone).

mod inputs;
mod install;
mod measure;
// The release assets and their loopback server, as the ship tests build them.
#[allow(dead_code)]
#[path = "../../tests/cli/release.rs"]
mod release;
// Shared with benches/scale, which uses parts this bench does not.
#[allow(dead_code)]
mod server;
#[allow(dead_code)]
mod table;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::{Stat, pair, peak_rss, time};
use server::{Bench, EXE};
use table::{Row, Series};

const MIB: usize = 1 << 20;

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported and is ignored.
    let runs: usize = std::env::var("DEPLOYDB_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let large = std::env::var("DEPLOYDB_BENCH_LARGE").is_ok_and(|v| v == "1");
    let load_before = measure::load();
    let bench = Bench::start(runs);
    let mut rows = Vec::new();
    let mut series = Vec::new();

    // DEPLOYDB_BENCH_ONLY=relay,detect measures those groups only (and never rewrites
    // BENCHMARKS.md, whose table is the whole set).
    let only = std::env::var("DEPLOYDB_BENCH_ONLY").ok();
    let wanted = |group: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|g| g == group))
    };
    if wanted("ensure") {
        ensure_figures(&bench, &mut rows, &mut series, large);
    }
    if wanted("detect") {
        detect_figures(&bench, &mut rows, &mut series, large);
    }
    if wanted("relay") {
        relay_figures(&bench, &mut rows, &mut series);
    }
    if wanted("herd") {
        herd_figures(&bench, &mut rows, &mut series);
    }
    if wanted("script") {
        script_figures(&bench, &mut rows);
    }
    if wanted("sql") {
        sql_migrator_figures(&bench, &mut rows);
    }
    if wanted("rss") {
        rss_figures(&bench, &mut rows);
    }
    if wanted("install") {
        install::figures(runs, &mut rows);
    }

    let context = format!(
        "Measured {} on {} ({} cores), PostgreSQL {}, release build, {runs} interleaved runs per \
         pair (fewer for the relay and the herd); 1-minute load average {load_before} before, {} after.",
        today(),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bench.superuser("show server_version").trim(),
        measure::load(),
    );
    let text = table::render(&rows, &series, &context);
    println!("\n{text}");
    if std::env::var_os("DEPLOYDB_BENCH_NO_WRITE").is_none() && only.is_none() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
        table::write_into(&path, "floor", &text);
        println!("written into {}", path.display());
    }
}

/// Warm and cold ensure against the psql calls they replace; warm ensure as the server fills.
fn ensure_figures(bench: &Bench, rows: &mut Vec<Row>, series: &mut Vec<Series>, large: bool) {
    let warm = || time(bench.deploydb(&["ensure", "--timeline", "branch:warm"]));
    let probe = || time(bench.psql("select 1 from pg_database where datname='bench--warm'"));
    warm();
    rows.push(Row::timed(
        "warm `ensure` (the database exists)",
        "`psql -c \"select 1 from pg_database where datname=…\"`",
        pair(bench.runs, |_| warm(), |_| probe()),
        0.5,
    ));
    // The usual redeploy comes a minute or more after the last, so the record's deploy time is
    // rewritten: the record is made old (by the superuser, untimed) before each run.
    let age = || {
        bench.superuser(
            "DO $$ BEGIN EXECUTE (SELECT format('COMMENT ON DATABASE %I IS %L', datname, \
             jsonb_set(pg_catalog.shobj_description(oid, 'pg_database')::jsonb, \
             '{last_deployed_at}', '\"2020-01-01T00:00:00Z\"')::text) \
             FROM pg_database WHERE datname = 'bench--warm'); END $$",
        )
    };
    rows.push(Row::timed(
        "warm `ensure`, last deployed a minute or more ago (rewrites the deploy time)",
        "`psql -c \"select 1 from pg_database where datname=…\"`",
        pair(
            bench.runs,
            |_| {
                age();
                warm()
            },
            |_| probe(),
        ),
        0.5,
    ));
    for (isolation, label) in [("role", "role isolation"), ("shared", "shared isolation")] {
        let cold = |i: usize| {
            let mut c = bench.deploydb(&[
                "ensure",
                "--timeline",
                &format!("branch:cold-{isolation}-{i}"),
            ]);
            c.env("DEPLOYDB_ISOLATION", isolation);
            time(c)
        };
        let create =
            |i: usize| time(bench.psql(&format!("CREATE DATABASE \"psql-cold-{isolation}-{i}\"")));
        rows.push(Row::timed(
            &format!("cold `ensure`, {label} (creates, records, checks the new database answers)"),
            "`psql -c 'CREATE DATABASE …'`",
            pair(bench.runs, cold, create),
            1.0,
        ));
    }
    let mut points = Vec::new();
    // The first point is what the rows above left (about 50); then two more.
    let mut counts = vec![10, 150, 400];
    if large {
        counts.push(1_000);
    }
    let mut existing = bench.count_databases();
    for target in counts {
        while existing < target {
            bench.superuser(&format!("CREATE DATABASE \"filler-{existing}\""));
            existing += 1;
        }
        let (ours, floor) = pair(bench.runs, |_| warm(), |_| probe());
        points.push((existing.to_string(), ours, floor));
    }
    series.push(Series {
        title: "warm ensure as the server fills".into(),
        size_name: "databases on the server".into(),
        floor_name: "psql probe".into(),
        points,
        why: "both look one name up through pg_database's unique index, so neither grows with \
              the number of databases; deploydb's cost is one connection and one query."
            .into(),
    });
}

/// detect against `find` and `rg --files` with the same prunes and names, at three sizes.
fn detect_figures(bench: &Bench, rows: &mut Vec<Row>, series: &mut Vec<Series>, large: bool) {
    let mut sizes = vec![1_000, 10_000, 100_000];
    if large {
        sizes.push(1_000_000);
    }
    let (mut against_find, mut against_rg) = (Vec::new(), Vec::new());
    for files in sizes {
        let repo = inputs::generate_monorepo(files);
        let root = repo.path();
        let detect = || {
            let mut c = Command::new(EXE);
            c.args(["detect", "--format", "json"])
                .arg(root)
                .stdout(Stdio::null());
            c
        };
        // Warm the page cache for all three, as a runner that just checked out has it, and
        // make sure deploydb found the apps that use pg and nothing inside node_modules.
        let output = detect().stdout(Stdio::piped()).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["engines"],
            serde_json::json!(["postgres"]),
            "mysql leaked in or pg was missed"
        );
        time(inputs::find_command(root));
        let label = format!("{files}");
        let find = pair(
            bench.runs,
            |_| time(detect()),
            |_| time(inputs::find_command(root)),
        );
        if files == 10_000 {
            rows.push(Row::timed(
                "`detect`, 10,000-file monorepo",
                "`find` with the same prunes",
                find,
                0.8,
            ));
        }
        against_find.push((label.clone(), find.0, find.1));
        if inputs::rg_command(root).is_some() {
            let rg = pair(
                bench.runs,
                |_| time(detect()),
                |_| time(inputs::rg_command(root).unwrap()),
            );
            if files == 100_000 {
                rows.push(Row::timed(
                    "`detect`, 100,000-file monorepo",
                    "`rg --files` with the same prunes",
                    rg,
                    1.0,
                ));
            }
            against_rg.push((label, rg.0, rg.1));
        }
    }
    series.push(Series {
        title: "detect against find".into(),
        size_name: "files in the tree".into(),
        floor_name: "find".into(),
        points: against_find,
        why: "all three prune node_modules and the like, so cost follows the files outside them \
              (5% here); detect also parses each manifest it finds. At 1,000 files both are \
              mostly start-up: deploydb's is about 4.5 ms on an empty folder (an 8.5 MB binary \
              and two walker threads, woken on idle cores), find's about 2 ms; the parallel walk \
              makes that up before 10,000 files."
            .into(),
    });
    if !against_rg.is_empty() {
        series.push(Series {
            title: "detect against rg --files".into(),
            size_name: "files in the tree".into(),
            floor_name: "rg --files".into(),
            points: against_rg,
            why: "rg walks in parallel and honours .gitignore as detect does; the same work."
                .into(),
        });
    }
}

/// The migration log relay against the `cat` hop any redacting relay must make, with a producer
/// (`cat` of a file on tmpfs) that is never the bottleneck, into a file and into a pipe.
fn relay_figures(bench: &Bench, rows: &mut Vec<Row>, series: &mut Vec<Series>) {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    time(bench.deploydb(&["ensure", "--timeline", "branch:relay"]));
    let runs = bench.runs.min(7);
    let sink = dir.path().join("sink");
    let relay = |src: &Path| {
        bench.deploydb(&[
            "run",
            "--timeline",
            "branch:relay",
            "--",
            "cat",
            src.to_str().unwrap(),
        ])
    };
    let hop = |src: &Path| {
        let mut c = Command::new("sh");
        c.args(["-c", "cat \"$1\" | cat", "sh"]).arg(src);
        c
    };
    let into_file = |mut c: Command| {
        c.stdout(fs::File::create(&sink).unwrap());
        time(c)
    };
    for (name, line, bytes) in [
        // Sizes at which `run -- true` (detect, timeline, ensure, export: ~20 ms) is under 2 %.
        ("short (16-byte) lines, 1.5 GiB", 16, 1536 * MIB),
        ("typical (65-byte) lines, 2 GiB", 65, 2048 * MIB),
        ("very long (1 MiB) lines, 2 GiB", MIB, 2048 * MIB),
    ] {
        let src = inputs::log_file(dir.path(), line, bytes);
        let file = pair(runs, |_| into_file(relay(&src)), |_| into_file(hop(&src)));
        let got = fs::metadata(&sink).map(|m| m.len()).unwrap_or(0);
        assert_eq!(got as usize, bytes, "the sink got {got} bytes");
        rows.push(Row::timed(
            &format!("relay into a file: {name}"),
            "`cat log | cat > file`",
            file,
            1.05,
        ));
        let pipe = pair(runs, |_| into_pipe(relay(&src)), |_| into_pipe(hop(&src)));
        rows.push(Row::timed(
            &format!("relay into a pipe: {name}"),
            "`cat log | cat | cat > /dev/null`",
            pipe,
            1.05,
        ));
        fs::remove_file(&src).unwrap();
    }
    let mut points = Vec::new();
    for bytes in [64 * MIB, 256 * MIB, 1024 * MIB] {
        let src = inputs::log_file(dir.path(), 65, bytes);
        let (ours, floor) = pair(runs, |_| into_file(relay(&src)), |_| into_file(hop(&src)));
        points.push((format!("{} MiB", bytes / MIB), ours, floor));
        fs::remove_file(&src).unwrap();
    }
    let startup = Stat::of(
        (0..runs)
            .map(|_| time(bench.deploydb(&["run", "--timeline", "branch:relay", "--", "true"])))
            .collect(),
    );
    series.push(Series {
        title: "relay as output grows (65-byte lines into a file)".into(),
        size_name: "bytes of output".into(),
        floor_name: "cat hop".into(),
        points,
        why: format!(
            "both are linear in the bytes; deploydb adds a fixed {} for detect, timeline, ensure and \
             export (`run -- true`), which is under 2% from 1 GiB on.",
            startup.render()
        ),
    });
}

/// The consumer side of a pipe: `first | cat > /dev/null`, timed until both have exited.
fn into_pipe(mut first: Command) -> Duration {
    let started = Instant::now();
    let mut producer = first.stdout(Stdio::piped()).spawn().unwrap();
    let out = producer.stdout.take().unwrap();
    let mut consumer = Command::new("cat")
        .stdin(out)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(producer.wait().unwrap().success());
    assert!(consumer.wait().unwrap().success());
    started.elapsed()
}

/// Concurrent ensures of one new database against as many bare connections (`pgbench -C`).
fn herd_figures(bench: &Bench, rows: &mut Vec<Row>, series: &mut Vec<Series>) {
    if !bench.bin_dir.join("pgbench").is_file() {
        eprintln!("no pgbench beside the server binaries: herd figures skipped");
        return;
    }
    let runs = bench.runs.min(7);
    let mut points = Vec::new();
    for clients in [8, 16, 32] {
        let herd = |i: usize| {
            let timeline = format!("branch:herd-{clients}-{i}");
            let started = Instant::now();
            let children: Vec<_> = (0..clients)
                .map(|_| {
                    bench
                        .deploydb(&["ensure", "--timeline", &timeline])
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in children {
                let output = child.wait_with_output().unwrap();
                assert!(
                    output.status.success(),
                    "a racing ensure failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            started.elapsed()
        };
        let bare = |_| time(bench.bare_connections(clients));
        let result = pair(runs, herd, bare);
        if clients == 32 {
            rows.push(Row::timed(
                "32 concurrent `ensure`s of one new database (wall)",
                "32 bare connections (`pgbench -C -c 32 -t 1`)",
                result,
                1.1,
            ));
        }
        points.push((clients.to_string(), result.0, result.1));
    }
    series.push(Series {
        title: "the herd".into(),
        size_name: "concurrent runs".into(),
        floor_name: "bare connections".into(),
        points,
        why: "on two cores, connection set-up (fork, authentication, backend start) is the cost \
              and grows linearly with the runs; one of them creates the database while the \
              others wait on its lock and read once."
            .into(),
    });
}

/// A whole GitLab job's worth (`run -- true`) against the bash + psql script a team would write.
/// The built-in SQL migrator (`[migrate] command = "sql"`) on a new branch: 40 migration files
/// applied in order, each in its own transaction and recorded in the ledger, against what a
/// user would run instead: `CREATE DATABASE`, then `psql -f` of the same files.
fn sql_migrator_figures(bench: &Bench, rows: &mut Vec<Row>) {
    const FILES: usize = 40;
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    fs::create_dir_all(dir.join(".git")).unwrap();
    fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(dir.join("package.json"), r#"{"dependencies":{"pg":"8"}}"#).unwrap();
    fs::write(
        dir.join("deploydb.toml"),
        "app = \"sqlbench\"\nisolation = \"shared\"\n[migrate]\ncommand = \"sql\"\n",
    )
    .unwrap();
    let migrations = dir.join("db/migrations");
    fs::create_dir_all(&migrations).unwrap();
    let files: Vec<String> = (1..=FILES)
        .map(|i| {
            let path = migrations.join(format!("{i:04}_table_{i}.sql"));
            fs::write(
                &path,
                format!(
                    "CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL, \
                     created_at timestamptz NOT NULL DEFAULT now());\n\
                     CREATE INDEX t{i}_name ON t{i} (name);\n"
                ),
            )
            .unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect();
    let ours = |i: usize| {
        let mut c = bench.deploydb(&["run", "--timeline", &format!("branch:sql-{i}")]);
        c.current_dir(dir);
        time(c)
    };
    let theirs = |i: usize| {
        let db = format!("psql-sql-{i}");
        let create = time(bench.psql(&format!("CREATE DATABASE \"{db}\"")));
        let mut apply = Command::new(&bench.psql);
        apply
            .args([
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "bench_admin",
            ])
            .args(["-p", &bench.port().to_string(), "-d", &db]);
        for file in &files {
            apply.arg("-f").arg(file);
        }
        apply
            .env_clear()
            .env("PGPASSWORD", server::PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        create + time(apply)
    };
    rows.push(Row::timed(
        &format!("built-in SQL migrator, a new branch, {FILES} files (`run`)"),
        "`psql -c 'CREATE DATABASE …'` + `psql -f` of the same files",
        pair(bench.runs, ours, theirs),
        1.1,
    ));
}

fn script_figures(bench: &Bench, rows: &mut Vec<Row>) {
    let script = inputs::script_floor(bench.repo.path(), &bench.psql);
    let report = bench.repo.path().join("deploydb.env");
    let ours = |branch: String| {
        let mut c = bench.deploydb(&[
            "run",
            "--dotenv-file",
            report.to_str().unwrap(),
            "--",
            "true",
        ]);
        // The script creates no role, so neither does deploydb here: the same job.
        c.env("DEPLOYDB_ISOLATION", "shared")
            .env("GITLAB_CI", "true")
            .env("CI_PIPELINE_SOURCE", "push")
            .env("CI_COMMIT_BRANCH", branch)
            .env("CI_DEFAULT_BRANCH", "main");
        time(c)
    };
    let theirs = |branch: String| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .arg(branch)
            .arg(bench.port().to_string())
            .current_dir(bench.repo.path())
            .env("PGPASSWORD", server::PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        time(c)
    };
    ours("Feature/Warm-Job".into());
    theirs("Feature/Warm-Job".into());
    rows.push(Row::timed(
        "`run -- true`, a branch deployed again (GitLab job, dotenv report)",
        "bash + psql script (slug, check, export)",
        pair(
            bench.runs,
            |_| ours("Feature/Warm-Job".into()),
            |_| theirs("Feature/Warm-Job".into()),
        ),
        0.5,
    ));
    rows.push(Row::timed(
        "`run -- true`, a new branch (creates the database)",
        "bash + psql script (slug, check, create, export)",
        pair(
            bench.runs,
            |i| ours(format!("Feature/Cold-{i}")),
            |i| theirs(format!("Feature/Script-{i}")),
        ),
        1.0,
    ));
}

/// Peak RSS of each command that talks to the server or walks the tree.
fn rss_figures(bench: &Bench, rows: &mut Vec<Row>) {
    let monorepo = inputs::generate_monorepo(100_000);
    let detect = {
        let mut c = Command::new(EXE);
        c.args(["detect", "--format", "json"])
            .arg(monorepo.path())
            .stdout(Stdio::null());
        c
    };
    let commands: Vec<(&str, Command)> = vec![
        (
            "`run` (a migration printing 100,000 lines)",
            bench.deploydb(&[
                "run",
                "--timeline",
                "branch:rss",
                "--",
                "seq",
                "1",
                "100000",
            ]),
        ),
        (
            "`ensure`",
            bench.deploydb(&["ensure", "--timeline", "branch:rss"]),
        ),
        ("`detect`, 100,000 files", detect),
        (
            "`env`",
            bench.deploydb(&["env", "--timeline", "branch:rss"]),
        ),
        (
            "`timeline`",
            bench.deploydb(&["timeline", "--timeline", "branch:rss"]),
        ),
        ("`list`", bench.deploydb(&["list"])),
        ("`check`", bench.deploydb(&["check"])),
    ];
    for (name, command) in commands {
        rows.push(Row::rss(
            &format!("peak RSS: {name}"),
            peak_rss(command),
            10.0,
        ));
    }
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}
