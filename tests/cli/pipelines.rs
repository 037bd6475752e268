//! deploydb native in each pipeline: GitHub's log commands, outputs and job summary; GitLab's
//! sections and a real two-job pipeline through gitlab-ci-local; local hooks (npm, make, .env);
//! and the lint gates for the action, the workflows and the Dockerfile.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{
    self, PASSWORD, Repo, Server, admin_env, assert_no_password, deploydb, run, tool, with,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn github_groups_the_migration_and_writes_outputs_and_a_job_summary() {
    let server = Server::start();
    let repo = Repo::new("x");
    let files = tempfile::tempdir().unwrap();
    let summary = files.path().join("summary.md");
    let outputs = files.path().join("outputs");
    let env = admin_env(&server);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
        ("GITHUB_REF_NAME", "feature/gh"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
    ];
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "echo inside-the-migration"],
        &with(&env, &ci),
    ))
    .expect_code(0);
    let stdout = result.stdout();
    let group = stdout
        .find("::group::deploydb: migrate `sh -c 'echo inside-the-migration'`")
        .expect("a group");
    let inside = stdout.find("inside-the-migration\n").unwrap();
    let end = stdout.find("::endgroup::").expect("the group is closed");
    assert!(group < inside && inside < end, "{result}");

    let markdown = fs::read_to_string(&summary).unwrap();
    assert!(
        markdown.contains("| Timeline | `branch:feature/gh` |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| Database | `shop--feature-gh` (created) |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| Migration | `sh -c 'echo inside-the-migration'` succeeded in"),
        "{markdown}"
    );
    assert!(!markdown.contains(PASSWORD));

    let text = fs::read_to_string(&outputs).unwrap();
    let url_line = text
        .lines()
        .skip_while(|l| !l.starts_with("database-url<<"))
        .nth(1)
        .unwrap();
    assert_eq!(
        support::query(url_line, "SELECT current_database()"),
        vec!["shop--feature-gh"]
    );
    assert!(
        stdout.contains(&format!("::add-mask::{url_line}")),
        "the URL output is masked"
    );
    assert_no_password(&result.without_masks());

    // `ensure` alone also masks and writes the outputs.
    fs::remove_file(&outputs).unwrap();
    run(deploydb(repo.path(), &["ensure"], &with(&env, &ci))).expect_code(0);
    assert!(
        fs::read_to_string(&outputs).unwrap().contains("created<<"),
        "ensure wrote no outputs"
    );
}

#[test]
fn config_errors_are_annotated_at_their_line_on_github() {
    let repo = Repo::new("x");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n\n[migrate]\ntimeout = \"forever\"\n",
    );
    let result = run(deploydb(
        repo.path(),
        &["run"],
        &[("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "x")],
    ))
    .expect_code(2);
    let file = repo.path().canonicalize().unwrap().join("deploydb.toml");
    let expected = format!("::error title=deploydb,file={},line=4::", file.display());
    assert!(result.stdout().contains(&expected), "{result}");
}

#[test]
fn gitlab_sections_wrap_the_migration_output() {
    let server = Server::start();
    let repo = Repo::new("x");
    let env = admin_env(&server);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_BRANCH", "feature/gl"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "echo", "inside"],
        &with(&env, &ci),
    ))
    .expect_code(0);
    let stdout = result.stdout();
    let start = stdout.find("section_start:").expect("a section start");
    let inside = stdout.find("inside\n").unwrap();
    let end = stdout.find("section_end:").expect("a section end");
    assert!(start < inside && inside < end, "{result}");
    assert!(
        stdout
            .contains(":deploydb_migrate[collapsed=false]\r\x1b[0Kdeploydb: migrate `echo inside`"),
        "{result}"
    );
}

#[test]
fn quiet_silences_progress_and_json_summarises_the_run() {
    let server = Server::start();
    let repo = Repo::new("feature/quiet");
    let env = admin_env(&server);
    let result = run(deploydb(
        repo.path(),
        &[
            "--quiet", "run", "--format", "json", "--", "sh", "-c", "exit 0",
        ],
        &with(&env, &[]),
    ))
    .expect_code(0);
    assert!(!result.stderr().contains("deploydb: "), "{result}");
    let last = result.stdout().lines().last().unwrap().to_string();
    let json: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(json["timeline"], "branch:feature/quiet");
    assert_eq!(json["database"], "shop--feature-quiet");
    assert_eq!(json["created"], true);
    assert_eq!(json["migration"]["exit_code"], 0);
    // Quoted as it was run: pasting it into a shell runs the same thing.
    assert_eq!(json["migration"]["command"], "sh -c 'exit 0'");
    // Errors still show when quiet.
    let failed = run(deploydb(
        repo.path(),
        &["--quiet", "run", "--timeline", "nope"],
        &with(&env, &[]),
    ))
    .expect_code(2);
    assert!(failed.stderr().contains("error:"), "{failed}");
}

#[test]
fn an_env_file_provides_defaults_that_the_environment_overrides() {
    let server = Server::start();
    let repo = Repo::new("feature/dotenv");
    repo.write(
        ".env",
        &format!(
            "# local settings\nDEPLOYDB_ADMIN_URL=\"{}\"\nDEPLOYDB_APP=fromfile\n",
            server.admin_url()
        ),
    );
    let json = run(deploydb(
        repo.path(),
        &["--env-file", ".env", "ensure", "--format", "json"],
        &[],
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["database"], "fromfile--feature-dotenv");
    let json = run(deploydb(
        repo.path(),
        &["--env-file", ".env", "ensure", "--format", "json"],
        &[("DEPLOYDB_APP", "fromenv")],
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["database"], "fromenv--feature-dotenv");
    repo.write("bad.env", "NOT A LINE\n");
    let bad = run(deploydb(
        repo.path(),
        &["--env-file", "bad.env", "ensure"],
        &[],
    ))
    .expect_code(2);
    assert!(bad.stderr().contains("bad.env:1"), "{bad}");
    run(deploydb(
        repo.path(),
        &["--env-file", "missing.env", "ensure"],
        &[],
    ))
    .expect_code(2);
}

#[test]
fn npm_predeploy_and_make_targets_run_deploydb_first() {
    let server = Server::start();
    let repo = Repo::new("feature/hooks");
    repo.write(
        "package.json",
        r#"{"name":"shop","scripts":{"predeploy":"deploydb run -- psql -XAtc 'select current_database()'","deploy":"echo deployed"},"dependencies":{"pg":"^8"}}"#,
    );
    repo.write(
        "Makefile",
        "deploy:\n\tdeploydb run -- psql -XAtc 'select current_user'\n\techo made\n",
    );
    let env = admin_env(&server);
    let hook = |program: &str, args: &[&str]| {
        let output = Command::new(program)
            .args(args)
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", support::path_with_deploydb())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("DEPLOYDB_ADMIN_URL", &env[0].1)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{program}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let npm = hook("npm", &["run", "--silent", "deploy"]);
    assert!(
        npm.contains("shop--feature-hooks\n") && npm.contains("deployed"),
        "{npm}"
    );
    let npm_pos = (
        npm.find("shop--feature-hooks").unwrap(),
        npm.find("deployed").unwrap(),
    );
    assert!(npm_pos.0 < npm_pos.1, "predeploy ran after deploy: {npm}");
    let make = hook("make", &["--no-print-directory", "deploy"]);
    assert!(
        make.contains("shop--feature-hooks\n") && make.contains("made"),
        "{make}"
    );
}

#[test]
fn a_two_job_gitlab_pipeline_hands_the_connection_to_the_next_job() {
    let server = Server::start();
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    fs::create_dir_all(dir.join("templates")).unwrap();
    fs::copy(
        root().join("templates/deploydb.gitlab-ci.yml"),
        dir.join("templates/deploydb.gitlab-ci.yml"),
    )
    .unwrap();
    fs::write(
        dir.join("package.json"),
        r#"{"name":"shop","dependencies":{"pg":"^8"}}"#,
    )
    .unwrap();
    fs::write(dir.join("deploydb.toml"), "app = \"shop\"\n").unwrap();
    fs::write(
        dir.join(".gitlab-ci.yml"),
        r#"include:
  - local: templates/deploydb.gitlab-ci.yml

stages: [provision, use]

provision:
  extends: .deploydb
  stage: provision
  variables:
    DEPLOYDB_DOTENV_SECRETS: "true"
    DEPLOYDB_MIGRATE_COMMAND: psql -XAtc "create table made_in_job_one (id int)"

use:
  stage: use
  script:
    - psql -XAtc "select current_database() || ' has ' || count(*) || ' table' from pg_tables where tablename = 'made_in_job_one'"

drop:
  extends: .deploydb-stop
  stage: use
  needs: [provision]
"#,
    )
    .unwrap();
    git(&["init", "-q", "-b", "main"]);
    git(&[
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "add",
        "-A",
    ]);
    git(&[
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "commit",
        "-qm",
        "pipeline",
    ]);
    let gitlab_ci_local = |args: &[&str]| {
        let output = Command::new(tool("gitlab-ci-local"))
            .current_dir(dir)
            .env("PATH", support::path_with_deploydb())
            .env("GCL_IGNORE_PREDEFINED_VARS", "GITLAB_CI,CI_PROJECT_DIR")
            // The template's image is for GitLab's runners; here the jobs run in this shell
            // (in the project's real folder, not the image's /builds path gitlab-ci-local names).
            .arg("--force-shell-executor")
            .arg("--variable")
            .arg(format!("CI_PROJECT_DIR={}", dir.display()))
            .arg("--variable")
            // gitlab-ci-local marks its runs GITLAB_CI=false; GitLab's runners say true.
            .arg("GITLAB_CI=true")
            .arg("--variable")
            .arg(format!("DEPLOYDB_ADMIN_URL={}", server.admin_url()))
            .args(args)
            .output()
            .expect("gitlab-ci-local runs");
        let log = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            !log.contains(PASSWORD),
            "the admin password reached the pipeline log"
        );
        (output.status.success(), log)
    };
    let (ok, log) = gitlab_ci_local(&[]);
    assert!(ok, "{log}");
    assert!(
        log.contains("shop-production has 1 table"),
        "the second job did not reach the database:\n{log}"
    );
    // The stop job knows the database from the report, and production is never dropped.
    let (_, log) = gitlab_ci_local(&["drop"]);
    assert!(
        log.contains("--production --yes --confirm shop-production"),
        "{log}"
    );
    assert_eq!(server.databases(), vec!["shop-production"]);
}

/// The CI/CD component as a monorepo includes it: the app in a subfolder (its name only in
/// that folder's deploydb.toml), the report still at the project's root where GitLab reads it,
/// the next job connected, and the stop job (no checkout) dropping that very database.
#[test]
fn the_gitlab_component_serves_a_monorepo_app_and_its_stop_job_drops_the_database() {
    let server = Server::start();
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(dir)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    fs::create_dir_all(dir.join("templates/deploydb")).unwrap();
    fs::copy(
        root().join("templates/deploydb/template.yml"),
        dir.join("templates/deploydb/template.yml"),
    )
    .unwrap();
    fs::create_dir_all(dir.join("services/api")).unwrap();
    fs::write(
        dir.join("services/api/package.json"),
        r#"{"name":"api","dependencies":{"pg":"^8"}}"#,
    )
    .unwrap();
    fs::write(dir.join("services/api/deploydb.toml"), "app = \"api\"\n").unwrap();
    // The component from this very project and commit, as GitLab's docs test components.
    fs::write(
        dir.join(".gitlab-ci.yml"),
        r#"include:
  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/deploydb@$CI_COMMIT_SHA
    inputs:
      stage: provision
      working_directory: services/api
      migrate: psql -XAtc "create table made_in_job_one (id int)"
      dotenv_secrets: true

stages: [provision, use]

use:
  stage: use
  script:
    - psql -XAtc "select current_database() || ' has ' || count(*) || ' table' from pg_tables where tablename = 'made_in_job_one'"
"#,
    )
    .unwrap();
    git(&["init", "-q", "-b", "feature/mono"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/shop/monorepo.git",
    ]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "pipeline"]);
    let gitlab_ci_local = |args: &[&str]| {
        let output = Command::new(tool("gitlab-ci-local"))
            .current_dir(dir)
            .env("PATH", support::path_with_deploydb())
            .env("GCL_IGNORE_PREDEFINED_VARS", "GITLAB_CI,CI_PROJECT_DIR")
            // The image is for GitLab's runners; here the jobs run in this machine's shell,
            // where gitlab-ci-local still says CI_PROJECT_DIR=/builds/…, the image's path: the
            // project's real folder instead, as a runner's shell executor says.
            .arg("--force-shell-executor")
            .arg("--variable")
            .arg("GITLAB_CI=true")
            .arg("--variable")
            .arg(format!("CI_PROJECT_DIR={}", dir.display()))
            .arg("--variable")
            .arg(format!("DEPLOYDB_ADMIN_URL={}", server.admin_url()))
            .args(args)
            .output()
            .expect("gitlab-ci-local runs");
        let log = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{log}");
        assert!(
            !log.contains(PASSWORD),
            "the admin password reached the log"
        );
        log
    };
    let log = gitlab_ci_local(&[]);
    assert!(
        log.contains("api--feature-mono has 1 table"),
        "the second job did not reach the database:\n{log}"
    );
    assert!(
        !dir.join("services/api/deploydb.env").exists() && dir.join("deploydb.env").is_file(),
        "the report is not at the project's root"
    );
    assert_eq!(server.databases(), vec!["api--feature-mono"]);

    let stop = gitlab_ci_local(&["deploydb-stop"]);
    assert!(stop.contains("api--feature-mono"), "{stop}");
    assert!(server.databases().is_empty(), "not dropped:\n{stop}");
}

#[test]
fn the_action_and_the_example_and_release_workflows_pass_actionlint_and_zizmor() {
    let workflows: Vec<_> = fs::read_dir(root().join("examples/github"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    assert_eq!(
        workflows.len(),
        4,
        "deploy, preview, drop-preview and prune"
    );
    // The project's own: CI on three systems, and the release (binaries, image, npm, PyPI).
    let own = [
        root().join(".github/workflows/ci.yml"),
        root().join(".github/workflows/release.yml"),
    ];
    let workflows: Vec<_> = workflows.into_iter().chain(own).collect();
    let actionlint = Command::new(tool("actionlint"))
        .args(&workflows)
        .output()
        .unwrap();
    assert!(
        actionlint.status.success(),
        "{}",
        String::from_utf8_lossy(&actionlint.stdout)
    );
    let zizmor = Command::new(tool("zizmor"))
        .arg("--offline")
        .arg(root().join("action.yml"))
        .args(&workflows)
        .output()
        .unwrap();
    assert!(
        zizmor.status.success(),
        "{}{}",
        String::from_utf8_lossy(&zizmor.stdout),
        String::from_utf8_lossy(&zizmor.stderr)
    );
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let hadolint = Command::new(tool("hadolint"))
        .arg(root().join("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        hadolint.status.success(),
        "{}",
        String::from_utf8_lossy(&hadolint.stdout)
    );
}

/// The action's scripts, run as the runner would run them (inputs as environment variables,
/// the runner's files in a temp folder): the source-build step with the build already
/// restored from the cache, and the run step for `ensure` and `drop`.
#[test]
fn the_action_scripts_work_as_a_runner_runs_them() {
    let server = Server::start();
    let repo = Repo::new("feature/action");
    let runner = tempfile::tempdir().unwrap();
    let file = |name: &str| runner.path().join(name).to_str().unwrap().to_string();
    let action = root().to_str().unwrap();
    let script = |name: &str, env: &[(&str, &str)]| {
        let output = Command::new("bash")
            .arg(root().join("ci").join(name))
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", support::path_with_deploydb())
            .env("GITHUB_ACTION_PATH", action)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text)
    };

    // The source build's step with the build restored from the cache: no cargo run, the
    // restored binary goes on PATH. (The download path is tested in ship.rs.)
    let cached = runner.path().join("tool/bin");
    fs::create_dir_all(&cached).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_deploydb"), cached.join("deploydb")).unwrap();
    let tool = runner.path().join("tool");
    let (code, out) = script(
        "github-build.sh",
        &[
            ("DEPLOYDB_INSTALL_DIR", tool.to_str().unwrap()),
            ("GITHUB_PATH", &file("path")),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        fs::read_to_string(file("path")).unwrap().trim(),
        cached.to_str().unwrap()
    );

    let outputs = file("outputs");
    let admin = server.admin_url();
    // Inputs left empty arrive as empty strings and must mean "not set".
    let with_inputs = |inputs: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        let mut env = vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("DEPLOYDB_PRODUCTION_BRANCH", "main"),
            ("GITHUB_REF_NAME", "feature/action"),
            ("GITHUB_OUTPUT", outputs.as_str()),
            ("DEPLOYDB_ADMIN_URL", admin.as_str()),
            ("DEPLOYDB_APP", ""),
            ("DEPLOYDB_ISOLATION", ""),
        ];
        env.extend_from_slice(inputs);
        env
    };
    let (code, out) = script(
        "github-run.sh",
        &with_inputs(&[("DEPLOYDB_COMMAND", "ensure")]),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        fs::read_to_string(&outputs)
            .unwrap()
            .contains("shop--feature-action")
    );
    assert_eq!(server.databases(), vec!["shop--feature-action"]);

    let drop = with_inputs(&[
        ("DEPLOYDB_COMMAND", "drop"),
        ("DEPLOYDB_TIMELINE", "branch:feature/action"),
    ]);
    let (code, out) = script("github-run.sh", &drop);
    assert_eq!(code, Some(0), "{out}");
    assert!(server.databases().is_empty(), "{out}");

    let bad = with_inputs(&[("DEPLOYDB_COMMAND", "explode")]);
    let (code, out) = script("github-run.sh", &bad);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("::error::deploydb: command must be run, ensure, drop or prune"),
        "{out}"
    );
}
