//! Java: the JDBC drivers and clients in `pom.xml` (with their `<scope>` and `<optional>`) and
//! `build.gradle(.kts)` (with their configuration), and the datasource URL in Spring's
//! `application*.properties` / `application*.yml` (a profile's file speaks for that profile).

use super::{Found, Manifest, Strength};

const ECOSYSTEM: &str = "java";
/// (groupId, artifactId, engine); the artifactId alone matches for any group when the group is
/// empty.
const ARTIFACTS: &[(&str, &str, &str)] = &[
    ("org.postgresql", "postgresql", "postgres"),
    ("org.postgresql", "r2dbc-postgresql", "postgres"),
    ("com.mysql", "mysql-connector-j", "mysql"),
    ("mysql", "mysql-connector-java", "mysql"),
    ("org.mariadb.jdbc", "mariadb-java-client", "mysql"),
    ("org.xerial", "sqlite-jdbc", "sqlite"),
    ("com.microsoft.sqlserver", "mssql-jdbc", "sqlserver"),
    ("com.h2database", "h2", "h2"),
    ("redis.clients", "jedis", "redis"),
    ("io.lettuce", "lettuce-core", "redis"),
    (
        "org.springframework.boot",
        "spring-boot-starter-data-redis",
        "redis",
    ),
    (
        "org.springframework.boot",
        "spring-boot-starter-data-mongodb",
        "mongodb",
    ),
    ("org.mongodb", "mongodb-driver-sync", "mongodb"),
];

fn tag<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = block.find(&open)? + open.len();
    let end = block[start..].find(&format!("</{name}>"))? + start;
    Some(block[start..end].trim())
}

pub(super) fn read_pom(manifest: &Manifest, found: &mut Found) {
    let text = &manifest.text;
    let mut from = 0;
    while let Some(start) = text[from..].find("<dependency>").map(|i| i + from) {
        let end = text[start..]
            .find("</dependency>")
            .map_or(text.len(), |i| start + i);
        let block = &text[start..end];
        from = end;
        let (Some(group), Some(artifact)) = (tag(block, "groupId"), tag(block, "artifactId"))
        else {
            continue;
        };
        let Some((_, _, engine)) = ARTIFACTS
            .iter()
            .find(|(g, a, _)| *g == group && *a == artifact)
        else {
            continue;
        };
        let strength = if tag(block, "optional") == Some("true") {
            Strength::Optional
        } else {
            match tag(block, "scope") {
                Some("test") => Strength::Test,
                _ => Strength::Runtime,
            }
        };
        let at = start + block.find("<artifactId>").unwrap_or(0);
        found.findings.push(
            manifest
                .finding(
                    engine,
                    ECOSYSTEM,
                    &format!("{group}:{artifact}"),
                    manifest.line_at(at),
                )
                .with_strength(strength),
        );
    }
}

pub(super) fn read_gradle(manifest: &Manifest, found: &mut Found) {
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default().trim();
        for (group, artifact, engine) in ARTIFACTS {
            let coordinate = format!("{group}:{artifact}");
            let named = code.contains(&format!("{coordinate}:"))
                || code.contains(&format!("{coordinate}\""))
                || code.contains(&format!("{coordinate}'"));
            if !named {
                continue;
            }
            let configuration = code
                .split(|c: char| c == '(' || c.is_whitespace())
                .next()
                .unwrap_or_default();
            let strength = if configuration.starts_with("test") {
                Strength::Test
            } else if configuration.starts_with("developmentOnly") {
                Strength::Dev
            } else {
                Strength::Runtime
            };
            found.findings.push(
                manifest
                    .finding(engine, ECOSYSTEM, &coordinate, i + 1)
                    .with_strength(strength),
            );
        }
    }
}

/// `spring.datasource.url=jdbc:postgresql://…` (or the YAML form): the app's own database. A
/// profile file (`application-mysql.yml`) is one option among others; `application-test` is
/// for tests.
pub(super) fn read_spring(manifest: &Manifest, found: &mut Found) {
    let file = manifest.rel.rsplit('/').next().unwrap_or_default();
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let profile = stem.strip_prefix("application-");
    let strength = profile.map_or(Strength::Runtime, Strength::of_group);
    for (i, line) in manifest.text.lines().enumerate() {
        let code = line.trim();
        if code.starts_with('#') {
            continue;
        }
        let engine = if code.contains("jdbc:postgresql:") || code.contains("r2dbc:postgresql:") {
            "postgres"
        } else if code.contains("jdbc:mysql:") || code.contains("jdbc:mariadb:") {
            "mysql"
        } else if code.contains("jdbc:sqlite:") {
            "sqlite"
        } else if code.contains("jdbc:sqlserver:") {
            "sqlserver"
        } else if code.contains("jdbc:h2:") {
            "h2"
        } else {
            continue;
        };
        let url = code
            .find("jdbc:")
            .or_else(|| code.find("r2dbc:"))
            .map_or(code, |at| &code[at..]);
        let url = url.split(['?', ';', '}', ' ']).next().unwrap_or(url);
        let scheme: String = url.split("//").next().unwrap_or(url).to_string();
        let mut finding = manifest
            .finding(engine, "spring", &scheme, i + 1)
            .with_strength(strength);
        if profile.is_some() {
            finding = finding.configuring();
        }
        found.findings.push(finding);
    }
}
