//! PgBouncer from Debian in front of a test server (issue #10): the lifecycle in transaction and
//! session mode, the migration lock under transaction pooling (marker files, not timings), and a
//! pooler that does not route new databases.
//!
//! PgBouncer 1.18 (Debian's) has no prepared-statement support in transaction mode: a named
//! statement from deploydb would collide there, which is what the lifecycle proves absent.

use std::fs;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::servers::lifecycle;
use crate::support::{ADMIN, PASSWORD, Repo, Server, assert_no_password, deploydb, encode, run};

/// A PgBouncer process in front of `server`, stopped when dropped.
struct Pooler {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Pooler {
    /// `mode` is `transaction` or `session`; with `fallback`, any database name is routed to the
    /// server (`* =`), as hosted poolers do; without it only `postgres` is.
    fn start(server: &Server, mode: &str, fallback: bool) -> Pooler {
        let dir = tempfile::Builder::new()
            .prefix("deploydb-pgbouncer-")
            .tempdir()
            .unwrap();
        let (uid, gid) = postgres_account();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let port = free_port();
        let route = format!("host=127.0.0.1 port={}", server.port());
        let databases = if fallback {
            format!("* = {route}\n")
        } else {
            format!("postgres = {route}\n")
        };
        let d = dir.path().display();
        // The app's roles are deploydb's own, with passwords only the server knows: the pooler
        // looks SCRAM secrets up through auth_query and passes the client's SCRAM proof on to
        // the server. PgBouncer 1.18 (Debian 12's) runs auth_query in the database the client
        // asks for, and a timeline's database admits only its role and the admin, so the look-up
        // runs as the admin (the README's recipe): a SECURITY DEFINER function, present in
        // every new database through template1. The admin can end its own sessions, so drop
        // works through the pooler too.
        for database in ["template1", "postgres"] {
            let mut info = server.cluster.cluster.conninfo();
            info.dbname = database.to_string();
            let url = info.url();
            crate::support::query(
                url.expose(),
                &format!(
                    "CREATE FUNCTION public.pooler_auth(name text, OUT usename name, OUT passwd text) \
                 RETURNS record LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS \
                 $$SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = name$$; \
                 REVOKE ALL ON FUNCTION public.pooler_auth(text) FROM PUBLIC; \
                 GRANT EXECUTE ON FUNCTION public.pooler_auth(text) TO \"{ADMIN}\""
                ),
            );
        }
        let ini = format!(
            "[databases]\n{databases}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {d}/users.txt\n\
             auth_user = {ADMIN}\nauth_query = SELECT usename, passwd FROM public.pooler_auth($1)\n\
             pool_mode = {mode}\nmax_client_conn = 500\ndefault_pool_size = 40\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n"
        );
        for (name, text) in [
            ("pgbouncer.ini", ini),
            (
                "users.txt",
                format!("\"{ADMIN}\" \"{}\"\n", PASSWORD.replace('"', "\"\"")),
            ),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
        let child = Command::new(pgbouncer())
            .arg(dir.path().join("pgbouncer.ini"))
            .uid(uid)
            .gid(gid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let mut pooler = Pooler { child, port, dir };
        pooler.wait_until_listening();
        pooler
    }

    /// Readiness is the listening socket accepting a connection (a handshake, not a sleep).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pgbouncer exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pgbouncer does not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// The admin URL through the pooler.
    fn admin_url(&self) -> String {
        format!(
            "postgresql://{ADMIN}:{}@127.0.0.1:{}/postgres?sslmode=disable",
            encode(PASSWORD),
            self.port
        )
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pgbouncer() -> &'static str {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("pgbouncer is installed (apt-get install pgbouncer; .ci/run does it)")
}

fn postgres_account() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// check names the pooler; then the whole lifecycle, with the app's own connections (and the
/// session held open during drop) going through the pooler too.
fn lifecycle_through(mode: &str) {
    let server = Server::start();
    let pooler = Pooler::start(&server, mode, true);
    let repo = Repo::new("main");
    repo.write("deploydb.toml", "app = \"pooled\"\n");
    let env = [("DEPLOYDB_ADMIN_URL", pooler.admin_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let check = run(deploydb(repo.path(), &["check"], &env)).expect_code(0);
    let pooler_line = check
        .stdout()
        .lines()
        .find(|l| l.contains("pooler"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        pooler_line.contains(&format!("listens on port {}", server.port()))
            && pooler_line.contains(&pooler.port.to_string()),
        "check names the pooler in {mode} mode\n{check}"
    );
    lifecycle(&server, &pooler.admin_url(), "role-app", "role");
    lifecycle(&server, &pooler.admin_url(), "shared-app", "shared");
    assert!(
        !pooler.log().contains("prepared statement"),
        "{}",
        pooler.log()
    );
}

#[test]
fn the_lifecycle_works_through_pgbouncer_in_transaction_mode() {
    lifecycle_through("transaction");
}

#[test]
fn the_lifecycle_works_through_pgbouncer_in_session_mode() {
    lifecycle_through("session");
}

/// Concurrent runs of one timeline through a transaction-mode pooler: each migration claims a
/// marker directory (mkdir is atomic) for its whole duration; a second claim while one is held
/// would be an overlap. Every run must succeed, and none may find the marker taken.
#[test]
fn concurrent_runs_never_overlap_their_migrations_behind_transaction_pooling() {
    let server = Server::start();
    let pooler = Pooler::start(&server, "transaction", true);
    let repo = Repo::new("main");
    repo.write("deploydb.toml", "app = \"herd\"\n");
    let env = [("DEPLOYDB_ADMIN_URL", pooler.admin_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let marks = repo.path().join("marks");
    fs::create_dir(&marks).unwrap();
    // The window is widened by a short pause inside it; correctness does not depend on its
    // length, only on whether two windows ever coexist.
    let migration = format!(
        "if mkdir {m}/window 2>/dev/null; then :; else touch {m}/overlap-$$; fi; \
         touch {m}/ran-$$; sleep 0.3; rmdir {m}/window 2>/dev/null; true",
        m = marks.display()
    );
    let runs: Vec<_> = (0..4)
        .map(|_| {
            deploydb(
                repo.path(),
                &[
                    "run",
                    "--timeline",
                    "branch:feature/lock",
                    "--",
                    "sh",
                    "-c",
                    &migration,
                ],
                &env,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in runs {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names: Vec<String> = fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("ran-")).count(),
        4,
        "every run migrated: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("overlap-")),
        "two migrations ran at once behind the pooler: {names:?}"
    );
}

/// A session-mode pooler that routes only the databases it lists: one error line naming the
/// pooler and what to change, and the server exactly as it was (the new database and role are
/// undone).
#[test]
fn a_pooler_without_a_route_to_new_databases_is_named_and_nothing_is_left() {
    let server = Server::start();
    let pooler = Pooler::start(&server, "session", false);
    let repo = Repo::new("main");
    repo.write("deploydb.toml", "app = \"unrouted\"\n");
    let env = [("DEPLOYDB_ADMIN_URL", pooler.admin_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = server.catalog_snapshot();
    let failed = run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "branch:feature/x"],
        &env,
    ))
    .expect_code(5);
    assert_no_password(&failed);
    let errors = failed.error_lines();
    assert!(
        errors.len() == 1 && errors[0].contains("does not route"),
        "{failed}"
    );
    assert!(failed.stderr().contains("`* =`"), "{failed}");
    assert_eq!(server.catalog_snapshot(), before, "{failed}");
}
