//! Go, Rust and the JVM: golang-migrate and goose pointed at the folder that really holds
//! their SQL files (never a guessed one) with goose's dialect from the component's engine;
//! sqlx-cli and diesel where their migrations live (diesel's `diesel.toml` at a virtual
//! workspace's root counts for its members); sea-orm's migration crate; Flyway and Liquibase.

use std::path::Path;

use super::{Folder, Found};

/// Folders below this one holding `.sql` files, with the files' names (relative), nearest
/// first.
fn sql_folders<'a>(folder: &Folder<'a>) -> Vec<(String, Vec<&'a Path>)> {
    let mut by_dir: std::collections::BTreeMap<String, Vec<&'a Path>> = Default::default();
    for (path, rel) in folder.files_below() {
        if !rel.ends_with(".sql") {
            continue;
        }
        let dir = rel.rsplit_once('/').map_or(".", |(d, _)| d).to_string();
        if super::super::strength::of_location(&rel) > crate::detect::Strength::Runtime {
            continue;
        }
        by_dir.entry(dir).or_default().push(path);
    }
    let mut out: Vec<(String, Vec<&'a Path>)> = by_dir.into_iter().collect();
    out.sort_by_key(|(d, _)| (d.matches('/').count(), d.clone()));
    out
}

pub(super) fn suggest(folder: &Folder, found: &mut Found) {
    go(folder, found);
    rust(folder, found);
    jvm(folder, found);
}

fn go(folder: &Folder, found: &mut Found) {
    let Some(text) = folder.text("go.mod") else {
        return;
    };
    let modules: Vec<&str> = crate::detect::go::requires(&text)
        .into_iter()
        .map(|(_, m, _)| m)
        .collect();
    let uses = |prefix: &str| modules.iter().any(|m| m.starts_with(prefix));
    let folders = sql_folders(folder);
    if uses("github.com/golang-migrate/migrate") {
        // golang-migrate's files are `{version}_{title}.up.sql`.
        if let Some((dir, _)) = folders.iter().find(|(_, files)| {
            files.iter().any(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".up.sql"))
            })
        }) {
            found.push((
                "golang-migrate",
                format!("migrate -path {dir} -database \"$DATABASE_URL\" up"),
            ));
        }
    }
    if uses("github.com/pressly/goose") {
        let goose_dir = folders.iter().find(|(_, files)| {
            files
                .iter()
                .take(3)
                .any(|f| crate::detect::read::text(f).is_ok_and(|t| t.contains("+goose Up")))
        });
        if let Some((dir, _)) = goose_dir {
            let engines = folder.engines();
            let dialect = if engines.contains("postgres") {
                "postgres"
            } else if engines.contains("sqlite") {
                "sqlite3"
            } else if engines.contains("mysql") {
                "mysql"
            } else {
                "postgres"
            };
            found.push((
                "goose",
                format!("goose -dir {dir} {dialect} \"$DATABASE_URL\" up"),
            ));
        }
    }
}

fn rust(folder: &Folder, found: &mut Found) {
    let Some(cargo) = folder.text("Cargo.toml") else {
        return;
    };
    // A member of a workspace whose root has diesel.toml is migrated from the root.
    let root_has_diesel = folder
        .dir
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(folder.root))
        .any(|d| folder.exists_in(d, "diesel.toml"));
    let mentions = |name: &str| {
        cargo.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with(name) && l[name.len()..].trim_start().starts_with(['=', '.'])
        })
    };
    // diesel's CLI runs `migrations/<version>_<name>/up.sql` (or the folder diesel.toml
    // names); per-backend subfolders (`migrations/postgresql/…`) are embedded by the app.
    let diesel_config = folder.text("diesel.toml").unwrap_or_default();
    let diesel_layout = diesel_config.contains("[migrations_directory]")
        || std::fs::read_dir(folder.dir.join("migrations"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| folder.exists_in(&e.path(), "up.sql"));
    let own_migrations = !root_has_diesel && mentions("diesel");
    if diesel_layout && (folder.exists("diesel.toml") || own_migrations) {
        found.push(("diesel", "diesel migration run".into()));
    }
    if mentions("sqlx") && folder.exists("migrations") {
        found.push(("sqlx-cli", "sqlx migrate run".into()));
    }
    if folder.exists("migration/Cargo.toml")
        && folder
            .text("migration/Cargo.toml")
            .is_some_and(|t| t.contains("sea-orm-migration"))
    {
        found.push(("sea-orm", "sea-orm-cli migrate up".into()));
    }
}

fn jvm(folder: &Folder, found: &mut Found) {
    let build = folder
        .text("pom.xml")
        .map(|t| (t, true))
        .or_else(|| folder.text("build.gradle").map(|t| (t, false)))
        .or_else(|| folder.text("build.gradle.kts").map(|t| (t, false)));
    let Some((build, maven)) = build else {
        return;
    };
    let wrapper = if maven {
        if folder.exists("mvnw") {
            "./mvnw"
        } else {
            "mvn"
        }
    } else if folder.exists("gradlew") {
        "./gradlew"
    } else {
        "gradle"
    };
    let credentials = "-url=\"$JDBC_DATABASE_URL\" -user=\"$JDBC_DATABASE_USERNAME\" -password=\"$JDBC_DATABASE_PASSWORD\"";
    if build.contains("flyway-maven-plugin") {
        found.push(("flyway", format!("{wrapper} flyway:migrate")));
    } else if build.contains("org.flywaydb.flyway") {
        found.push(("flyway", format!("{wrapper} flywayMigrate")));
    } else if build.contains("org.flywaydb") {
        let location = "src/main/resources/db/migration";
        if folder.exists(location) {
            found.push((
                "flyway",
                format!("flyway {credentials} -locations=filesystem:{location} migrate"),
            ));
        }
    }
    if build.contains("org.liquibase") {
        let changelog = [
            "src/main/resources/db/changelog/db.changelog-master.yaml",
            "src/main/resources/db/changelog/db.changelog-master.xml",
            "src/main/resources/db/changelog/db.changelog-master.yml",
        ]
        .into_iter()
        .find(|c| folder.exists(c));
        if build.contains("liquibase-maven-plugin") {
            found.push(("liquibase", format!("{wrapper} liquibase:update")));
        } else if let Some(changelog) = changelog {
            found.push((
                "liquibase",
                format!(
                    "liquibase update --changelog-file={changelog} --url=\"$JDBC_DATABASE_URL\" --username=\"$JDBC_DATABASE_USERNAME\" --password=\"$JDBC_DATABASE_PASSWORD\""
                ),
            ));
        }
    }
}
