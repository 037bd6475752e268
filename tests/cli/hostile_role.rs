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
        encode(&server.role_password("shop--evil")),
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
        encode(&server.role_password("shop--squatter")),
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

/// The role's own connection URL to its database, as its pipeline exported it.
fn role_url(server: &Server, role: &str) -> String {
    format!(
        "postgresql://{}:{}@127.0.0.1:{}/{}?sslmode=disable",
        encode(role),
        encode(&server.role_password(role)),
        server.port(),
        encode(role)
    )
}

fn database_of(repo: &Repo, admin: &[(&'static str, String)], timeline: &str) -> String {
    run(deploydb(
        repo.path(),
        &["ensure", "--format", "json", "--timeline", timeline],
        &with(admin, &[]),
    ))
    .expect_code(0)
    .json()["database"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A branch named exactly like another branch's hashed database name deploys first, to sit on
/// the name that branch will ask for. The two must never share a database, and dropping one
/// must leave the other.
#[test]
fn a_branch_named_after_anothers_hashed_name_cannot_squat_it() {
    let server = Server::start();
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    let victim = format!("feature/{}", "long-name-".repeat(8));
    let victims_name = deploydb::timeline::naming::branch("shop", &victim);
    let squatter = victims_name.strip_prefix("shop--").unwrap().to_string();
    assert_eq!(
        deploydb::timeline::naming::branch("shop", &squatter),
        victims_name,
        "the squatter's plain name is the victim's hashed one"
    );
    let taken = database_of(&repo, &admin, &format!("branch:{squatter}"));
    assert_eq!(taken, victims_name);
    // `timeline` tells the truth before the victim's first run: with the admin URL it names
    // the database `run` will use; without it, the name asked for, flagged as unchecked.
    let timeline = |env: &[(&str, &str)]| {
        run(deploydb(
            repo.path(),
            &[
                "timeline",
                "--format",
                "json",
                "--timeline",
                &format!("branch:{victim}"),
            ],
            env,
        ))
        .expect_code(0)
        .json()
    };
    let admin_pairs: Vec<(&str, &str)> = admin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let foretold = timeline(&admin_pairs);
    assert_eq!(foretold["checked_on_server"], true);
    let offline = timeline(&[]);
    assert_eq!(
        (offline["database"].as_str(), &offline["checked_on_server"]),
        (Some(victims_name.as_str()), &serde_json::json!(false))
    );
    let got = database_of(&repo, &admin, &format!("branch:{victim}"));
    assert_ne!(got, taken, "the victim landed on the squatter's database");
    assert_eq!(
        foretold["database"],
        got.as_str(),
        "timeline foretold another name"
    );
    assert_eq!(server.comment(&got).unwrap()["branch"], victim.as_str());
    assert_eq!(server.comment(&taken).unwrap()["branch"], squatter.as_str());
    // The victim's runs keep finding its own database.
    assert_eq!(database_of(&repo, &admin, &format!("branch:{victim}")), got);
    run(deploydb(
        repo.path(),
        &["drop", "--timeline", &format!("branch:{squatter}"), "--yes"],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    let left = server.databases();
    assert!(
        left.contains(&got) && !left.contains(&taken),
        "dropping the squatter hit the victim: {left:?}"
    );
}

/// A branch called `pr-5` deploys before pull request 5 opens its per-PR preview: the preview
/// must neither be blocked nor land on the branch's database.
#[test]
fn a_branch_called_pr_n_neither_blocks_nor_takes_pull_request_n() {
    let server = Server::start();
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    let branch = database_of(&repo, &admin, "branch:pr-5");
    let per_pr = with(&admin, &[("DEPLOYDB_PREVIEW", "per-pr")]);
    let preview = run(deploydb(
        repo.path(),
        &["ensure", "--format", "json", "--timeline", "pr:5"],
        &per_pr,
    ))
    .expect_code(0)
    .json();
    assert_ne!(preview["database"], branch.as_str());
    assert_eq!(
        server
            .comment(preview["database"].as_str().unwrap())
            .unwrap()["pr"],
        5
    );
}

/// A branch role rewrites its own database's comment — the record deploydb keeps there — to
/// print workflow commands and terminal escapes through `list` and `prune`, and to pass for
/// production, for a live branch or for another app so that it is never pruned. The output
/// stays inert, nothing in the rewritten record is believed, and production stays.
#[test]
fn a_rewritten_record_is_printed_inert_and_decides_nothing() {
    let server = Server::start();
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    database_of(&repo, &admin, "production");
    let relabels = [
        (
            "evil",
            r#"{"managed_by":"deploydb","app":"shop","kind":"branch","branch":"x\n::error::pwned\u001b[2J","pr":null,"created_at":"2026-01-01T00:00:00Z"}"#,
        ),
        (
            "as-production",
            r#"{"managed_by":"deploydb","app":"shop","kind":"production","branch":"main","pr":null,"created_at":"2026-01-01T00:00:00Z"}"#,
        ),
        (
            "as-live",
            r#"{"managed_by":"deploydb","app":"shop","kind":"branch","branch":"main","pr":null,"created_at":"2026-01-01T00:00:00Z"}"#,
        ),
        (
            "as-other-app",
            r#"{"managed_by":"deploydb","app":"other","kind":"branch","branch":"x","pr":null,"created_at":"2026-01-01T00:00:00Z"}"#,
        ),
    ];
    for (branch, record) in relabels {
        let db = database_of(&repo, &admin, &format!("branch:{branch}"));
        query(
            &role_url(&server, &db),
            &format!("COMMENT ON DATABASE \"{db}\" IS $r${record}$r$"),
        );
    }
    let list = run(deploydb(repo.path(), &["list"], &with(&admin, &[]))).expect_code(0);
    let flagged = list
        .stdout()
        .lines()
        .filter(|l| l.contains("record does not match"))
        .count();
    assert_eq!(flagged, relabels.len(), "{list}");
    let live = repo.path().join("live.txt");
    std::fs::write(&live, "main\n").unwrap();
    let prune = run(deploydb(
        repo.path(),
        &["prune", "--branches-from", live.to_str().unwrap()],
        &with(&admin, &[]),
    ))
    .expect_code(0);
    for out in [&list, &prune] {
        let text = format!("{}{}", out.stdout(), out.stderr());
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")) && !text.contains('\x1b'),
            "a workflow command or an escape sequence got through:\n{out}"
        );
    }
    let left = server.databases();
    assert_eq!(left, vec!["shop-production".to_string()], "{prune}");
}

/// With `branch_from = "template"`, a branch role tries to poison the template every later
/// branch is copied from (a trigger on a copied table) and to hold a session on it so that
/// production's rebuild is skipped. It can do neither; the next branch is clean and owns what
/// it was copied, and production rebuilds the template.
fn template_attack(major: u32) {
    let server = Server::start_major(major);
    let repo = Repo::new("main");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\nbranch_from = \"template\"\n[migrate]\ncommand = \"psql -XAtqc 'CREATE TABLE IF NOT EXISTS items (id int)'\"\n",
    );
    let admin = admin_env(&server);
    let deploy = |timeline: &str| {
        run(deploydb(
            repo.path(),
            &["run", "--timeline", timeline],
            &with(&admin, &[]),
        ))
        .expect_code(0)
    };
    deploy("production");
    deploy("branch:evil");
    let evil = role_url(&server, "shop--evil");
    // Its own copy is its own to change.
    query(&evil, "ALTER TABLE items ADD COLUMN mine int");
    // The template: no connection at all, so no trigger and no session to pin it.
    let template = format!(
        "postgresql://{}:{}@127.0.0.1:{}/shop-template?sslmode=disable",
        encode("shop--evil"),
        encode(&server.role_password("shop--evil")),
        server.port()
    );
    let tried = try_query(
        &template,
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; \
         CREATE TRIGGER poison BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION poison()",
    );
    assert!(tried.is_err(), "the branch role got into the template");
    assert!(
        server
            .superuser_sql(
                "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
                 JOIN pg_roles b ON b.oid = m.member \
                 WHERE r.rolname = 'shop-template' AND b.rolname LIKE 'shop--%'"
            )
            .is_empty(),
        "a branch role is a member of the template's role"
    );
    let rebuilt = deploy("production");
    assert!(
        rebuilt.stderr().contains("shop-template rebuilt"),
        "{rebuilt}"
    );
    deploy("branch:next");
    let next = role_url(&server, "shop--next");
    assert_eq!(
        query(
            &next,
            "SELECT tableowner, (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) \
             FROM pg_tables WHERE tablename = 'items'"
        ),
        vec!["shop--next|0"]
    );
}

#[test]
fn a_branch_role_cannot_poison_or_pin_the_template_on_15() {
    template_attack(15);
}

/// 16 changed what a CREATEROLE admin may do with the roles it made; REASSIGN OWNED needs the
/// privileges of both roles.
#[test]
fn a_branch_role_cannot_poison_or_pin_the_template_on_17() {
    template_attack(17);
}

/// `prune --older-than` with an age that would overflow (to a negative limit every database
/// exceeds) is refused before anything is read, and every database stays.
#[test]
fn a_huge_prune_age_is_refused_and_drops_nothing() {
    let server = Server::start();
    let repo = Repo::new("main");
    let admin = admin_env(&server);
    database_of(&repo, &admin, "branch:old");
    for age in ["9999999999999999d", "106751991167301d", "365001y"] {
        let refused = run(deploydb(
            repo.path(),
            &["prune", "--older-than", age],
            &with(&admin, &[]),
        ))
        .expect_code(2);
        assert_eq!(refused.error_lines().len(), 1, "{refused}");
    }
    assert_eq!(server.databases(), vec!["shop--old".to_string()]);
}
