//! The exported connection, tried as users try it: real migration tools and client libraries
//! from npm and PyPI (pinned, installed once under `target/test-tools/clients`), each in a small
//! app laid out as its docs show, run by `deploydb run` on a new branch timeline against three
//! servers — no TLS, TLS with a private CA given as `sslrootcert`, and TLS with the CA in
//! `DEPLOYDB_CA_CERT`. The admin's password holds `% @ : / # ?`.
//!
//! Every app: the first run creates what its migration says (checked as the superuser, owned by
//! the timeline's role), the second run changes nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use deploydb::instance::local::ThrowawayOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::support::{self, Repo, Server, assert_absent, deploydb, run};

const NPM: &[&str] = &[
    "pg@8.23.1",
    "knex@3.3.0",
    "node-pg-migrate@9.0.0",
    "postgres@3.4.9",
    "dbmate@2.36.0",
    "drizzle-kit@0.31.11",
    "drizzle-orm@0.45.4",
    "deno@2.9.6",
];
const PYPI: &[&str] = &[
    "psycopg==3.3.9",
    "psycopg-binary==3.3.9",
    "asyncpg==0.32.0",
    "alembic==1.20.1",
    "SQLAlchemy==2.1.9",
    "psycopg2-binary==2.9.13",
    "Django==5.2.19",
    "dj-database-url==3.1.2",
];
/// An admin password with every character a URL gives a meaning to.
const ADMIN_PASSWORD: &str = "c%l@i:e/n#t?s";
const ADMIN: &str = "clients_admin";

/// `target/test-tools/clients`, with the npm packages and a Python virtualenv installed once.
fn tools() -> PathBuf {
    use std::sync::Mutex;
    static INSTALLING: Mutex<()> = Mutex::new(());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/clients");
    let _guard = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let stamp = dir.join(format!("installed-{}.txt", NPM.len() + PYPI.len()));
    let wanted = format!("{NPM:?}{PYPI:?}");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return dir;
    }
    fs::create_dir_all(&dir).unwrap();
    if !dir.join("package.json").is_file() {
        fs::write(dir.join("package.json"), "{\"private\":true}\n").unwrap();
    }
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .args(NPM)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "npm install {NPM:?} failed"
    );
    if !dir.join("venv/bin/pip").is_file() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.join("venv"))
            .status();
        assert!(status.is_ok_and(|s| s.success()), "python3 -m venv failed");
    }
    let status = Command::new(dir.join("venv/bin/pip"))
        .args(["install", "--quiet"])
        .args(PYPI)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "pip install {PYPI:?} failed"
    );
    fs::write(&stamp, wanted).unwrap();
    dir
}

struct Tls {
    ca: String,
    cert: String,
    key: String,
}

/// A CA and a server certificate it signs for `localhost`.
fn tls_material() -> Tls {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "clients test CA");
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    Tls {
        ca: issuer.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// One of the three servers, its admin URL and the variables deploydb gets.
struct Setup {
    server: Server,
    env: Vec<(&'static str, String)>,
    _dir: tempfile::TempDir,
    /// What the exported `PGSSLMODE` must be.
    sslmode: &'static str,
    /// `isolation = "shared"`: the app gets the admin's own credentials, special characters and
    /// all, instead of its role's URL-safe ones.
    shared: bool,
}

enum Kind {
    Plain,
    RootCert,
    CaSecret,
}

fn setup(kind: Kind) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls_material();
    let server = match kind {
        Kind::Plain => Server::start(),
        _ => Server::start_with(ThrowawayOptions {
            settings: vec![
                "ssl = on".into(),
                "ssl_cert_file = 'server.crt'".into(),
                "ssl_key_file = 'server.key'".into(),
            ],
            files: vec![
                ("server.crt".into(), tls.cert.clone().into_bytes()),
                ("server.key".into(), tls.key.clone().into_bytes()),
                (
                    "pg_hba.conf".into(),
                    b"host all bootstrap 127.0.0.1/32 scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n".to_vec(),
                ),
            ],
            ..Default::default()
        }),
    };
    server.superuser_sql(&format!(
        "CREATE ROLE {ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '{ADMIN_PASSWORD}'"
    ));
    let ca = dir.path().join("ca.pem");
    fs::write(&ca, &tls.ca).unwrap();
    // No sslmode: libpq's default, prefer, which is what most admin URLs carry.
    let base = format!(
        "postgresql://{ADMIN}:{}@localhost:{}/postgres",
        support::encode(ADMIN_PASSWORD),
        server.port()
    );
    let (url, extra, sslmode) = match kind {
        Kind::Plain => (base, vec![], "disable"),
        Kind::RootCert => (
            format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display()),
            vec![],
            "verify-full",
        ),
        Kind::CaSecret => (
            base,
            vec![
                ("DEPLOYDB_CA_CERT", tls.ca.clone()),
                ("TMPDIR", dir.path().display().to_string()),
            ],
            "verify-full",
        ),
    };
    let mut env = vec![("DEPLOYDB_ADMIN_URL", url)];
    env.extend(extra);
    Setup {
        server,
        env,
        _dir: dir,
        sslmode,
        shared: false,
    }
}

/// An app: its files, its deploydb.toml's `[migrate] command`, and the table its migration makes.
struct App {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    command: &'static str,
    table: &'static str,
    /// A migration that fails (it reads `missing_table_x`): its exit code and error must come
    /// through.
    broken: Option<(&'static str, String)>,
}

/// What every broken migration does, and what its error names.
const BROKEN_SQL: &str = "SELECT * FROM missing_table_x";

fn apps() -> Vec<App> {
    let pg = r#"{"name":"app","dependencies":{"pg":"8.23.1"}}"#.to_string();
    vec![
        App {
            name: "node-postgres",
            files: vec![
                ("package.json", pg.clone()),
                (
                    "migrate.js",
                    "const pg = require('pg');\n(async () => {\n  const client = new pg.Client();\n  await client.connect();\n  await client.query('CREATE TABLE IF NOT EXISTS pg_made (id int)');\n  await client.end();\n})().catch((e) => { console.error(e.message); process.exit(1); });\n".into(),
                ),
            ],
            command: "node migrate.js",
            table: "pg_made",
            broken: None,
        },
        App {
            name: "node-postgres-url",
            files: vec![
                ("package.json", pg.clone()),
                (
                    "migrate.js",
                    "const pg = require('pg');\n(async () => {\n  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });\n  await pool.query('CREATE TABLE IF NOT EXISTS pg_url_made (id int)');\n  await pool.end();\n})().catch((e) => { console.error(e.message); process.exit(1); });\n".into(),
                ),
            ],
            command: "node migrate.js",
            table: "pg_url_made",
            broken: None,
        },
        App {
            name: "postgres-js",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"app","dependencies":{"postgres":"3.4.9"}}"#.into(),
                ),
                (
                    "migrate.mjs",
                    "import postgres from 'postgres';\nconst sql = postgres(process.env.DATABASE_URL);\ntry {\n  await sql`CREATE TABLE IF NOT EXISTS postgresjs_made (id int)`;\n} catch (e) { console.error(e.message); process.exitCode = 1; }\nawait sql.end();\n".into(),
                ),
            ],
            command: "node migrate.mjs",
            table: "postgresjs_made",
            broken: None,
        },
        App {
            name: "knex",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"app","dependencies":{"pg":"8.23.1","knex":"3.3.0"}}"#.into(),
                ),
                (
                    "knexfile.js",
                    "module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: './migrations' } };\n".into(),
                ),
                (
                    "migrations/20240101000000_users.js",
                    "exports.up = (knex) => knex.schema.createTable('knex_users', (t) => { t.increments('id'); t.string('email'); });\nexports.down = (knex) => knex.schema.dropTable('knex_users');\n".into(),
                ),
            ],
            command: "auto",
            table: "knex_users",
            broken: Some((
                "migrations/20240102000000_broken.js",
                format!("exports.up = (knex) => knex.raw('{BROKEN_SQL}');\nexports.down = () => {{}};\n"),
            )),
        },
        App {
            name: "node-pg-migrate",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"app","dependencies":{"pg":"8.23.1","node-pg-migrate":"9.0.0"}}"#
                        .into(),
                ),
                (
                    "migrations/1700000000000_users.js",
                    "exports.up = (pgm) => { pgm.createTable('npm_users', { id: 'id', email: 'text' }); };\nexports.down = (pgm) => { pgm.dropTable('npm_users'); };\n".into(),
                ),
            ],
            command: "auto",
            table: "npm_users",
            broken: Some((
                "migrations/1700000000001_broken.js",
                format!("exports.up = (pgm) => {{ pgm.sql('{BROKEN_SQL}'); }};\n"),
            )),
        },
        App {
            name: "dbmate",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"app","dependencies":{"dbmate":"2.36.0"}}"#.into(),
                ),
                (
                    "db/migrations/20240101000000_users.sql",
                    "-- migrate:up\nCREATE TABLE dbmate_users (id int);\n\n-- migrate:down\nDROP TABLE dbmate_users;\n".into(),
                ),
            ],
            // package.json and the SQL files both name dbmate: auto would be ambiguous.
            command: "npx dbmate --no-dump-schema up",
            table: "dbmate_users",
            broken: Some((
                "db/migrations/20240102000000_broken.sql",
                format!("-- migrate:up\n{BROKEN_SQL};\n\n-- migrate:down\n"),
            )),
        },
        App {
            name: "psql",
            files: vec![
                ("package.json", pg.clone()),
                ("make.sql", "CREATE TABLE IF NOT EXISTS psql_made (id int);\n".into()),
            ],
            command: "psql -X -q -v ON_ERROR_STOP=1 -f make.sql",
            table: "psql_made",
            broken: Some(("make.sql", format!("{BROKEN_SQL};\n"))),
        },
        App {
            name: "psycopg",
            files: vec![
                ("requirements.txt", "psycopg==3.3.9\n".into()),
                (
                    "migrate.py",
                    "import psycopg\nwith psycopg.connect('') as conn:\n    conn.execute('CREATE TABLE IF NOT EXISTS psycopg_made (id int)')\n".into(),
                ),
            ],
            command: "python migrate.py",
            table: "psycopg_made",
            broken: None,
        },
        App {
            name: "asyncpg",
            files: vec![
                ("requirements.txt", "asyncpg==0.32.0\n".into()),
                (
                    "migrate.py",
                    "import asyncio, asyncpg\nasync def main():\n    conn = await asyncpg.connect()\n    await conn.execute('CREATE TABLE IF NOT EXISTS asyncpg_made (id int)')\n    await conn.close()\nasyncio.run(main())\n".into(),
                ),
            ],
            command: "python migrate.py",
            table: "asyncpg_made",
            broken: None,
        },
        App {
            name: "alembic",
            files: vec![
                (
                    "requirements.txt",
                    "alembic==1.20.1\npsycopg2-binary==2.9.13\n".into(),
                ),
                (
                    "alembic.ini",
                    "[alembic]\nscript_location = alembic\nsqlalchemy.url =\n".into(),
                ),
                (
                    "alembic/env.py",
                    "import os\nfrom alembic import context\nfrom sqlalchemy import engine_from_config, pool\nconfig = context.config\n# The line most Alembic set-ups carry (configparser interpolation and all):\nconfig.set_main_option(\"sqlalchemy.url\", os.environ[\"DATABASE_URL\"])\nengine = engine_from_config(config.get_section(config.config_ini_section), prefix=\"sqlalchemy.\", poolclass=pool.NullPool)\nwith engine.connect() as connection:\n    context.configure(connection=connection, target_metadata=None)\n    with context.begin_transaction():\n        context.run_migrations()\n".into(),
                ),
                (
                    "alembic/script.py.mako",
                    "".into(),
                ),
                (
                    "alembic/versions/0001_users.py",
                    "from alembic import op\nimport sqlalchemy as sa\nrevision = '0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\ndef upgrade():\n    op.create_table('alembic_users', sa.Column('id', sa.Integer, primary_key=True))\ndef downgrade():\n    op.drop_table('alembic_users')\n".into(),
                ),
            ],
            command: "auto",
            table: "alembic_users",
            broken: Some((
                "alembic/versions/0002_broken.py",
                format!("from alembic import op\nrevision = '0002'\ndown_revision = '0001'\nbranch_labels = None\ndepends_on = None\ndef upgrade():\n    op.execute('{BROKEN_SQL}')\ndef downgrade():\n    pass\n"),
            )),
        },
        App {
            name: "sql",
            files: vec![
                (
                    "db/schema.sql",
                    "CREATE TABLE sql_users (id int, email text);\n".into(),
                ),
                (
                    "db/migrations/20240101000000_email.sql",
                    "ALTER TABLE sql_users ADD COLUMN IF NOT EXISTS email text;\n".into(),
                ),
            ],
            command: "auto",
            table: "sql_users",
            broken: Some((
                "db/migrations/20240102000000_broken.sql",
                format!("{BROKEN_SQL};\n"),
            )),
        },
        App {
            name: "django",
            files: vec![
                (
                    "requirements.txt",
                    "Django==5.2.19\ndj-database-url==3.1.2\npsycopg==3.3.9\n".into(),
                ),
                (
                    "manage.py",
                    "import os, sys\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n".into(),
                ),
                ("mysite/__init__.py", String::new()),
                (
                    "mysite/settings.py",
                    "import dj_database_url\nSECRET_KEY = 'test'\nINSTALLED_APPS = ['notes']\nUSE_TZ = True\nDATABASES = {'default': dj_database_url.config()}\n".into(),
                ),
                ("notes/__init__.py", String::new()),
                (
                    "notes/models.py",
                    "from django.db import models\nclass Note(models.Model):\n    body = models.TextField()\n".into(),
                ),
                ("notes/migrations/__init__.py", String::new()),
                (
                    "notes/migrations/0001_initial.py",
                    "from django.db import migrations, models\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = [migrations.CreateModel(name='Note', fields=[('id', models.BigAutoField(primary_key=True, serialize=False)), ('body', models.TextField())])]\n".into(),
                ),
            ],
            command: "auto",
            table: "notes_note",
            broken: Some((
                "notes/migrations/0002_broken.py",
                format!("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = [('notes', '0001_initial')]\n    operations = [migrations.RunSQL('{BROKEN_SQL}')]\n"),
            )),
        },
        App {
            name: "drizzle-kit",
            files: vec![
                (
                    "package.json",
                    r#"{"name":"app","dependencies":{"pg":"8.23.1","drizzle-orm":"0.45.4"},"devDependencies":{"drizzle-kit":"0.31.11"}}"#.into(),
                ),
                (
                    "drizzle.config.ts",
                    "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'postgresql', out: './drizzle', dbCredentials: { url: process.env.DATABASE_URL! } });\n".into(),
                ),
                (
                    "drizzle/0000_init.sql",
                    "CREATE TABLE \"drizzle_users\" (\"id\" serial PRIMARY KEY NOT NULL);\n".into(),
                ),
                (
                    "drizzle/meta/_journal.json",
                    r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1700000000000,"tag":"0000_init","breakpoints":true}]}"#.into(),
                ),
            ],
            command: "auto",
            table: "drizzle_users",
            broken: None,
        },
        App {
            name: "jdbc",
            files: vec![(
                "Migrate.java",
                "import java.sql.*;\npublic class Migrate {\n  public static void main(String[] args) throws Exception {\n    // Heroku-style: the URL alone; Spring-style: the URL with user and password beside it.\n    try (Connection c = DriverManager.getConnection(System.getenv(\"JDBC_DATABASE_URL\")); Statement s = c.createStatement()) {\n      s.execute(\"CREATE TABLE IF NOT EXISTS jdbc_made (id int)\");\n    }\n    try (Connection c = DriverManager.getConnection(System.getenv(\"JDBC_DATABASE_URL\"), System.getenv(\"JDBC_DATABASE_USERNAME\"), System.getenv(\"JDBC_DATABASE_PASSWORD\")); Statement s = c.createStatement()) {\n      s.execute(\"SELECT 1\");\n    }\n  }\n}\n".into(),
            )],
            // Debian's libpostgresql-jdbc-java (installed by .ci/run).
            command: "java -cp /usr/share/java/postgresql.jar Migrate.java",
            table: "jdbc_made",
            broken: None,
        },
        App {
            name: "deno",
            files: vec![
                (
                    "deno.json",
                    r#"{"tasks":{"migrate":"deno run -A npm:node-pg-migrate@9.0.0 up"},"imports":{"pg":"npm:pg@8.23.1"}}"#.into(),
                ),
                (
                    "migrations/1700000000000_users.js",
                    "exports.up = (pgm) => { pgm.createTable('deno_users', { id: 'id' }); };\n".into(),
                ),
                (
                    "app.ts",
                    "import pg from 'pg';\nconst pool = new pg.Pool();\nawait pool.query('CREATE TABLE IF NOT EXISTS deno_app_made (id int)');\nawait pool.end();\n".into(),
                ),
            ],
            command: "deno task migrate && deno run -A app.ts",
            table: "deno_users",
            broken: None,
        },
    ]
}

/// Every app against one server: first run creates its table (owned by the timeline's role),
/// second run changes nothing; exports match the connection; no password in any output.
fn every_client(setup: &Setup, apps: Vec<App>) {
    let tools = tools();
    let trust: Vec<(&str, String)> = ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name, v)))
        .collect();
    let deno_dir = tools.join("deno-cache").display().to_string();
    let path = format!(
        "{}:{}:{}:{}",
        tools.join("node_modules/.bin").display(),
        tools.parent().unwrap().join("cargo/bin").display(),
        tools.join("venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for app in apps {
        let repo = Repo::new(&format!("clients/{}", app.name));
        fs::remove_file(repo.path().join("package.json")).unwrap();
        for (file, text) in &app.files {
            repo.write(file, text);
        }
        if repo.path().join("package.json").is_file() {
            std::os::unix::fs::symlink(
                tools.join("node_modules"),
                repo.path().join("node_modules"),
            )
            .unwrap();
        }
        repo.write(
            "deploydb.toml",
            &format!(
                "app = \"c\"\n{}[migrate]\ncommand = \"{}\"\n",
                if setup.shared {
                    "isolation = \"shared\"\n"
                } else {
                    ""
                },
                app.command
            ),
        );
        let mut env: Vec<(&str, &str)> = setup.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("PATH", path.as_str()));
        env.push(("DENO_DIR", deno_dir.as_str()));
        // The machine's own trust settings (a proxy's CA, where there is one), as a CI job has
        // them: Deno fetches npm packages through them.
        for (name, value) in &trust {
            env.push((name, value.as_str()));
        }
        let database = format!("c--clients-{}", app.name);
        let owner_role = if setup.shared {
            ADMIN.to_string()
        } else {
            database.clone()
        };
        let first = run(deploydb(repo.path(), &["run"], &env));
        assert_eq!(first.code(), Some(0), "{}: first run\n{first}", app.name);
        assert_absent(&first, ADMIN_PASSWORD);
        let owner = |table: &str| {
            support::query(
                &format!(
                    "postgresql://bootstrap:{}@127.0.0.1:{}/{database}",
                    support::SUPERUSER_PASSWORD,
                    setup.server.port()
                ),
                &format!("SELECT tableowner FROM pg_tables WHERE tablename = '{table}'"),
            )
        };
        assert_eq!(
            owner(app.table),
            vec![owner_role.clone()],
            "{}\n{first}",
            app.name
        );
        if app.name.starts_with("alembic") && setup.shared {
            assert!(first.stderr().contains("Alembic"), "the % warning\n{first}");
        }
        let second = run(deploydb(repo.path(), &["run"], &env));
        assert_eq!(second.code(), Some(0), "{}: second run\n{second}", app.name);
        assert_eq!(owner(app.table), vec![owner_role.clone()], "{}", app.name);
        if app.name == "deno" {
            assert_eq!(owner("deno_app_made"), vec![owner_role.clone()], "{first}");
        }
        if let Some((file, text)) = &app.broken {
            repo.write(file, text);
            let broken = run(deploydb(repo.path(), &["run"], &env));
            assert!(
                !matches!(broken.code(), Some(0) | None),
                "{}: a broken migration must fail\n{broken}",
                app.name
            );
            assert!(
                format!("{}{}", broken.stdout(), broken.stderr()).contains("missing_table_x"),
                "{}: the error text must come through\n{broken}",
                app.name
            );
            assert_absent(&broken, ADMIN_PASSWORD);
            fs::remove_file(repo.path().join(file)).unwrap();
        }

        let vars = run(deploydb(repo.path(), &["env", "--format", "json"], &env))
            .expect_code(0)
            .json();
        assert_eq!(vars["PGSSLMODE"], setup.sslmode, "{}", app.name);
        let url = vars["DATABASE_URL"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("sslmode={}", setup.sslmode))
                || url.contains(&format!("sslmode={}&", setup.sslmode)),
            "{url}"
        );
        if setup.shared {
            // The admin's password, percent-encoded: `%` itself becomes `%25`.
            assert!(url.contains("%25") && url.contains("%40"), "{}", app.name);
        } else {
            // configparser (Alembic) must be able to read it: no `%` in the URL.
            assert!(!url.contains('%'), "{url}");
        }
    }
}

/// The admin's password (`% @ : / # ?`) handed to the apps as it is (`isolation = "shared"`),
/// over verified TLS: every client decodes it; Alembic needs its documented `%%` escape, and
/// deploydb says so.
#[test]
fn shared_credentials_with_special_characters_reach_every_client() {
    let mut setup = setup(Kind::RootCert);
    setup.shared = true;
    let mut apps: Vec<App> = apps()
        .into_iter()
        .filter(|a| {
            [
                "node-postgres",
                "node-postgres-url",
                "postgres-js",
                "psql",
                "psycopg",
                "asyncpg",
                "django",
                "jdbc",
                "knex",
            ]
            .contains(&a.name)
        })
        .collect();
    let mut alembic = apps_named("alembic");
    alembic.name = "alembic-escaped";
    for (file, text) in &mut alembic.files {
        if *file == "alembic/env.py" {
            *text = text.replace(
                "os.environ[\"DATABASE_URL\"])",
                "os.environ[\"DATABASE_URL\"].replace(\"%\", \"%%\"))",
            );
            assert!(text.contains("%%"));
        }
    }
    apps.push(alembic);
    every_client(&setup, apps);
}

fn apps_named(name: &str) -> App {
    apps().into_iter().find(|a| a.name == name).unwrap()
}

#[test]
fn every_client_connects_to_a_server_without_tls() {
    every_client(&setup(Kind::Plain), apps());
}

#[test]
fn every_client_connects_with_a_private_ca_as_sslrootcert() {
    every_client(&setup(Kind::RootCert), apps());
}

#[test]
fn every_client_connects_with_the_ca_in_deploydb_ca_cert() {
    every_client(&setup(Kind::CaSecret), apps());
}

#[test]
fn sql_migrations_run_once_and_refuse_an_edited_file() {
    let server = Server::start();
    let env = support::admin_env(&server);
    let env = support::with(&env, &[]);
    let repo = Repo::new("feature/ledger");
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"sql\"\n[seed]\ncommand = \"psql -X -q -c 'INSERT INTO notes VALUES (1)'\"\n",
    );
    repo.write("db/schema.sql", "CREATE TABLE notes (id int);\n");
    repo.write(
        "db/migrations/001_notes.sql",
        "ALTER TABLE notes ADD COLUMN body text;\n",
    );
    let superuser = format!(
        "postgresql://bootstrap:{}@127.0.0.1:{}/shop--feature-ledger",
        support::SUPERUSER_PASSWORD,
        server.port()
    );
    let first = run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    assert!(first.stdout().contains("applying db/schema.sql"), "{first}");
    // schema.sql already has 001: recorded as included, not applied again (it would fail).
    assert_eq!(
        support::query(
            &superuser,
            "SELECT name || ':' || applied_by FROM deploydb_migrations ORDER BY name"
        ),
        vec!["001_notes.sql:schema"]
    );
    assert_eq!(
        support::query(&superuser, "SELECT count(*) FROM notes"),
        vec!["1"],
        "seeded once\n{first}"
    );

    // A new migration applies once; the seed does not run again.
    repo.write(
        "db/migrations/002_tags.sql",
        "CREATE TABLE tags (id int);\n",
    );
    let second = run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    assert!(
        second
            .stdout()
            .contains("applied db/migrations/002_tags.sql"),
        "{second}"
    );
    let third = run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    assert!(third.stdout().contains("nothing to do"), "{third}");
    assert_eq!(
        support::query(&superuser, "SELECT count(*) FROM notes"),
        vec!["1"]
    );
    assert_eq!(
        support::query(
            &superuser,
            "SELECT tableowner FROM pg_tables WHERE tablename = 'tags'"
        ),
        vec!["shop--feature-ledger"]
    );

    // A broken file: its error and line come through, exit 1, nothing of it stays.
    repo.write(
        "db/migrations/003_broken.sql",
        "CREATE TABLE half (id int);\nSELEC 1;\n",
    );
    let broken = run(deploydb(repo.path(), &["run"], &env)).expect_code(1);
    assert!(
        broken
            .stderr()
            .contains("error: db/migrations/003_broken.sql:2 failed: syntax error"),
        "{broken}"
    );
    assert_eq!(
        support::query(
            &superuser,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"
        ),
        vec!["0"]
    );
    // Its ledger row went out with it and was refused, so it is not recorded as applied.
    assert_eq!(
        support::query(
            &superuser,
            "SELECT count(*) FROM deploydb_migrations WHERE name = '003_broken.sql'"
        ),
        vec!["0"]
    );
    fs::remove_file(repo.path().join("db/migrations/003_broken.sql")).unwrap();

    // An edited applied file: refused before anything changes.
    repo.write(
        "db/migrations/002_tags.sql",
        "CREATE TABLE tags (id bigint);\n",
    );
    repo.write(
        "db/migrations/004_more.sql",
        "CREATE TABLE more (id int);\n",
    );
    let refused = run(deploydb(repo.path(), &["run"], &env)).expect_code(1);
    assert!(
        refused
            .stderr()
            .contains("db/migrations/002_tags.sql was edited after it was applied"),
        "{refused}"
    );
    assert_eq!(
        support::query(
            &superuser,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'more'"
        ),
        vec!["0"]
    );
    let status = run(deploydb(repo.path(), &["migrate", "status"], &env)).expect_code(1);
    let text = status.stdout();
    assert!(
        text.contains("edited since applied") && text.contains("pending"),
        "{status}"
    );
}

#[test]
fn an_explicit_command_runs_without_a_detected_driver() {
    let server = Server::start();
    let env = support::admin_env(&server);
    let env = support::with(&env, &[]);
    let repo = Repo::new("feature/explicit");
    fs::remove_file(repo.path().join("package.json")).unwrap();
    repo.write(
        "deploydb.toml",
        "app = \"shop\"\n[migrate]\ncommand = \"psql -X -q -c 'CREATE TABLE explicit (id int)'\"\n",
    );
    let result = run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    assert!(
        !result.stderr().contains("nothing to provision"),
        "{result}"
    );
    assert_eq!(server.databases(), vec!["shop--feature-explicit"]);
    // Nothing detected and nothing configured: skipped, nothing created.
    let bare = Repo::new("feature/bare");
    fs::remove_file(bare.path().join("package.json")).unwrap();
    let skipped = run(deploydb(bare.path(), &["run"], &env)).expect_code(0);
    assert!(
        skipped.stderr().contains("nothing to provision"),
        "{skipped}"
    );
    assert_eq!(server.databases(), vec!["shop--feature-explicit"]);
}

#[test]
fn a_failed_seed_is_retried_and_production_is_seeded_only_when_configured() {
    let server = Server::start();
    let env = support::admin_env(&server);
    let env = support::with(&env, &[]);
    let repo = Repo::new("feature/seed");
    let config = |seed: &str| {
        format!(
            "app = \"shop\"\n[migrate]\ncommand = \"psql -X -q -c 'CREATE TABLE IF NOT EXISTS seeded (id int)'\"\n[seed]\ncommand = \"{seed}\"\n"
        )
    };
    repo.write("deploydb.toml", &config("exit 7"));
    run(deploydb(repo.path(), &["run"], &env)).expect_code(7);
    repo.write(
        "deploydb.toml",
        &config("psql -X -q -c 'INSERT INTO seeded VALUES (1)'"),
    );
    run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    let again = run(deploydb(repo.path(), &["run"], &env)).expect_code(0);
    assert!(again.stderr().contains("already seeded"), "{again}");
    let url = |db: &str| {
        format!(
            "postgresql://bootstrap:{}@127.0.0.1:{}/{db}",
            support::SUPERUSER_PASSWORD,
            server.port()
        )
    };
    assert_eq!(
        support::query(&url("shop--feature-seed"), "SELECT count(*) FROM seeded"),
        vec!["1"]
    );
    assert_eq!(
        support::query(
            &url("shop--feature-seed"),
            "SELECT string_agg(exit_code::text, ',' ORDER BY started_at) FROM deploydb_seed"
        ),
        vec!["7,0"]
    );

    // Production: not seeded by default, seeded once with `production = true`.
    let prod = run(deploydb(
        repo.path(),
        &["run", "--timeline", "production"],
        &env,
    ))
    .expect_code(0);
    assert!(prod.stderr().contains("production is not seeded"), "{prod}");
    assert_eq!(
        support::query(&url("shop-production"), "SELECT count(*) FROM seeded"),
        vec!["0"]
    );
    let explicit = Repo::new("main");
    explicit.write(
        "deploydb.toml",
        "app = \"other\"\n[migrate]\ncommand = \"psql -X -q -c 'CREATE TABLE seeded (id int)'\"\n[seed]\ncommand = \"psql -X -q -c 'INSERT INTO seeded VALUES (1)'\"\nproduction = true\n",
    );
    run(deploydb(
        explicit.path(),
        &["run", "--timeline", "production"],
        &env,
    ))
    .expect_code(0);
    assert_eq!(
        support::query(&url("other-production"), "SELECT count(*) FROM seeded"),
        vec!["1"]
    );
}

/// sqlx-cli and diesel_cli, built from crates.io into `target/test-tools/cargo` (slow on
/// two cores, hence opt-in: `cargo test --locked --test cli -- --ignored clients::rust_`).
fn rust_apps() -> Vec<App> {
    let tools = tools();
    let root = tools.parent().unwrap().join("cargo");
    for (bin, args) in [
        (
            "sqlx",
            &[
                "sqlx-cli@0.8.6",
                "--no-default-features",
                "--features",
                "postgres,rustls",
            ][..],
        ),
        (
            "diesel",
            &[
                "diesel_cli@2.3.14",
                "--no-default-features",
                "--features",
                "postgres",
            ][..],
        ),
    ] {
        if !root.join("bin").join(bin).is_file() {
            let status = Command::new("cargo")
                .args(["install", "--locked", "--root"])
                .arg(&root)
                .args(args)
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "cargo install {args:?} failed"
            );
        }
    }
    vec![
        App {
            name: "sqlx",
            files: vec![(
                "migrations/20240101000000_users.sql",
                "CREATE TABLE sqlx_users (id int);\n".into(),
            )],
            command: "sqlx migrate run",
            table: "sqlx_users",
            broken: Some((
                "migrations/20240102000000_broken.sql",
                format!("{BROKEN_SQL};\n"),
            )),
        },
        App {
            name: "diesel",
            files: vec![
                (
                    "migrations/2024-01-01-000000_users/up.sql",
                    "CREATE TABLE diesel_users (id int);\n".into(),
                ),
                (
                    "migrations/2024-01-01-000000_users/down.sql",
                    "DROP TABLE diesel_users;\n".into(),
                ),
            ],
            command: "diesel migration run",
            table: "diesel_users",
            broken: None,
        },
    ]
}

#[test]
#[ignore = "opt-in: builds sqlx-cli and diesel_cli from crates.io"]
fn rust_clients_connect_to_all_three_servers() {
    for kind in [Kind::Plain, Kind::RootCert, Kind::CaSecret] {
        every_client(&setup(kind), rust_apps());
    }
}
