//! `deploydb psql`: the real psql on a timeline's database, as the timeline's own role; and no
//! credentials (from `psql` or `env`) for a database that does not exist.

use crate::support::{Repo, Server, admin_env, assert_no_password, deploydb, run, with};

#[test]
fn psql_runs_as_the_timelines_own_role_on_its_database() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "branch:x"],
        &env,
    ))
    .expect_code(0);
    let query = run(deploydb(
        repo.path(),
        &[
            "psql",
            "--timeline",
            "branch:x",
            "--",
            "-XAtc",
            "SELECT current_user, current_database(), \
             has_database_privilege('postgres', 'CREATE')",
        ],
        &env,
    ))
    .expect_code(0);
    assert_eq!(query.stdout().trim(), "shop--x|shop--x|f", "{query}");
    assert_no_password(&query);
    // deploydb is replaced by psql, so psql's own exit code is what the caller sees.
    let failed = run(deploydb(
        repo.path(),
        &["psql", "--timeline", "branch:x", "--", "-Xc", "SELECT nope"],
        &env,
    ));
    assert_eq!(failed.code(), Some(1), "{failed}");
}

#[test]
fn no_credentials_are_given_for_a_database_that_does_not_exist() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    let before = server.catalog_snapshot();
    for args in [
        &[
            "psql",
            "--timeline",
            "branch:nothing",
            "--",
            "-c",
            "SELECT 1",
        ][..],
        &["env", "--timeline", "branch:nothing"],
    ] {
        let refused = run(deploydb(repo.path(), args, &env)).expect_code(5);
        let errors = refused.error_lines();
        assert!(
            errors.len() == 1 && errors[0].contains("shop--nothing does not exist yet"),
            "{refused}"
        );
        assert!(!refused.stdout().contains("PGPASSWORD"), "{refused}");
    }
    assert_eq!(server.catalog_snapshot(), before);
}
