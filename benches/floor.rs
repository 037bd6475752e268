//! deploydb against the floors it replaces, measured side by side in one run on one throwaway
//! server (started by the project's own local-cluster code). Each pair runs interleaved, so a
//! busy moment of the machine hits both sides alike; the table shows medians and ratios.
//!
//! `cargo bench --bench floor` (set DEPLOYDB_BENCH_RUNS to change the repetitions, and
//! DEPLOYDB_BENCH_LARGE=1 to add the 1,000,000-file detect and 1,000-database ensure points).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploydb::instance::local::{Throwaway, ThrowawayOptions};
use deploydb::secret::Secret;

const PASSWORD: &str = "bench-admin-password";
const EXE: &str = env!("CARGO_BIN_EXE_deploydb");

struct Bench {
    cluster: Throwaway,
    repo: tempfile::TempDir,
    runs: usize,
}

impl Bench {
    fn admin_url(&self) -> String {
        format!(
            "postgresql://bench_admin:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
            self.cluster.cluster.port
        )
    }

    fn deploydb(&self, args: &[&str]) -> Command {
        let mut c = Command::new(EXE);
        c.args(args)
            .current_dir(self.repo.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DEPLOYDB_ADMIN_URL", self.admin_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn psql(&self, sql: &str) -> Command {
        let mut c = Command::new("psql");
        c.args([
            "-XAtq",
            "-h",
            "127.0.0.1",
            "-U",
            "bench_admin",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .arg("-p")
        .arg(self.cluster.cluster.port.to_string())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PGPASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    }
}

/// Runs a command to completion, panicking on failure; returns its wall time.
fn time(mut command: Command) -> Duration {
    let started = Instant::now();
    let status = command.status().expect("the command starts");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed: {status}");
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Row {
    figure: String,
    ours: Duration,
    floor: Option<Duration>,
    target: &'static str,
}

/// `ours` and `floor` alternately, `runs` times each.
fn pair(
    runs: usize,
    mut ours: impl FnMut(usize) -> Duration,
    mut floor: impl FnMut(usize) -> Duration,
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            a.push(ours(i));
            b.push(floor(i));
        } else {
            b.push(floor(i));
            a.push(ours(i));
        }
    }
    (median(a), median(b))
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported and is ignored.
    let runs: usize = std::env::var("DEPLOYDB_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    let large = std::env::var("DEPLOYDB_BENCH_LARGE").is_ok_and(|v| v == "1");
    // On tmpfs when there is one: CREATE DATABASE writes ~7.5 MB, and disk writeback noise
    // would otherwise swamp the differences being measured.
    let shm = Path::new("/dev/shm");
    let options = ThrowawayOptions {
        parent: shm.is_dir().then(|| shm.to_path_buf()),
        ..Default::default()
    };
    let cluster =
        Throwaway::start_with("bench_super", &Secret::new("bench-super-password"), options)
            .expect("a throwaway cluster");
    let bench = Bench {
        cluster,
        repo: sample_repo(),
        runs,
    };
    superuser(
        &bench,
        &format!("CREATE ROLE bench_admin LOGIN CREATEDB CREATEROLE PASSWORD '{PASSWORD}'"),
    );
    let mut rows = Vec::new();

    // 1. Warm ensure: the database exists.
    time(bench.deploydb(&["ensure", "--timeline", "branch:warm"]));
    let (ours, floor) = pair(
        runs,
        |_| time(bench.deploydb(&["ensure", "--timeline", "branch:warm"])),
        |_| time(bench.psql("select 1 from pg_database where datname='bench--warm'")),
    );
    rows.push(Row {
        figure: "warm `deploydb ensure` (database exists)".into(),
        ours,
        floor: Some(floor),
        target: "≤ 0.8",
    });

    // 2. Cold ensure: every run creates a new database.
    let (ours, floor) = pair(
        runs,
        |i| time(bench.deploydb(&["ensure", "--timeline", &format!("branch:cold-{i}")])),
        |i| time(bench.psql(&format!("CREATE DATABASE \"psql-cold-{i}\""))),
    );
    rows.push(Row {
        figure: "cold `deploydb ensure` (creates)".into(),
        ours,
        floor: Some(floor),
        target: "≤ 1.1",
    });

    // 3. Detect on a generated 100,000-file monorepo, against find pruning the same folders.
    let monorepo = generate_monorepo(100_000);
    let (ours, floor) = detect_pair(&bench, monorepo.path());
    rows.push(Row {
        figure: "`deploydb detect`, 100,000-file monorepo".into(),
        ours,
        floor: Some(floor),
        target: "≤ 1.0",
    });

    // 4. The migration log relay: 200 MB of lines into a file, through deploydb or directly.
    let (ours, floor) = relay_pair(&bench);
    rows.push(Row {
        figure: "migration log relay, 200 MB of lines".into(),
        ours,
        floor: Some(floor),
        target: "≤ 1.05",
    });

    // 5. Peak RSS of a full run (detect, timeline, ensure, export, a migration).
    let rss = peak_rss(bench.deploydb(&[
        "run",
        "--timeline",
        "branch:rss",
        "--",
        "sh",
        "-c",
        "seq 1 100000",
    ]));
    rows.push(Row {
        figure: format!(
            "peak RSS of a full `deploydb run`: {:.1} MiB",
            rss as f64 / 1024.0
        ),
        ours: Duration::ZERO,
        floor: None,
        target: "≤ 20 MiB",
    });

    // 6. 32 concurrent ensures of one new database, against one create.
    let (ours, floor) = pair(
        runs.min(7),
        |i| herd(&bench, 32, &format!("branch:herd-{i}")),
        |i| time(bench.deploydb(&["ensure", "--timeline", &format!("branch:single-{i}")])),
    );
    rows.push(Row {
        figure: "32 concurrent ensures of one new database (wall)".into(),
        ours,
        floor: Some(floor),
        target: "≤ 3",
    });
    // What 32 connections cost on this machine at all: 32 concurrent psql `select 1`s, against
    // 32 concurrent deploydb ensures of a database that exists (one connection each).
    time(bench.deploydb(&["ensure", "--timeline", "branch:herd-warm"]));
    let (ours, floor) = pair(
        runs.min(7),
        |_| herd(&bench, 32, "branch:herd-warm"),
        |_| {
            let started = Instant::now();
            let children: Vec<_> = (0..32)
                .map(|_| bench.psql("select 1").spawn().unwrap())
                .collect();
            for mut child in children {
                assert!(child.wait().unwrap().success());
            }
            started.elapsed()
        },
    );
    rows.push(Row {
        figure: "context: 32 concurrent ensures of an existing database vs 32 concurrent `psql -c 'select 1'`".into(),
        ours,
        floor: Some(floor),
        target: "—",
    });

    // 7. A bash + psql script doing the same job: slug, check, create, export.
    let script = script_floor(&bench);
    let (ours, floor) = pair(
        runs,
        |i| {
            // One GitLab job's worth: timeline from CI variables, ensure, dotenv export.
            let branch = format!("Feature/Script-{i}");
            let report = bench.repo.path().join("deploydb.env");
            let mut c = bench.deploydb(&["run", "--dotenv-file", report.to_str().unwrap()]);
            // The script creates no role, so neither does deploydb here: the same job.
            c.env("DEPLOYDB_ISOLATION", "shared")
                .env("GITLAB_CI", "true")
                .env("CI_COMMIT_BRANCH", &branch)
                .env("CI_DEFAULT_BRANCH", "main");
            time(c)
        },
        |i| {
            let mut c = Command::new("bash");
            c.arg(&script)
                .arg(format!("Feature/Script-{i}"))
                .arg(bench.cluster.cluster.port.to_string());
            c.env("PGPASSWORD", PASSWORD)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            time(c)
        },
    );
    rows.push(Row {
        figure: "same job as a bash + psql script (slug, check, create, export)".into(),
        ours,
        floor: Some(floor),
        target: "deploydb faster",
    });

    print_table(&rows);
    growth(&bench, large);
}

/// Runs `sql` as the cluster's superuser and returns what psql printed.
fn superuser(bench: &Bench, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-XAtq",
            "-h",
            "127.0.0.1",
            "-U",
            "bench_super",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .arg("-p")
        .arg(bench.cluster.cluster.port.to_string())
        .env("PGPASSWORD", "bench-super-password")
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A repository that uses pg, on a branch, with nothing else in it.
fn sample_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(
        dir.path().join("package.json"),
        r#"{"dependencies":{"pg":"8"}}"#,
    )
    .unwrap();
    fs::write(dir.path().join("deploydb.toml"), "app = \"bench\"\n").unwrap();
    dir
}

/// A monorepo of about `files` files: most of them in node_modules (as in real ones), the rest
/// spread over apps and packages with a manifest each.
fn generate_monorepo(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let app_files = files / 20;
    let modules = files - app_files;
    let per_package = 20;
    for p in 0..modules / per_package {
        let pkg = root.join(format!("node_modules/pkg-{p}"));
        fs::create_dir_all(pkg.join("lib")).unwrap();
        fs::write(
            pkg.join("package.json"),
            format!("{{\"name\":\"pkg-{p}\",\"dependencies\":{{\"mysql\":\"1\"}}}}"),
        )
        .unwrap();
        for f in 1..per_package {
            fs::write(pkg.join(format!("lib/f{f}.js")), "module.exports = 1;\n").unwrap();
        }
    }
    let per_app = 50;
    for a in 0..app_files / per_app {
        let app = root.join(format!("apps/app-{a}"));
        fs::create_dir_all(app.join("src")).unwrap();
        let deps = if a % 10 == 0 {
            r#"{"pg":"8"}"#
        } else {
            r#"{"react":"18"}"#
        };
        fs::write(
            app.join("package.json"),
            format!("{{\"name\":\"app-{a}\",\"dependencies\":{deps}}}"),
        )
        .unwrap();
        for f in 1..per_app {
            fs::write(app.join(format!("src/f{f}.ts")), "export const x = 1;\n").unwrap();
        }
    }
    dir
}

const MANIFEST_NAMES: &[&str] = &[
    "package.json",
    "go.mod",
    "Cargo.toml",
    "pyproject.toml",
    "Pipfile",
    "setup.cfg",
    "Gemfile",
    "database.yml",
    "deno.json",
    "deno.jsonc",
    "mix.exs",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "composer.json",
    "requirements*.txt",
    "*.prisma",
    "manage.py",
    "alembic.ini",
    ".sequelizerc",
    "diesel.toml",
    "schema.sql",
    "rails",
];

fn find_command(root: &Path) -> Command {
    let mut c = Command::new("find");
    c.arg(root).arg("(");
    for (i, dir) in deploydb::detect::SKIPPED_DIRS.iter().enumerate() {
        if i > 0 {
            c.arg("-o");
        }
        c.args(["-name", dir]);
    }
    c.args([")", "-prune", "-o", "-type", "f", "("]);
    for (i, name) in MANIFEST_NAMES.iter().enumerate() {
        if i > 0 {
            c.arg("-o");
        }
        c.args(["-name", name]);
    }
    c.args([")", "-print"]).stdout(Stdio::null());
    c
}

fn detect_pair(bench: &Bench, root: &Path) -> (Duration, Duration) {
    let detect = || {
        let mut c = Command::new(EXE);
        c.args(["detect", "--format", "json"])
            .arg(root)
            .stdout(Stdio::null());
        c
    };
    // Warm the page cache for both, as a CI runner that just checked out would have it, and make
    // sure deploydb really found the apps that use pg (and nothing inside node_modules).
    let output = detect().stdout(Stdio::piped()).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["engines"],
        serde_json::json!(["postgres"]),
        "node_modules' mysql leaked in, or pg was missed"
    );
    time(find_command(root));
    pair(bench.runs, |_| time(detect()), |_| time(find_command(root)))
}

fn relay_pair(bench: &Bench) -> (Duration, Duration) {
    let sink_dir = tempfile::tempdir().unwrap();
    let sink = sink_dir.path().join("sink.log");
    // seq writes 25,000,000 lines: 213 MB.
    let generator = "seq 1 25000000";
    let open_sink = || fs::File::create(&sink).unwrap();
    time(bench.deploydb(&["ensure", "--timeline", "branch:relay"]));
    let ours = |_| {
        let mut c = bench.deploydb(&[
            "run",
            "--timeline",
            "branch:relay",
            "--",
            "sh",
            "-c",
            generator,
        ]);
        c.stdout(open_sink());
        time(c)
    };
    let floor = |_| {
        let mut c = Command::new("sh");
        c.args(["-c", generator]).stdout(open_sink());
        time(c)
    };
    let result = pair(bench.runs.min(9), ours, floor);
    let size = fs::metadata(&sink).map(|m| m.len()).unwrap_or(0);
    assert!(size > 200_000_000, "the sink got {size} bytes");
    result
}

/// Peak resident set of a child, from wait4's rusage (KiB).
fn peak_rss(mut command: Command) -> i64 {
    let child = command.spawn().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child; the Child handle is not used to wait afterwards.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the run failed"
    );
    std::mem::forget(child);
    usage.ru_maxrss
}

fn herd(bench: &Bench, n: usize, timeline: &str) -> Duration {
    let started = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|_| {
            bench
                .deploydb(&["ensure", "--timeline", timeline])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    started.elapsed()
}

/// The job done by hand: slug the branch, check pg_database, create if missing, print exports.
fn script_floor(bench: &Bench) -> PathBuf {
    let path = bench.repo.path().join("by-hand.sh");
    fs::write(
        &path,
        r#"#!/usr/bin/env bash
set -euo pipefail
branch="$1"; port="$2"
slug=$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
db="bench--$slug"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=bench_admin
exists=$(psql -XAtq -d postgres -c "select 1 from pg_database where datname='$db'")
if [ -z "$exists" ]; then
  psql -XAtq -d postgres -c "CREATE DATABASE \"$db\""
fi
echo "PGHOST=$PGHOST"; echo "PGPORT=$PGPORT"; echo "PGDATABASE=$db"; echo "PGUSER=$PGUSER"
echo "DATABASE_URL=postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db"
"#,
    )
    .unwrap();
    path
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| figure | deploydb (median) | floor (median) | ratio | target |");
    println!("|---|---|---|---|---|");
    for row in rows {
        match row.floor {
            Some(floor) => println!(
                "| {} | {:.1} ms | {:.1} ms | {:.2} | {} |",
                row.figure,
                ms(row.ours),
                ms(floor),
                ms(row.ours) / ms(floor),
                row.target
            ),
            None => println!("| {} | — | — | — | {} |", row.figure, row.target),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// How cost grows: detect against file count, warm ensure against databases on the server.
fn growth(bench: &Bench, large: bool) {
    println!();
    println!("| detect: files in the repository | deploydb (median) | find (median) | ratio |");
    println!("|---|---|---|---|");
    let mut sizes = vec![10_000, 100_000];
    if large {
        sizes.push(1_000_000);
    }
    for files in sizes {
        let repo = generate_monorepo(files);
        let (ours, floor) = detect_pair(bench, repo.path());
        println!(
            "| {files} | {:.1} ms | {:.1} ms | {:.2} |",
            ms(ours),
            ms(floor),
            ms(ours) / ms(floor)
        );
    }
    println!();
    println!("| warm ensure: databases on the server | deploydb (median) | psql check (median) |");
    println!("|---|---|---|");
    let mut counts = vec![10, 100];
    if large {
        counts.push(1_000);
    }
    let mut existing = count_databases(bench);
    for target in counts {
        while existing < target {
            superuser(bench, &format!("CREATE DATABASE \"filler-{existing}\""));
            existing += 1;
        }
        let (ours, floor) = pair(
            bench.runs,
            |_| time(bench.deploydb(&["ensure", "--timeline", "branch:warm"])),
            |_| time(bench.psql("select 1 from pg_database where datname='bench--warm'")),
        );
        println!("| {existing} | {:.1} ms | {:.1} ms |", ms(ours), ms(floor));
    }
}

fn count_databases(bench: &Bench) -> usize {
    superuser(bench, "select count(*) from pg_database")
        .trim()
        .parse()
        .unwrap()
}
