//! A login role per timeline database, so each timeline's app can reach its own database and no
//! other. The role's password is derived, never stored: HMAC-SHA-256 of the role name keyed with
//! the role key (see `role_key`), base64url. The role's record names the key's id, so a rotated
//! key gives every role a new password on its next deploy. Only a SCRAM verifier computed here
//! is sent to the server, so the password cannot end up in the server's statement log.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_postgres::Client;

use super::connect::describe;
use super::ownership::Ownership;
use super::quote::{quote_ident, quote_literal};
use super::version::Version;
use crate::error::{Error, Result};
use crate::secret::Secret;

pub use crate::config::Isolation;

pub fn derive_password(key: &[u8], role: &str) -> Secret {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(role.as_bytes());
    let bytes = mac.finalize().into_bytes();
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) const PRIVILEGE_HINT: &str = "grant the admin CREATEROLE, or set isolation = \"shared\" in deploydb.toml to use the admin's credentials";

/// What the catalog says about the timeline's role.
#[derive(Debug, Clone, Default)]
pub struct RoleState {
    pub exists: bool,
    pub comment: Option<String>,
    /// Whether the admin may hand the role a database and act as its owner (see `version`).
    pub admin_may_use: bool,
}

/// The statements that bring the role to what this run needs: create it (with its record), set
/// its password again when it was set with another key (the key id in the role's record), and
/// make the admin a member so it may hand the database over (PostgreSQL 15 requires that).
/// Empty when the role is already as it should be. A role of that name without deploydb's
/// record is never taken over.
pub fn plan(
    name: &str,
    password: &Secret,
    key_id: &str,
    record: &Ownership,
    state: &RoleState,
    version: Version,
    admin_is_superuser: bool,
) -> Result<Vec<String>> {
    let check = key_id.to_string();
    let ident = quote_ident(name);
    let mut statements = Vec::new();
    if state.exists {
        let Some(existing) = state.comment.as_deref().and_then(Ownership::parse) else {
            return Err(Error::server(format!(
                "role {name} exists but was not created by deploydb; it will not be taken over"
            ))
            .with_hint(
                "drop or rename that role, or set isolation = \"shared\" in deploydb.toml",
            ));
        };
        if existing.key_id.as_deref() != Some(check.as_str()) {
            let mut updated = existing;
            updated.key_id = Some(check);
            statements.push(format!(
                "ALTER ROLE {ident} WITH LOGIN PASSWORD {}",
                quote_literal(&verifier(password))
            ));
            statements.push(format!(
                "COMMENT ON ROLE {ident} IS {}",
                quote_literal(&updated.to_json())
            ));
        }
    } else {
        let mut record = record.clone();
        record.key_id = Some(check);
        statements.push(format!(
            "CREATE ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {}",
            quote_literal(&verifier(password))
        ));
        statements.push(format!(
            "COMMENT ON ROLE {ident} IS {}",
            quote_literal(&record.to_json())
        ));
    }
    if !admin_is_superuser && !state.admin_may_use {
        // 16 lets a role's creator administer it, but SET (needed to give it a database) must be
        // asked for; 15 has no WITH options and needs plain membership.
        statements.push(version.grant_act_as(&ident));
    }
    Ok(statements)
}

/// Runs a plan in one round trip and one transaction: a role is never left without its record.
pub async fn apply(
    client: &Client,
    name: &str,
    statements: &[String],
    creating: bool,
) -> Result<()> {
    let result = run(client, name, statements, creating, true).await;
    if result.is_err() {
        // Leave no aborted transaction behind on the session.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// Runs a plan inside the transaction already open on `client`, which the caller ends: the
/// role then appears (or changes) together with whatever else that transaction does.
pub async fn apply_in_transaction(
    client: &Client,
    name: &str,
    statements: &[String],
    creating: bool,
) -> Result<()> {
    run(client, name, statements, creating, false).await
}

async fn run(
    client: &Client,
    name: &str,
    statements: &[String],
    creating: bool,
    own_transaction: bool,
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let action = if creating { "create" } else { "update" };
    // The statements carry the password's SCRAM verifier: their purpose is logged, not them.
    tracing::info!("{action} role {name}: {} statement(s)", statements.len());
    let batch = if own_transaction {
        format!("BEGIN; {}; COMMIT", statements.join("; "))
    } else {
        statements.join("; ")
    };
    client
        .batch_execute(&batch)
        .await
        .map_err(|e| match e.code().map(|c| c.code()) {
            Some("42501") => Error::server(format!(
                "the admin role may not {action} role {name}: it needs CREATEROLE ({})",
                describe(&e)
            ))
            .with_hint(PRIVILEGE_HINT),
            _ => Error::server(format!("could not {action} role {name}: {}", describe(&e))),
        })
}

/// Only a SCRAM verifier reaches the server, never the password.
fn verifier(password: &Secret) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
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
