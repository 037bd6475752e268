//! A login role per timeline database, so each timeline's app can reach its own database and no
//! other. The role's password is derived, never stored: HMAC-SHA-256 of the role name keyed with
//! `DEPLOYDB_ROLE_SECRET` (or the admin password), base64url. Every run sets it again, so
//! rotating the key rotates every role on its next deploy. Only a SCRAM verifier computed here
//! is sent to the server, so the password cannot end up in the server's statement log.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_postgres::Client;

use super::connect::describe;
use super::ensure::{quote_ident, quote_literal};
use super::ownership::Ownership;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// How timelines are kept apart on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// A login role per database that owns it; the exported credentials are that role's.
    #[default]
    Role,
    /// The admin's own credentials are exported (for servers where roles cannot be created).
    Shared,
}

impl Isolation {
    pub fn parse(text: &str) -> Option<Isolation> {
        match text {
            "role" => Some(Isolation::Role),
            "shared" => Some(Isolation::Shared),
            _ => None,
        }
    }
}

pub fn derive_password(key: &[u8], role: &str) -> Secret {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(role.as_bytes());
    let bytes = mac.finalize().into_bytes();
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

const PRIVILEGE_HINT: &str = "grant the admin CREATEROLE, or set isolation = \"shared\" in deploydb.toml to use the admin's credentials";

/// Creates the role or sets its password again, records ownership on it, and makes the admin a
/// member so it may hand the database over (PostgreSQL 15 requires membership for that).
/// Serialised per role with a transaction-level advisory lock: concurrent `ALTER ROLE`s on one
/// role otherwise fail with "tuple concurrently updated".
pub async fn ensure_role(
    client: &mut Client,
    name: &str,
    password: &Secret,
    record: &Ownership,
    server_version: i32,
    admin_is_superuser: bool,
) -> Result<()> {
    let fail = |action: &str, e: &tokio_postgres::Error| match e.code().map(|c| c.code()) {
        Some("42501") => Error::server(format!(
            "the admin role may not {action} role {name}: it needs CREATEROLE ({})",
            describe(e)
        ))
        .with_hint(PRIVILEGE_HINT),
        _ => Error::server(format!("could not {action} role {name}: {}", describe(e))),
    };
    let transaction = client.transaction().await.map_err(|e| fail("lock", &e))?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&super::lock::key("role", name)],
        )
        .await
        .map_err(|e| fail("lock", &e))?;
    let row = transaction
        .query_opt(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
            &[&name],
        )
        .await
        .map_err(|e| fail("look up", &e))?;
    let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
    let ident = quote_ident(name);
    match row {
        Some(row) => {
            let comment: Option<String> = row.get(0);
            if comment.as_deref().and_then(Ownership::parse).is_none() {
                return Err(Error::server(format!(
                    "role {name} exists but was not created by deploydb; it will not be taken over"
                ))
                .with_hint(
                    "drop or rename that role, or set isolation = \"shared\" in deploydb.toml",
                ));
            }
            let statement = format!(
                "ALTER ROLE {ident} WITH LOGIN PASSWORD {}",
                quote_literal(&verifier)
            );
            transaction
                .batch_execute(&statement)
                .await
                .map_err(|e| fail("update", &e))?;
        }
        None => {
            let statement = format!(
                "CREATE ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {}; \
                 COMMENT ON ROLE {ident} IS {}",
                quote_literal(&verifier),
                quote_literal(&record.to_json())
            );
            transaction
                .batch_execute(&statement)
                .await
                .map_err(|e| fail("create", &e))?;
        }
    }
    if !admin_is_superuser {
        // 16 lets a role's creator administer it, but SET (needed to give it a database) must be
        // asked for; 15 has no WITH options and needs plain membership.
        let grant = if server_version >= 160000 {
            format!("GRANT {ident} TO CURRENT_USER WITH INHERIT FALSE, SET TRUE")
        } else {
            format!("GRANT {ident} TO CURRENT_USER")
        };
        transaction
            .batch_execute(&grant)
            .await
            .map_err(|e| fail("grant membership in", &e))?;
    }
    transaction.commit().await.map_err(|e| fail("commit", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_passwords_are_stable_keyed_and_url_safe() {
        let a = derive_password(b"key", "shop--feature-x");
        assert_eq!(a, derive_password(b"key", "shop--feature-x"));
        assert_ne!(a, derive_password(b"other", "shop--feature-x"));
        assert_ne!(a, derive_password(b"key", "shop-production"));
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
