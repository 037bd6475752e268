//! `deploydb check`: "Test Connection" for the linked server. Each point a deploy depends on is
//! checked and reported with what to do when it fails; exit 0 only when a deploy would work.

use serde::Serialize;

use crate::cli::Format;
use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result, exit};
use crate::instance::{self, ensure::Session, role::Isolation};

#[derive(Debug, Serialize)]
pub struct Point {
    pub name: &'static str,
    /// `None` for information that cannot fail.
    pub ok: Option<bool>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Point {
    fn new(name: &'static str, ok: Option<bool>, detail: impl Into<String>) -> Point {
        Point {
            name,
            ok,
            detail: detail.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Point {
        self.hint = Some(hint.into());
        self
    }
}

pub async fn run(config: &Config, env: &Env, format: Format) -> Result<i32> {
    let admin = instance::admin(config, env)?;
    let source = if env.get(&config.url_env).is_some() {
        format!("${}", config.url_env)
    } else {
        "the embedded local cluster".to_string()
    };
    let mut points = vec![Point::new(
        "admin",
        None,
        format!("{} (from {source})", admin.redacted()),
    )];
    let session = match Session::open(&admin, config.connect_timeout).await {
        Ok(session) => session,
        Err(e) => {
            points.push(Point {
                name: "connect",
                ok: Some(false),
                detail: e.message,
                hint: e.hint,
            });
            return report(points, format);
        }
    };
    points.push(Point::new(
        "connect",
        Some(true),
        "reachable and authenticated",
    ));
    let info = session
        .client
        .query_one(
            "SELECT current_setting('server_version'), \
                    coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
                    coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()), ''), \
                    r.rolsuper, r.rolcreatedb, r.rolcreaterole \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| {
            Error::server(format!(
                "could not read the server's settings: {}",
                instance::connect::describe(&e)
            ))
        })?;
    let (version, tls, tls_version): (String, bool, String) =
        (info.get(0), info.get(1), info.get(2));
    let (superuser, createdb, createrole): (bool, bool, bool) =
        (info.get(3), info.get(4), info.get(5));
    points.push(Point::new("version", None, format!("PostgreSQL {version}")));
    let tls_detail = if tls {
        format!("{tls_version} (sslmode={})", admin.sslmode.as_str())
    } else {
        format!("not in use (sslmode={})", admin.sslmode.as_str())
    };
    points.push(Point::new("tls", None, tls_detail));
    let createdb_point = if superuser || createdb {
        Point::new("createdb", Some(true), "the admin may create databases")
    } else {
        Point::new(
            "createdb",
            Some(false),
            format!("the admin role `{}` may not create databases", admin.user),
        )
        .hint("grant it CREATEDB (ALTER ROLE ... CREATEDB), or use another admin")
    };
    points.push(createdb_point);
    let role_point = match (config.isolation, superuser || createrole) {
        (Isolation::Shared, _) => {
            Point::new("createrole", None, "not needed: isolation = \"shared\"")
        }
        (Isolation::Role, true) => Point::new(
            "createrole",
            Some(true),
            "the admin may create each timeline's role",
        ),
        (Isolation::Role, false) => Point::new(
            "createrole",
            Some(false),
            format!("the admin role `{}` may not create roles", admin.user),
        )
        .hint("grant it CREATEROLE, or set isolation = \"shared\" in deploydb.toml"),
    };
    points.push(role_point);
    let managed = session.managed().await?;
    let count = managed
        .iter()
        .filter(|m| m.record.app == config.app)
        .count();
    points.push(Point::new(
        "databases",
        None,
        format!("{count} managed for app `{}`", config.app),
    ));
    report(points, format)
}

fn report(points: Vec<Point>, format: Format) -> Result<i32> {
    let ok = points.iter().all(|p| p.ok != Some(false));
    match format {
        Format::Json => println!("{}", serde_json::json!({ "ok": ok, "checks": points })),
        Format::Text => {
            for p in &points {
                let mark = match p.ok {
                    Some(true) => "ok  ",
                    Some(false) => "FAIL",
                    None => "    ",
                };
                println!("{mark} {:<10} {}", p.name, p.detail);
                if let Some(hint) = &p.hint {
                    println!("     {:<10} hint: {hint}", "");
                }
            }
            println!(
                "{}",
                if ok {
                    "a deploy would work"
                } else {
                    "a deploy would fail: see FAIL above"
                }
            );
        }
    }
    Ok(if ok { exit::OK } else { exit::SERVER })
}
