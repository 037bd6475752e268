//! The server's catalog as deploydb's only state: which databases are deploydb's (by their
//! ownership comment), and dropping one of them with its role. Nothing here touches a database
//! without a deploydb record.

use serde::Serialize;

use super::connect::describe;
use super::ensure::{Session, quote_ident};
use super::ownership::Ownership;
use crate::error::{Error, Result};

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

impl Session {
    /// Every database carrying a deploydb ownership record, by name.
    pub async fn managed(&self) -> Result<Vec<Managed>> {
        let rows = self
            .client
            .query(
                "SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_get_userbyid(d.datdba), \
                        CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END \
                 FROM pg_database d \
                 WHERE shobj_description(d.oid, 'pg_database') LIKE '%deploydb%' \
                 ORDER BY d.datname",
                &[],
            )
            .await
            .map_err(|e| Error::server(format!("could not list databases on {}: {}", self.admin().redacted(), describe(&e))))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let comment: Option<String> = row.get(1);
                let record = Ownership::parse(comment.as_deref()?)?;
                Some(Managed {
                    name: row.get(0),
                    record,
                    owner: row.get(2),
                    size: row.get(3),
                })
            })
            .collect())
    }

    /// Drops `database` (ending its sessions first) and, when deploydb made it, the role of the
    /// same name. The caller has checked the record; this checks it again right before dropping,
    /// so nothing changes hands in between.
    pub async fn drop_timeline(&self, database: &str, app: &str) -> Result<DropOutcome> {
        let current = self
            .managed()
            .await?
            .into_iter()
            .find(|m| m.name == database);
        let Some(current) = current.filter(|m| m.record.app == app) else {
            return Err(Error::server(format!(
                "database {database} is not a deploydb database of app `{app}`; nothing was dropped"
            )));
        };
        let fail = |action: &str, e: &tokio_postgres::Error| {
            Error::server(format!("could not {action} {database}: {}", describe(e)))
        };
        let ident = quote_ident(database);
        // DROP DATABASE cannot run in a transaction, so SET ROLE is a session setting here; it
        // is what lets a member of the owning role drop the database on PostgreSQL 16.
        let as_owner = current.owner != self.admin().user && !self.superuser;
        if as_owner {
            self.client
                .batch_execute(&format!("SET ROLE {}", quote_ident(&current.owner)))
                .await
                .map_err(|e| fail("act as the owner of", &e))?;
        }
        let force = if self.server_version >= 130000 {
            " WITH (FORCE)"
        } else {
            ""
        };
        let dropped = self
            .client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {ident}{force}"))
            .await;
        if as_owner {
            let _ = self.client.batch_execute("RESET ROLE").await;
        }
        dropped.map_err(|e| fail("drop database", &e))?;

        let role = self
            .client
            .query_opt(
                "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
                &[&database],
            )
            .await
            .map_err(|e| fail("look up the role", &e))?;
        let role_is_ours = role
            .and_then(|r| r.get::<_, Option<String>>(0))
            .and_then(|c| Ownership::parse(&c))
            .is_some();
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
}

pub struct DropOutcome {
    pub role_dropped: bool,
}
