//! The attacker is the repository and the pipeline event: a `deploydb.toml` that tries to
//! reach the admin credential or redefine production, a migration that goes looking for the
//! admin URL, a CI job whose secret is missing. Each test acts as that attacker against the
//! real binary and a real server.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::*;

/// A repository points `[instance] url_env` at another variable so that `DEPLOYDB_ADMIN_URL`
/// would be left in the migration's environment, and the migration — running as an ordinary
/// user, as CI jobs do — searches its environment and `/proc/$PPID/environ` for the admin URL.
#[test]
fn the_migration_gets_nothing_of_the_admin_credential() {
    let server = Server::start();
    let repo = Repo::new("feature/hostile");
    let loot = tempfile::tempdir().unwrap();
    for dir in [repo.path(), loot.path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    }
    repo.write(
        "deploydb.toml",
        &format!(
            r#"app = "shop"
[instance]
url_env = "OTHER_ADMIN_URL"
[migrate]
command = "env > {0}/env.txt; cat /proc/$PPID/environ > {0}/proc.txt 2> {0}/proc.err; echo done"
"#,
            loot.path().display()
        ),
    );
    for file in ["deploydb.toml", "package.json", ".git/HEAD"] {
        fs::set_permissions(repo.path().join(file), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(repo.path().join(".git"), fs::Permissions::from_mode(0o755)).unwrap();
    let url = server.admin_url();
    let env = [
        ("DEPLOYDB_ADMIN_URL", url.as_str()),
        ("OTHER_ADMIN_URL", url.as_str()),
        ("SOME_APP_SECRET", url.as_str()),
        ("HOME", "/tmp"),
    ];
    let mut command = deploydb(repo.path(), &["run"], &env);
    // As root the test drops to `nobody`, so /proc permissions mean what they mean in a job.
    // A copy of the binary in a folder `nobody` can enter: the checkout may be under one it
    // cannot (a home folder).
    let bin = tempfile::tempdir().unwrap();
    fs::set_permissions(bin.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let exe = bin.path().join("deploydb");
    fs::copy(env!("CARGO_BIN_EXE_deploydb"), &exe).unwrap();
    if unsafe { libc::geteuid() } == 0 {
        let mut dropped = std::process::Command::new("setpriv");
        dropped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .arg("run")
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env);
        command = dropped;
    }
    let run = run(command).expect_code(0);
    assert_no_password(&run);
    let seen = fs::read_to_string(loot.path().join("env.txt")).expect("the migration ran");
    assert!(seen.contains("PGDATABASE=shop--feature-hostile"), "{seen}");
    for needle in [PASSWORD.to_string(), encode(PASSWORD)] {
        assert!(
            !seen.contains(&needle),
            "the admin password reached the migration's environment:\n{seen}"
        );
    }
    let proc = fs::read(loot.path().join("proc.txt")).unwrap_or_default();
    let proc = String::from_utf8_lossy(&proc);
    assert!(
        !proc.contains(&encode(PASSWORD)) && !proc.contains("DEPLOYDB_ADMIN_URL"),
        "the migration read deploydb's environment from /proc"
    );
    let err = fs::read_to_string(loot.path().join("proc.err")).unwrap_or_default();
    assert!(err.contains("Permission denied"), "{err}");
}

/// A branch declares itself production in its own deploydb.toml; the CI says otherwise.
#[test]
fn the_repository_cannot_make_a_branch_production() {
    let server = Server::start();
    let repo = Repo::new("attacker");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\nproduction_branch = \"attacker\"\n",
    );
    let admin = admin_env(&server);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "attacker"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    let run = run(deploydb(repo.path(), &["run"], &with(&admin, &ci))).expect_code(2);
    assert!(run.stderr().contains("cannot redefine production"), "{run}");
    assert_eq!(
        server.databases(),
        Vec::<String>::new(),
        "nothing was created"
    );
}

/// In CI the repository cannot choose which credential deploydb uses: a `url_env` in
/// deploydb.toml aimed at another secret the job holds (another server's admin URL, say) is
/// refused before anything connects; the pipeline may name it with `DEPLOYDB_URL_ENV`.
#[test]
fn the_repository_cannot_choose_the_admin_credential() {
    let server = Server::start();
    let repo = Repo::new("feature/pick");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[instance]\nurl_env = \"OTHER_SERVER_URL\"\n",
    );
    let url = server.admin_url();
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "feature/pick"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("DEPLOYDB_ADMIN_URL", url.as_str()),
        ("OTHER_SERVER_URL", url.as_str()),
    ];
    let refused = run(deploydb(repo.path(), &["run", "--", "true"], &ci)).expect_code(2);
    assert!(refused.stderr().contains("url_env"), "{refused}");
    assert!(refused.stderr().contains("DEPLOYDB_URL_ENV"), "{refused}");
    assert_no_password(&refused);
    assert_eq!(
        server.databases(),
        Vec::<String>::new(),
        "nothing was created"
    );
    let pipeline = [("DEPLOYDB_URL_ENV", "OTHER_SERVER_URL".to_string())];
    let chosen = with(&pipeline, &ci);
    let ok = run(deploydb(repo.path(), &["run", "--", "true"], &chosen)).expect_code(0);
    assert_no_password(&ok);
    assert_eq!(server.databases(), ["shop--feature-pick"]);
}

/// `pull_request_target` runs a fork's pull request with this repository's secrets: it gets
/// no database unless the workflow names the timeline itself.
#[test]
fn a_fork_pull_request_with_our_secrets_names_its_timeline() {
    let server = Server::start();
    let repo = Repo::new("main");
    let event = repo.path().join("event.json");
    fs::write(
        &event,
        r#"{"number":7,"pull_request":{"number":7},"repository":{"default_branch":"main"}}"#,
    )
    .unwrap();
    let admin = admin_env(&server);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_REF_TYPE", "branch"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ];
    let run = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &with(&admin, &ci),
    ))
    .expect_code(3);
    assert!(run.errors().contains("pull_request_target"), "{run}");
    assert!(run.errors().contains("--timeline"), "{run}");
    assert_eq!(server.databases(), Vec::<String>::new());
}

/// Events that run on the default branch without deploying it never reach production.
#[test]
fn a_comment_on_the_default_branch_is_not_a_production_deploy() {
    let server = Server::start();
    let repo = Repo::new("main");
    let event = repo.path().join("event.json");
    fs::write(
        &event,
        r#"{"comment":{"body":"/deploy"},"repository":{"default_branch":"main"}}"#,
    )
    .unwrap();
    let admin = admin_env(&server);
    for name in ["issue_comment", "workflow_run"] {
        let ci = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", name),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ];
        let run = run(deploydb(repo.path(), &["run"], &with(&admin, &ci))).expect_code(3);
        assert!(run.errors().contains("--timeline"), "{run}");
    }
    assert_eq!(
        server.databases(),
        Vec::<String>::new(),
        "nothing was created"
    );
}

/// A fork's pull request gets no secrets: deploydb says so instead of deploying to a
/// throwaway local server and reporting success.
#[test]
fn a_ci_job_without_the_admin_secret_stops() {
    let repo = Repo::new("feature/fork");
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("CI", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF_NAME", "feature/fork"),
        ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
        ("DEPLOYDB_ADMIN_URL", ""),
        ("XDG_DATA_HOME", "/nonexistent/deploydb-must-not-create"),
    ];
    let run = run(deploydb(repo.path(), &["run"], &ci)).expect_code(2);
    let stderr = run.errors();
    assert!(stderr.contains("DEPLOYDB_ADMIN_URL"), "{run}");
    assert!(stderr.contains("DEPLOYDB_LOCAL=true"), "{run}");
    assert!(!std::path::Path::new("/nonexistent/deploydb-must-not-create").exists());
}

/// A repository commits a link where the GitLab dotenv report goes, aiming at a file of the
/// runner's: the report is refused and the link's target is untouched.
#[test]
fn a_committed_link_is_never_written_through() {
    let server = Server::start();
    let repo = Repo::new("feature/link");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, repo.path().join("deploydb.env")).unwrap();
    let admin = admin_env(&server);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_BRANCH", "feature/link"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    let run = run(deploydb(
        repo.path(),
        &["run", "--dotenv-secrets", "--", "true"],
        &with(&admin, &ci),
    ))
    .expect_code(6);
    assert!(run.stderr().contains("symbolic link"), "{run}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_no_password(&run);
}

/// `deploydb env` in a GitHub job registers masks (on stderr, since its stdout may be going
/// into $GITHUB_ENV), escaped the way the runner reads them.
#[test]
fn env_registers_masks_before_printing_credentials() {
    let server = Server::start();
    let repo = Repo::new("feature/masks");
    let admin = admin_env(&server);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF_NAME", "feature/masks"),
        ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
    ];
    run(deploydb(repo.path(), &["ensure"], &with(&admin, &ci))).expect_code(0);
    let run = run(deploydb(
        repo.path(),
        &["env", "--format", "github"],
        &with(&admin, &ci),
    ))
    .expect_code(0);
    let role = server.role_password("shop--feature-masks");
    let masks: Vec<&str> = run
        .output
        .stderr
        .split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert!(masks.contains(&role.as_str()), "{run}");
    assert!(
        !run.stdout().contains("::add-mask::"),
        "masks must not go into $GITHUB_ENV"
    );
    assert!(run.stdout().contains("PGPASSWORD<<"), "{run}");
}

/// A migration prints the credential it was given in the encodings its own libraries use —
/// Python's `quote` (which leaves `/` alone), `quote_plus`, base64, JSON, `shlex.quote`, bash's
/// `printf %q` — and none of them reaches the log.
#[test]
fn every_common_encoding_of_a_password_is_masked() {
    let server = Server::start();
    let repo = Repo::new("feature/encodings");
    repo.write("deploydb.toml", "app = \"shop\"\nisolation = \"shared\"\n");
    let script = r#"import os, urllib.parse, base64, json, shlex, subprocess
p = os.environ["PGPASSWORD"]
print("quote", urllib.parse.quote(p))
print("quote_plus", urllib.parse.quote_plus(p))
print("b64", base64.b64encode(p.encode()).decode())
print("json", json.dumps(p))
print("shlex", shlex.quote(p), flush=True)
subprocess.run(["bash", "-c", 'printf "printf %s\\n" "$(printf %q "$PGPASSWORD")"'])
"#;
    repo.write("leak.py", script);
    let admin = admin_env(&server);
    let run = run(deploydb(
        repo.path(),
        &["run", "--", "python3", "leak.py"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    assert_no_password(&run);
    let stdout = run.stdout();
    for label in ["quote", "quote_plus", "b64", "json", "shlex", "printf"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{label} ")))
            .unwrap_or_else(|| panic!("no {label} line\n{run}"));
        assert!(line.contains("****"), "{label} was not masked: {line}");
    }
}

/// A repository built to stop or bloat `detect`: a FIFO named `package.json`, a `Cargo.toml`
/// linked to `/dev/zero`, requirements files that include each other through `..` and reach
/// outside the repository, and an oversized manifest. `detect` finishes (it is killed after
/// 60 s, which fails the test), names each refused file in a warning, and peaks under 20 MB.
#[test]
fn hostile_repository_files_cannot_stop_or_bloat_detection() {
    use std::os::unix::fs::symlink;
    let repo = Repo::new("main");
    let root = repo.path();
    std::fs::remove_file(root.join("package.json")).unwrap();
    let fifo = std::ffi::CString::new(root.join("package.json").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path inside our temp repository.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    symlink("/dev/zero", root.join("Cargo.toml")).unwrap();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    repo.write(
        "requirements.txt",
        "psycopg2\n-r a/../requirements.txt\n-r a/b/../../requirements.txt\n-r ../../../../../../etc/passwd\n",
    );
    repo.write("a/requirements-big.txt", &"x\n".repeat(600_000));
    // Run through a small Python parent: the kernel carries a parent's peak memory into a child
    // it forks, so measured straight from this (large, multi-threaded) test process the peak
    // would be ours, not detect's. Python's own is ~10 MB; it reports the peak of the child it
    // waited for, and kills it after 60 s.
    let detect = deploydb(root, &["detect", "--format", "json"], &[]);
    let mut wrapped = std::process::Command::new("python3");
    wrapped.args([
        "-c",
        "import resource, subprocess, sys\n\
         try:\n    code = subprocess.run(sys.argv[1:], timeout=60).returncode\n\
         except subprocess.TimeoutExpired:\n    code = 124\n\
         sys.stderr.write('peak %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
         sys.exit(code)",
    ]);
    wrapped.arg(detect.get_program()).args(detect.get_args());
    wrapped.env_clear();
    for (key, value) in detect.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    wrapped.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    wrapped.current_dir(detect.get_current_dir().unwrap_or(root));
    let output = wrapped.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "detect did not finish cleanly ({}); stdout: {stdout}; stderr: {stderr}",
        output.status
    );
    let peak_kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak reported: {stderr}"));
    assert!(peak_kib < 20 * 1024, "detect peaked at {peak_kib} KiB");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let warnings = json["warnings"].to_string();
    for expected in [
        "package.json",
        "Cargo.toml",
        "etc/passwd",
        "requirements-big.txt",
    ] {
        assert!(
            warnings.contains(expected),
            "no warning about {expected}: {warnings}"
        );
    }
    assert!(json["engines"].to_string().contains("postgres"), "{json}");
}

/// Names in the repository reach `detect`'s text: a folder whose name carries a newline and a
/// GitHub workflow command, a Cargo feature named with terminal escapes, a migrate script whose
/// name does both. None may start a line of its own or reach the terminal raw.
#[test]
fn repository_names_cannot_inject_workflow_commands_or_escapes_into_detect() {
    let repo = Repo::new("main");
    let root = repo.path();
    std::fs::remove_file(root.join("package.json")).unwrap();
    repo.write(
        "evil\n::error title=pwned::injected/package.json",
        r#"{"dependencies":{"pg":"8","knex":"3"},"scripts":{"migrate\n::add-mask::x\u001b[2J":"knex migrate:latest"}}"#,
    );
    repo.write(
        "evil\n::error title=pwned::injected/knexfile.js",
        "module.exports = {}",
    );
    repo.write(
        "crate/Cargo.toml",
        "[package]\nname = \"c\"\nversion = \"0.1.0\"\n[features]\n\"\\u001b]0;owned\\u0007pg\" = [\"sqlx/postgres\"]\n[dependencies]\nsqlx = { version = \"0.8\", optional = true }\n",
    );
    let out = run(deploydb(root, &["detect", "."], &[]))
        .expect_code(0)
        .stdout();
    assert!(out.contains("PostgreSQL is used by"), "{out}");
    for line in out.lines() {
        assert!(
            !line.starts_with("::"),
            "a workflow command got a line: {line:?}"
        );
    }
    assert!(
        !out.contains(['\u{1b}', '\u{7}']),
        "a raw escape reached the output: {out:?}"
    );
}
