//! `deploydb check`: "Test Connection" for the linked server. Each point a deploy depends on is
//! checked and reported with what to do when it fails; exit 0 only when a deploy would work.

use serde::Serialize;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result, exit};
use crate::instance::{self, ensure::Session, quote::quote_ident, role::Isolation};
use crate::report::Format;

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
        .query_typed_one(
            "SELECT current_setting('server_version'), \
                    coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
                    coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()), ''), \
                    r.rolsuper, r.rolcreatedb, r.rolcreaterole, inet_server_port() \
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
    points.push(Point::new(
        "version",
        Some(true),
        format!("PostgreSQL {version} (deploydb supports 12 to 18)"),
    ));
    let server_port: Option<i32> = info.get(6);
    points.push(match server_port {
        Some(port) if port != i32::from(admin.port) => Point::new(
            "pooler",
            None,
            format!(
                "the server listens on port {port} but the admin URL says {}: a pooler or proxy is in between. \
                 deploydb works through it in transaction or session mode (no named prepared statements, \
                 transaction-scoped locks); it must route new databases (a `* =` entry in PgBouncer), \
                 and drop cannot end sessions the pooler keeps open",
                admin.port
            ),
        ),
        _ => Point::new("pooler", None, "none: the admin URL reaches the server directly"),
    });
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
    let role_ok = role_point.ok == Some(true);
    points.push(role_point);
    if role_ok {
        points.push(probe_roles(&session).await);
    }
    let count = session.managed(Some(&config.app)).await?.len();
    points.push(Point::new(
        "databases",
        None,
        format!("{count} managed for app `{}`", config.app),
    ));
    report(points, format)
}

/// Does, and rolls back, what ensure does with a timeline's role on this server version: create
/// it, let the admin act as it (the membership grant 16+ needs), act as it, record ownership.
async fn probe_roles(session: &Session) -> Point {
    let probe = format!("deploydb_check_{}", crate::secret::random_hex(6));
    let ident = quote_ident(&probe);
    let grant = if session.superuser {
        String::new()
    } else {
        format!("{}; ", session.version.grant_act_as(&ident))
    };
    let statement = format!(
        "BEGIN; CREATE ROLE {ident} NOLOGIN; {grant}SET LOCAL ROLE {ident}; \
         RESET ROLE; COMMENT ON ROLE {ident} IS 'deploydb check'; ROLLBACK"
    );
    let result = session.client.batch_execute(&statement).await;
    let _ = session.client.batch_execute("ROLLBACK").await;
    match result {
        Ok(()) => Point::new(
            "roles",
            Some(true),
            format!(
                "a timeline role can be created and acted as on PostgreSQL {} (tried and rolled back)",
                session.version.major()
            ),
        ),
        Err(e) => Point::new(
            "roles",
            Some(false),
            format!(
                "creating a timeline role as ensure would failed: {}",
                instance::connect::describe(&e)
            ),
        )
        .hint("grant the admin CREATEROLE (and on 16+ let it grant itself roles it creates), or set isolation = \"shared\""),
    }
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
