//! PostgreSQL clusters that deploydb runs itself: the embedded default that local runs use when
//! no admin URL is configured (kept under the user's data directory and reused), and (feature
//! `testkit`, in `local/throwaway.rs`) throwaway clusters for tests and benchmarks.
//!
//! PostgreSQL refuses to run as root, and CI containers often are root, so when deploydb is
//! root the server runs as the unprivileged `postgres` account.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
#[cfg(feature = "testkit")]
use std::{
    process::Child,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// Throwaway clusters for the tests and benchmarks: built only with the `testkit` feature,
/// which the crate's own dev-dependency turns on, so they are not in the shipped binary.
#[cfg(feature = "testkit")]
mod throwaway;
#[cfg(feature = "testkit")]
pub use throwaway::{Throwaway, ThrowawayOptions};

use super::conninfo::{ConnInfo, SslMode};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::secret::{Secret, random_hex};

const INSTALL_HINT: &str = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), or set DEPLOYDB_ADMIN_URL to use an existing server";

/// Where `initdb`, `pg_ctl` and `postgres` are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// `pg_ctl` on `PATH` (with `initdb` and `postgres` beside it), else the newest
    /// `/usr/lib/postgresql/*/bin`, where Debian puts them without adding them to `PATH`.
    pub fn find(env: &Env) -> Result<Binaries> {
        let complete = |dir: &Path| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| dir.join(b).is_file())
        };
        if let Ok(pg_ctl) = which::which_in("pg_ctl", env.get("PATH"), "/") {
            let dir = fs::canonicalize(&pg_ctl)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            if let Some(dir) = dir.filter(|d| complete(d)) {
                return Ok(Binaries { dir });
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse().ok()?;
                Some((version, e.path().join("bin")))
            })
            .filter(|(_, dir)| complete(dir))
            .collect();
        versions.sort();
        versions
            .pop()
            .map(|(_, dir)| Binaries { dir })
            .ok_or_else(|| {
                Error::local("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH or under /usr/lib/postgresql")
                    .with_hint(INSTALL_HINT)
            })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The unprivileged account the server runs as when deploydb is root.
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

fn server_account() -> Result<Option<Account>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    // getpwnam is not thread-safe (it returns a static buffer), and tests start clusters from
    // many threads: it is called once per process, under the OnceLock's own lock.
    static ACCOUNT: std::sync::OnceLock<Option<(u32, u32)>> = std::sync::OnceLock::new();
    let found = *ACCOUNT.get_or_init(|| {
        // SAFETY: only this closure calls getpwnam, once; the fields are copied out at once.
        let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
        (!pw.is_null()).then(|| unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
    });
    let Some((uid, gid)) = found else {
        return Err(Error::local(
            "deploydb runs as root, PostgreSQL refuses to, and there is no `postgres` account to run it as",
        )
        .with_hint("create one (useradd --system postgres) or run deploydb as an ordinary user"));
    };
    Ok(Some(Account { uid, gid }))
}

/// One PostgreSQL cluster on 127.0.0.1, listening on TCP only.
pub struct Cluster {
    pub data: PathBuf,
    pub port: u16,
    pub superuser: String,
    password: Secret,
    bins: Binaries,
    account: Option<Account>,
}

impl Cluster {
    /// Runs `initdb` into `data` (which must not exist yet) with a password-protected superuser,
    /// and writes the listening settings plus `extra_settings` into its configuration.
    pub fn init(
        bins: &Binaries,
        data: &Path,
        superuser: &str,
        password: &Secret,
        extra_settings: &[&str],
        port: Option<u16>,
    ) -> Result<Cluster> {
        let account = server_account()?;
        let cluster = Cluster {
            data: data.to_path_buf(),
            port: match port {
                Some(port) => port,
                None => free_port()?,
            },
            superuser: superuser.to_string(),
            password: password.clone(),
            bins: bins.clone(),
            account,
        };
        fs::create_dir_all(data).map_err(|e| Error::io(Kind::Local, "create", data, e))?;
        cluster.hand_over(data)?;
        let pwfile = data.with_extension("pwfile");
        write_private(&pwfile, password.expose())?;
        cluster.hand_over(&pwfile)?;
        let output = cluster
            .command("initdb")
            .arg("-D")
            .arg(data)
            .args([
                "-U",
                superuser,
                "--auth=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
                "-N",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output();
        let _ = fs::remove_file(&pwfile);
        check_output("initdb", output)?;
        let mut settings = vec![
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("port = {}", cluster.port),
            "unix_socket_directories = ''".to_string(),
            "max_connections = 200".to_string(),
        ];
        settings.extend(extra_settings.iter().map(|s| s.to_string()));
        let conf = data.join("postgresql.conf");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|e| Error::io(Kind::Local, "open", &conf, e))?;
        writeln!(file, "\n# added by deploydb\n{}", settings.join("\n"))
            .map_err(|e| Error::io(Kind::Local, "write", &conf, e))?;
        Ok(cluster)
    }

    pub fn conninfo(&self) -> ConnInfo {
        ConnInfo {
            host: "127.0.0.1".into(),
            port: self.port,
            user: self.superuser.clone(),
            password: Some(self.password.clone()),
            dbname: "postgres".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            connect_timeout: None,
        }
    }

    pub fn log_file(&self) -> PathBuf {
        self.data.join("server.log")
    }

    /// Starts the server as a daemon that outlives deploydb (the embedded default).
    pub fn start_daemon(&self) -> Result<()> {
        let output = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-s", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.log_file())
            .output();
        check_output("pg_ctl start", output).map_err(|e| self.with_log(e))
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .args(["status", "-D"])
            .arg(&self.data)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    pub fn stop_daemon(&self) -> Result<()> {
        let output = self
            .command("pg_ctl")
            .args(["stop", "-w", "-s", "-m", "fast", "-D"])
            .arg(&self.data)
            .output();
        check_output("pg_ctl stop", output)
    }

    /// Starts `postgres` as our own child. On Linux it is told to quit when the thread that
    /// started it dies, so a test that is killed leaves no server behind.
    #[cfg(feature = "testkit")]
    fn start_child(&self) -> Result<Child> {
        let log = self.log_file();
        // Never through a link: the folder belongs to the server's account, we may be root.
        let log_file = {
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&log)
        }
        .map_err(|e| Error::io(Kind::Local, "create", &log, e))?;
        self.hand_over(&log)?;
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(&self.data)
            .stdout(
                log_file
                    .try_clone()
                    .map_err(|e| Error::io(Kind::Local, "open", &log, e))?,
            )
            .stderr(log_file);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::local(format!("could not start postgres: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(self.with_log(Error::local(format!(
                    "postgres exited at start-up ({status})"
                ))));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(self.with_log(Error::local("postgres did not become ready within 60s")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(child)
    }

    /// postmaster.pid's eighth line says `ready` once the server accepts connections.
    #[cfg(feature = "testkit")]
    fn ready(&self) -> bool {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .map(|pid| pid.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
            .unwrap_or(false)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bins.path(program));
        command.stdin(Stdio::null()).current_dir("/");
        if let Some(account) = self.account {
            command.uid(account.uid).gid(account.gid);
        }
        command
    }

    fn hand_over(&self, path: &Path) -> Result<()> {
        hand_over(self.account, path)
    }

    fn with_log(&self, mut error: Error) -> Error {
        let log = self.log_file();
        if let Some(last) = fs::read_to_string(&log).ok().and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        }) {
            error.message = format!("{}: {last}", error.message);
        }
        error.with_hint(format!("the server log is {}", log.display()))
    }
}

/// Gives `path` to the server's account, when it runs as one.
fn hand_over(account: Option<Account>, path: &Path) -> Result<()> {
    match account {
        Some(a) => chown(path, Some(a.uid), Some(a.gid))
            .map_err(|e| Error::io(Kind::Local, "hand over to the postgres account", path, e)),
        None => Ok(()),
    }
}

/// The embedded default's saved state: where it listens and how to log in.
#[derive(Serialize, Deserialize)]
struct State {
    port: u16,
    superuser: String,
    password: String,
}

/// The embedded cluster's home: `$XDG_DATA_HOME/deploydb`, else `~/.local/share/deploydb`. Root's
/// default is `/var/lib/deploydb`, because the `postgres` account cannot enter `/root`.
pub fn home(env: &Env) -> Result<PathBuf> {
    if let Some(xdg) = env.get("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("deploydb"));
    }
    if unsafe { libc::geteuid() } == 0 {
        return Ok(PathBuf::from("/var/lib/deploydb"));
    }
    env.get("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/deploydb"))
        .ok_or_else(|| {
            Error::local("neither XDG_DATA_HOME nor HOME is set, so there is nowhere to keep the local cluster")
                .with_hint("set XDG_DATA_HOME, or set DEPLOYDB_ADMIN_URL to use an existing server")
        })
}

/// As root the server runs as the `postgres` account, which must be able to pass through every
/// folder above its data directory; `/root` (where `XDG_DATA_HOME` often points) is closed to
/// it. Said plainly here rather than as the server's permission error at start.
fn reachable_by_server(home: &Path) -> Result<()> {
    if server_account()?.is_none() {
        return Ok(());
    }
    for dir in home.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(dir) else {
            continue;
        };
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(Error::local(format!(
                "the local cluster's folder {} is inside {}, which the postgres account (the server runs as it, since deploydb is root) cannot enter",
                home.display(),
                dir.display()
            ))
            .with_hint("unset XDG_DATA_HOME (root's default is /var/lib/deploydb), or point it at a folder outside root's home"));
        }
    }
    Ok(())
}

/// The embedded default: set it up on first use, start it if it is not running, and return the
/// admin connection. A lock file keeps two concurrent runs from setting it up twice.
pub fn embedded(env: &Env) -> Result<ConnInfo> {
    let home = home(env)?;
    reachable_by_server(&home)?;
    fs::create_dir_all(&home).map_err(|e| Error::io(Kind::Local, "create", &home, e))?;
    // The postgres account must be able to pass through to the data directory.
    let _ = fs::set_permissions(&home, fs::Permissions::from_mode(0o755));
    let _lock = lock(&home.join("lock"))?;
    let state_path = home.join("local.json");
    let data = home.join("pgdata");
    let bins = Binaries::find(env)?;
    let cluster = match read_state(&state_path)? {
        Some(state) if data.join("PG_VERSION").is_file() => Cluster {
            data,
            port: state.port,
            superuser: state.superuser,
            password: Secret::new(state.password),
            bins,
            account: server_account()?,
        },
        _ => {
            if data.exists() {
                fs::remove_dir_all(&data).map_err(|e| Error::io(Kind::Local, "clear", &data, e))?;
            }
            crate::report::line(
                "local",
                format!(
                    "setting up the local PostgreSQL in {} (first run, a few seconds)",
                    data.display()
                ),
            );
            let password = Secret::new(random_hex(24));
            let cluster = Cluster::init(&bins, &data, "deploydb", &password, &[], None)?;
            let state = State {
                port: cluster.port,
                superuser: cluster.superuser.clone(),
                password: password.expose().to_string(),
            };
            write_private(
                &state_path,
                &serde_json::to_string(&state).expect("state serializes"),
            )?;
            cluster
        }
    };
    if !cluster.is_running() {
        crate::report::line(
            "local",
            format!(
                "starting the local PostgreSQL on 127.0.0.1:{}",
                cluster.port
            ),
        );
        cluster.start_daemon()?;
    }
    Ok(cluster.conninfo())
}

/// The embedded cluster, if it has been set up.
pub fn existing(env: &Env) -> Result<Option<Cluster>> {
    let home = home(env)?;
    let data = home.join("pgdata");
    let Some(state) = read_state(&home.join("local.json"))? else {
        return Ok(None);
    };
    Ok(Some(Cluster {
        data,
        port: state.port,
        superuser: state.superuser,
        password: Secret::new(state.password),
        bins: Binaries::find(env)?,
        account: server_account()?,
    }))
}

fn read_state(path: &Path) -> Result<Option<State>> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::local(format!("{} is damaged: {e}", path.display())).with_hint(
                "delete it and the pgdata folder beside it to start the local cluster afresh",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(Kind::Local, "read", path, e)),
    }
}

/// Writes a file only its owner may read, never through a link planted at `path` (deploydb may
/// run as root, and these files hold the cluster's password).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(Kind::Local, "create", path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(Kind::Local, "write", path, e))
}

/// An exclusive `flock` held until the returned file is dropped.
fn lock(path: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(Kind::Local, "open", path, e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(
            Kind::Local,
            "lock",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(file)
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::local(format!("could not find a free port on 127.0.0.1: {e}")))
}

fn check_output(what: &str, output: std::io::Result<std::process::Output>) -> Result<()> {
    let output = output
        .map_err(|e| Error::local(format!("could not run {what}: {e}")).with_hint(INSTALL_HINT))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let detail = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(Error::local(format!(
        "{what} failed ({}): {detail}",
        output.status
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link planted where the cluster's password file goes is refused, and what it points at
    /// is left alone.
    #[test]
    fn private_files_are_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "untouched").unwrap();
        let link = dir.path().join("pwfile");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_private(&link, "secret").is_err());
        assert!(lock(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "untouched");
        let plain = dir.path().join("plain");
        write_private(&plain, "secret").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&plain).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
