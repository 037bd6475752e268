//! The one place where PostgreSQL majors differ for deploydb. Supported: 12 to 18.
//!
//! - **13** added `DROP DATABASE … WITH (FORCE)`; on 12 the database's sessions are ended with
//!   `pg_terminate_backend` first (after `ALLOW_CONNECTIONS false`, so none come back).
//! - **16** changed what a `CREATEROLE` role may do with roles it creates: it gets ADMIN OPTION
//!   on them, but (with the default empty `createrole_self_grant`) neither INHERIT nor SET. To
//!   create a database owned by the role the admin must be able to `SET ROLE` to it, and to run
//!   owner-only statements (`COMMENT ON DATABASE`, `ALTER DATABASE`, `DROP DATABASE`) it must
//!   have the role's privileges. So it grants itself the role `WITH INHERIT TRUE, SET TRUE`.
//!   Inheriting matters behind a pooler in transaction mode: a session-level `SET ROLE` could
//!   land on one server connection and the `DROP DATABASE` (which cannot run in a transaction)
//!   on another. Owner-only statements that can share a transaction still run in one, under
//!   `SET LOCAL ROLE`. Before 16 a plain `GRANT role TO admin` (which inherits) does the same.
//! - **15** took CREATE on schema `public` away from PUBLIC and gave `public` to
//!   `pg_database_owner`; before 15 any role may create objects in another database's `public`,
//!   which only matters to a role that may connect there — deploydb revokes CONNECT from PUBLIC.

use crate::error::{Error, Result};

/// The oldest major deploydb supports, as `server_version_num`.
pub const MINIMUM: i32 = 120000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub i32);

impl Version {
    /// Refuses servers older than 12 in one line.
    pub fn check(number: i32, shown: &str) -> Result<Version> {
        if number < MINIMUM {
            return Err(Error::server(format!(
                "the server runs PostgreSQL {shown}; deploydb supports PostgreSQL 12 to 18"
            ))
            .with_hint("upgrade the server, or point the admin URL at a newer one"));
        }
        Ok(Version(number))
    }

    pub fn major(self) -> i32 {
        self.0 / 10000
    }

    /// `DROP DATABASE … WITH (FORCE)` exists (13+).
    pub fn drop_force(self) -> bool {
        self.0 >= 130000
    }

    /// Membership grants carry `INHERIT`/`SET` options (16+).
    pub fn grant_options(self) -> bool {
        self.0 >= 160000
    }

    /// The statement that lets the admin act as `role` (quoted), when it cannot yet.
    pub fn grant_act_as(self, role: &str) -> String {
        if self.grant_options() {
            format!("GRANT {role} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE")
        } else {
            format!("GRANT {role} TO CURRENT_USER")
        }
    }
}

/// A condition on the admin's membership of the role whose oid is `oid` (SQL): true when it
/// may make the role a database's owner and act as that owner — the admin's own grant of it in
/// `pg_auth_members` (what [`Version::grant_act_as`] makes), with `SET` and `INHERIT` on 16+.
/// Not `pg_has_role`: that computes every role the admin belongs to first, and an admin belongs
/// to every timeline's role, so each run would pay for all of them (3 ms a read with 300
/// timelines, growing with every branch). The same text for every major: the 16+ options are
/// read from the row as JSON, where older servers have no such keys, so the state read can be
/// sent in the round trip that asks for the version (about 0.1 ms more for the server).
pub fn may_act_as(oid: &str) -> String {
    format!(
        "EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.roleid = {oid} \
         AND m.member = pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid \
         AND coalesce((pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.->>) 'set_option')::bool, true) \
         AND coalesce((pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.->>) 'inherit_option')::bool, true))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_12_are_refused_and_features_follow_the_major() {
        assert!(Version::check(110022, "11.22").is_err());
        let v12 = Version::check(120022, "12.22").unwrap();
        assert!(!v12.drop_force() && !v12.grant_options());
        let v16 = Version::check(160014, "16.14").unwrap();
        assert!(v16.drop_force() && v16.grant_options());
        assert!(v16.grant_act_as("\"r\"").contains("SET TRUE"));
        assert_eq!(Version(180004).major(), 18);
    }
}
