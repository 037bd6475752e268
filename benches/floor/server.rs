//! The bench's server and the commands run against it: a throwaway PostgreSQL (the project's
//! own local-cluster code, on tmpfs when there is one) with a non-superuser `CREATEDB
//! CREATEROLE` admin as a managed service gives, the real `psql` binary (not Debian's Perl
//! wrapper, which adds 30–45 ms to every call), and deploydb's release binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use deploydb::instance::local::{Throwaway, ThrowawayOptions};
use deploydb::secret::Secret;

pub const PASSWORD: &str = "bench-admin-password";
const SUPER_PASSWORD: &str = "bench-super-password";
pub const EXE: &str = env!("CARGO_BIN_EXE_deploydb");

pub struct Bench {
    pub cluster: Throwaway,
    pub repo: tempfile::TempDir,
    pub runs: usize,
    pub psql: PathBuf,
    pub bin_dir: PathBuf,
}

impl Bench {
    /// A server on tmpfs when there is one, which takes disk noise out of the figures.
    pub fn start(runs: usize) -> Bench {
        let shm = Path::new("/dev/shm");
        Bench::start_in(runs, shm.is_dir().then(|| shm.to_path_buf()))
    }

    /// A server in `parent` (the system's temp folder when `None`): thousands of databases
    /// (~7.5 MB each) do not fit in memory.
    pub fn start_in(runs: usize, parent: Option<PathBuf>) -> Bench {
        let options = ThrowawayOptions {
            parent,
            ..Default::default()
        };
        let cluster = Throwaway::start_with("bench_super", &Secret::new(SUPER_PASSWORD), options)
            .expect("a throwaway cluster");
        let bin_dir =
            deploydb::instance::local::Binaries::find(&deploydb::env::Env::from_process())
                .expect("PostgreSQL binaries")
                .dir;
        let psql = std::env::var_os("DEPLOYDB_BENCH_PSQL")
            .map(PathBuf::from)
            .unwrap_or_else(|| bin_dir.join("psql"));
        let bench = Bench {
            cluster,
            repo: crate::inputs::sample_repo(),
            runs,
            psql,
            bin_dir,
        };
        bench.superuser(&format!(
            "CREATE ROLE bench_admin LOGIN CREATEDB CREATEROLE PASSWORD '{PASSWORD}'"
        ));
        bench
    }

    pub fn super_password(&self) -> &'static str {
        SUPER_PASSWORD
    }

    pub fn port(&self) -> u16 {
        self.cluster.cluster.port
    }

    pub fn admin_url(&self) -> String {
        format!(
            "postgresql://bench_admin:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port()
        )
    }

    /// deploydb in the sample repository, output discarded.
    pub fn deploydb(&self, args: &[&str]) -> Command {
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

    /// The real psql binary, as the admin, running one statement.
    pub fn psql(&self, sql: &str) -> Command {
        let mut c = Command::new(&self.psql);
        c.args([
            "-XAtq",
            "-h",
            "127.0.0.1",
            "-U",
            "bench_admin",
            "-d",
            "postgres",
        ])
        .arg("-p")
        .arg(self.port().to_string())
        .args(["-c", sql])
        .env_clear()
        .env("PGPASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    }

    /// Runs `sql` as the cluster's superuser and returns what psql printed.
    pub fn superuser(&self, sql: &str) -> String {
        let output = Command::new(&self.psql)
            .args([
                "-XAtq",
                "-h",
                "127.0.0.1",
                "-U",
                "bench_super",
                "-d",
                "postgres",
            ])
            .arg("-p")
            .arg(self.port().to_string())
            .args(["-c", sql])
            .env("PGPASSWORD", SUPER_PASSWORD)
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `pgbench -C`: `clients` bare connections at once, each authenticating and running
    /// `SELECT 1` — what any tool that opens its own connection pays, and no more.
    pub fn bare_connections(&self, clients: usize) -> Command {
        let script = self.repo.path().join("select1.sql");
        if !script.exists() {
            std::fs::write(&script, "SELECT 1;\n").unwrap();
        }
        let mut c = Command::new(self.bin_dir.join("pgbench"));
        c.args([
            "-n",
            "-C",
            "-j",
            "2",
            "-t",
            "1",
            "-h",
            "127.0.0.1",
            "-U",
            "bench_admin",
        ])
        .arg("-c")
        .arg(clients.to_string())
        .arg("-p")
        .arg(self.port().to_string())
        .arg("-f")
        .arg(&script)
        .arg("postgres")
        .env_clear()
        .env("PGPASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    }

    pub fn count_databases(&self) -> usize {
        self.superuser("select count(*) from pg_database")
            .trim()
            .parse()
            .unwrap()
    }
}
