//! check, list, drop, prune and per-PR previews against a real server: the catalog is the only
//! state, production is untouchable, and databases deploydb did not make are never its own.

use std::fs;

use crate::support::{Repo, Server, admin_env, deploydb, run, with};

fn names(json: &serde_json::Value) -> Vec<String> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn roles(server: &Server) -> Vec<String> {
    server.superuser_sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'shop%' OR rolname LIKE 'blog%' ORDER BY 1")
}

#[test]
fn list_shows_only_databases_deploydb_owns() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(&repo, &env, None, &["branch:a", "branch:b", "production"]);
    crate::support::ensure_all(&repo, &env, Some("blog"), &["branch:a"]);
    server.superuser_sql(r#"CREATE DATABASE "shop--by-hand""#);
    server.superuser_sql(r#"CREATE DATABASE "shop--other-tool""#);
    server.superuser_sql(r#"COMMENT ON DATABASE "shop--other-tool" IS '{"managed_by":"something-else","app":"shop"}'"#);

    let shop = run(deploydb(repo.path(), &["list", "--format", "json"], &env))
        .expect_code(0)
        .json();
    assert_eq!(names(&shop), vec!["shop--a", "shop--b", "shop-production"]);
    let a = &shop[0];
    assert_eq!(
        (a["app"].as_str(), a["kind"].as_str(), a["branch"].as_str()),
        (Some("shop"), Some("branch"), Some("a"))
    );
    assert!(a["size"].as_i64().unwrap() > 0);
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        a["branch_exists"].is_null(),
        "the test repo has no remote-tracking refs"
    );

    let all = run(deploydb(
        repo.path(),
        &["list", "--all-apps", "--format", "json"],
        &env,
    ))
    .expect_code(0)
    .json();
    assert_eq!(
        names(&all),
        vec!["blog--a", "shop--a", "shop--b", "shop-production"]
    );
    let blog = run(deploydb(
        repo.path(),
        &["--app", "blog", "list", "--format", "json"],
        &env,
    ))
    .expect_code(0)
    .json();
    assert_eq!(names(&blog), vec!["blog--a"]);

    // With remote-tracking refs, a branch that origin no longer has is flagged.
    repo.write(".git/refs/remotes/origin/a", "0000\n");
    let text = run(deploydb(repo.path(), &["list"], &env))
        .expect_code(0)
        .stdout();
    assert!(
        text.lines()
            .any(|l| l.starts_with("shop--b") && l.contains("(branch gone)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("shop--a") && !l.contains("gone")),
        "{text}"
    );
}

#[test]
fn drop_refuses_production_and_unowned_databases_and_takes_the_role_along() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(&repo, &env, None, &["production", "branch:feature/x"]);
    server.superuser_sql(r#"CREATE DATABASE "shop--by-hand""#);

    for args in [
        vec!["drop", "--timeline", "production", "--yes"],
        vec!["drop", "--timeline", "production", "--production", "--yes"],
        vec![
            "drop",
            "--timeline",
            "production",
            "--production",
            "--yes",
            "--confirm",
            "shop-prod",
        ],
        vec![
            "drop",
            "--timeline",
            "production",
            "--production",
            "--confirm",
            "shop-production",
        ],
    ] {
        let refused = run(deploydb(repo.path(), &args, &env)).expect_code(2);
        assert!(
            refused.stderr().contains("refusing to drop production"),
            "{refused}"
        );
    }
    let unowned = run(deploydb(
        repo.path(),
        &["drop", "--timeline", "branch:by-hand", "--yes"],
        &env,
    ))
    .expect_code(5);
    assert!(
        unowned.stderr().contains("not created by deploydb"),
        "{unowned}"
    );
    let implicit = run(deploydb(repo.path(), &["drop", "--yes"], &env)).expect_code(2);
    assert!(implicit.stderr().contains("--timeline"), "{implicit}");
    let unconfirmed = run(deploydb(
        repo.path(),
        &["drop", "--timeline", "branch:feature/x"],
        &env,
    ))
    .expect_code(2);
    assert!(unconfirmed.stderr().contains("--yes"), "{unconfirmed}");
    let dry = run(deploydb(
        repo.path(),
        &["drop", "--timeline", "branch:feature/x", "--dry-run"],
        &env,
    ))
    .expect_code(0);
    assert!(
        dry.stdout().contains("would drop database shop--feature-x"),
        "{dry}"
    );
    assert_eq!(
        server.databases(),
        vec!["shop--by-hand", "shop--feature-x", "shop-production"]
    );

    // A session left open on the branch database does not stop the drop.
    let branch_url = format!(
        "postgresql://{}@127.0.0.1:{}/shop--feature-x",
        crate::support::encode(&format!(
            "shop--feature-x:{}",
            server.role_password("shop--feature-x")
        ))
        .replacen("%3A", ":", 1),
        server.port()
    );
    let _open =
        std::thread::spawn(move || crate::support::try_query(&branch_url, "SELECT pg_sleep(30)"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let dropped = run(deploydb(
        repo.path(),
        &["drop", "--timeline", "branch:feature/x", "--yes"],
        &env,
    ))
    .expect_code(0);
    assert!(
        dropped
            .stdout()
            .contains("dropped database shop--feature-x and its role"),
        "{dropped}"
    );
    assert_eq!(server.databases(), vec!["shop--by-hand", "shop-production"]);
    assert_eq!(roles(&server), vec!["shop-production"]);
    let again = run(deploydb(
        repo.path(),
        &["drop", "--timeline", "branch:feature/x", "--yes"],
        &env,
    ))
    .expect_code(0);
    assert!(again.stdout().contains("nothing to drop"), "{again}");

    let confirmed = [
        "drop",
        "--timeline",
        "production",
        "--production",
        "--yes",
        "--confirm",
        "shop-production",
    ];
    run(deploydb(repo.path(), &confirmed, &env)).expect_code(0);
    assert_eq!(server.databases(), vec!["shop--by-hand"]);
}

#[test]
fn prune_drops_exactly_the_vanished_branches_and_keeps_the_rest() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(
        &repo,
        &env,
        None,
        &["production", "preview", "branch:a", "branch:b", "branch:c"],
    );
    crate::support::ensure_all(&repo, &env, Some("blog"), &["branch:a"]);
    server.superuser_sql(r#"CREATE DATABASE "shop--by-hand""#);
    let live = repo.path().join("branches.txt");
    fs::write(&live, "0123abcd\trefs/heads/main\n0123abcd\trefs/heads/b\n").unwrap();
    let before = server.databases();

    let dry = run(deploydb(
        repo.path(),
        &[
            "prune",
            "--dry-run",
            "--branches-from",
            live.to_str().unwrap(),
        ],
        &env,
    ))
    .expect_code(0);
    assert_eq!(server.databases(), before, "a dry run changes nothing");
    assert!(
        dry.stdout().contains("would drop") && dry.stdout().contains("would prune 2 of 5"),
        "{dry}"
    );

    let pruned = run(deploydb(
        repo.path(),
        &["prune", "--branches-from", live.to_str().unwrap()],
        &env,
    ))
    .expect_code(0);
    let out = pruned.stdout();
    assert!(
        out.lines().any(|l| l.starts_with("drop")
            && l.contains("shop--a")
            && l.contains("no longer exists")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("keep") && l.contains("shop-production") && l.contains("never")),
        "{out}"
    );
    assert!(
        out.contains("pruned 2 of 5 databases of app `shop`"),
        "{out}"
    );
    assert_eq!(
        server.databases(),
        vec![
            "blog--a",
            "shop--b",
            "shop--by-hand",
            "shop-preview",
            "shop-production"
        ]
    );
    assert_eq!(
        roles(&server),
        vec!["blog--a", "shop--b", "shop-preview", "shop-production"]
    );

    // Branches on standard input, and an empty list is refused rather than pruning everything.
    let mut child = deploydb(repo.path(), &["prune", "--branches-from", "-"], &env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    run(deploydb(repo.path(), &["prune"], &env)).expect_code(2);
    assert_eq!(server.databases().len(), 5);
}

fn set_last_deployed(server: &Server, database: &str, at: &str) {
    let mut record = server.comment(database).unwrap();
    record["last_deployed_at"] = at.into();
    server.superuser_sql(&format!(
        "COMMENT ON DATABASE \"{database}\" IS '{}'",
        record.to_string().replace('\'', "''")
    ));
}

/// A redeploy rewrites the deploy time on the admin session under a lock tried once: in a
/// herd of redeploys of one timeline, one writes it, the rest go on without waiting, and none
/// fails or warns (two concurrent writes of one comment would fail with "tuple concurrently
/// updated").
#[test]
fn a_herd_of_redeploys_writes_the_deploy_time_once_and_all_succeed() {
    let server = Server::start();
    let repo = Repo::new("feature/again");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    run(deploydb(repo.path(), &["ensure"], &env)).expect_code(0);
    let long_ago = "2020-01-01T00:00:00Z";
    set_last_deployed(&server, "shop--feature-again", long_ago);
    let reports = crate::support::race_ensures(&repo, &env, 16);
    for report in &reports {
        assert_eq!(report["created"], false, "{report}");
        assert!(report["warning"].is_null(), "{report}");
    }
    let record = server.comment("shop--feature-again").unwrap();
    assert_ne!(record["last_deployed_at"], long_ago);
    assert_eq!(record["branch"], "feature/again");
}

/// The role of a new timeline is created in the transaction that then records its database:
/// when `CREATE DATABASE` fails after the role was made (here because someone — a pgAdmin
/// window, say — is connected to template1, which PostgreSQL refuses to copy then), the run
/// fails with the server's reason and leaves neither the role nor a database behind.
#[test]
fn a_failed_create_database_leaves_no_role_behind() {
    let server = Server::start();
    let repo = Repo::new("feature/blocked");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    let before = roles(&server);
    let held = crate::support::hold_session(&server.superuser_url_to("template1"));
    let failed = run(deploydb(repo.path(), &["ensure"], &env)).expect_code(5);
    assert!(
        failed.stderr().contains("being accessed by other users"),
        "{}",
        failed.stderr()
    );
    assert_eq!(roles(&server), before, "the role was left behind");
    assert!(server.databases().is_empty(), "{:?}", server.databases());
    drop(held);
    let created = run(deploydb(repo.path(), &["ensure", "--format", "json"], &env)).expect_code(0);
    assert_eq!(created.json()["created"], true);
    assert_eq!(roles(&server), vec!["shop--feature-blocked".to_string()]);
}

#[test]
fn older_than_reads_last_deployed_at_which_every_run_refreshes() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(
        &repo,
        &env,
        None,
        &["branch:stale", "branch:fresh", "production"],
    );
    let long_ago = "2020-01-01T00:00:00Z";
    for database in ["shop--stale", "shop--fresh", "shop-production"] {
        set_last_deployed(&server, database, long_ago);
    }
    // Deploying "fresh" again refreshes its record; "stale" stays old.
    run(deploydb(
        repo.path(),
        &["run", "--timeline", "branch:fresh", "--", "true"],
        &env,
    ))
    .expect_code(0);
    let fresh = server.comment("shop--fresh").unwrap();
    assert_ne!(fresh["last_deployed_at"], long_ago);
    assert_eq!(fresh["managed_by"], "deploydb");
    assert_ne!(
        fresh["created_at"],
        fresh["last_deployed_at"]
            .as_str()
            .map(|_| long_ago)
            .unwrap()
    );

    let out = run(deploydb(
        repo.path(),
        &["prune", "--older-than", "14d"],
        &env,
    ))
    .expect_code(0)
    .stdout();
    assert!(out.contains("not deployed for"), "{out}");
    assert_eq!(server.databases(), vec!["shop--fresh", "shop-production"]);
}

#[test]
fn per_pr_previews_get_their_own_databases_and_can_be_dropped() {
    let server = Server::start();
    let repo = Repo::new("main");
    let files = tempfile::tempdir().unwrap();
    let env = admin_env(&server);
    let mut databases = Vec::new();
    for pr in ["41", "42"] {
        let json = ensure_for_pull_request(&repo, &env, files.path(), pr, "per-pr");
        databases.push(json["database"].as_str().unwrap().to_string());
    }
    assert_eq!(databases, vec!["shop-pr-41", "shop-pr-42"]);
    assert_eq!(server.comment("shop-pr-42").unwrap()["pr"], 42);
    // A branch literally called pr-41 does not land on PR 41's database.
    let branch = run(deploydb(
        repo.path(),
        &["ensure", "--format", "json", "--timeline", "branch:pr-41"],
        &with(&env, &[]),
    ))
    .expect_code(0)
    .json();
    assert_ne!(branch["database"], "shop-pr-41");
    let per_pr = with(&env, &[("DEPLOYDB_PREVIEW", "per-pr")]);
    run(deploydb(
        repo.path(),
        &["drop", "--timeline", "pr:41", "--yes"],
        &per_pr,
    ))
    .expect_code(0);
    let left = server.databases();
    assert!(
        !left.contains(&"shop-pr-41".to_string()) && left.contains(&"shop-pr-42".to_string()),
        "{left:?}"
    );
}

#[test]
fn check_reports_each_point_and_fails_when_a_deploy_would() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&env, &[]))).expect_code(0);
    let json = run(deploydb(
        repo.path(),
        &["check", "--format", "json"],
        &with(&env, &[]),
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["ok"], true);
    let point = |json: &serde_json::Value, name: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert!(
        point(&json, "version")["detail"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL 1")
    );
    assert_eq!(
        point(&json, "tls")["detail"],
        "not in use (sslmode=disable)"
    );
    assert_eq!(point(&json, "createrole")["ok"], true);
    assert_eq!(
        point(&json, "databases")["detail"],
        "1 managed for app `shop`"
    );
    assert!(
        !point(&json, "admin")["detail"]
            .as_str()
            .unwrap()
            .contains("Adm1n")
    );

    server.superuser_sql("CREATE ROLE plain LOGIN CREATEDB PASSWORD 'plain-pw'");
    let plain = format!(
        "postgresql://plain:plain-pw@127.0.0.1:{}/postgres",
        server.port()
    );
    let text = run(deploydb(
        repo.path(),
        &["check"],
        &[("DEPLOYDB_ADMIN_URL", plain.as_str())],
    ))
    .expect_code(5);
    let out = text.stdout();
    assert!(
        out.contains("FAIL createrole") && out.contains("isolation = \"shared\""),
        "{text}"
    );
    let shared = [
        ("DEPLOYDB_ADMIN_URL", plain.as_str()),
        ("DEPLOYDB_ISOLATION", "shared"),
    ];
    run(deploydb(repo.path(), &["check"], &shared)).expect_code(0);

    let down = "postgresql://u:p@127.0.0.1:1/postgres";
    let json = run(deploydb(
        repo.path(),
        &["check", "--format", "json"],
        &[
            ("DEPLOYDB_ADMIN_URL", down),
            ("DEPLOYDB_CONNECT_TIMEOUT", "1s"),
        ],
    ))
    .expect_code(5)
    .json();
    assert_eq!(point(&json, "connect")["ok"], false);
    assert!(point(&json, "connect")["hint"].is_string());
}

#[test]
fn branches_start_from_a_template_at_productions_schema_without_its_data() {
    let server = Server::start();
    let repo = Repo::new("main");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\nbranch_from = \"template\"\n[migrate]\ncommand = \"psql -XAtqc 'CREATE TABLE IF NOT EXISTS items (id int)'\"\n",
    );
    let env = admin_env(&server);
    let env = with(&env, &[]);
    // Before any production run there is no template: a branch starts empty, with a warning.
    let early = run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "branch:early"],
        &env,
    ))
    .expect_code(0);
    assert!(
        early.stderr().contains("shop-template could not be used"),
        "{early}"
    );

    let production = run(deploydb(
        repo.path(),
        &["run", "--timeline", "production"],
        &env,
    ))
    .expect_code(0);
    assert!(
        production.stderr().contains("shop-template rebuilt"),
        "{production}"
    );
    let template = server
        .superuser_sql("SELECT datistemplate FROM pg_database WHERE datname = 'shop-template'");
    assert_eq!(template, vec!["t"]);
    let prod_url = |db: &str| {
        format!(
            "postgresql://bootstrap:{}@127.0.0.1:{}/{db}",
            crate::support::SUPERUSER_PASSWORD,
            server.port()
        )
    };
    // Data that only production has.
    crate::support::query(
        &prod_url("shop-production"),
        "INSERT INTO items VALUES (42)",
    );

    let json = run(deploydb(
        repo.path(),
        &[
            "ensure",
            "--format",
            "json",
            "--timeline",
            "branch:feature/t",
        ],
        &env,
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["created"], true);
    assert!(json["warning"].is_null(), "{json}");
    let vars = run(deploydb(
        repo.path(),
        &["env", "--format", "json", "--timeline", "branch:feature/t"],
        &env,
    ))
    .expect_code(0)
    .json();
    let branch_url = crate::support::url_from_exports(&vars, "shop--feature-t");
    assert_eq!(
        crate::support::query(&branch_url, "SELECT count(*) FROM items"),
        vec!["0"],
        "schema without data"
    );
    crate::support::try_query(&branch_url, "ALTER TABLE items ADD COLUMN name text")
        .expect("the branch role may change the copied table");
    // The branch started before the template existed is still empty.
    let early_tables =
        server.superuser_sql("SELECT count(*) FROM pg_database WHERE datname = 'shop--early'");
    assert_eq!(early_tables, vec!["1"]);
    let list = run(deploydb(repo.path(), &["list", "--format", "json"], &env))
        .expect_code(0)
        .json();
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"template"), "{kinds:?}");
    // prune never touches it.
    let live = repo.path().join("live.txt");
    fs::write(&live, "main\n").unwrap();
    let pruned = run(deploydb(
        repo.path(),
        &["prune", "--branches-from", live.to_str().unwrap()],
        &env,
    ))
    .expect_code(0);
    assert!(
        pruned.stdout().contains("drop       shop--feature-t"),
        "{pruned}"
    );
    let template =
        server.superuser_sql("SELECT count(*) FROM pg_database WHERE datname = 'shop-template'");
    assert_eq!(template, vec!["1"], "prune dropped the template");
}

/// The shared preview is deployed by one pull request after another: each run uses it, and its
/// record names no pull request (a number there would be stale with the next one).
#[test]
fn the_shared_preview_serves_every_pull_request_and_names_none() {
    let server = Server::start();
    let repo = Repo::new("main");
    let files = tempfile::tempdir().unwrap();
    let env = admin_env(&server);
    for pr in ["7", "8"] {
        let json = ensure_for_pull_request(&repo, &env, files.path(), pr, "shared");
        assert_eq!(json["database"], "shop-preview");
    }
    assert_eq!(
        server.comment("shop-preview").unwrap()["pr"],
        serde_json::Value::Null
    );
    let list = run(deploydb(repo.path(), &["list"], &with(&env, &[]))).expect_code(0);
    assert!(!list.stdout().contains('#'), "{list}");
}

/// `prune --branches-from git`: a branch that exists only in the local checkout (never pushed)
/// is not gone; one that is in neither place is. Each kept branch says why.
#[test]
fn prune_from_git_keeps_local_branches_that_were_never_pushed() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare", "-b", "main"]);
    fs::remove_dir_all(repo.path().join(".git")).unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "init"]);
    git(
        repo.path(),
        &["remote", "add", "origin", origin.path().to_str().unwrap()],
    );
    git(repo.path(), &["push", "-q", "origin", "main"]);
    git(repo.path(), &["branch", "local-only"]);
    crate::support::ensure_all(
        &repo,
        &with(&env, &[]),
        None,
        &["branch:local-only", "branch:gone"],
    );
    let pruned = run(deploydb(
        repo.path(),
        &["prune", "--branches-from", "git"],
        &with(&env, &[]),
    ))
    .expect_code(0);
    let stdout = pruned.stdout();
    assert!(
        stdout.contains("branch `local-only` still exists")
            && stdout.contains("branch `gone` no longer exists"),
        "{pruned}"
    );
    let left: Vec<String> = server.databases();
    assert_eq!(left, vec!["shop--local-only".to_string()], "{pruned}");
}

/// `ensure --format json` as a GitHub `pull_request` run of pull request `pr` (its event file
/// written into `dir`), with `DEPLOYDB_PREVIEW=preview`.
fn ensure_for_pull_request(
    repo: &Repo,
    admin: &[(&'static str, String)],
    dir: &std::path::Path,
    pr: &str,
    preview: &str,
) -> serde_json::Value {
    let event = dir.join(format!("event-{pr}.json"));
    fs::write(
        &event,
        format!(r#"{{"number":{pr},"repository":{{"default_branch":"main"}}}}"#),
    )
    .unwrap();
    let ref_name = format!("{pr}/merge");
    let ci = [
        ("DEPLOYDB_PREVIEW", preview),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF_NAME", ref_name.as_str()),
        ("GITHUB_HEAD_REF", "feature/pr"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ];
    run(deploydb(
        repo.path(),
        &["ensure", "--format", "json"],
        &with(admin, &ci),
    ))
    .expect_code(0)
    .json()
}

/// `prune --format json`: every decision and the totals in one document a script can read;
/// with `--dry-run`, nothing is dropped.
#[test]
fn prune_reports_its_decisions_as_json() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    crate::support::ensure_all(
        &repo,
        &with(&env, &[]),
        None,
        &["branch:kept", "branch:gone"],
    );
    let live = repo.path().join("live.txt");
    fs::write(&live, "main\nkept\n").unwrap();
    let json = run(deploydb(
        repo.path(),
        &[
            "prune",
            "--dry-run",
            "--branches-from",
            live.to_str().unwrap(),
            "--format",
            "json",
        ],
        &with(&env, &[]),
    ))
    .expect_code(0)
    .json();
    assert_eq!(json["pruned"], 1);
    assert_eq!(json["dry_run"], true);
    let actions: Vec<(String, String)> = json["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["database"].as_str().unwrap().to_string(),
                d["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("shop--gone".to_string(), "would_drop".to_string()),
            ("shop--kept".to_string(), "keep".to_string())
        ]
    );
    assert_eq!(server.databases().len(), 2);
}

/// `drop --format json`: what was (or would be) dropped as one document.
#[test]
fn drop_reports_as_json() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(&repo, &env, None, &["branch:x"]);
    let drop = |extra: &[&str]| {
        let mut args = vec!["drop", "--timeline", "branch:x", "--format", "json"];
        args.extend_from_slice(extra);
        run(deploydb(repo.path(), &args, &env))
            .expect_code(0)
            .json()
    };
    let dry = drop(&["--dry-run"]);
    assert_eq!(
        (dry["existed"].clone(), dry["dropped"].clone()),
        (true.into(), false.into())
    );
    let done = drop(&["--yes"]);
    assert_eq!(
        (
            done["database"].clone(),
            done["dropped"].clone(),
            done["role_dropped"].clone()
        ),
        ("shop--x".into(), true.into(), true.into())
    );
    assert_eq!(drop(&["--yes"])["existed"], false);
    assert!(server.databases().is_empty());
}
