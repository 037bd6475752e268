//! Release assets as GitHub serves them, from this build's binary, on a loopback HTTP server:
//! what the action's install step and `scripts/install.sh` download in the tests
//! (`tests/cli/ship.rs`) and in the floor bench's cold-install figure.

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
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
pub const TARGET: &str = "x86_64-unknown-linux-musl";
pub const ASSET: &str = "deploydb-x86_64-unknown-linux-musl.tar.gz";

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

/// The action's install step as the runner runs it, in `dir`: inputs as environment variables,
/// the tool cache at `dir/toolcache`, `$GITHUB_OUTPUT` and `$GITHUB_PATH` at `dir/outputs` and
/// `dir/path`, releases from `server`.
pub fn install_step(dir: &Path, server: &ReleaseServer) -> Command {
    let mut c = Command::new("bash");
    c.arg(root().join("ci/github-install.sh"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", dir)
        .env("GITHUB_ACTION_PATH", root())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TOOL_CACHE", dir.join("toolcache"))
        .env("GITHUB_OUTPUT", dir.join("outputs"))
        .env("GITHUB_PATH", dir.join("path"))
        .env("DEPLOYDB_RELEASE_BASE_URL", server.url());
    c
}
