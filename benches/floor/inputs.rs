//! What the bench runs on: a sample repository, generated monorepos of a given size, the
//! manifest names and prunes that `find` and `rg --files` get so that they do detect's walk, log
//! files of a given line length on tmpfs, and the bash + psql script a team would write instead.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository that uses pg, on a branch, with nothing else in it.
pub fn sample_repo() -> tempfile::TempDir {
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
/// spread over apps with a manifest each (one in ten using pg).
pub fn generate_monorepo(files: usize) -> tempfile::TempDir {
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

/// The file names detect reads; `find` and `rg` look for the same ones (detect also takes
/// `*.py` and `*.exs` only inside `settings/`, `configs/` and `config/` folders, which a name
/// pattern cannot say; `*.py` and `*.exs` here make the floors look for more, not less).
const MANIFEST_NAMES: &[&str] = &[
    "package.json",
    "go.mod",
    "Cargo.toml",
    "pyproject.toml",
    "Pipfile",
    "setup.cfg",
    "setup.py",
    "Gemfile",
    "database.yml*",
    "database.php",
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
    "env.py",
    ".sequelizerc",
    "diesel.toml",
    "*.sql",
    "rails",
    "artisan",
    "Makefile",
    "knexfile.*",
    "prisma.config.*",
    "ormconfig.*",
    "drizzle.config.*",
    ".env.*",
    "*.env",
    "application*",
    "*settings*.py",
    "config.py",
    "configuration*.py",
    "*.exs",
];

/// `find` pruning detect's skipped folders and printing the manifests.
pub fn find_command(root: &Path) -> Command {
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

/// `rg --files` with the same prunes and names (it also honours .gitignore, as detect does).
pub fn rg_command(root: &Path) -> Option<Command> {
    which::which("rg").ok()?;
    let mut c = Command::new("rg");
    c.args(["--files", "--no-messages"]);
    for name in MANIFEST_NAMES {
        c.arg("-g").arg(name);
    }
    for dir in deploydb::detect::SKIPPED_DIRS {
        c.arg("-g").arg(format!("!{dir}/"));
    }
    c.arg(root).stdout(Stdio::null());
    Some(c)
}

/// A log of `bytes` bytes in lines of `line` bytes (newline included), on tmpfs when there is
/// one, so the producer (`cat`) is as fast as it can be and never the bottleneck.
pub fn log_file(dir: &Path, line: usize, bytes: usize) -> PathBuf {
    let path = dir.join(format!("log-{line}-{bytes}"));
    // Text as logs have it (letters of both cases, digits, spaces), so a search that keys on
    // a few common bytes pays here as it would in a real job; prepared once, so the producer
    // only copies.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .:_-";
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let lines_per_block = ((1 << 20) / line).max(1);
    let mut block = Vec::with_capacity(lines_per_block * line);
    for _ in 0..lines_per_block {
        for _ in 0..line - 1 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
        }
        block.push(b'\n');
    }
    let mut file = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < bytes {
        let n = block.len().min(bytes - written);
        file.write_all(&block[..n]).unwrap();
        written += n;
    }
    file.flush().unwrap();
    path
}

/// The job done by hand: slug the branch, check pg_database, create if missing, print the
/// exports, run the migration (`true`).
pub fn script_floor(repo: &Path, psql: &Path) -> PathBuf {
    let path = repo.join("by-hand.sh");
    fs::write(
        &path,
        format!(
            r#"#!/usr/bin/env bash
set -euo pipefail
branch="$1"; port="$2"
slug=$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
db="bench--$slug"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=bench_admin
exists=$({psql} -XAtq -d postgres -c "select 1 from pg_database where datname='$db'")
if [ -z "$exists" ]; then
  {psql} -XAtq -d postgres -c "CREATE DATABASE \"$db\""
fi
echo "PGHOST=$PGHOST" "PGPORT=$PGPORT" "PGDATABASE=$db" "PGUSER=$PGUSER" > deploydb.env
DATABASE_URL="postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db" true
"#,
            psql = psql.display()
        ),
    )
    .unwrap();
    path
}
