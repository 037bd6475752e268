//! What a user sees when deploydb's output goes somewhere unusual.

use crate::support::*;

/// `deploydb list | head -1`: the reader goes away before deploydb writes. Every command that
/// prints ends quietly with success, no panic and no backtrace. The pipe's reading end is
/// closed before deploydb starts, so its first write always finds it closed.
#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let server = Server::start();
    let repo = Repo::new("feature/pipe");
    let admin = admin_env(&server);
    let env = with(&admin, &[("RUST_BACKTRACE", "1")]);
    run(deploydb(repo.path(), &["ensure"], &env)).expect_code(0);
    for args in [
        &["detect"][..],
        &["detect", "--format", "json"],
        &["timeline"],
        &["timeline", "--format", "json"],
        &["env"],
        &["ensure"],
        &["list"],
        &["list", "--format", "json"],
        &["check"],
        &["prune", "--dry-run", "--older-than", "1d"],
        &["run", "--", "true"],
        &["check", "--format", "json"],
        &["list", "--all-apps"],
        &["env", "--format", "json"],
        &["env", "--format", "github"],
        &["migrate", "status"],
        &["local", "status"],
        &["local", "status", "--format", "json"],
        &["--help"],
        &["--version"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = deploydb(repo.path(), args, &env)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "deploydb {args:?}: {stderr}"
        );
        assert_eq!(output.status.code(), Some(0), "deploydb {args:?}: {stderr}");
    }
}

/// With a wrong password (or a server that is down) the user still learns what was detected and
/// which database was targeted: those lines come before the connection.
#[test]
fn the_target_is_named_before_the_connection_fails() {
    let server = Server::start();
    let repo = Repo::new("feature/wrong-password");
    let url = format!(
        "postgresql://{ADMIN}:not-the-password@127.0.0.1:{}/postgres?sslmode=disable",
        server.port()
    );
    let run = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &[("DEPLOYDB_ADMIN_URL", url.as_str())],
    ))
    .expect_code(5);
    let stderr = run.stderr();
    let detect = stderr.find("deploydb: detect").expect("a detect line");
    let timeline = stderr
        .find("deploydb: timeline  branch:feature/wrong-password (from git HEAD) -> shop--feature-wrong-password")
        .unwrap_or_else(|| panic!("a timeline line naming the database\n{run}"));
    let error = stderr.find("error:").expect("an error line");
    assert!(detect < timeline && timeline < error, "{run}");
}

/// A MySQL-only app: the skip says what was found, and a GitHub job's later steps can tell a
/// skipped run from a successful one.
#[test]
fn a_skipped_run_names_what_it_found_and_tells_github() {
    let repo = Repo::new("feature/mysql");
    repo.write(
        "package.json",
        r#"{"name":"shop","dependencies":{"mysql2":"^3.0.0"}}"#,
    );
    let files = tempfile::tempdir().unwrap();
    let outputs = files.path().join("outputs");
    let run = run(deploydb(
        repo.path(),
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "feature/mysql"),
            ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    ))
    .expect_code(0);
    assert!(run.stderr().contains("(found: mysql)"), "{run}");
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.starts_with("skipped<<ghadelimiter_"), "{written}");
    assert!(written.contains("\ntrue\n"), "{written}");
}

/// `--dotenv-file` only shapes GitLab's report; elsewhere it is said, not silently ignored.
#[test]
fn a_dotenv_file_outside_gitlab_is_a_warning() {
    let server = Server::start();
    let repo = Repo::new("feature/dotenv");
    let admin = admin_env(&server);
    let run = run(deploydb(
        repo.path(),
        &["run", "--dotenv-file", "out.env", "--", "true"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    assert!(run.stderr().contains("not a GitLab CI job"), "{run}");
    assert!(!repo.path().join("out.env").exists());
}

/// A failed migration in a GitHub job is an annotation on the run, not only a line in the log.
#[test]
fn a_failed_migration_is_annotated_in_github() {
    let server = Server::start();
    let repo = Repo::new("feature/fails");
    let admin = admin_env(&server);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF_NAME", "feature/fails"),
        ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
    ];
    let run = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "echo broken >&2; exit 42"],
        &with(&admin, &ci),
    ))
    .expect_code(42);
    assert!(
        run.stdout().contains(
            "::error title=deploydb::the migration command `sh -c 'echo broken >&2; exit 42'` exited with 42"
        ),
        "{run}"
    );
    // Once: on GitHub the annotation is the error line (the runner shows it in the log too).
    assert!(
        !run.stderr().contains("error: the migration command"),
        "{run}"
    );
}

/// The README's exit-code table is the one `--help` prints: both come from one list.
#[test]
fn the_readme_lists_the_exit_codes_the_binary_uses() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = deploydb::error::exit_code_markdown();
    assert!(
        readme.contains(&format!("## Exit codes\n\n{table}")),
        "README.md's exit-code table differs from src/error.rs's EXIT_CODES; it should read:\n{table}"
    );
    let help = run(deploydb(std::path::Path::new("."), &["--help"], &[])).expect_code(0);
    for (code, _) in deploydb::error::EXIT_CODES {
        assert!(
            help.stdout().contains(&format!("  {code} ")),
            "--help lacks {code}\n{help}"
        );
    }
}

/// A `deploydb.toml` with several mistakes: every one is reported in one run, each with its
/// line and in the file's words (a section written as a value gets the fix spelled out), and
/// nothing runs.
#[test]
fn every_mistake_in_the_config_file_is_reported_at_once_in_its_own_words() {
    let repo = Repo::new("main");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\nmigrate = \"./migrate.sh\"\nisolaton = \"role\"\n",
    );
    let shape = run(deploydb(repo.path(), &["timeline"], &[])).expect_code(2);
    let stderr = shape.stderr();
    assert_eq!(shape.error_lines().len(), 1, "{shape}");
    assert!(
        stderr.contains("deploydb.toml:2: `migrate` is a section")
            && stderr.contains("write `[migrate]`")
            && stderr.contains("deploydb.toml:3: unknown key `isolaton`"),
        "{shape}"
    );
    assert!(
        !stderr.contains("MigrateSection") && !stderr.contains("invalid type"),
        "{shape}"
    );

    repo.write(
        "deploydb.toml",
        "app = \"shop\"\nisolation = \"solo\"\n[migrate]\ntimeout = \"forever\"\n",
    );
    let values = run(deploydb(repo.path(), &["timeline"], &[])).expect_code(2);
    let stderr = values.stderr();
    assert!(
        stderr.contains("`solo` is not one of role, shared")
            && stderr.contains("forever")
            && stderr.contains(":2")
            && stderr.contains(":4"),
        "{values}"
    );
}

/// `-v` shows what deploydb does, `-vv` every step, a CI debug re-run (`RUNNER_DEBUG=1`) the
/// same as `-vv`: connections (redacted), the lock, what is created, the command run. Never a
/// password, never colour codes into a pipe; and nothing of it without asking.
#[test]
fn verbose_output_says_what_deploydb_does_without_secrets_or_colour() {
    let server = crate::support::Server::start();
    let repo = Repo::new("feature/verbose");
    let admin = crate::support::admin_env(&server);
    let quiet = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &crate::support::with(&admin, &[]),
    ))
    .expect_code(0);
    assert!(!quiet.stderr().contains("connecting to"), "{quiet}");
    for (flags, extra) in [
        (&["-vv"][..], &[][..]),
        (&[][..], &[("RUNNER_DEBUG", "1")][..]),
    ] {
        let mut args = flags.to_vec();
        args.extend(["run", "--timeline", "branch:verbose-2", "--", "true"]);
        let verbose = run(deploydb(
            repo.path(),
            &args,
            &crate::support::with(&admin, extra),
        ))
        .expect_code(0);
        let stderr = verbose.stderr();
        for expected in [
            "connecting to postgresql://",
            "creating under the timeline's lock",
            "running `true`",
        ] {
            assert!(stderr.contains(expected), "no `{expected}` in\n{verbose}");
        }
        assert!(
            !stderr.contains('\x1b'),
            "colour codes in a pipe\n{verbose}"
        );
        crate::support::assert_no_password(&verbose);
        // Dropped, so that the next pass creates it again.
        run(deploydb(
            repo.path(),
            &["drop", "--timeline", "branch:verbose-2", "--yes"],
            &crate::support::with(&admin, &[]),
        ))
        .expect_code(0);
    }
}

/// A run in text mode ends with one line saying what the timeline's database is now; a failed
/// migration ends with its error instead.
#[test]
fn a_run_ends_with_a_closing_line() {
    let server = crate::support::Server::start();
    let repo = Repo::new("feature/closing");
    let admin = crate::support::admin_env(&server);
    let env = crate::support::with(&admin, &[]);
    let last = |r: &crate::support::Run| r.stderr().lines().last().unwrap_or_default().to_string();
    let first = run(deploydb(repo.path(), &["run", "--", "true"], &env)).expect_code(0);
    assert!(
        last(&first).starts_with(
            "deploydb: done      shop--feature-closing created, migrated (`true`) in "
        ),
        "{first}"
    );
    let again = run(deploydb(repo.path(), &["run", "--", "true"], &env)).expect_code(0);
    assert!(
        last(&again).contains("shop--feature-closing reused"),
        "{again}"
    );
    let failed = run(deploydb(repo.path(), &["run", "--", "false"], &env)).expect_code(1);
    assert!(!failed.stderr().contains("deploydb: done"), "{failed}");
    assert!(
        last(&failed).starts_with("error:") || failed.stderr().contains("\nerror:"),
        "{failed}"
    );
}

/// Branch names as people write them: letters with marks are spelled in ASCII, a script with
/// no ASCII form marks the name with its hash (so two such branches never meet), and a
/// 100,000-character name is shortened in the log, whole in JSON.
#[test]
fn branch_names_are_transliterated_marked_and_shortened() {
    let repo = Repo::new("main");
    let timeline = |branch: &str, format: &str| {
        run(deploydb(
            repo.path(),
            &[
                "timeline",
                "--format",
                format,
                "--timeline",
                &format!("branch:{branch}"),
            ],
            &[],
        ))
        .expect_code(0)
    };
    let json = timeline("feat/Ünïcödé/日本語-ß", "json").json();
    let db = json["database"].as_str().unwrap();
    assert!(
        db.starts_with("shop--feat-unicode-ss-") && db.len() == "shop--feat-unicode-ss-".len() + 8,
        "{db}"
    );
    let other = timeline("feat/Ünïcödé/中文-ß", "json").json();
    assert_ne!(other["database"], json["database"]);
    assert_eq!(
        timeline("Straße", "json").json()["database"],
        "shop--strasse"
    );

    let long = "x".repeat(100_000);
    let text = timeline(&long, "text");
    assert!(text.stdout().len() < 300, "{} bytes", text.stdout().len());
    assert!(text.stdout().contains("(100000 characters)"), "{text}");
    assert_eq!(
        timeline(&long, "json").json()["branch"]
            .as_str()
            .unwrap()
            .len(),
        100_000
    );
}

/// A host name that does not resolve is a typo until proven otherwise: one error naming the
/// host, at once, with no retry (a 30 s wait would tell the user nothing more).
#[test]
fn a_host_name_that_does_not_resolve_is_reported_without_retrying() {
    let repo = Repo::new("main");
    let failed = run(deploydb(
        repo.path(),
        &["ensure"],
        &[(
            "DEPLOYDB_ADMIN_URL",
            "postgresql://u:secret-pw@no-such-host.invalid:5432/postgres",
        )],
    ))
    .expect_code(5);
    let stderr = failed.stderr();
    assert!(!stderr.contains("retrying"), "{failed}");
    assert!(
        stderr.contains("the host name `no-such-host.invalid` does not resolve"),
        "{failed}"
    );
    assert!(!stderr.contains("secret-pw"), "{failed}");
}

/// As root, a local cluster folder under `/root` (closed to the postgres account the server
/// runs as) is refused up front with what to do, and nothing is created there.
#[test]
fn a_local_cluster_folder_the_server_account_cannot_enter_is_named() {
    if unsafe { libc::geteuid() } != 0 {
        return; // Only root switches to the postgres account.
    }
    let closed = tempfile::Builder::new()
        .prefix("deploydb-closed-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let xdg = closed.path().join("xdg");
    let repo = Repo::new("main");
    let failed = run(deploydb(
        repo.path(),
        &["ensure"],
        &[("XDG_DATA_HOME", xdg.to_str().unwrap())],
    ))
    .expect_code(7);
    assert!(
        failed.stderr().contains("which the postgres account")
            && failed.stderr().contains("hint: unset XDG_DATA_HOME"),
        "{failed}"
    );
    assert!(!xdg.exists(), "a folder was created");
}

/// A command's `--help` lists its own options first and the global ones apart, under their
/// own heading, so `drop --help` does not mix `--yes` with `--app`.
#[test]
fn help_keeps_a_commands_options_apart_from_the_global_ones() {
    let repo = Repo::new("main");
    let help = run(deploydb(repo.path(), &["drop", "--help"], &[])).expect_code(0);
    let text = help.stdout();
    let (own, global) = text
        .split_once("Global options:")
        .unwrap_or_else(|| panic!("no Global options heading:\n{text}"));
    assert!(own.contains("--yes") && !own.contains("--app"), "{text}");
    assert!(
        global.contains("--app") && !global.contains("--yes"),
        "{text}"
    );
}

/// What a user reads, whole: a first and a second `run` of a branch, and a failing one, with
/// durations, ports and temp paths redacted — so any change of wording is a reviewed change.
#[test]
fn the_run_log_reads_as_reviewed() {
    let server = Server::start();
    let repo = Repo::new("feature/golden");
    let admin = admin_env(&server);
    let env = with(&admin, &[]);
    let redact = |run: &Run| {
        let port = server.port().to_string();
        let root = repo.path().display().to_string();
        let mut out = String::new();
        for line in run.stderr().lines() {
            let mut line = line.replace(&port, "PORT").replace(&root, "REPO");
            // `[12ms]`, `[1.2s]`, `in 340ms`, `in 1.2s`
            for (open, close) in [("[", "]"), ("in ", "")] {
                let mut rest = line.as_str();
                let mut done = String::new();
                while let Some(at) = rest.find(open) {
                    let after = &rest[at + open.len()..];
                    let digits = after
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .unwrap_or(after.len());
                    let unit = &after[digits..];
                    let unit_len = if unit.starts_with("ms") {
                        2
                    } else if unit.starts_with('s') {
                        1
                    } else {
                        0
                    };
                    if digits > 0 && unit_len > 0 && unit[unit_len..].starts_with(close) {
                        done.push_str(&rest[..at]);
                        done.push_str(&format!("{open}T{close}"));
                        rest = &after[digits + unit_len + close.len()..];
                    } else {
                        done.push_str(&rest[..at + open.len()]);
                        rest = after;
                    }
                }
                done.push_str(rest);
                line = done;
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    };
    let args = ["run", "--", "sh", "-c", "echo migrating"];
    let first = run(deploydb(repo.path(), &args, &env)).expect_code(0);
    assert_eq!(
        redact(&first),
        "\
deploydb: detect    postgres (package.json:1 pg) [T]
deploydb: timeline  branch:feature/golden (from git HEAD) -> shop--feature-golden
deploydb: database  shop--feature-golden created on postgresql://deploydb_admin:****@127.0.0.1:PORT/postgres?sslmode=disable [T]
deploydb: export    to the migration command [T]
deploydb: migrate   running `sh -c 'echo migrating'` in .
deploydb: migrate   exited with 0 [T]
deploydb: done      shop--feature-golden created, migrated (`sh -c 'echo migrating'`) in T
",
        "{first}"
    );
    let again = run(deploydb(repo.path(), &args, &env)).expect_code(0);
    assert!(
        redact(&again).contains("deploydb: database  shop--feature-golden reused on "),
        "{again}"
    );
    let failed = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "exit 3"],
        &env,
    ))
    .expect_code(3);
    assert!(
        redact(&failed).ends_with(
            "\
deploydb: migrate   running `sh -c 'exit 3'` in .
deploydb: migrate   exited with 3 [T]
error: the migration command `sh -c 'exit 3'` exited with 3
"
        ),
        "{failed}"
    );
}
