//! The servers users really run (issue #10): every supported PostgreSQL major, a superuser and a
//! managed-service admin (`CREATEDB CREATEROLE`, not a superuser), both isolations; failures that
//! must leave the server exactly as it was; no moment in which another role can connect to a new
//! timeline's database; PgBouncer in transaction and session mode.

use std::fs;

use crate::support::{
    self, ADMIN, MAJORS, Repo, Server, assert_no_password, deploydb, hold_session, run, try_query,
};

/// A repository of app `app` on branch `main` with the given isolation.
fn repo(app: &str, isolation: &str) -> Repo {
    let repo = Repo::new("main");
    repo.write(
        "deploydb.toml",
        &format!("app = \"{app}\"\nisolation = \"{isolation}\"\n"),
    );
    repo
}

/// check, ensure twice, run, list, drop with an open session, prune: all as a user would.
pub(crate) fn lifecycle(server: &Server, admin_url: &str, app: &str, isolation: &str) {
    let repo = repo(app, isolation);
    let env = [("DEPLOYDB_ADMIN_URL", admin_url)];
    let db = format!("{app}--feature-x");
    let branch = ["--timeline", "branch:feature/x"];
    let major = server.major();
    let context = format!("PostgreSQL {major}, {admin_url}, isolation {isolation}");

    let check = run(deploydb(repo.path(), &["check"], &env)).expect_code(0);
    assert!(
        check.stdout().contains("a deploy would work"),
        "{context}\n{check}"
    );
    assert_no_password(&check);

    for created in [true, false] {
        let ensure = run(deploydb(
            repo.path(),
            &["ensure", branch[0], branch[1], "--format", "json"],
            &env,
        ))
        .expect_code(0);
        assert_eq!(ensure.json()["created"], created, "{context}\n{ensure}");
        assert_no_password(&ensure);
    }
    if isolation == "role" {
        assert_eq!(
            server.superuser_sql(&format!(
                "SELECT pg_get_userbyid(datdba), datallowconn, datacl::text NOT LIKE '%=Tc/%' \
                 FROM pg_database WHERE datname = '{db}'"
            )),
            vec![format!("{db}|t|t")],
            "{context}: the role owns its database, which is open to it and closed to PUBLIC"
        );
    }
    let migrated = run(deploydb(
        repo.path(),
        &[
            "run",
            branch[0],
            branch[1],
            "--",
            "sh",
            "-c",
            "test -n \"$DATABASE_URL\"",
        ],
        &env,
    ))
    .expect_code(0);
    assert_no_password(&migrated);
    let vars = run(deploydb(
        repo.path(),
        &["env", "--format", "json", branch[0], branch[1]],
        &env,
    ))
    .expect_code(0)
    .json();
    let app_url = support::url_from_exports(&vars, &db);
    try_query(
        &app_url,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
    )
    .unwrap_or_else(|e| panic!("{context}: the app cannot use its database: {e}"));

    let list = run(deploydb(repo.path(), &["list", "--format", "json"], &env)).expect_code(0);
    let listed: Vec<&str> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|n| if n == db { "db" } else { "other" })
        .collect();
    assert_eq!(listed, vec!["db"], "{context}\n{list}");

    let session = hold_session(&app_url);
    let dropped = run(deploydb(
        repo.path(),
        &["drop", branch[0], branch[1], "--yes"],
        &env,
    ))
    .expect_code(0);
    drop(session);
    assert!(!server.databases().contains(&db), "{context}\n{dropped}");
    if isolation == "role" {
        assert!(
            server
                .superuser_sql(&format!("SELECT 1 FROM pg_roles WHERE rolname = '{db}'"))
                .is_empty(),
            "{context}: the role went with its database"
        );
    }

    // prune: a branch that is gone goes, with a session open on it; the live one stays.
    support::ensure_all(&repo, &env, None, &["branch:old", "branch:kept"]);
    let old_vars = run(deploydb(
        repo.path(),
        &["env", "--format", "json", "--timeline", "branch:old"],
        &env,
    ))
    .expect_code(0)
    .json();
    let session = hold_session(&support::url_from_exports(
        &old_vars,
        &format!("{app}--old"),
    ));
    let live = repo.path().join("live.txt");
    fs::write(&live, "main\nkept\n").unwrap();
    let pruned = run(deploydb(
        repo.path(),
        &["prune", "--branches-from", live.to_str().unwrap()],
        &env,
    ))
    .expect_code(0);
    drop(session);
    let left: Vec<String> = server
        .databases()
        .into_iter()
        .filter(|d| d.starts_with(&format!("{app}--")))
        .collect();
    assert_eq!(left, vec![format!("{app}--kept")], "{context}\n{pruned}");
}

/// The four set-ups on one cluster of `major`: apps keep them apart.
fn every_setup(major: u32) {
    let server = Server::start_major(major);
    assert_eq!(server.major(), major);
    let superuser = server.superuser_admin_url();
    lifecycle(&server, &server.admin_url(), "adm-role", "role");
    lifecycle(&server, &server.admin_url(), "adm-shared", "shared");
    lifecycle(&server, &superuser, "su-role", "role");
    lifecycle(&server, &superuser, "su-shared", "shared");
}

#[test]
fn lifecycle_on_postgres_12() {
    every_setup(12);
}

#[test]
fn lifecycle_on_postgres_13() {
    every_setup(13);
}

#[test]
fn lifecycle_on_postgres_14() {
    every_setup(14);
}

#[test]
fn lifecycle_on_postgres_15() {
    every_setup(15);
}

#[test]
fn lifecycle_on_postgres_16() {
    every_setup(16);
}

#[test]
fn lifecycle_on_postgres_17() {
    every_setup(17);
}

#[test]
fn lifecycle_on_postgres_18() {
    every_setup(18);
}

#[test]
fn every_supported_major_is_covered() {
    assert_eq!(MAJORS, [12, 13, 14, 15, 16, 17, 18]);
}

/// An admin lacking CREATEDB, CREATEROLE or both: a clear error naming the privilege, and the
/// server's databases, roles, comments, ACLs and memberships exactly as they were.
fn failures_change_nothing(major: u32) {
    let server = Server::start_major(major);
    let repo = repo("shop", "role");
    for (attributes, missing) in [
        ("NOCREATEDB CREATEROLE", "CREATEDB"),
        ("CREATEDB NOCREATEROLE", "CREATEROLE"),
        ("NOCREATEDB NOCREATEROLE", "CREATEDB"),
    ] {
        server.superuser_sql(&format!("ALTER ROLE {ADMIN} {attributes}"));
        let before = server.catalog_snapshot();
        let env = [("DEPLOYDB_ADMIN_URL", server.admin_url())];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for args in [
            vec!["ensure", "--timeline", "branch:feature/x"],
            vec!["run", "--timeline", "branch:feature/x", "--", "true"],
        ] {
            let failed = run(deploydb(repo.path(), &args, &env)).expect_code(5);
            let errors = failed.error_lines();
            assert!(
                errors.len() == 1 && errors[0].contains(missing),
                "PostgreSQL {major}, admin {attributes}: one error naming {missing}\n{failed}"
            );
            assert_no_password(&failed);
            assert_eq!(
                server.catalog_snapshot(),
                before,
                "PostgreSQL {major}, admin {attributes}: the server changed\n{failed}"
            );
        }
        let check = run(deploydb(repo.path(), &["check"], &env)).expect_code(5);
        assert!(check.stdout().contains("FAIL"), "{check}");
    }
}

#[test]
fn an_admin_lacking_a_privilege_changes_nothing_on_15() {
    failures_change_nothing(15);
}

#[test]
fn an_admin_lacking_a_privilege_changes_nothing_on_17() {
    failures_change_nothing(17);
}

/// While many timelines are created, another login role tries again and again to connect to
/// each of their databases: it must never get in, not even in the moment after CREATE DATABASE.
#[test]
fn no_other_role_can_connect_to_a_new_database_at_any_point_on_17() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let server = Server::start_major(17);
    server.superuser_sql("CREATE ROLE watcher LOGIN PASSWORD 'watcher'");
    let repo = repo("shop", "role");
    let env = [("DEPLOYDB_ADMIN_URL", server.admin_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let branches: Vec<String> = (0..12).map(|i| format!("b{i}")).collect();
    let done = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = (0..3)
        .map(|offset| {
            let done = done.clone();
            let port = server.port();
            let branches = branches.clone();
            std::thread::spawn(move || {
                let mut entered = Vec::new();
                let mut attempts = 0u32;
                let mut i = offset;
                while !done.load(Ordering::Relaxed) {
                    let db = format!("shop--{}", branches[i % branches.len()]);
                    let url = format!("postgresql://watcher:watcher@127.0.0.1:{port}/{db}");
                    if try_query(&url, "SELECT 1").is_ok() {
                        entered.push(db);
                    }
                    attempts += 1;
                    i += 1;
                }
                (entered, attempts)
            })
        })
        .collect();
    let children: Vec<_> = branches
        .iter()
        .map(|b| {
            deploydb(
                repo.path(),
                &["ensure", "--timeline", &format!("branch:{b}")],
                &env,
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    done.store(true, Ordering::Relaxed);
    let mut total = 0;
    for poller in pollers {
        let (entered, attempts) = poller.join().unwrap();
        assert!(entered.is_empty(), "watcher connected to {entered:?}");
        total += attempts;
    }
    assert!(total > 0, "the watcher never tried");
    let created = server
        .databases()
        .into_iter()
        .filter(|d| d.starts_with("shop--b"))
        .count();
    assert_eq!(created, branches.len());
}
