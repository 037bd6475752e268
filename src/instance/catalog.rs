//! The server's catalog as deploydb's only state: which databases are deploydb's (by their
//! ownership comment), and dropping one of them with its role. Nothing here touches a database
//! without a deploydb record.

use serde::Serialize;

use super::connect::describe;
use super::ensure::Session;
use super::ownership::Ownership;
use super::quote::quote_ident;
use crate::error::{Error, Result};
use crate::timeline::{Kind, naming};
use tokio_postgres::types::Type;

/// The comment on the database whose oid is `oid` (SQL), where deploydb keeps its record. Read
/// from `pg_shdescription` directly: `shobj_description` is a SQL function that looks the
/// catalog's oid up by name on every call, which a fresh backend pays for (about 1 ms a read).
pub(crate) fn database_comment(oid: &str) -> String {
    shared_comment(oid, PG_DATABASE)
}

/// The comment on the role whose oid is `oid` (SQL); see [`database_comment`].
pub(crate) fn role_comment(oid: &str) -> String {
    shared_comment(oid, PG_AUTHID)
}

/// The oids of `pg_database` and `pg_authid`, fixed since PostgreSQL 8.1 (`pg_class.h`).
const PG_DATABASE: u32 = 1262;
const PG_AUTHID: u32 = 1260;

fn shared_comment(oid: &str, class: u32) -> String {
    format!(
        "(SELECT c.description FROM pg_catalog.pg_shdescription c \
          WHERE c.objoid = {oid} AND c.classoid = {class})"
    )
}

/// A database deploydb manages, as the catalog describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Managed {
    pub name: String,
    #[serde(flatten)]
    pub record: Ownership,
    /// Bytes, when the admin may read it.
    pub size: Option<i64>,
    pub owner: String,
}

impl Managed {
    /// Whether the record follows from the name (see [`Ownership::matches_name`]); an untrusted
    /// record is shown flagged and decides nothing.
    pub fn trusted(&self) -> bool {
        self.record.matches_name(&self.name)
    }

    /// Whether this database is `app`'s: by a trusted record, or by a branch name of the app's
    /// (`{app}--…`, a form no other app's names can take) whatever its record says, so a role
    /// that relabels its database as another app's does not hide it from this app's prune.
    pub fn of_app(&self, app: &str) -> bool {
        (self.record.app == app && self.trusted()) || self.name.starts_with(&format!("{app}--"))
    }
}

impl Session {
    /// Every database carrying a deploydb ownership record (of `app` only, when given), by name,
    /// without sizes. The filter runs on the server so only the rows wanted travel: for one app,
    /// the names of its forms (`{app}-…`) or a record naming it, which [`Managed::of_app`] then
    /// decides on. No per-database function beyond reading the comment is evaluated, so the
    /// cost grows with the app's databases, not the server's.
    pub async fn managed(&self, app: Option<&str>) -> Result<Vec<Managed>> {
        // App names are `[a-z0-9]+(-[a-z0-9]+)*`: nothing in them is special to LIKE.
        let (prefix, record) = match app {
            Some(app) => (format!("{app}-%"), format!("%\"app\":\"{app}\"%")),
            None => ("%".to_string(), "%".to_string()),
        };
        let rows = self
            .client
            .query_typed(
                "SELECT d.datname, c.description, pg_catalog.pg_get_userbyid(d.datdba) \
                 FROM pg_catalog.pg_database d \
                 JOIN pg_catalog.pg_shdescription c \
                   ON c.objoid = d.oid AND c.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass \
                 WHERE c.description LIKE '%deploydb%' \
                   AND (d.datname LIKE $1 OR c.description LIKE $2) \
                 ORDER BY d.datname",
                &[(&prefix, Type::TEXT), (&record, Type::TEXT)],
            )
            .await
            .map_err(|e| Error::server(format!("could not list databases on {}: {}", self.admin().redacted(), describe(&e))))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let comment: String = row.get(1);
                let record = Ownership::parse(&comment)?;
                Some(Managed {
                    name: row.get(0),
                    record,
                    owner: row.get(2),
                    size: None,
                })
            })
            .filter(|m| app.is_none_or(|app| m.of_app(app)))
            .collect())
    }

    /// Fills in the size of each of `rows` the admin may connect to, in one query: only the
    /// rows that are shown are measured.
    pub async fn measure(&self, rows: &mut [Managed]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = rows.iter().map(|m| m.name.clone()).collect();
        let sizes = self
            .client
            .query_typed(
                "SELECT d.datname, \
                        CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT') \
                             THEN pg_catalog.pg_database_size(d.oid) END \
                 FROM pg_catalog.pg_database d WHERE d.datname = ANY($1)",
                &[(&names, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(|e| {
                Error::server(format!(
                    "could not measure databases on {}: {}",
                    self.admin().redacted(),
                    describe(&e)
                ))
            })?;
        for row in sizes {
            let name: String = row.get(0);
            if let Some(m) = rows.iter_mut().find(|m| m.name == name) {
                m.size = row.get(1);
            }
        }
        Ok(())
    }

    /// The record and owner of one database, when it carries deploydb's record, and whether a
    /// role of the same name exists that deploydb made — one round trip.
    async fn managed_one(&self, database: &str) -> Result<(Option<Managed>, bool)> {
        let rows = self
            .client
            .query_typed(
                &format!(
                    "SELECT {}, pg_catalog.pg_get_userbyid(d.datdba), {} \
                     FROM pg_catalog.pg_database d WHERE d.datname = $1",
                    database_comment("d.oid"),
                    role_comment("pg_catalog.to_regrole(pg_catalog.quote_ident($1))::oid")
                ),
                &[(&database, Type::TEXT)],
            )
            .await
            .map_err(|e| {
                Error::server(format!(
                    "could not look up database {database}: {}",
                    describe(&e)
                ))
            })?;
        let Some(row) = rows.first() else {
            return Ok((None, false));
        };
        let role_is_ours = row
            .get::<_, Option<String>>(2)
            .and_then(|c| Ownership::parse(&c))
            .is_some();
        let comment: Option<String> = row.get(0);
        let managed = comment
            .and_then(|c| Ownership::parse(&c))
            .map(|record| Managed {
                name: database.to_string(),
                record,
                owner: row.get(1),
                size: None,
            });
        Ok((managed, role_is_ours))
    }

    /// Drops `database` (ending its sessions first) and, when deploydb made it, the role of the
    /// same name. The caller has checked the record; this checks it again right before dropping,
    /// so nothing changes hands in between.
    pub async fn drop_timeline(&self, database: &str, app: &str) -> Result<DropOutcome> {
        let (current, role_is_ours) = self.managed_one(database).await?;
        let Some(current) = current.filter(|m| m.of_app(app)) else {
            return Err(Error::server(format!(
                "database {database} is not a deploydb database of app `{app}`; nothing was dropped"
            )));
        };
        // Production and the template are protected by name too: a record can be rewritten by
        // the database's owner, a name cannot.
        let protected = database == naming::production(app) || database == naming::template(app);
        if protected && !(current.trusted() && current.record.kind != Kind::Branch) {
            return Err(Error::server(format!(
                "database {database} has a protected name but its record does not match it; nothing was dropped"
            ))
            .with_hint("inspect its comment; drop it yourself if it really should go"));
        }
        let fail = |action: &str, e: &tokio_postgres::Error| {
            Error::server(format!("could not {action} {database}: {}", describe(e)))
        };
        let ident = quote_ident(database);
        // DROP DATABASE cannot run in a transaction, and behind a pooler in transaction mode a
        // session-level SET ROLE may not reach the connection the DROP runs on: the admin drops
        // with the owner's privileges, which it inherits. A role granted to it without INHERIT
        // (by deploydb before 0.2 on PostgreSQL 16+) is granted again with it.
        if current.owner != self.admin().user && !self.superuser {
            let grant = self.version.grant_act_as(&quote_ident(&current.owner));
            self.client
                .batch_execute(&grant)
                .await
                .map_err(|e| fail("act as the owner of", &e))?;
        }
        let dropped = self.drop_database(&ident, database).await;
        dropped.map_err(|e| {
            let error = fail("drop database", &e);
            let text = describe(&e);
            if text.contains("terminate") {
                error.with_hint("a session in it belongs to a role the admin may not end (a pooler's auth_user that is a superuser, say): let the pooler look passwords up as the admin, grant the admin pg_signal_backend, or drop through a superuser or direct URL")
            } else if text.contains("being accessed by other users") {
                error.with_hint("its sessions could not all be ended (a pooler may hold them, or they belong to another role); stop them, or drop through a direct URL")
            } else {
                error
            }
        })?;

        if role_is_ours {
            self.client
                .batch_execute(&format!("DROP ROLE IF EXISTS {ident}"))
                .await
                .map_err(|e| fail("drop role", &e))?;
        }
        Ok(DropOutcome {
            role_dropped: role_is_ours,
        })
    }

    /// `DROP DATABASE … WITH (FORCE)` where the server has it (13+). On 12 the database is
    /// closed to new connections, its sessions are ended, and then it is dropped; if that fails
    /// it is opened again, so a failed drop changes nothing.
    async fn drop_database(
        &self,
        ident: &str,
        database: &str,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        if self.version.drop_force() {
            return self
                .client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {ident} WITH (FORCE)"))
                .await;
        }
        self.client
            .batch_execute(&format!("ALTER DATABASE {ident} ALLOW_CONNECTIONS false"))
            .await?;
        let _ = self
            .client
            .query_typed(
                "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                &[(&database, Type::TEXT)],
            )
            .await;
        // A terminated backend leaves a moment later; DROP DATABASE itself waits up to 5s
        // for sessions to go before it gives up.
        let dropped = self
            .client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {ident}"))
            .await;
        if dropped.is_err() {
            let _ = self
                .client
                .batch_execute(&format!("ALTER DATABASE {ident} ALLOW_CONNECTIONS true"))
                .await;
        }
        dropped
    }
}

pub struct DropOutcome {
    pub role_dropped: bool,
}
