//! Shipping deploydb: the action's install step and `scripts/install.sh` against release assets
//! served from a loopback HTTP server (Python's http.server, its request log read back), built
//! from this build's binary by `scripts/package.sh`, as the release workflow builds them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::release::{ASSET, ReleaseServer, TARGET, VERSION, install_step, release_tree};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
        let output = install_step(self.dir.path(), server)
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

    // "latest" moves, so it is downloaded each time, never served from the tool cache.
    for run in 1..=2 {
        let latest = runner.install(&server, &[("DEPLOYDB_VERSION", "latest")]);
        assert_eq!(latest.code, Some(0), "{}", latest.log);
        assert!(!latest.log.contains("tool cache"), "{}", latest.log);
        assert_eq!(server.requests().len(), downloads.len() + 2 * run);
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

/// Release assets for Linux x86_64 in a plain folder (deploydb-<target>.tar.gz, SHA256SUMS),
/// as the release workflow hands them to the npm and PyPI packaging.
fn dist() -> (tempfile::TempDir, PathBuf) {
    let tree = release_tree(VERSION);
    let dir = tree.path().join("download").join(VERSION);
    (tree, dir)
}

/// A copy of `dist` whose SHA256SUMS no longer matches the archive.
fn tampered(dist: &Path) -> tempfile::TempDir {
    let bad = tempfile::tempdir().unwrap();
    fs::copy(dist.join(ASSET), bad.path().join(ASSET)).unwrap();
    fs::write(
        bad.path().join("SHA256SUMS"),
        format!("{}  {ASSET}\n", "1".repeat(64)),
    )
    .unwrap();
    bad
}

/// A packaging script refused `dist`: one error line naming the archive, nothing written.
fn assert_refused(output: &std::process::Output, out: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {ASSET} does not match SHA256SUMS")),
        "{stderr}"
    );
    assert!(!out.exists(), "{} was written", out.display());
}

/// The embedded local cluster of one test, in its own data folder, stopped at the end.
struct LocalCluster {
    data: tempfile::TempDir,
}

impl LocalCluster {
    fn new() -> LocalCluster {
        let data = tempfile::tempdir().unwrap();
        // The postgres account (when tests run as root) must be able to enter the data folder.
        let status = Command::new("chmod").arg("755").arg(data.path()).status();
        assert!(status.is_ok_and(|s| s.success()));
        LocalCluster { data }
    }

    fn xdg(&self) -> &Path {
        self.data.path()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_deploydb"))
            .args(["local", "stop"])
            .env("XDG_DATA_HOME", self.data.path())
            .output();
    }
}

/// Runs a package manager's hook in `app` as a developer would: a clean environment with no
/// admin URL (so the embedded cluster), PATH without this build's deploydb.
fn hook(app: &Path, path: &str, cluster: &LocalCluster, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(app)
        .env_clear()
        .env("PATH", path)
        .env("HOME", app)
        .env("XDG_DATA_HOME", cluster.xdg())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {args:?}:\n{text}");
    text
}

/// A throwaway app folder on a branch, outside the repository.
fn app(branch: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let app = tempfile::Builder::new().prefix("shop-").tempdir().unwrap();
    fs::create_dir_all(app.path().join(".git")).unwrap();
    fs::write(
        app.path().join(".git/HEAD"),
        format!("ref: refs/heads/{branch}\n"),
    )
    .unwrap();
    fs::write(app.path().join("deploydb.toml"), "app = \"shop\"\n").unwrap();
    for (name, text) in files {
        fs::write(app.path().join(name), text).unwrap();
    }
    app
}

/// PATH without the folder of this build's deploydb: the hook must find the packaged one.
fn path_without_deploydb() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    let path: Vec<&str> = path
        .split(':')
        .filter(|dir| !Path::new(dir).join("deploydb").exists())
        .collect();
    path.join(":")
}

#[test]
fn the_npm_packages_install_from_their_tarballs_and_run_the_predeploy_hook() {
    let (_tree, dist) = dist();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("npm");
    let build = |dist: &Path| {
        Command::new("node")
            .arg(root().join("packaging/npm/build.mjs"))
            .args(["--version", env!("CARGO_PKG_VERSION"), "--dist"])
            .arg(dist)
            .arg("--out")
            .arg(&out)
            .args(["--only", "linux-x64"])
            .output()
            .unwrap()
    };
    assert_refused(&build(tampered(&dist).path()), &out);
    let built = build(&dist);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let launcher: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("deploydb/package.json")).unwrap())
            .unwrap();
    assert_eq!(
        launcher["optionalDependencies"]["@deploydb/linux-x64"],
        env!("CARGO_PKG_VERSION")
    );
    let platform: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("linux-x64/package.json")).unwrap())
            .unwrap();
    assert_eq!(platform["os"], serde_json::json!(["linux"]));
    assert_eq!(platform["cpu"], serde_json::json!(["x64"]));

    let packs = work.path().join("packs");
    fs::create_dir_all(&packs).unwrap();
    let packed = Command::new("npm")
        .args(["pack", "--silent"])
        .arg(out.join("linux-x64"))
        .arg(out.join("deploydb"))
        .current_dir(&packs)
        .output()
        .unwrap();
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let tarballs: Vec<PathBuf> = String::from_utf8_lossy(&packed.stdout)
        .lines()
        .map(|name| packs.join(name.trim()))
        .collect();
    assert_eq!(tarballs.len(), 2, "{tarballs:?}");

    let shop = app(
        "feature/npm",
        &[(
            "package.json",
            r#"{"name":"shop","private":true,"scripts":{"predeploy":"deploydb run -- psql -XAtc 'select current_database()'","deploy":"echo deployed"}}"#,
        )],
    );
    let cluster = LocalCluster::new();
    let path = path_without_deploydb();
    // --offline: everything comes from the two tarballs, nothing from the registry.
    let mut install = vec!["install", "--offline", "--no-audit", "--no-fund", "-D"];
    install.extend(tarballs.iter().map(|t| t.to_str().unwrap()));
    hook(shop.path(), &path, &cluster, "npm", &install);
    assert!(
        shop.path()
            .join("node_modules/@deploydb/linux-x64/bin/deploydb")
            .is_file()
    );

    let log = hook(
        shop.path(),
        &path,
        &cluster,
        "npm",
        &["run", "--silent", "deploy"],
    );
    let database = log.find("shop--feature-npm\n").expect(&log);
    let deployed = log.find("deployed").expect(&log);
    assert!(database < deployed, "predeploy ran after deploy: {log}");
    assert!(log.contains("shop--feature-npm created"), "{log}");

    // npx runs the same launcher, and deploydb's exit status comes back through it.
    let npx = Command::new("npx")
        .args(["--offline", "deploydb", "run", "--timeline", "nope"])
        .current_dir(shop.path())
        .env_clear()
        .env("PATH", &path)
        .env("HOME", shop.path())
        .env("XDG_DATA_HOME", cluster.xdg())
        .output()
        .unwrap();
    assert_eq!(npx.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&npx.stderr).contains("error:"));
}

#[test]
fn the_pypi_wheel_installs_into_a_venv_and_runs_the_predeploy_hook() {
    let (_tree, dist) = dist();
    let work = tempfile::tempdir().unwrap();
    let wheels = work.path().join("wheels");
    let build = |dist: &Path| {
        Command::new("python3")
            .arg(root().join("packaging/pypi/build_wheel.py"))
            .args(["--version", env!("CARGO_PKG_VERSION"), "--dist"])
            .arg(dist)
            .arg("--out")
            .arg(&wheels)
            .args(["--only", TARGET])
            .output()
            .unwrap()
    };
    assert_refused(&build(tampered(&dist).path()), &wheels);
    let built = build(&dist);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wheel = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    // "deploydb" on PyPI is another project: the distribution is deploydb-cli.
    assert_eq!(
        wheel.file_name().unwrap().to_str().unwrap(),
        concat!(
            "deploydb_cli-",
            env!("CARGO_PKG_VERSION"),
            "-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
        ),
    );

    // A fresh venv without pip of its own (fast); the test tools' pip installs into it, from
    // the wheel file only.
    let venv = work.path().join("venv");
    let status = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m venv failed");
    let pip = crate::support::tool("zizmor").with_file_name("pip");
    let installed = Command::new(&pip)
        .arg("--python")
        .arg(venv.join("bin/python"))
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    // The binary itself is the venv's script, no Python wrapper in between.
    assert_eq!(
        fs::read(venv.join("bin/deploydb")).unwrap()[..4],
        *b"\x7fELF"
    );

    let shop = app(
        "feature/pypi",
        &[
            ("requirements.txt", "psycopg[binary]==3.2.3\n"),
            (
                "Makefile",
                "predeploy:\n\tdeploydb run -- psql -XAtc 'select current_database()'\n\ndeploy: predeploy\n\techo deployed\n",
            ),
        ],
    );
    let cluster = LocalCluster::new();
    // As with an activated venv: its bin first.
    let path = format!("{}:{}", venv.join("bin").display(), path_without_deploydb());
    let log = hook(
        shop.path(),
        &path,
        &cluster,
        "make",
        &["--no-print-directory", "deploy"],
    );
    let database = log.find("shop--feature-pypi\n").expect(&log);
    let deployed = log.rfind("deployed").expect(&log);
    assert!(database < deployed, "{log}");
    assert!(log.contains("shop--feature-pypi created"), "{log}");
}

/// The installers run on shells we do not test here (macOS's, Git Bash on Windows): shellcheck
/// keeps them to portable, quoted shell.
#[test]
fn the_install_and_packaging_scripts_pass_shellcheck() {
    let scripts = [
        "scripts/install.sh",
        "scripts/package.sh",
        "ci/github-install.sh",
        "ci/github-build.sh",
        "ci/github-run.sh",
    ];
    let output = Command::new(crate::support::tool("shellcheck"))
        .args(scripts.iter().map(|s| root().join(s)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The source-build fallback on a runner without Rust (a container job, a bare self-hosted
/// runner): one clear error naming both ways out, nothing put on PATH.
#[test]
fn the_source_build_fallback_without_cargo_says_what_to_do() {
    assert!(
        which::which_in("cargo", Some("/usr/bin:/bin"), "/").is_err(),
        "cargo is in /usr/bin here: this test needs a PATH without it"
    );
    let runner = tempfile::tempdir().unwrap();
    let github_path = runner.path().join("path");
    let output = Command::new("bash")
        .arg(root().join("ci/github-build.sh"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GITHUB_ACTION_PATH", root())
        .env("GITHUB_PATH", &github_path)
        .env("DEPLOYDB_INSTALL_DIR", runner.path().join("tool"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("::error::deploydb: no release to download and no cargo"),
        "{stdout}"
    );
    assert!(stdout.contains("version input"), "{stdout}");
    assert!(!github_path.exists(), "put on PATH");
}
