//! One test per class of mistake issue #13 names, each on the smallest repository that shows it,
//! through the real binary: the file taken for a framework, schema and config locations that are
//! not the default, tools found only through scripts, workspaces, engines outside Node and
//! Python, evidence from the wrong place, and apps that let the user choose the engine.

use serde_json::Value;

use crate::support::{deploydb, run};

/// `deploydb detect --format json` on a repository made of these files.
fn detect(files: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    run(deploydb(
        dir.path(),
        &["detect", ".", "--format", "json"],
        &[],
    ))
    .expect_code(0)
    .json()
}

fn engines(report: &Value) -> Vec<&str> {
    report["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect()
}

/// (tool, command, dir) of every suggestion.
fn migrations(report: &Value) -> Vec<(String, String, String)> {
    report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap().to_string();
            (field("tool"), field("command"), field("dir"))
        })
        .collect()
}

fn only(tool: &str, command: &str, dir: &str) -> Vec<(String, String, String)> {
    vec![(tool.into(), command.into(), dir.into())]
}

fn finding<'a>(report: &'a Value, package: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == package)
        .unwrap_or_else(|| panic!("no finding for {package}: {report:#}"))
}

const PG_PACKAGE: &str = r#"{"name":"app","dependencies":{"pg":"8","prisma":"6"}}"#;

#[test]
fn a_flask_manage_py_is_not_django() {
    let flask_script = detect(&[
        ("requirements.txt", "flask\nflask-migrate\npsycopg2\n"),
        (
            "manage.py",
            "from flask_script import Manager\nfrom flask_migrate import MigrateCommand\n",
        ),
        ("migrations/env.py", "from flask import current_app\n"),
        ("migrations/alembic.ini", "[alembic]\n"),
    ]);
    assert_eq!(
        migrations(&flask_script),
        only("flask-migrate", "python manage.py db upgrade", ".")
    );
    let flask_cli = detect(&[
        (
            "pyproject.toml",
            "[project]\nname = \"a\"\ndependencies = [\"Flask-Migrate\", \"psycopg\"]\n",
        ),
        ("app/migrations/env.py", "from flask import current_app\n"),
        ("app/migrations/alembic.ini", "[alembic]\n"),
    ]);
    assert_eq!(
        migrations(&flask_cli),
        only("flask-migrate", "flask db upgrade -d app/migrations", ".")
    );
    let django = detect(&[
        ("requirements.txt", "django\npsycopg\n"),
        (
            "manage.py",
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
        ),
    ]);
    assert_eq!(
        migrations(&django),
        only("django", "python manage.py migrate", ".")
    );
}

#[test]
fn prisma_is_found_where_prisma_looks() {
    let root_schema = detect(&[
        ("package.json", PG_PACKAGE),
        (
            "schema.prisma",
            "datasource db {\n  provider = \"postgresql\"\n}\n",
        ),
        ("migrations/1_init/migration.sql", ""),
    ]);
    assert_eq!(
        migrations(&root_schema),
        only("prisma", "npx prisma migrate deploy", ".")
    );
    let keyed = detect(&[
        (
            "package.json",
            r#"{"dependencies":{"pg":"8","prisma":"6"},"prisma":{"schema":"db/main.prisma"}}"#,
        ),
        (
            "db/main.prisma",
            "datasource db {\n  provider = \"postgresql\"\n}\n",
        ),
    ]);
    assert_eq!(
        migrations(&keyed),
        only("prisma", "npx prisma db push", ".")
    );
    assert_eq!(
        finding(&keyed, "provider = \"postgresql\"")["component"],
        "."
    );
    let configured = detect(&[
        ("package.json", PG_PACKAGE),
        (
            "prisma.config.ts",
            "export default defineConfig({ schema: \"src/db/schema.prisma\" })\n",
        ),
        (
            "src/db/schema.prisma",
            "datasource db {\n  provider = \"postgresql\"\n}\n",
        ),
        ("src/db/migrations/1_init/migration.sql", ""),
    ]);
    assert_eq!(
        migrations(&configured),
        only("prisma", "npx prisma migrate deploy", ".")
    );
}

#[test]
fn configs_and_folders_are_read_not_guessed() {
    let drizzle = detect(&[
        (
            "package.json",
            r#"{"dependencies":{"pg":"8","drizzle-orm":"0.3"},"devDependencies":{"drizzle-kit":"0.3"}}"#,
        ),
        (
            "src/db/drizzle.config.ts",
            "export default { dialect: \"postgresql\" }\n",
        ),
    ]);
    assert_eq!(
        migrations(&drizzle),
        only(
            "drizzle-kit",
            "npx drizzle-kit migrate --config src/db/drizzle.config.ts",
            "."
        )
    );
    // golang-migrate without any `*.up.sql`: no `-path migrations` made up.
    let embedded = detect(&[(
        "go.mod",
        "module x\nrequire (\n\tgithub.com/golang-migrate/migrate/v4 v4.17.0\n\tgithub.com/jackc/pgx/v5 v5.5.0\n)\n",
    )]);
    assert_eq!(migrations(&embedded), vec![]);
    let found = detect(&[
        (
            "go.mod",
            "module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.0\nrequire github.com/lib/pq v1.10.0\n",
        ),
        ("internal/db/sql/1_init.up.sql", "CREATE TABLE t (id int);"),
    ]);
    assert_eq!(
        migrations(&found),
        only(
            "golang-migrate",
            "migrate -path internal/db/sql -database \"$DATABASE_URL\" up",
            "."
        )
    );
    // goose's dialect is the component's engine.
    let goose = detect(&[
        (
            "go.mod",
            "module x\nrequire (\n\tgithub.com/pressly/goose/v3 v3.20.0\n\tmodernc.org/sqlite v1.29.0\n)\n",
        ),
        (
            "db/migrations/001_init.sql",
            "-- +goose Up\nCREATE TABLE t (id int);\n",
        ),
    ]);
    assert_eq!(engines(&goose), vec!["sqlite"]);
    assert_eq!(
        migrations(&goose),
        only(
            "goose",
            "goose -dir db/migrations sqlite3 \"$DATABASE_URL\" up",
            "."
        )
    );
    let typeorm = detect(&[
        (
            "package.json",
            r#"{"dependencies":{"pg":"8","typeorm":"0.3"},"scripts":{"typeorm":"typeorm-ts-node-commonjs -d apps/api/orm/source.ts"}}"#,
        ),
        (
            "apps/api/orm/source.ts",
            "export default new DataSource({})",
        ),
    ]);
    assert_eq!(
        migrations(&typeorm),
        only(
            "typeorm",
            "npx typeorm migration:run -d apps/api/orm/source.ts",
            "."
        )
    );
}

#[test]
fn scripts_and_targets_are_the_repositorys_own_way_to_migrate() {
    // node-pg-migrate only through a script: found, and the script is what runs.
    let scripted = detect(&[
        (
            "package.json",
            r#"{"dependencies":{"pg":"8"},"scripts":{"migrate":"npx node-pg-migrate up -m db/migrations","migrate:create":"node-pg-migrate create"}}"#,
        ),
        ("package-lock.json", "{}"),
    ]);
    assert_eq!(
        migrations(&scripted),
        only("node-pg-migrate", "npm run migrate", ".")
    );
    // `migrate dev` is not a deploy; `db:deploy` running `prisma migrate deploy` is.
    let prisma = detect(&[
        (
            "package.json",
            r#"{"dependencies":{"pg":"8","prisma":"6"},"scripts":{"db:migrate":"prisma migrate dev","db:deploy":"prisma migrate deploy"}}"#,
        ),
        ("pnpm-lock.yaml", ""),
        (
            "prisma/schema.prisma",
            "datasource db {\n  provider = \"postgresql\"\n}\n",
        ),
        ("prisma/migrations/1_init/migration.sql", ""),
    ]);
    assert_eq!(
        migrations(&prisma),
        only("prisma", "pnpm run db:deploy", ".")
    );
    let make = detect(&[
        (
            "go.mod",
            "module x\nrequire github.com/jackc/pgx/v5 v5.5.0\n",
        ),
        (
            "Makefile",
            "DB ?= x\nmigrate:\n\tgoose -dir sql postgres \"$(DB)\" up\nmigrate-create:\n\tgoose create x sql\n",
        ),
    ]);
    assert_eq!(migrations(&make), only("goose", "make migrate", "."));
    // A workspace root's script that runs a member's stands for it.
    let workspace = detect(&[
        (
            "package.json",
            r#"{"scripts":{"db:migrate":"npm run migrate -w @app/db"}}"#,
        ),
        ("package-lock.json", "{}"),
        (
            "packages/db/package.json",
            r#"{"name":"@app/db","dependencies":{"pg":"8","knex":"3"},"scripts":{"migrate":"knex migrate:latest"}}"#,
        ),
        ("packages/db/knexfile.js", "module.exports = {}"),
    ]);
    assert_eq!(
        migrations(&workspace),
        only("knex", "npm run db:migrate", ".")
    );
}

#[test]
fn workspaces_are_read_as_workspaces() {
    // diesel.toml and migrations/ at a virtual workspace's root, diesel in a member.
    let diesel = detect(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        (
            "diesel.toml",
            "[print_schema]\nfile = \"crates/db/src/schema.rs\"\n",
        ),
        ("migrations/2024-01-01-000000_init/up.sql", ""),
        (
            "crates/db/Cargo.toml",
            "[package]\nname = \"db\"\nversion = \"0.1.0\"\n[dependencies]\ndiesel = { version = \"2\", features = [\"postgres\"] }\n",
        ),
    ]);
    assert_eq!(engines(&diesel), vec!["postgres"]);
    assert_eq!(
        migrations(&diesel),
        only("diesel", "diesel migration run", ".")
    );
    // drizzle-kit in a library package without a config is not a second suggestion.
    let library = detect(&[
        ("pnpm-lock.yaml", ""),
        (
            "apps/web/package.json",
            r#"{"dependencies":{"pg":"8","drizzle-orm":"0.3"},"devDependencies":{"drizzle-kit":"0.3"}}"#,
        ),
        (
            "apps/web/drizzle.config.ts",
            "export default { dialect: \"postgresql\" }",
        ),
        (
            "packages/ui/package.json",
            r#"{"devDependencies":{"drizzle-kit":"0.3"}}"#,
        ),
    ]);
    assert_eq!(
        migrations(&library),
        only("drizzle-kit", "pnpm exec drizzle-kit migrate", "apps/web")
    );
}

#[test]
fn engines_outside_node_and_python_are_named() {
    let go = detect(&[(
        "go.mod",
        "module x\nrequire (\n\tgithub.com/mattn/go-sqlite3 v1\n\tgithub.com/go-sql-driver/mysql v1\n\tgithub.com/redis/go-redis/v9 v9\n)\n",
    )]);
    assert_eq!(engines(&go), vec!["mysql", "redis", "sqlite"]);
    let rust = detect(&[(
        "Cargo.toml",
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[features]\ndefault = [\"sqlite\"]\nsqlite = [\"diesel/sqlite\"]\npostgresql = [\"diesel/postgres\"]\n[dependencies]\ndiesel = \"2\"\nredis = \"0.25\"\n",
    )]);
    assert_eq!(engines(&rust), vec!["postgres", "redis", "sqlite"]);
    assert_eq!(
        finding(&rust, "postgresql = [\"diesel/postgres\"]")["strength"],
        "optional"
    );
    assert_eq!(
        rust["choices"]["."],
        serde_json::json!(["postgres", "sqlite"])
    );
    let ruby = detect(&[(
        "Gemfile",
        "gem \"rails\"\ngem \"activerecord-sqlserver-adapter\"\ngem \"redis\"\ngroup :development, :test do\n  gem \"sqlite3\"\nend\n",
    )]);
    assert_eq!(engines(&ruby), vec!["redis", "sqlserver"]);
    assert_eq!(finding(&ruby, "sqlite3")["strength"], "dev");
    // sqlx without a backend feature in this crate: its offline query data names the database.
    let offline = detect(&[
        (
            "Cargo.toml",
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[dependencies]\nsqlx = \"0.8\"\n",
        ),
        (
            ".sqlx/query-1.json",
            "{\n  \"db_name\": \"PostgreSQL\",\n  \"query\": \"SELECT 1\"\n}\n",
        ),
        (
            ".sqlx/query-2.json",
            "{\n  \"db_name\": \"PostgreSQL\"\n}\n",
        ),
    ]);
    assert_eq!(engines(&offline), vec!["postgres"]);
    assert_eq!(offline["findings"].as_array().unwrap().len(), 1);
    let java = detect(&[(
        "pom.xml",
        "<project><dependencies>\n<dependency><groupId>org.xerial</groupId><artifactId>sqlite-jdbc</artifactId></dependency>\n<dependency><groupId>com.mysql</groupId><artifactId>mysql-connector-j</artifactId><scope>test</scope></dependency>\n</dependencies></project>\n",
    )]);
    assert_eq!(engines(&java), vec!["sqlite"]);
    let node = detect(&[(
        "package.json",
        r#"{"dependencies":{"@upstash/redis":"1","@neondatabase/serverless":"0.9"}}"#,
    )]);
    assert_eq!(engines(&node), vec!["postgres", "redis"]);
}

#[test]
fn evidence_from_the_wrong_place_does_not_decide() {
    // The app is Go; the e2e harness's package.json has pg.
    let harness = detect(&[
        (
            "go.mod",
            "module x\nrequire github.com/mattn/go-sqlite3 v1\n",
        ),
        ("e2e/package.json", r#"{"dependencies":{"pg":"8"}}"#),
    ]);
    assert_eq!(engines(&harness), vec!["sqlite"]);
    assert_eq!(finding(&harness, "pg")["strength"], "test");
    // PEP 735 groups and "all data sources" extras are not the app's own database.
    let python = detect(&[(
        "pyproject.toml",
        "[project]\nname = \"a\"\ndependencies = [\"psycopg[binary]\"]\n[project.optional-dependencies]\nall_ds = [\"pymysql\", \"pymongo\"]\n[dependency-groups]\ntest = [\"redis\"]\n",
    )]);
    assert_eq!(engines(&python), vec!["postgres"]);
    assert_eq!(finding(&python, "pymysql")["strength"], "optional");
    assert_eq!(finding(&python, "redis")["strength"], "test");
    // The line is the dependency's, not a script's that mentions it first.
    let lines = detect(&[(
        "package.json",
        "{\n  \"scripts\": {\n    \"pg\": \"docker compose up pg\"\n  },\n  \"dependencies\": {\n    \"pg\": \"8\"\n  }\n}\n",
    )]);
    assert_eq!(finding(&lines, "pg")["line"], 6);
}

#[test]
fn apps_that_let_the_user_choose_say_so() {
    let rails = detect(&[
        ("Gemfile", "gem \"rails\"\ngem \"pg\"\ngem \"mysql2\"\n"),
        (
            "config/database.yml",
            "production:\n  adapter: <%= ENV.fetch(\"DB_ADAPTER\", \"postgresql\") %>\ndevelopment:\n  adapter: sqlite3\n",
        ),
    ]);
    assert_eq!(engines(&rails), vec!["mysql", "postgres"]);
    assert_eq!(
        rails["choices"]["."],
        serde_json::json!(["mysql", "postgres"])
    );
    let env = detect(&[
        ("package.json", r#"{"dependencies":{"knex":"3"}}"#),
        (
            ".env.example",
            "# Use \"pgsql\" for PostgreSQL or \"sqlite\" for SQLite\nDB_TYPE=mysql\nDATABASE_URL=postgres://u:secret@h/db\n",
        ),
    ]);
    assert_eq!(engines(&env), vec!["mysql", "postgres", "sqlite"]);
    let text = serde_json::to_string(&env).unwrap();
    assert!(
        !text.contains("secret"),
        "a value reached the report: {text}"
    );
    // A typed setting in a settings package: the default, and the options its comment names.
    let typed = detect(&[
        (
            "pyproject.toml",
            "[project]\nname = \"a\"\ndependencies = [\"sqlalchemy\"]\n",
        ),
        (
            "app/settings/settings.py",
            "class AppSettings(BaseSettings):\n    DB_ENGINE: str = \"sqlite\"  # Options: 'sqlite', 'postgres'\n",
        ),
    ]);
    assert_eq!(engines(&typed), vec!["postgres", "sqlite"]);
    assert_eq!(
        finding(&typed, "DB_ENGINE = \"sqlite\"")["strength"],
        "runtime"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[features]\npg = [\"sqlx/postgres\"]\nlite = [\"sqlx/sqlite\"]\n[dependencies]\nsqlx = \"0.8\"\n",
    )
    .unwrap();
    let out = run(deploydb(dir.path(), &["detect", "."], &[]))
        .expect_code(0)
        .stdout();
    assert!(
        out.contains(
            ".: supports PostgreSQL, SQLite for its own database; the engine is the user's choice"
        ),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with(" (an option the user chooses in 1)"),
        "{out}"
    );
}

#[test]
fn framework_migrators_are_suggested() {
    let ecto = detect(&[
        (
            "mix.exs",
            "defp deps do\n  [{:ecto_sql, \"~> 3.10\"}, {:postgrex, \">= 0.0.0\"}]\nend\n",
        ),
        (
            "config/runtime.exs",
            "config :app, App.Repo, adapter: Ecto.Adapters.Postgres\n",
        ),
        ("priv/repo/migrations/20240101_init.exs", ""),
    ]);
    assert_eq!(migrations(&ecto), only("ecto", "mix ecto.migrate", "."));
    let laravel = detect(&[
        (
            "composer.json",
            r#"{"require":{"laravel/framework":"^11.0"}}"#,
        ),
        ("artisan", "#!/usr/bin/env php\n"),
        (".env.example", "DB_CONNECTION=pgsql\n"),
    ]);
    assert_eq!(engines(&laravel), vec!["postgres"]);
    assert_eq!(
        migrations(&laravel),
        only("laravel", "php artisan migrate --force", ".")
    );
    let flyway = detect(&[
        (
            "pom.xml",
            "<project><dependencies><dependency><groupId>org.flywaydb</groupId><artifactId>flyway-core</artifactId></dependency><dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId></dependency></dependencies></project>",
        ),
        ("src/main/resources/db/migration/V1__init.sql", ""),
        (
            "src/main/resources/application.properties",
            "spring.datasource.url=jdbc:postgresql://localhost/app\n",
        ),
    ]);
    let suggested = migrations(&flyway);
    assert_eq!(suggested.len(), 1, "{suggested:?}");
    assert_eq!(suggested[0].0, "flyway");
    assert!(
        suggested[0]
            .1
            .contains("-locations=filesystem:src/main/resources/db/migration migrate"),
        "{suggested:?}"
    );
    let liquibase = detect(&[
        (
            "build.gradle",
            "dependencies {\n  implementation 'org.liquibase:liquibase-core:4.27.0'\n  runtimeOnly 'org.postgresql:postgresql:42.7.3'\n}\n",
        ),
        (
            "src/main/resources/db/changelog/db.changelog-master.yaml",
            "",
        ),
    ]);
    assert_eq!(migrations(&liquibase)[0].0, "liquibase");
}
