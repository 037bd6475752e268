//! The attacker is a branch's own database role: it has the credentials its pipeline exported
//! and may connect to the admin's database (PUBLIC may, by default). Each test acts as that
//! role against a real server and then checks it gained nothing.

use crate::support::*;

/// On PostgreSQL 14 (and clusters upgraded from it) PUBLIC may create in `public` of the
/// admin's database. The branch role overloads a catalog function the admin session calls with
/// a better-matching signature, so that the admin would run it — granting the branch role
/// CREATEDB, CREATEROLE and membership of production. The next runs must not call it.
#[test]
fn a_branch_role_cannot_hijack_the_admin_session_through_search_path() {
    let server = Server::start_major(14);
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    // Production exists, and the attacker's branch timeline has its role.
    run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "production"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "branch:evil"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    let attacker = format!(
        "postgresql://{}:{}@127.0.0.1:{}/postgres?sslmode=disable",
        encode("shop--evil"),
        encode(&role_password("shop--evil")),
        server.port()
    );
    let payload = r#"
        CREATE FUNCTION public.shobj_description(oid, text) RETURNS text
        LANGUAGE plpgsql AS $f$
        BEGIN
            EXECUTE 'ALTER ROLE "shop--evil" CREATEDB CREATEROLE';
            EXECUTE 'GRANT "shop-production" TO "shop--evil"';
            RETURN NULL;
        END $f$;
        CREATE FUNCTION public.to_regrole(text) RETURNS regrole
        LANGUAGE plpgsql AS $f$
        BEGIN
            EXECUTE 'ALTER ROLE "shop--evil" CREATEDB CREATEROLE';
            RETURN NULL;
        END $f$;
    "#;
    query(&attacker, payload);
    // The admin goes about its business: a new branch, production again, the listing.
    for args in [
        &["ensure", "--timeline", "branch:next"][..],
        &["ensure", "--timeline", "production"],
        &["list"],
        &["check"],
    ] {
        run(deploydb(repo.path(), args, &with(&admin, &[]))).expect_code(0);
    }
    assert_eq!(
        server.superuser_sql(
            "SELECT rolcreatedb, rolcreaterole, \
                    (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) \
             FROM pg_roles r WHERE rolname = 'shop--evil'"
        ),
        vec!["f|f|0"],
        "the branch role gained attributes or memberships through the admin session"
    );
}

/// The advisory-lock keys a branch role could compute without the admin credential (the name
/// hashed alone, or keyed with nothing), for `purpose` on `database`.
fn guessable_keys(purpose: &str, database: &str) -> Vec<i64> {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    let text = format!("deploydb:{purpose}:{database}");
    let plain = Sha256::digest(text.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(b"").unwrap();
    mac.update(text.as_bytes());
    let empty = mac.finalize().into_bytes();
    [&plain[..8], &empty[..8]]
        .iter()
        .map(|b| i64::from_le_bytes(b[..8].try_into().unwrap()))
        .collect()
}

/// A branch role connects to the admin's database and holds every lock key it can compute for
/// production's ensure and migration; production still deploys.
#[test]
fn a_branch_role_cannot_hold_productions_locks() {
    let server = Server::start();
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    run(deploydb(
        repo.path(),
        &["ensure", "--timeline", "branch:squatter"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    let attacker = format!(
        "postgresql://{}:{}@127.0.0.1:{}/postgres?sslmode=disable",
        encode("shop--squatter"),
        encode(&role_password("shop--squatter")),
        server.port()
    );
    let keys: Vec<String> = ["ensure", "migrate"]
        .iter()
        .flat_map(|p| guessable_keys(p, "shop-production"))
        .map(|k| format!("SELECT pg_advisory_lock({k});"))
        .collect();
    let _held = hold_session_with(&attacker, &keys.concat());
    let run = run(deploydb(
        repo.path(),
        &["run", "--timeline", "production", "--", "true"],
        &with(&admin, &[("DEPLOYDB_LOCK_TIMEOUT", "5s")]),
    ))
    .expect_code(0);
    assert!(!run.stderr().contains("waiting for another"), "{run}");
}
