//! Shipping deploydb: the action's install step and `scripts/install.sh` against release assets
//! served from a loopback HTTP server (Python's http.server, its request log read back), built
//! from this build's binary by `scripts/package.sh`, as the release workflow builds them.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The version in Cargo.toml, which the action installs when its ref is no release tag.
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
const TARGET: &str = "x86_64-unknown-linux-musl";
const ASSET: &str = "deploydb-x86_64-unknown-linux-musl.tar.gz";

/// `python3 -m http.server` on a port the OS picks, serving `dir`, its request log in a file.
pub struct ReleaseServer {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _files: tempfile::TempDir,
}

impl ReleaseServer {
    pub fn start(dir: &Path) -> ReleaseServer {
        let files = tempfile::tempdir().unwrap();
        let log = files.path().join("requests.log");
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 runs");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in http.server's banner: {line:?}"));
        // Ready when it accepts a connection (it prints the banner once bound, so this is
        // normally the first try).
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the release server never accepted"
            );
            std::thread::yield_now();
        }
        ReleaseServer {
            child,
            port,
            log,
            _files: files,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| l.split("\"GET ").nth(1))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Release assets for Linux x86_64 from this build's binary (stripped, as release builds
/// are), laid out as GitHub serves them: `download/<tag>/…` and `latest/download/…`.
pub fn release_tree(tag: &str) -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    let stage = tempfile::tempdir().unwrap();
    let binary = stage.path().join("deploydb");
    fs::copy(env!("CARGO_BIN_EXE_deploydb"), &binary).unwrap();
    // Best effort: a smaller archive, closer to the release's size; the install works either way.
    let _ = Command::new("strip").arg(&binary).status();
    let assets = tree.path().join("download").join(tag);
    let status = Command::new("sh")
        .arg(root().join("scripts/package.sh"))
        .arg(TARGET)
        .arg(&binary)
        .arg(&assets)
        .status()
        .unwrap();
    assert!(status.success(), "package.sh failed");
    let status = Command::new("sh")
        .arg(root().join("scripts/package.sh"))
        .args(["--sums"])
        .arg(&assets)
        .status()
        .unwrap();
    assert!(status.success(), "package.sh --sums failed");
    let sums = fs::read_to_string(assets.join("SHA256SUMS")).unwrap();
    assert!(sums.contains(&format!("  {ASSET}\n")), "{sums}");
    fs::create_dir_all(tree.path().join("latest")).unwrap();
    std::os::unix::fs::symlink(&assets, tree.path().join("latest/download")).unwrap();
    tree
}

struct Runner {
    dir: tempfile::TempDir,
}

struct Step {
    code: Option<i32>,
    log: String,
    outputs: String,
    path: String,
}

impl Runner {
    fn new() -> Runner {
        Runner {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn tool_cache(&self) -> PathBuf {
        self.dir.path().join("toolcache")
    }

    /// Runs the action's install step as the runner would: inputs as environment variables,
    /// fresh $GITHUB_OUTPUT and $GITHUB_PATH files.
    fn install(&self, server: &ReleaseServer, env: &[(&str, &str)]) -> Step {
        let outputs = self.dir.path().join("outputs");
        let path = self.dir.path().join("path");
        let _ = fs::remove_file(&outputs);
        let _ = fs::remove_file(&path);
        let output = Command::new("bash")
            .arg(root().join("ci/github-install.sh"))
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTION_PATH", root())
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", self.tool_cache())
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_PATH", &path)
            .env("DEPLOYDB_RELEASE_BASE_URL", server.url())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Step {
            code: output.status.code(),
            log: String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
            outputs: fs::read_to_string(&outputs).unwrap_or_default(),
            path: fs::read_to_string(&path).unwrap_or_default(),
        }
    }
}

fn version_of(binary: &Path) -> String {
    let output = Command::new(binary).arg("--version").output().unwrap();
    assert!(
        output.status.success(),
        "{} --version failed",
        binary.display()
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn the_action_downloads_the_release_once_then_uses_the_tool_cache() {
    let tree = release_tree(VERSION);
    let server = ReleaseServer::start(tree.path());
    let runner = Runner::new();

    // Cold: the action pinned to the release tag downloads and checks it.
    let started = Instant::now();
    let cold = runner.install(&server, &[("DEPLOYDB_ACTION_REF", VERSION)]);
    let elapsed = started.elapsed();
    assert_eq!(cold.code, Some(0), "{}", cold.log);
    eprintln!(
        "ship: cold install of {VERSION} from the loopback release server took {} ms",
        elapsed.as_millis()
    );
    let dir = runner
        .tool_cache()
        .join("deploydb")
        .join(env!("CARGO_PKG_VERSION"))
        .join("X64");
    assert_eq!(cold.path.trim(), dir.to_str().unwrap());
    assert!(cold.outputs.contains("build=false"), "{}", cold.outputs);
    assert!(
        version_of(&dir.join("deploydb")).contains(env!("CARGO_PKG_VERSION")),
        "the installed binary is not this version"
    );
    assert!(
        dir.with_extension("complete").is_file(),
        "no .complete marker"
    );
    let downloads = server.requests();
    assert_eq!(
        downloads,
        vec![
            format!("/download/{VERSION}/SHA256SUMS"),
            format!("/download/{VERSION}/{ASSET}"),
        ]
    );

    // Warm: the same version from the tool cache, nothing downloaded. A branch ref falls back
    // to Cargo.toml's version, the same release.
    for reference in [VERSION, "main"] {
        let warm = runner.install(&server, &[("DEPLOYDB_ACTION_REF", reference)]);
        assert_eq!(warm.code, Some(0), "{}", warm.log);
        assert!(warm.log.contains("tool cache"), "{}", warm.log);
        assert_eq!(warm.path.trim(), dir.to_str().unwrap());
        assert_eq!(server.requests(), downloads, "the cache hit downloaded");
    }

    // No such release: the next steps are told to build the source, nothing is on PATH.
    let missing = runner.install(&server, &[("DEPLOYDB_VERSION", "v99.0.0")]);
    assert_eq!(missing.code, Some(0), "{}", missing.log);
    assert!(
        missing.outputs.contains("build=true"),
        "{}",
        missing.outputs
    );
    assert!(
        missing.outputs.contains("key=deploydb-Linux-X64-source-"),
        "{}",
        missing.outputs
    );
    assert!(missing.path.is_empty(), "{}", missing.path);
    assert!(!runner.tool_cache().join("deploydb/99.0.0").exists());
    assert!(missing.log.contains("HTTP 404"), "{}", missing.log);

    // Asked to build from source: no download at all.
    let before = server.requests().len();
    let source = runner.install(&server, &[("DEPLOYDB_BUILD_FROM_SOURCE", "true")]);
    assert_eq!(source.code, Some(0), "{}", source.log);
    assert!(source.outputs.contains("build=true"), "{}", source.outputs);
    assert_eq!(server.requests().len(), before);
}

#[test]
fn a_checksum_mismatch_is_refused_and_nothing_is_installed() {
    let tree = release_tree(VERSION);
    let sums = tree
        .path()
        .join("download")
        .join(VERSION)
        .join("SHA256SUMS");
    fs::write(&sums, format!("{}  {ASSET}\n", "0".repeat(64))).unwrap();
    let server = ReleaseServer::start(tree.path());
    let runner = Runner::new();
    let step = runner.install(&server, &[("DEPLOYDB_VERSION", VERSION)]);
    assert_eq!(step.code, Some(1), "{}", step.log);
    let error: Vec<&str> = step
        .log
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(error.len(), 1, "{}", step.log);
    assert!(
        error[0].starts_with(&format!(
            "error: checksum mismatch for {ASSET}: expected 0000"
        )),
        "{}",
        step.log
    );
    assert!(step.log.contains("::error::deploydb:"), "{}", step.log);
    assert!(step.path.is_empty(), "put on PATH: {}", step.path);
    assert!(!step.outputs.contains("build=true"), "fell back to a build");
    let installed: Vec<_> = walkdir::WalkDir::new(runner.tool_cache())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().display().to_string())
        .collect();
    assert!(installed.is_empty(), "left behind: {installed:?}");
}

/// `curl … | sh` on a machine without sha256sum (macOS): `shasum -a 256` checks the download,
/// and `latest` follows GitHub's `latest/download` address.
#[test]
fn the_install_script_checks_with_shasum_where_sha256sum_is_missing() {
    let tree = release_tree(VERSION);
    let server = ReleaseServer::start(tree.path());
    let bin = tempfile::tempdir().unwrap();
    for tool in [
        "sh", "curl", "awk", "cut", "tar", "gzip", "mkdir", "mktemp", "rm", "cp", "mv", "chmod",
        "uname", "shasum", "perl", "sed",
    ] {
        let path = which::which(tool).unwrap_or_else(|_| panic!("{tool} is needed"));
        std::os::unix::fs::symlink(path, bin.path().join(tool)).unwrap();
    }
    let to = tempfile::tempdir().unwrap();
    let script = fs::read(root().join("scripts/install.sh")).unwrap();
    let curl_pipe_sh = || {
        let mut child = Command::new(bin.path().join("sh"))
            .args(["-s", "--", "--to"])
            .arg(to.path())
            .env_clear()
            .env("PATH", bin.path())
            .env("DEPLOYDB_RELEASE_BASE_URL", server.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &script).unwrap();
        let output = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), log)
    };
    let (code, log) = curl_pipe_sh();
    assert_eq!(code, Some(0), "{log}");
    assert!(version_of(&to.path().join("deploydb")).contains(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        server.requests(),
        vec![
            "/latest/download/SHA256SUMS".to_string(),
            format!("/latest/download/{ASSET}"),
        ]
    );

    // With no tool at all to check the download, nothing is downloaded or installed.
    fs::remove_file(bin.path().join("shasum")).unwrap();
    fs::remove_file(to.path().join("deploydb")).unwrap();
    let (code, log) = curl_pipe_sh();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.starts_with("error: found no sha256sum, shasum or openssl"),
        "{log}"
    );
    assert!(!to.path().join("deploydb").exists());
    assert_eq!(server.requests().len(), 2);
}
