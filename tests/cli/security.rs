//! Least privilege, TLS, faults and hostile input, against real servers.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use deploydb::instance::local::ThrowawayOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::support::{
    self, ADMIN, PASSWORD, Repo, SUPERUSER_PASSWORD, Server, admin_env, assert_absent,
    assert_no_password, deploydb, run, try_query, with,
};

/// The connection a timeline's app gets, read from `deploydb env --format json`.
fn exported(repo: &Repo, env: &[(&str, &str)], timeline: &str) -> serde_json::Value {
    run(deploydb(
        repo.path(),
        &["env", "--format", "json", "--timeline", timeline],
        env,
    ))
    .expect_code(0)
    .json()
}

#[test]
fn a_branch_role_owns_its_database_and_reaches_nothing_else() {
    let server = Server::start();
    let repo = Repo::new("feature/x");
    let env = admin_env(&server);
    let env = with(&env, &[]);
    crate::support::ensure_all(&repo, &env, None, &["production", "branch:feature/x"]);
    let branch = exported(&repo, &env, "branch:feature/x");
    assert_eq!(branch["PGUSER"], "shop--feature-x");
    assert_eq!(
        branch["PGPASSWORD"],
        server.role_password("shop--feature-x")
    );

    let own = support::url_from_exports(&branch, "shop--feature-x");
    try_query(&own, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .expect("the role can create tables in its database");
    assert_eq!(
        try_query(&own, "SELECT count(*) FROM t").unwrap(),
        vec!["1"]
    );
    let production = support::url_from_exports(&branch, "shop-production");
    let refused = try_query(&production, "SELECT 1").unwrap_err();
    assert!(refused.contains("permission denied"), "{refused}");
    let refused = try_query(&own, "CREATE DATABASE sneaky").unwrap_err();
    assert!(refused.contains("permission denied"), "{refused}");
    let roles = server.superuser_sql("SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname LIKE 'shop%' ORDER BY 1");
    assert_eq!(
        roles,
        vec!["shop--feature-x|f|f|f", "shop-production|f|f|f"]
    );
    let owner = server.superuser_sql(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop--feature-x'",
    );
    assert_eq!(owner, vec!["shop--feature-x"]);
}

/// The role key rotates: from the key deploydb keeps on the server to DEPLOYDB_ROLE_SECRET and
/// back, and by unlinking the server's key. Each rotation gives the role a new password on its
/// next deploy, and the old one stops working. A short secret is refused before anything runs.
#[test]
fn role_passwords_rotate_with_the_role_key() {
    let server = Server::start();
    let repo = Repo::new("feature/rot");
    let base = admin_env(&server);
    let secret = "k3y-two-is-long-enough-and-random-1234567";
    let deploy = |extra: &[(&str, &str)]| {
        let env = with(&base, extra);
        let ensured = run(deploydb(repo.path(), &["ensure"], &env)).expect_code(0);
        assert_absent(&ensured, secret);
        exported(&repo, &env, "branch:feature/rot")
    };
    let works = |vars: &serde_json::Value| {
        try_query(
            &support::url_from_exports(vars, "shop--feature-rot"),
            "SELECT 1",
        )
        .is_ok()
    };
    let first = deploy(&[]);
    assert!(works(&first));
    assert_eq!(
        first["PGPASSWORD"],
        server.role_password("shop--feature-rot")
    );

    let second = deploy(&[("DEPLOYDB_ROLE_SECRET", secret)]);
    assert_ne!(first["PGPASSWORD"], second["PGPASSWORD"]);
    assert!(!works(&first), "the old password still works");
    assert!(works(&second));

    let back = deploy(&[]);
    assert_eq!(back["PGPASSWORD"], first["PGPASSWORD"]);
    assert!(works(&back) && !works(&second));

    server.superuser_sql(
        "SELECT lo_unlink(objoid) FROM pg_description WHERE description = 'deploydb role key v1'",
    );
    let fresh = deploy(&[]);
    assert_ne!(fresh["PGPASSWORD"], first["PGPASSWORD"]);
    assert!(works(&fresh) && !works(&first));

    let before = server.catalog_snapshot();
    let short = run(deploydb(
        repo.path(),
        &["ensure"],
        &with(&base, &[("DEPLOYDB_ROLE_SECRET", "key-one")]),
    ))
    .expect_code(2);
    assert!(short.stderr().contains("DEPLOYDB_ROLE_SECRET"), "{short}");
    assert_absent(&short, "key-one");
    assert_eq!(server.catalog_snapshot(), before);
}

/// A role's record, which every login role can read, holds nothing derived from a password:
/// from one branch's exported password and every comment on the server, the admin password
/// cannot be checked offline any more — the derivation key is random and kept from them.
#[test]
fn no_record_or_exported_password_reveals_the_admin_password() {
    let server = Server::start();
    let repo = Repo::new("feature/x");
    let base = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&base, &[]))).expect_code(0);
    let vars = exported(&repo, &with(&base, &[]), "branch:feature/x");
    let exported_password = vars["PGPASSWORD"].as_str().unwrap().to_string();
    // The old scheme: the role password was HMAC(admin password, role name).
    let old =
        deploydb::instance::role::derive_password(support::PASSWORD.as_bytes(), "shop--feature-x");
    assert_ne!(exported_password, old.expose());
    let comments = server.superuser_sql(
        "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles \
         UNION ALL SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database",
    );
    for comment in comments.iter().filter(|c| c.contains("deploydb")) {
        assert!(!comment.contains("password"), "{comment}");
    }
    // The key itself: a large object only its owner (the admin) may read.
    let branch_role = support::url_from_exports(&vars, "postgres");
    let read = try_query(
        &branch_role,
        "SELECT lo_get(objoid) FROM pg_description WHERE description = 'deploydb role key v1'",
    );
    assert!(
        read.as_ref()
            .is_err_and(|e| e.contains("permission denied")),
        "{read:?}"
    );
}

#[test]
fn an_admin_without_createrole_gets_a_clear_error_or_shared_isolation() {
    let server = Server::start();
    server.superuser_sql("CREATE ROLE plain_admin LOGIN CREATEDB PASSWORD 'plain-pw-123'");
    let url = format!(
        "postgresql://plain_admin:plain-pw-123@127.0.0.1:{}/postgres",
        server.port()
    );
    let repo = Repo::new("feature/y");
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &[("DEPLOYDB_ADMIN_URL", &url)],
    ))
    .expect_code(5);
    let stderr = result.stderr();
    assert!(
        stderr.contains("CREATEROLE") && stderr.contains("isolation = \"shared\""),
        "{result}"
    );
    assert!(server.databases().is_empty(), "nothing half-created");
    assert_absent(&result, "plain-pw-123");

    let shared = [
        ("DEPLOYDB_ADMIN_URL", url.as_str()),
        ("DEPLOYDB_ISOLATION", "shared"),
    ];
    run(deploydb(repo.path(), &["ensure"], &shared)).expect_code(0);
    assert_eq!(
        exported(&repo, &shared, "branch:feature/y")["PGUSER"],
        "plain_admin"
    );
    let bad = run(deploydb(
        repo.path(),
        &["ensure"],
        &[
            ("DEPLOYDB_ADMIN_URL", url.as_str()),
            ("DEPLOYDB_ISOLATION", "none"),
        ],
    ));
    bad.expect_code(2);
}

#[test]
fn an_existing_role_not_made_by_deploydb_is_not_taken_over() {
    let server = Server::start();
    server.superuser_sql(r#"CREATE ROLE "shop--feature-z" LOGIN PASSWORD 'theirs'"#);
    let repo = Repo::new("feature/z");
    let result = run(deploydb(
        repo.path(),
        &["ensure"],
        &with(&admin_env(&server), &[]),
    ))
    .expect_code(5);
    assert!(
        result.stderr().contains("not created by deploydb"),
        "{result}"
    );
    assert!(server.databases().is_empty());
}

struct Tls {
    ca: String,
    other_ca: String,
    cert: String,
    key: String,
}

/// A CA, a server certificate it signs for `localhost` only, and an unrelated second CA.
fn tls_material() -> Tls {
    let ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    };
    let issuer = ca("deploydb test CA");
    let other = ca("some other CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    Tls {
        ca: issuer.pem(),
        other_ca: other.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A server that accepts deploydb's admin over TLS only (hostssl), so any success proves TLS.
/// The harness's own bootstrap superuser may still connect in the clear.
fn tls_server(tls: &Tls) -> Server {
    Server::start_with(ThrowawayOptions {
        settings: vec!["ssl = on".into(), "ssl_cert_file = 'server.crt'".into(), "ssl_key_file = 'server.key'".into()],
        files: vec![
            ("server.crt".into(), tls.cert.clone().into_bytes()),
            ("server.key".into(), tls.key.clone().into_bytes()),
            ("pg_hba.conf".into(), b"host all bootstrap 127.0.0.1/32 scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n".to_vec()),
        ],
        ..Default::default()
    })
}

#[test]
fn tls_modes_match_libpq() {
    let tls = tls_material();
    let server = tls_server(&tls);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let other = dir.path().join("other.pem");
    fs::write(&ca, &tls.ca).unwrap();
    fs::write(&other, &tls.other_ca).unwrap();
    let repo = Repo::new("feature/tls");
    let url = |host: &str, query: &str| {
        format!(
            "postgresql://{ADMIN}:{}@{host}:{}/postgres?{query}",
            support::encode(PASSWORD),
            server.port()
        )
    };
    let ca_q = format!("sslrootcert={}", ca.display());
    let other_q = format!("sslrootcert={}", other.display());
    let cases = [
        ("127.0.0.1", "sslmode=disable".to_string(), false),
        ("127.0.0.1", "sslmode=allow".to_string(), true),
        ("127.0.0.1", "sslmode=prefer".to_string(), true),
        ("127.0.0.1", "sslmode=require".to_string(), true),
        ("127.0.0.1", format!("sslmode=require&{ca_q}"), true),
        ("127.0.0.1", format!("sslmode=require&{other_q}"), false),
        ("127.0.0.1", format!("sslmode=verify-ca&{ca_q}"), true),
        ("127.0.0.1", format!("sslmode=verify-ca&{other_q}"), false),
        ("localhost", format!("sslmode=verify-full&{ca_q}"), true),
        ("127.0.0.1", format!("sslmode=verify-full&{ca_q}"), false),
        ("localhost", format!("sslmode=verify-full&{other_q}"), false),
        ("localhost", "sslmode=verify-full".to_string(), false),
    ];
    for (host, query, works) in cases {
        let admin_url = url(host, &query);
        let result = run(deploydb(
            repo.path(),
            &["ensure", "--timeline", "branch:tls"],
            &[
                ("DEPLOYDB_ADMIN_URL", admin_url.as_str()),
                ("DEPLOYDB_CONNECT_TIMEOUT", "3s"),
            ],
        ));
        let expected = if works { 0 } else { 5 };
        assert_eq!(result.code(), Some(expected), "{host} {query}\n{result}");
        if !works {
            assert_eq!(result.error_lines().len(), 1, "{result}");
            assert!(result.stderr().contains("hint:"), "{result}");
        }
        assert_no_password(&result);
    }

    // The CA as PEM text (a CI secret), with the app's own client connecting the same way.
    let env = [
        (
            "DEPLOYDB_ADMIN_URL",
            url("localhost", "sslmode=verify-full"),
        ),
        ("DEPLOYDB_CA_CERT", tls.ca.clone()),
        ("TMPDIR", dir.path().display().to_string()),
    ];
    let env = with(&env, &[]);
    let result = run(deploydb(
        repo.path(),
        &[
            "run",
            "--",
            "psql",
            "-XAtc",
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
        ],
        &env,
    ))
    .expect_code(0);
    assert_eq!(result.stdout().trim(), "t", "{result}");
    let vars = exported(&repo, &env, "branch:feature/tls");
    assert_eq!(vars["PGSSLMODE"], "verify-full");
    assert_eq!(
        fs::read_to_string(vars["PGSSLROOTCERT"].as_str().unwrap()).unwrap(),
        tls.ca
    );

    // [instance] ca_cert, relative to deploydb.toml.
    fs::copy(&ca, repo.path().join("ca.pem")).unwrap();
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[instance]\nca_cert = \"ca.pem\"\n",
    );
    let admin_url = url("localhost", "sslmode=verify-full");
    run(deploydb(
        repo.path(),
        &["ensure"],
        &[("DEPLOYDB_ADMIN_URL", admin_url.as_str())],
    ))
    .expect_code(0);
}

#[test]
fn require_against_a_server_without_tls_is_a_clear_error() {
    let server = Server::start();
    let repo = Repo::new("feature/plain");
    let admin_url = server
        .admin_url()
        .replace("sslmode=disable", "sslmode=require");
    let result = run(deploydb(
        repo.path(),
        &["ensure"],
        &[("DEPLOYDB_ADMIN_URL", admin_url.as_str())],
    ))
    .expect_code(5);
    assert!(result.stderr().contains("does not offer TLS"), "{result}");
    assert!(server.databases().is_empty());
}

#[test]
fn a_server_that_comes_up_late_is_waited_for() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let repo = Repo::new("feature/late");
    let url = format!(
        "postgresql://bootstrap:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"
    );
    let child = deploydb(
        repo.path(),
        &["ensure", "--format", "json"],
        &[("DEPLOYDB_ADMIN_URL", url.as_str())],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let server = Server::start_with(ThrowawayOptions {
        port: Some(port),
        ..Default::default()
    });
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(!stderr.contains(SUPERUSER_PASSWORD));
    assert_eq!(server.databases(), vec!["shop--feature-late"]);
}

#[test]
fn a_server_that_never_comes_fails_within_the_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let repo = Repo::new("feature/never");
    let url = format!(
        "postgresql://u:{}@127.0.0.1:{port}/postgres",
        support::encode(PASSWORD)
    );
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "true"],
        &[
            ("DEPLOYDB_ADMIN_URL", url.as_str()),
            ("DEPLOYDB_CONNECT_TIMEOUT", "2s"),
        ],
    ))
    .expect_code(5);
    let stderr = result.stderr();
    assert!(
        stderr.contains("gave up after") && stderr.contains("the limit is 2s"),
        "{result}"
    );
    assert!(stderr.contains("retrying"), "{result}");
    assert_no_password(&result);
}

#[test]
fn a_server_restarted_between_ensure_and_migrate_is_reconnected() {
    let mut server = Server::start();
    let repo = Repo::new("feature/restart");
    let env = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&env, &[]))).expect_code(0);
    server.cluster.restart().unwrap();
    let result = run(deploydb(
        repo.path(),
        &["run", "--", "psql", "-XAtc", "select 42"],
        &with(&env, &[]),
    ))
    .expect_code(0);
    assert_eq!(result.stdout().trim(), "42");
}

#[test]
fn sigterm_during_a_long_migration_exits_143() {
    let server = Server::start();
    let repo = Repo::new("feature/term");
    let env = admin_env(&server);
    let mut child = deploydb(
        repo.path(),
        &["run", "--", "sh", "-c", "echo started; sleep 300"],
        &with(&env, &[]),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "started");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

#[test]
fn two_runs_on_one_database_migrate_one_after_the_other() {
    let server = Server::start();
    let repo = Repo::new("feature/serial");
    let env = admin_env(&server);
    run(deploydb(repo.path(), &["ensure"], &with(&env, &[]))).expect_code(0);
    let log = repo.path().join("windows.log");
    let script = format!(
        "echo start $(date +%s%N) >> '{l}'; sleep 1; echo end $(date +%s%N) >> '{l}'",
        l = log.display()
    );
    let children: Vec<_> = (0..2)
        .map(|_| {
            deploydb(
                repo.path(),
                &["run", "--", "sh", "-c", &script],
                &with(&env, &[]),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let stderrs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stderr).into_owned()
        })
        .collect();
    let events: Vec<(String, u128)> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (what, at) = l.split_once(' ').unwrap();
            (what.to_string(), at.parse().unwrap())
        })
        .collect();
    let order: Vec<&str> = events.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        order,
        vec!["start", "end", "start", "end"],
        "the migration windows overlap: {events:?}"
    );
    assert!(events[1].1 <= events[2].1);
    assert!(
        stderrs
            .iter()
            .any(|s| s.contains("waiting for another deploydb run")),
        "{stderrs:?}"
    );
}

#[test]
fn thirty_two_concurrent_ensures_of_one_new_database_all_succeed() {
    let server = Server::start();
    let repo = Repo::new("feature/herd");
    let env = admin_env(&server);
    let reports = support::race_ensures(&repo, &with(&env, &[]), 32);
    let created = reports.iter().filter(|r| r["created"] == true).count();
    assert_eq!(created, 1);
    assert_eq!(server.databases(), vec!["shop--feature-herd"]);
}

#[test]
fn hostile_branch_names_map_to_distinct_valid_databases() {
    let server = Server::start();
    let repo = Repo::new("main");
    let env = admin_env(&server);
    let marker = repo.path().join("pwned");
    let long = "x".repeat(300);
    let names = [
        r#"zzz";echo${IFS}"hello";#"#.to_string(),
        format!("$(touch {})", marker.display()),
        format!("`touch {}`", marker.display()),
        "a'b\"c\\d".to_string(),
        "Robert'); DROP TABLE students;--".to_string(),
        "日本語/ブランチ".to_string(),
        "émoji-🚀".to_string(),
        long.clone(),
        format!("{long}y"),
        "Feature/A".to_string(),
        "feature-a".to_string(),
        "feature_a".to_string(),
    ];
    let mut databases = BTreeSet::new();
    for name in &names {
        let timeline = format!("branch:{name}");
        let result = run(deploydb(
            repo.path(),
            &["ensure", "--format", "json", "--timeline", &timeline],
            &with(&env, &[]),
        ))
        .expect_code(0);
        let database = result.json()["database"].as_str().unwrap().to_string();
        assert!(database.len() <= 63, "{database}");
        assert!(
            database
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{database}"
        );
        assert!(
            databases.insert(database.clone()),
            "{name:?} shares {database}"
        );
        // The exported connection for that branch reaches that database and no other.
        let vars = exported(&repo, &with(&env, &[]), &timeline);
        assert_eq!(vars["PGDATABASE"], database.as_str());
    }
    assert!(!marker.exists(), "a branch name reached a shell");
    let on_server: BTreeSet<String> = server.databases().into_iter().collect();
    assert_eq!(on_server, databases);
}

/// A server where `lo_compat_privileges` is on lets every role read every large object: the
/// role key is not made there (one error naming the setting, nothing created), and a pipeline
/// that keeps its own key (`DEPLOYDB_ROLE_SECRET`) still deploys.
#[test]
fn no_role_key_is_kept_where_every_role_could_read_it() {
    let server = Server::start();
    server.superuser_sql("ALTER SYSTEM SET lo_compat_privileges = on");
    server.superuser_sql("SELECT pg_reload_conf()");
    let repo = Repo::new("feature/compat");
    let base = admin_env(&server);
    let before = server.catalog_snapshot();
    let refused = run(deploydb(repo.path(), &["ensure"], &with(&base, &[]))).expect_code(5);
    assert!(
        refused.error_lines().len() == 1 && refused.stderr().contains("lo_compat_privileges"),
        "{refused}"
    );
    assert_eq!(server.catalog_snapshot(), before);
    assert_eq!(
        server.superuser_sql("SELECT count(*) FROM pg_largeobject_metadata"),
        vec!["0"]
    );
    let secret = "a-pipeline-kept-secret-of-forty-characters";
    run(deploydb(
        repo.path(),
        &["ensure"],
        &with(&base, &[("DEPLOYDB_ROLE_SECRET", secret)]),
    ))
    .expect_code(0);
}
