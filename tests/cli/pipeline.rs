//! The pipeline end to end: create, reuse, race, export to each CI, stream, exit codes,
//! configuration errors, timeline refusals.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{self, PASSWORD, Repo, Server, assert_no_password, deploydb, run};

use crate::support::{admin_env, with};

#[test]
fn first_run_creates_the_database_and_the_second_changes_nothing() {
    let server = Server::start();
    let repo = Repo::new("feature/login");
    let env = admin_env(&server);
    let first = run(deploydb(
        repo.path(),
        &["ensure", "--format", "json"],
        &with(&env, &[]),
    ))
    .expect_code(0);
    assert_eq!(first.json()["database"], "shop--feature-login");
    assert_eq!(first.json()["created"], true);
    assert_eq!(server.databases(), vec!["shop--feature-login"]);
    let comment = server
        .comment("shop--feature-login")
        .expect("an ownership comment");
    assert_eq!(comment["managed_by"], "deploydb");
    assert_eq!(comment["app"], "shop");
    assert_eq!(comment["kind"], "branch");
    assert_eq!(comment["branch"], "feature/login");

    let second = run(deploydb(
        repo.path(),
        &["ensure", "--format", "json"],
        &with(&env, &[]),
    ))
    .expect_code(0);
    assert_eq!(second.json()["created"], false);
    assert_eq!(server.databases(), vec!["shop--feature-login"]);
    // Only the deploy time moves; who owns the database and since when stays.
    let mut after = server.comment("shop--feature-login").unwrap();
    assert!(after["last_deployed_at"].as_str() >= comment["last_deployed_at"].as_str());
    after["last_deployed_at"] = comment["last_deployed_at"].clone();
    assert_eq!(after, comment);

    // The admin is a managed-service-like role, not a superuser.
    let rows = server.superuser_sql(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'deploydb_admin'",
    );
    assert_eq!(rows, vec!["f|t|t"]);
    assert_no_password(&first);
    assert_no_password(&second);
}

#[test]
fn eight_racing_processes_all_succeed_and_one_creates() {
    let server = Server::start();
    let repo = Repo::new("race");
    let env = admin_env(&server);
    let reports = support::race_ensures(&repo, &with(&env, &[]), 8);
    assert!(reports.iter().all(|r| r["database"] == "shop--race"));
    let created = reports.iter().filter(|r| r["created"] == true).count();
    assert_eq!(created, 1, "exactly one racer creates the database");
    assert_eq!(server.databases(), vec!["shop--race"]);
}

/// Reads a `$GITHUB_ENV` file the way the Actions runner does: `NAME=value` lines, or
/// `NAME<<DELIMITER` followed by value lines up to a line that is exactly the delimiter.
fn parse_github_file(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let next = lines.next().expect("the delimiter closes the value");
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            vars.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            vars.insert(name.to_string(), value.to_string());
        }
    }
    vars
}

#[test]
fn github_actions_env_and_outputs_read_back_as_the_runner_would() {
    let server = Server::start();
    let repo = Repo::new("ignored-in-ci");
    let files = tempfile::tempdir().unwrap();
    let github_env = files.path().join("github_env");
    let github_output = files.path().join("github_output");
    let event = files.path().join("event.json");
    fs::write(&event, r#"{"repository":{"default_branch":"main"}}"#).unwrap();
    // Something a previous step wrote must survive: the file is appended to.
    fs::write(&github_env, "EARLIER=1\n").unwrap();
    let env = admin_env(&server);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
        ("GITHUB_REF_NAME", "feature/pay"),
        ("GITHUB_REF_TYPE", "branch"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ("GITHUB_ENV", github_env.to_str().unwrap()),
        ("GITHUB_OUTPUT", github_output.to_str().unwrap()),
    ];
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &with(&env, &ci),
    ))
    .expect_code(0);

    // The masks come first on stdout, before any other output there.
    let stdout = result.stdout();
    let first_lines: Vec<&str> = stdout.lines().take(2).collect();
    assert!(
        first_lines.iter().all(|l| l.starts_with("::add-mask::")),
        "{result}"
    );

    let vars = parse_github_file(&fs::read_to_string(&github_env).unwrap());
    assert_eq!(vars["EARLIER"], "1");
    assert_eq!(vars["PGDATABASE"], "shop--feature-pay");
    assert_eq!(vars["PGUSER"], "shop--feature-pay");
    assert_eq!(
        vars["PGPASSWORD"],
        server.role_password("shop--feature-pay")
    );
    assert_eq!(vars["PGHOST"], "127.0.0.1");
    assert_eq!(vars["PGPORT"], server.port().to_string());
    assert_eq!(vars["PGSSLMODE"], "disable");
    // The exported URL works as-is for a client, percent-encoding included.
    assert_eq!(
        support::query(&vars["DATABASE_URL"], "SELECT current_database()"),
        vec!["shop--feature-pay"]
    );
    let mask_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .collect();
    // Escaped as the runner unescapes a command's value, so the mask is the password itself.
    let escaped = PASSWORD.replace('%', "%25");
    assert!(mask_lines.contains(&format!("::add-mask::{escaped}").as_str()));
    assert!(mask_lines.contains(&format!("::add-mask::{}", vars["PGPASSWORD"]).as_str()));
    assert!(mask_lines.contains(&format!("::add-mask::{}", vars["DATABASE_URL"]).as_str()));

    let outputs = parse_github_file(&fs::read_to_string(&github_output).unwrap());
    assert_eq!(outputs["database"], "shop--feature-pay");
    assert_eq!(outputs["timeline"], "branch:feature/pay");
    assert_eq!(outputs["created"], "true");
    assert!(!result.stderr().contains(PASSWORD), "{result}");
    assert!(!result.stderr().contains(&vars["PGPASSWORD"]), "{result}");
}

#[test]
fn gitlab_dotenv_report_follows_gitlab_rules_and_leaves_secrets_out() {
    let server = Server::start();
    let repo = Repo::new("ignored-in-ci");
    let env = admin_env(&server);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PROJECT_NAME", "shop"),
    ];
    run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &with(&env, &ci),
    ))
    .expect_code(0);
    let report = fs::read_to_string(repo.path().join("deploydb.env")).unwrap();
    let line = regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*=[^\n\r]*$").unwrap();
    assert!(report.lines().all(|l| line.is_match(l)), "{report}");
    assert!(report.contains("PGDATABASE=shop-production\n"), "{report}");
    assert!(
        !report.contains("PGPASSWORD") && !report.contains("DATABASE_URL"),
        "{report}"
    );
    assert!(!report.contains(PASSWORD));

    let with_secrets = run(deploydb(
        repo.path(),
        &[
            "run",
            "--dotenv-file",
            "out/db.env",
            "--dotenv-secrets",
            "--",
            "true",
        ],
        &with(&env, &ci),
    ));
    // The folder does not exist: a clear export error, exit 6.
    let with_secrets = with_secrets.expect_code(6);
    assert!(
        with_secrets.stderr().contains("out/db.env"),
        "{with_secrets}"
    );
    fs::create_dir(repo.path().join("out")).unwrap();
    run(deploydb(
        repo.path(),
        &[
            "run",
            "--dotenv-file",
            "out/db.env",
            "--dotenv-secrets",
            "--",
            "true",
        ],
        &with(&env, &ci),
    ))
    .expect_code(0);
    let report = fs::read_to_string(repo.path().join("out/db.env")).unwrap();
    assert!(
        report.contains(&format!(
            "PGPASSWORD={}\n",
            server.role_password("shop-production")
        )),
        "{report}"
    );
}

#[test]
fn migration_output_streams_live_before_the_command_ends() {
    let server = Server::start();
    let repo = Repo::new("stream");
    let env = admin_env(&server);
    let marker = repo.path().join("go-on");
    // The command prints a line, then waits until the test has seen that line. If deploydb held
    // output until the command exited, the test would never see it and the command never end.
    let script = format!(
        "echo first-line; i=0; while [ ! -e '{m}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; [ -e '{m}' ] && echo second-line",
        m = marker.display()
    );
    let mut child = deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", &script],
        &with(&env, &[]),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "first-line");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the command already ended"
    );
    fs::write(&marker, "").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "second-line");
    assert!(child.wait().unwrap().success());
}

#[test]
fn exit_codes_are_passed_through() {
    let server = Server::start();
    let repo = Repo::new("codes");
    let env = admin_env(&server);
    run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "exit 7"],
        &with(&env, &[]),
    ))
    .expect_code(7);
    run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "kill -TERM $$"],
        &with(&env, &[]),
    ))
    .expect_code(143);
    // The configured command runs through sh -c.
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"echo from-config && exit 3\"\n",
    );
    let configured = run(deploydb(repo.path(), &["run"], &with(&env, &[]))).expect_code(3);
    assert!(configured.stdout().contains("from-config"), "{configured}");
    // A failed migration says so in one error line, with the command as it was run.
    assert!(
        configured.stderr().contains(
            "error: the migration command `sh -c 'echo from-config && exit 3'` exited with 3"
        ),
        "{configured}"
    );
    // A missing command fails alike however it is given: 127, as a shell answers.
    let missing = run(deploydb(
        repo.path(),
        &["run", "--", "/no/such/migrator"],
        &with(&env, &[]),
    ))
    .expect_code(127);
    assert!(missing.stderr().contains("/no/such/migrator"), "{missing}");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"/no/such/migrator\"\n",
    );
    let configured_missing =
        run(deploydb(repo.path(), &["run"], &with(&env, &[]))).expect_code(127);
    assert!(
        configured_missing.stderr().contains("command not found"),
        "{configured_missing}"
    );
}

#[test]
fn migration_sees_the_exported_connection_and_masks_it_in_output() {
    let server = Server::start();
    let repo = Repo::new("feature/env");
    let env = admin_env(&server);
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "echo db=$PGDATABASE user=$PGUSER; echo pw=$PGPASSWORD; echo url=$DATABASE_URL; echo admin=${DEPLOYDB_ADMIN_URL:-unset}; psql -XAtc 'select current_database()'"],
        &with(&env, &[]),
    ))
    .expect_code(0);
    let stdout = result.stdout();
    assert!(
        stdout.contains("db=shop--feature-env user=shop--feature-env"),
        "{result}"
    );
    assert!(stdout.contains("pw=****"), "{result}");
    assert!(stdout.contains("url=****"), "{result}");
    // The migration runs with the timeline's credentials only, never the admin's.
    assert!(stdout.contains("admin=unset"), "{result}");
    assert!(stdout.contains("\nshop--feature-env\n"), "{result}");
    assert_no_password(&result);
}

#[test]
fn unknown_config_key_is_an_error_that_names_it_and_creates_nothing() {
    let server = Server::start();
    let repo = Repo::new("feature/x");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n\n[instance]\nurl_evn = \"MY_URL\"\n",
    );
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &with(&admin_env(&server), &[]),
    ))
    .expect_code(2);
    let stderr = result.stderr();
    assert!(
        stderr.contains("url_evn") && stderr.contains("deploydb.toml:4"),
        "{result}"
    );
    assert_eq!(stderr.lines().next().unwrap().matches("error:").count(), 1);
    assert!(server.databases().is_empty());
}

#[test]
fn detached_head_without_ci_variables_creates_nothing() {
    let server = Server::start();
    let repo = Repo::new("x");
    repo.write(".git/HEAD", "4b825dc642cb6eb9a060e54bf8d69288fbee4904\n");
    for args in [&["run", "--", "true"][..], &["ensure"][..]] {
        let result =
            run(deploydb(repo.path(), args, &with(&admin_env(&server), &[]))).expect_code(3);
        assert!(result.stderr().contains("detached HEAD"), "{result}");
        assert!(result.stderr().contains("--timeline"), "{result}");
    }
    assert!(server.databases().is_empty());
    // Named explicitly, it works.
    run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "preview"],
        &with(&admin_env(&server), &[]),
    ))
    .expect_code(0);
    assert_eq!(server.databases(), vec!["shop-preview"]);
}

#[test]
fn tag_pipelines_are_refused_not_sent_to_production() {
    let server = Server::start();
    let repo = Repo::new("main");
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_NAME", "v1.2.0"),
        ("GITHUB_REF_TYPE", "tag"),
    ];
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &with(&admin_env(&server), &ci),
    ))
    .expect_code(3);
    assert!(result.errors().contains("v1.2.0"), "{result}");
    assert!(server.databases().is_empty());
}

#[test]
fn the_admin_password_appears_in_no_output_errors_included() {
    let server = Server::start();
    let repo = Repo::new("feature/secret");
    let good = admin_env(&server);
    let wrong_password = format!(
        "postgresql://deploydb_admin:{}@127.0.0.1:{}/postgres?sslmode=disable",
        support::encode(&format!("{PASSWORD}-wrong")),
        server.port()
    );
    let bad_param = format!("{}&sslmdoe=require", server.admin_url());
    let unreachable = format!(
        "postgresql://deploydb_admin:{}@127.0.0.1:1/postgres",
        support::encode(PASSWORD)
    );
    let raw_url = format!(
        "postgresql://deploydb_admin:{PASSWORD}@127.0.0.1:{}/postgres",
        server.port()
    );
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Option<i32>);
    let cases: Vec<Case> = vec![
        (
            vec![
                "-vv",
                "run",
                "--",
                "sh",
                "-c",
                "echo $PGPASSWORD; echo $DATABASE_URL >&2",
            ],
            with(&good, &[]),
            Some(0),
        ),
        (
            vec!["ensure", "--format", "json"],
            with(&good, &[("RUST_LOG", "trace")]),
            Some(0),
        ),
        (
            vec!["timeline", "--format", "json"],
            with(&good, &[]),
            Some(0),
        ),
        (
            vec!["-vv", "ensure"],
            vec![("DEPLOYDB_ADMIN_URL", wrong_password.as_str())],
            Some(5),
        ),
        (
            vec!["ensure"],
            vec![("DEPLOYDB_ADMIN_URL", bad_param.as_str())],
            Some(2),
        ),
        (
            vec!["ensure"],
            vec![
                ("DEPLOYDB_ADMIN_URL", unreachable.as_str()),
                ("DEPLOYDB_CONNECT_TIMEOUT", "2s"),
            ],
            Some(5),
        ),
        (
            vec!["-vv", "run"],
            vec![
                ("DEPLOYDB_ADMIN_URL", raw_url.as_str()),
                ("DEPLOYDB_CONNECT_TIMEOUT", "2s"),
            ],
            None,
        ),
        (
            vec!["run", "--", "sh", "-c", "exit 9"],
            with(&good, &[]),
            Some(9),
        ),
        (vec!["env", "--format", "shell"], with(&good, &[]), Some(0)),
        (vec!["env", "--format", "dotenv"], with(&good, &[]), Some(0)),
        (vec!["env", "--format", "json"], with(&good, &[]), Some(0)),
        (vec!["env", "--format", "github"], with(&good, &[]), Some(0)),
        (vec!["-vv", "detect"], with(&good, &[]), Some(0)),
        (vec!["-v", "timeline"], with(&good, &[]), Some(0)),
        (
            vec![
                "-vv",
                "run",
                "--dotenv-secrets",
                "--",
                "sh",
                "-c",
                "printenv; exit 3",
            ],
            with(
                &good,
                &[
                    ("GITLAB_CI", "true"),
                    ("CI_COMMIT_BRANCH", "feature/secret"),
                ],
            ),
            Some(3),
        ),
        (
            vec!["ensure", "--timeline", "nope"],
            with(&good, &[]),
            Some(2),
        ),
    ];
    for (args, env, code) in cases {
        let result = run(deploydb(repo.path(), &args, &env));
        if let Some(code) = code {
            assert_eq!(result.code(), Some(code), "{result}");
        }
        assert!(!result.stderr().contains("panicked"), "{result}");
        assert_no_password(&result);
        // Only `env` exists to print the timeline's own password.
        if args[0] != "env" {
            support::assert_absent(&result, &server.role_password("shop--feature-secret"));
        }
    }

    // GitHub Actions: the values appear only in the ::add-mask:: commands that hide them.
    let files = tempfile::tempdir().unwrap();
    let github_env = files.path().join("env");
    let github = with(
        &good,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
            ("GITHUB_REF_NAME", "feature/secret"),
            ("GITHUB_ENV", github_env.to_str().unwrap()),
        ],
    );
    let result = run(deploydb(
        repo.path(),
        &["-vv", "run", "--", "printenv"],
        &github,
    ))
    .expect_code(0);
    let result = result.without_masks();
    assert_no_password(&result);
    support::assert_absent(&result, &server.role_password("shop--feature-secret"));
}

#[test]
fn no_postgres_dependency_skips_unless_required() {
    let server = Server::start();
    let repo = Repo::new("feature/x");
    repo.write("package.json", r#"{"dependencies":{"express":"4"}}"#);
    // Nothing detected and nothing configured (an explicit command would run: clients.rs).
    let skipped = run(deploydb(
        repo.path(),
        &["run"],
        &with(&admin_env(&server), &[]),
    ))
    .expect_code(0);
    assert!(
        skipped.stderr().contains("no PostgreSQL dependency"),
        "{skipped}"
    );
    run(deploydb(
        repo.path(),
        &["run", "--require", "--", "true"],
        &with(&admin_env(&server), &[]),
    ))
    .expect_code(4);
    assert!(server.databases().is_empty());
}

/// `run` opens the admin session while it reads the repository; a run with nothing to provision
/// drops that attempt instead of waiting for it. The server here accepts connections and never
/// answers, under a connect timeout of ten minutes: a run that waited would not end.
#[test]
fn a_skipped_run_does_not_wait_for_a_server_that_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            holder.lock().unwrap().push(stream);
        }
    });
    let repo = Repo::new("feature/x");
    repo.write("package.json", r#"{"dependencies":{"express":"4"}}"#);
    let url = format!("postgresql://admin:secret@127.0.0.1:{port}/postgres");
    let child = deploydb(
        repo.path(),
        &["run"],
        &[
            ("DEPLOYDB_ADMIN_URL", url.as_str()),
            ("DEPLOYDB_CONNECT_TIMEOUT", "10m"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output().unwrap()));
    let Ok(output) = ended.recv_timeout(Duration::from_secs(60)) else {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        panic!("the skipped run was still waiting for the silent server after 60 s");
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("nothing to provision"), "{stderr}");
}

#[test]
fn env_output_evaluates_in_a_shell_and_connects() {
    let server = Server::start();
    let repo = Repo::new("feature/shell");
    let env = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&env, &[]))).expect_code(0);
    let exe = env!("CARGO_BIN_EXE_deploydb");
    let script = format!(
        "eval \"$('{exe}' env --format shell)\" && psql -XAtc 'select current_user, current_database()'"
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("DEPLOYDB_ADMIN_URL", server.admin_url())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "shop--feature-shell|shop--feature-shell\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = run(deploydb(
        repo.path(),
        &["env", "--format", "json"],
        &with(&env, &[]),
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["PGDATABASE"], "shop--feature-shell");
}

#[test]
fn timeline_json_reports_kind_source_and_database() {
    let repo = Repo::new("main");
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_MERGE_REQUEST_IID", "12"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat/a"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    let json = run(deploydb(
        repo.path(),
        &["timeline", "--format", "json"],
        &ci,
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["kind"], "preview");
    assert_eq!(json["pr"], 12);
    assert_eq!(json["branch"], "feat/a");
    assert_eq!(json["source"], "gitlab");
    assert_eq!(json["database"], "shop-preview");
    assert_eq!(json["app"], "shop");

    let flagged = run(deploydb(
        repo.path(),
        &[
            "timeline",
            "--format",
            "json",
            "--timeline",
            "branch:Feature/B",
        ],
        &ci,
    ))
    .expect_code(0)
    .json();
    assert_eq!(
        (flagged["kind"].as_str(), flagged["source"].as_str()),
        (Some("branch"), Some("flag"))
    );
    assert_eq!(flagged["database"], "shop--feature-b");

    let bad = run(deploydb(
        repo.path(),
        &["timeline", "--timeline", "prod"],
        &[],
    ))
    .expect_code(2);
    assert!(bad.stderr().contains("production"), "{bad}");

    // With the admin URL but the server out of reach, timeline still answers (the asked name,
    // flagged unchecked), says why on stderr, and never prints the password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://admin:S3cretPw@127.0.0.1:{closed}/postgres?sslmode=disable");
    let offline = run(deploydb(
        repo.path(),
        &[
            "timeline",
            "--format",
            "json",
            "--timeline",
            "branch:Feature/B",
        ],
        &[
            ("DEPLOYDB_ADMIN_URL", url.as_str()),
            ("DEPLOYDB_CONNECT_TIMEOUT", "1s"),
        ],
    ))
    .expect_code(0);
    let json = offline.json();
    assert_eq!(json["database"], "shop--feature-b");
    assert_eq!(json["checked_on_server"], false);
    assert!(offline.stderr().contains("warning:"), "{offline}");
    let printed = format!("{}{}", offline.stdout(), offline.stderr());
    assert!(!printed.contains("S3cretPw"), "{offline}");
}

#[test]
fn a_bad_admin_url_is_a_usage_error() {
    let repo = Repo::new("feature/x");
    let result = run(deploydb(
        repo.path(),
        &["ensure"],
        &[("DEPLOYDB_ADMIN_URL", "mysql://u:p@h/db")],
    ))
    .expect_code(2);
    assert!(result.stderr().contains("DEPLOYDB_ADMIN_URL"), "{result}");
    assert_eq!(result.error_lines().len(), 1);
}

#[test]
fn a_database_of_another_app_is_refused() {
    let server = Server::start();
    let repo = Repo::new("feature/x");
    let env = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&env, &[]))).expect_code(0);
    // Forge a record claiming the database belongs to production of another app.
    server.superuser_sql(
        r#"COMMENT ON DATABASE "shop--feature-x" IS '{"managed_by":"deploydb","app":"other","kind":"production","branch":null,"pr":null,"created_at":"2026-01-01T00:00:00Z"}'"#,
    );
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "touch", "ran"],
        &with(&env, &[]),
    ))
    .expect_code(5);
    assert!(
        result.stderr().contains("does not match its name"),
        "{result}"
    );
    assert!(
        !repo.path().join("ran").exists(),
        "the migration must not run"
    );
}

/// The README's quick start: the sample app on the embedded local cluster, no admin URL.
#[test]
fn quickstart_runs_the_sample_app_on_the_embedded_cluster() {
    let data = tempfile::tempdir().unwrap();
    // The postgres account (when tests run as root) must be able to enter the data folder.
    let _ = std::process::Command::new("chmod")
        .arg("755")
        .arg(data.path())
        .status();
    let xdg = data.path().to_str().unwrap();
    let fixture = support::fixtures().join("shop");
    let fixture = fixture.to_str().unwrap();
    struct StopOnDrop<'a>(&'a str);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            let _ = deploydb(
                std::path::Path::new("/"),
                &["local", "stop"],
                &[("XDG_DATA_HOME", self.0)],
            )
            .output();
        }
    }
    let _stop = StopOnDrop(xdg);
    let local = |args: &[&str]| {
        run(deploydb(
            std::path::Path::new("/"),
            args,
            &[("XDG_DATA_HOME", xdg)],
        ))
        .expect_code(0)
    };
    let args = ["run", "--path", fixture, "--timeline", "branch:quickstart"];
    let absent = local(&["local", "status", "--format", "json"]).json();
    assert_eq!(absent["state"], "absent");
    let first = local(&args);
    assert!(
        first.stdout().contains("3 products in shop--quickstart"),
        "{first}"
    );
    // The slow first set-up is announced before it starts, not after.
    assert!(
        first.stderr().contains("setting up the local PostgreSQL"),
        "{first}"
    );
    assert!(
        first.stderr().contains("shop--quickstart created"),
        "{first}"
    );
    let second = local(&args);
    assert!(
        second.stderr().contains("shop--quickstart reused"),
        "{second}"
    );
    assert!(
        second.stdout().contains("3 products in shop--quickstart"),
        "{second}"
    );
    let status = local(&["local", "status"]);
    assert!(
        status.stdout().starts_with("running: 127.0.0.1:"),
        "{status}"
    );
    local(&["local", "stop"]);
    let status = local(&["local", "status"]);
    assert!(status.stdout().starts_with("stopped"), "{status}");
    assert_eq!(
        local(&["local", "status", "--format", "json"]).json()["state"],
        "stopped"
    );
    let started = local(&["local", "start"]);
    assert!(
        started.stdout().starts_with("running: 127.0.0.1:"),
        "{started}"
    );
    let status = local(&["local", "status", "--format", "json"]).json();
    assert_eq!(status["state"], "running");
    assert!(status["port"].as_u64().is_some(), "{status}");
}

#[test]
fn sigint_stops_the_migration_group_and_never_exits_zero() {
    // The command ignores nothing: on SIGTERM it reports and exits 0, which must not become
    // deploydb's exit code, since the run was interrupted.
    let script = "trap 'echo got-term; exit 0' TERM; echo started $$; (sleep 300) & while true; do sleep 0.1; done";
    let mut run = interrupted("feature/cancel", script);
    let group: i32 = run.first.strip_prefix("started ").unwrap().parse().unwrap();
    assert_eq!(run.lines.next().unwrap().unwrap(), "got-term");
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // Nothing of the group is left running: the background sleep was killed too. SIGKILL is
    // delivered at once but a process takes a moment to die, so look for up to 5 s. (Zombies
    // count as gone: who reaps them is up to the machine's init.)
    let mut alive = live_members_of_group(group);
    for _ in 0..100 {
        if alive.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        alive = live_members_of_group(group);
    }
    assert!(
        alive.is_empty(),
        "processes of the migration's group survived: {alive:?}"
    );
}

/// What the command prints while it stops (its last words on SIGTERM: a rollback, a summary)
/// reaches the log before deploydb reports the interruption and exits. Far more than a pipe
/// holds, so the last of it is still in the relay when the command exits.
#[test]
fn sigint_relays_everything_the_command_prints_while_it_stops() {
    let script = "trap 'seq 1 200000; exit 0' TERM; echo started; while true; do sleep 0.1; done";
    let mut run = interrupted("feature/last-words", script);
    assert_eq!(run.first, "started");
    let rest: Vec<String> = run.lines.by_ref().map(Result::unwrap).collect();
    assert_eq!(run.child.wait().unwrap().code(), Some(130));
    assert_eq!(rest.len(), 200_000, "lines after `started`: {}", rest.len());
    assert_eq!(rest.last().map(String::as_str), Some("200000"));
}

/// A `run` interrupted by SIGINT: the running deploydb, the script's first line and the rest
/// of its stdout; the server and the repository live as long as this does.
struct Interrupted {
    child: std::process::Child,
    first: String,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    _server: Server,
    _repo: Repo,
}

/// `deploydb run -- sh -c SCRIPT` on a new branch, sent SIGINT once the script's first line
/// has arrived.
fn interrupted(branch: &str, script: &str) -> Interrupted {
    let server = Server::start();
    let repo = Repo::new(branch);
    let env = admin_env(&server);
    let mut child = deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", script],
        &with(&env, &[]),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    Interrupted {
        child,
        first,
        lines,
        _server: server,
        _repo: repo,
    }
}

/// Processes in process group `group` that are not zombies, from /proc.
fn live_members_of_group(group: i32) -> Vec<String> {
    let mut alive = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == group.to_string() && fields[0] != "Z" {
            alive.push(stat.trim().to_string());
        }
    }
    alive
}

#[test]
fn a_migration_past_its_timeout_is_stopped_with_exit_124() {
    let server = Server::start();
    let repo = Repo::new("feature/slow");
    let env = admin_env(&server);
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "sleep", "60"],
        &with(&env, &[("DEPLOYDB_MIGRATE_TIMEOUT", "1s")]),
    ))
    .expect_code(124);
    assert!(result.stderr().contains("timeout"), "{result}");
}

#[test]
fn detect_json_has_the_documented_shape() {
    let repo = Repo::new("main");
    repo.write("api/requirements.txt", "asyncpg==0.29\n");
    repo.write("api/alembic.ini", "[alembic]\nscript_location = alembic\n");
    repo.write("api/alembic/env.py", "from alembic import context\n");
    repo.write(
        "node_modules/pg/package.json",
        r#"{"dependencies":{"pg":"8"}}"#,
    );
    let json = run(deploydb(repo.path(), &["detect", "--format", "json"], &[]))
        .expect_code(0)
        .json();
    assert_eq!(json["engines"], serde_json::json!(["postgres"]));
    assert_eq!(
        json["findings"],
        serde_json::json!([
            {"engine": "postgres", "ecosystem": "python", "package": "asyncpg", "file": "api/requirements.txt", "line": 1, "component": "api", "strength": "runtime"},
            {"engine": "postgres", "ecosystem": "node", "package": "pg", "file": "package.json", "line": 1, "component": ".", "strength": "runtime"},
        ])
    );
    assert_eq!(
        json["migrations"],
        serde_json::json!([{"tool": "alembic", "command": "alembic upgrade head", "dir": "api"}])
    );
    assert_eq!(json["warnings"], serde_json::json!([]));
}

/// Regression: writing the report to /dev/null once replaced /dev/null with a regular file (the
/// report was renamed over it). A special file is written in place, never replaced.
#[test]
fn a_dotenv_report_to_a_pipe_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let server = Server::start();
    let repo = Repo::new("ignored");
    let fifo = repo.path().join("report.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
    };
    let env = admin_env(&server);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_BRANCH", "feature/pipe"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    run(deploydb(
        repo.path(),
        &["run", "--dotenv-file", fifo.to_str().unwrap(), "--", "true"],
        &with(&env, &ci),
    ))
    .expect_code(0);
    assert!(
        reader
            .join()
            .unwrap()
            .contains("PGDATABASE=shop--feature-pipe\n")
    );
    assert!(
        fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the pipe was replaced"
    );
}

/// A migration's progress without a newline (`Applying 0003_slow...`) reaches the user while
/// the step runs, not when it finishes: the command prints a partial line and then waits for a
/// marker that the test creates only once it has read that partial line from deploydb.
#[test]
fn a_partial_line_is_relayed_before_the_line_ends() {
    use std::io::Read;
    let server = Server::start();
    let repo = Repo::new("feature/progress");
    let marker = repo.path().join("go");
    let script = format!(
        "printf 'Applying 0003_slow...'; i=0; while [ ! -e {0} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; [ -e {0} ] || exit 7; echo ' done'",
        marker.display()
    );
    let admin = admin_env(&server);
    let mut child = deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", &script],
        &with(&admin, &[]),
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Applying 0003_slow...") {
        match stdout.read(&mut byte).unwrap() {
            0 => break,
            _ => seen.push(byte[0]),
        }
    }
    fs::write(&marker, "").unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(
        status.code(),
        Some(0),
        "the partial line came only at the end: {text}"
    );
    assert!(text.ends_with("Applying 0003_slow... done\n"), "{text}");
}

/// A migration whose last line has no newline: deploydb ends it before printing its own.
#[test]
fn an_unterminated_last_line_is_ended() {
    let server = Server::start();
    let repo = Repo::new("feature/unterminated");
    let admin = admin_env(&server);
    let run = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "printf 'no newline' >&2"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    let stderr = run.stderr();
    assert!(stderr.contains("no newline\n"), "{run}");
}

/// A migration that leaves a background process holding stdout and stderr open: deploydb
/// passes the migration's own exit code on and returns while that process still runs (it
/// would mark `late` when it ends), instead of waiting for the pipes to close.
#[test]
fn a_background_process_holding_the_pipes_does_not_keep_the_run_alive() {
    let server = Server::start();
    let repo = Repo::new("feature/leak");
    let env = admin_env(&server);
    let late = repo.path().join("late");
    let script = format!("(sleep 20; touch {}) & echo hi; exit 3", late.display());
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", &script],
        &with(&env, &[]),
    ))
    .expect_code(3);
    assert!(result.stdout().contains("hi"), "{result}");
    assert!(
        !late.exists(),
        "deploydb waited for the background process to finish"
    );
}

/// Ctrl-C before the migration starts (here while deploydb waits for a server that is not
/// there yet): the run ends at once with 130 and one line, and the migration never runs.
#[test]
fn sigint_before_the_migration_starts_ends_the_run_with_130() {
    let repo = Repo::new("feature/early");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://u:p@127.0.0.1:{port}/postgres?sslmode=disable");
    let marker = repo.path().join("migrated");
    let mut child = deploydb(
        repo.path(),
        &["run", "--", "touch", marker.to_str().unwrap()],
        &[
            ("DEPLOYDB_ADMIN_URL", url.as_str()),
            ("DEPLOYDB_CONNECT_TIMEOUT", "60s"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The handshake: deploydb says it is retrying the connection, so it is past start-up.
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let retrying = line.contains("retrying");
        seen.push(line);
        if retrying {
            break;
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?} {rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("error: interrupted")),
        "{rest:?}"
    );
    assert!(!marker.exists(), "the migration ran");
}
