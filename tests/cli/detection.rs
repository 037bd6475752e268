//! `deploydb detect` on the sample repositories under fixtures/detect, compared as whole JSON
//! documents with the reviewed expectations under tests/cli/expected/detect.

use std::path::Path;

use crate::support::{deploydb, fixtures, run};

fn detect(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["detect", ".", "--format", "json"];
    args.extend_from_slice(extra);
    run(deploydb(dir, &args, &[])).expect_code(0).json()
}

#[test]
fn every_fixture_matches_its_expected_report() {
    let root = fixtures().join("detect");
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/expected/detect");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let expected_path = expected_dir.join(format!("{name}.json"));
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap();
        let actual = detect(&dir, &[]);
        assert_eq!(
            actual,
            expected,
            "fixture {name}:\n{}",
            serde_json::to_string_pretty(&actual).unwrap()
        );
        checked += 1;
    }
    assert_eq!(checked, 21, "a fixture or an expectation is missing");
}

#[test]
fn path_scans_one_component_of_a_monorepo() {
    let monorepo = fixtures().join("detect/monorepo");
    let web = run(deploydb(
        &monorepo,
        &["detect", "--format", "json", "--path", "apps/web"],
        &[],
    ))
    .expect_code(0)
    .json();
    let files: Vec<&str> = web["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        vec!["drizzle.config.ts", "package.json", "package.json"]
    );
    assert_eq!(web["migrations"][0]["dir"], ".");
}

#[test]
fn text_output_says_what_was_found_and_what_was_not() {
    let out = |name: &str| {
        run(deploydb(
            &fixtures().join("detect").join(name),
            &["detect", "."],
            &[],
        ))
        .expect_code(0)
        .stdout()
    };
    assert!(out("mysql-only").contains("MySQL found in .; deploydb provisions PostgreSQL only"));
    assert!(out("no-db").contains("no database dependency found"));
    let monorepo = out("monorepo");
    assert!(monorepo.contains("apps/web: postgres"), "{monorepo}");
    assert!(
        monorepo.contains("apps/api: migrate with alembic: `alembic upgrade head`"),
        "{monorepo}"
    );
    assert!(
        monorepo.contains("PostgreSQL is used by 2 components"),
        "{monorepo}"
    );
}

#[test]
fn auto_runs_the_one_suggestion_and_refuses_ambiguity_before_creating_anything() {
    let server = crate::support::Server::start();
    let env = crate::support::admin_env(&server);
    let repo = crate::support::Repo::new("feature/auto");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"auto\"\n",
    );
    repo.write(
        "db/migrations/001.sql",
        "CREATE TABLE auto_made (id int);\n",
    );
    let result = run(deploydb(
        repo.path(),
        &["run"],
        &crate::support::with(&env, &[]),
    ))
    .expect_code(0);
    assert!(
        result.stderr().contains("built-in SQL migrations"),
        "{result}"
    );
    let url = format!(
        "postgresql://bootstrap:{}@127.0.0.1:{}/shop--feature-auto",
        crate::support::SUPERUSER_PASSWORD,
        server.port()
    );
    assert_eq!(
        crate::support::query(&url, "SELECT count(*) FROM auto_made"),
        vec!["0"]
    );

    // knex and plain SQL in one component: ambiguous, an error that lists both, nothing created.
    let other = crate::support::Repo::new("feature/ambiguous");
    other.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"auto\"\n",
    );
    other.write(
        "package.json",
        r#"{"dependencies":{"pg":"8","knex":"3","drizzle-kit":"0.22"}}"#,
    );
    other.write("knexfile.js", "module.exports = {client: 'pg'};\n");
    other.write(
        "drizzle.config.ts",
        "export default { dialect: \"postgresql\", out: \"./drizzle\" };\n",
    );
    let refused = run(deploydb(
        other.path(),
        &["run"],
        &crate::support::with(&env, &[]),
    ))
    .expect_code(2);
    let stderr = refused.stderr();
    assert!(
        stderr.contains("knex migrate:latest") && stderr.contains("drizzle-kit migrate"),
        "{refused}"
    );
    assert_eq!(server.databases(), vec!["shop--feature-auto"]);
}
