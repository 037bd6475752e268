//! `branch_from = "template"`: after production's migration succeeds, `{app}-template` is made
//! afresh — an empty database migrated to production's schema, never a copy of production's
//! data — and new branch databases are created from it in one statement, so only the branch's
//! own migrations still run. Under role isolation the template's objects belong to a role of
//! its own, `{app}-template`; in each new branch database they are handed to the branch's role
//! (`REASSIGN OWNED`, in that database only). No branch role is a member of the template's role,
//! and the finished template admits no connections, so no branch can alter it or keep it from
//! being rebuilt.

use tokio_postgres::types::Type;

use super::connect::{connect, describe};
use super::conninfo::ConnInfo;
use super::ensure::Session;
use super::ownership::Ownership;
use super::quote::{quote_ident, quote_literal};
use super::role::{self, Isolation, RoleState};
use super::role_key::RoleKey;
use crate::error::{Error, Result};
use crate::timeline::{Kind, Timeline, naming};

/// A template being rebuilt: the connection its migration runs with.
pub struct Rebuild {
    pub database: String,
    pub credentials: ConnInfo,
}

/// Drops the old template (when it is deploydb's and not in use) and creates an empty one with
/// its role and grants. `Ok(None)` with a reason when the template cannot be rebuilt now.
pub async fn begin(
    session: &Session,
    app: &str,
    isolation: Isolation,
    role_key: Option<&RoleKey>,
) -> Result<Result<Rebuild, String>> {
    let name = naming::template(app);
    let client = &session.client;
    let fail = |action: &str, e: &tokio_postgres::Error| {
        Error::server(format!("could not {action} {name}: {}", describe(e)))
    };
    let existing = client
        .query_typed(
            &format!(
                "SELECT {} FROM pg_catalog.pg_database d WHERE d.datname = $1",
                super::catalog::database_comment("d.oid")
            ),
            &[(&name, Type::TEXT)],
        )
        .await
        .map_err(|e| fail("look up", &e))?;
    if let Some(row) = existing.first() {
        let ours = row
            .get::<_, Option<String>>(0)
            .as_deref()
            .and_then(Ownership::parse)
            .is_some_and(|o| o.app == app && o.kind == Kind::Template);
        if !ours {
            return Ok(Err(format!(
                "a database named {name} exists and is not deploydb's template"
            )));
        }
        let ident = quote_ident(&name);
        client
            .batch_execute(&format!("ALTER DATABASE {ident} IS_TEMPLATE false"))
            .await
            .map_err(|e| fail("unmark", &e))?;
        // A finished template admits no connections (see `finish`), so no branch's session can
        // keep it from being rebuilt; only a branch being copied from it right now can.
        if let Err(e) = client
            .batch_execute(&format!("DROP DATABASE {ident}"))
            .await
        {
            let _ = client
                .batch_execute(&format!("ALTER DATABASE {ident} IS_TEMPLATE true"))
                .await;
            return Ok(Err(format!("{name} is in use ({})", describe(&e))));
        }
    }
    let now: String = client
        .query_typed_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[],
        )
        .await
        .map_err(|e| fail("read the time for", &e))?
        .get(0);
    let timeline = Timeline {
        kind: Kind::Template,
        branch: None,
        pr: None,
        source: crate::timeline::Source::Flag,
        production_branch: String::new(),
        own_preview: false,
    };
    let record = Ownership::new(app, &timeline, now);
    let mut credentials = session.admin().with_database(&name);
    if isolation == Isolation::Role {
        let key = role_key.ok_or_else(|| Error::server("the role key was not loaded"))?;
        let password = key.password(&name);
        let state = role_state(session, &name).await?;
        let plan = role::plan(
            &name,
            &password,
            &key.id,
            &record,
            &state,
            session.version,
            session.superuser,
        )?;
        role::apply(client, &name, &plan, !state.exists).await?;
        credentials.user = name.clone();
        credentials.password = Some(password);
    }
    let ident = quote_ident(&name);
    client
        .batch_execute(&format!("CREATE DATABASE {ident} ALLOW_CONNECTIONS false"))
        .await
        .map_err(|e| fail("create", &e))?;
    // Closed until PUBLIC's CONNECT is revoked, so no other role can get in in between.
    let finish = format!(
        "BEGIN; COMMENT ON DATABASE {ident} IS {}; \
         REVOKE CONNECT, TEMPORARY ON DATABASE {ident} FROM PUBLIC; \
         ALTER DATABASE {ident} ALLOW_CONNECTIONS true; COMMIT",
        quote_literal(&record.to_json())
    );
    if let Err(e) = client.batch_execute(&finish).await {
        let _ = client.batch_execute("ROLLBACK").await;
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {ident}"))
            .await;
        return Err(fail("record ownership of", &e));
    }
    if isolation == Isolation::Role {
        client
            .batch_execute(&format!(
                "GRANT CONNECT, CREATE ON DATABASE {ident} TO {ident}"
            ))
            .await
            .map_err(|e| fail("grant access to", &e))?;
        // The template role builds the schema in `public`, which the admin owns here.
        let inside = connect(&session.admin().with_database(&name), session.timeout()).await?;
        inside
            .batch_execute(&format!("GRANT CREATE ON SCHEMA public TO {ident}"))
            .await
            .map_err(|e| fail("grant the public schema of", &e))?;
    }
    Ok(Ok(Rebuild {
        database: name,
        credentials,
    }))
}

/// Marks the rebuilt template as one to copy from and closes it to every connection (copying
/// needs none, as with template0), or drops it when its migration failed. Closed, nobody —
/// not the template's own role, not a branch's — can change it or hold it open.
pub async fn finish(session: &Session, rebuild: &Rebuild, migrated: bool) -> Result<()> {
    let ident = quote_ident(&rebuild.database);
    let statement = if migrated {
        format!(
            "ALTER DATABASE {ident} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false; \
             SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
             WHERE datname = {} AND pid <> pg_catalog.pg_backend_pid()",
            quote_literal(&rebuild.database)
        )
    } else {
        format!("DROP DATABASE IF EXISTS {ident}")
    };
    session.client.batch_execute(&statement).await.map_err(|e| {
        Error::server(format!(
            "could not finish {}: {}",
            rebuild.database,
            describe(&e)
        ))
    })
}

async fn role_state(session: &Session, name: &str) -> Result<RoleState> {
    let may_act_as = super::version::may_act_as("r.oid");
    let row = session
        .client
        .query_typed_one(
            &format!(
                "SELECT r.oid IS NOT NULL, {}, coalesce({may_act_as}, false) \
                 FROM (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident($1))::oid AS oid) AS r",
                super::catalog::role_comment("r.oid")
            ),
            &[(&name, Type::TEXT)],
        )
        .await
        .map_err(|e| Error::server(format!("could not look up role {name}: {}", describe(&e))))?;
    Ok(RoleState {
        exists: row.get(0),
        comment: row.get(1),
        admin_may_use: row.get(2),
    })
}
