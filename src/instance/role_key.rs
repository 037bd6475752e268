//! The key timeline role passwords are derived from. It used to be the admin password itself,
//! which let anyone holding one branch's exported password (or a role's comment) guess the
//! admin password offline. Now the key is 32 random bytes no role but the admin can read:
//!
//! - by default, a large object in the admin URL's database, owned by the admin and readable by
//!   its owner only (large objects carry their own ACL; `lo_compat_privileges` must be off,
//!   which is the default and is checked). It sits at an OID derived from the admin's
//!   credential (one index look-up; no other role can predict it), is made on first use, and
//!   lives in the server's catalog like every other piece of deploydb's state;
//! - or `DEPLOYDB_ROLE_SECRET` (at least 32 characters), for pipelines that keep it themselves.
//!
//! Each role's record carries the key's *id* — random, stored beside the key, not derived from
//! it — so a run can tell that a role's password was set with another key and set it again:
//! rotating is unlinking the large object (or changing the secret); every role gets a new
//! password on its next deploy. No role's record holds anything derived from a password.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_postgres::types::Type;

use super::connect::describe;
use super::ensure::Session;
use super::lock;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The comment that marks the key's large object.
const MARK: &str = "deploydb role key v1";
const ID_BYTES: usize = 16;
const KEY_BYTES: usize = 32;
/// The shortest `DEPLOYDB_ROLE_SECRET` taken: it is used without stretching.
const MIN_SECRET: usize = 32;

pub struct RoleKey {
    key: Secret,
    /// Random, public: which key set a role's password.
    pub id: String,
}

impl RoleKey {
    /// The password of timeline role `role`: HMAC-SHA-256 of its name, base64url.
    pub fn password(&self, role: &str) -> Secret {
        super::role::derive_password(self.key.expose().as_bytes(), role)
    }

    /// The key from `DEPLOYDB_ROLE_SECRET`, or the server's; `None` when the server has none
    /// yet. One read-only query, which may share the session with others in flight.
    pub async fn find(session: &Session, env: &Env) -> Result<Option<RoleKey>> {
        if let Some(secret) = env.get("DEPLOYDB_ROLE_SECRET") {
            tracing::debug!("role key: DEPLOYDB_ROLE_SECRET");
            return from_secret(secret).map(Some);
        }
        let key = read(session).await?;
        if let Some(key) = &key {
            tracing::debug!("role key: kept on the server (id {})", key.id);
        }
        Ok(key)
    }

    /// Makes the server's key, the first time (a transaction of several statements: nothing
    /// else may be sent on the session meanwhile).
    pub async fn make(session: &Session) -> Result<RoleKey> {
        tracing::info!("role key: none on the server yet; making one");
        create(session).await
    }
}

fn from_secret(secret: &str) -> Result<RoleKey> {
    if secret.chars().count() < MIN_SECRET {
        return Err(Error::usage(format!(
            "DEPLOYDB_ROLE_SECRET is {} characters long; at least {MIN_SECRET} are needed",
            secret.chars().count()
        ))
        .with_hint("use a random secret, e.g. `openssl rand -base64 32`, or unset it to let deploydb keep a key on the server"));
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"deploydb role key id");
    let id: String = mac.finalize().into_bytes()[..ID_BYTES / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(RoleKey {
        key: Secret::new(secret),
        id: format!("env-{id}"),
    })
}

/// Where the key object lives: an OID derived from the admin's credential, so it is found by
/// one index look-up (no scan of `pg_description`, which costs a new backend ~1 ms), and no role
/// without that credential can predict it to take it first. A changed admin password means a
/// new key, so every role gets a new password on its next deploy.
fn key_oid(session: &Session) -> u32 {
    // Keyed with the admin's password and named by its user: two admins never meet.
    let bytes = lock::key(session.admin(), "role-key-oid", &session.admin().user).to_le_bytes();
    // The upper half of the OID space, far from what the server hands out on its own.
    0x8000_0000 | (u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & 0x7fff_ffff)
}

/// The admin's key object, when there is one and only the admin can read it. One call of
/// `lo_get` by OID and nothing else: looking at `pg_largeobject_metadata` first would cost every
/// run a catalog load (~2 ms on a new backend). The owner need not be checked: no role without
/// the admin's credential can know the OID to plant an object there, and one that is not the
/// admin's is unreadable (permission denied) while `lo_compat_privileges` is off.
async fn read(session: &Session) -> Result<Option<RoleKey>> {
    let oid = key_oid(session);
    let row = session
        .client
        .query_typed(
            "SELECT pg_catalog.current_setting('lo_compat_privileges')::bool, pg_catalog.lo_get($1)",
            &[(&oid, Type::OID)],
        )
        .await;
    let rows = match row {
        Ok(rows) => rows,
        // 42704: no large object with that OID yet.
        Err(e) if e.code().map(|c| c.code()) == Some("42704") => return Ok(None),
        Err(e) if e.code().map(|c| c.code()) == Some("42501") => {
            return Err(Error::server(format!(
                "large object {oid}, where deploydb keeps the key for role passwords, belongs to another role"
            ))
            .with_hint("set DEPLOYDB_ROLE_SECRET (32+ random characters), or have that object removed"));
        }
        Err(e) => return Err(fail("read", &e)),
    };
    let row = rows.first().ok_or_else(|| Error::server("no row"))?;
    let compat: bool = row.get(0);
    if compat {
        return Err(Error::server(
            "lo_compat_privileges is on: every role could read the key deploydb keeps for role passwords",
        )
        .with_hint("turn lo_compat_privileges off, or set DEPLOYDB_ROLE_SECRET (32+ random characters)"));
    }
    let bytes: Vec<u8> = row.get(1);
    parse(&bytes).map(Some).ok_or_else(|| {
        Error::server(format!(
            "large object {oid} does not hold a deploydb role key"
        ))
        .with_hint("set DEPLOYDB_ROLE_SECRET (32+ random characters), or have that object removed")
    })
}

fn parse(bytes: &[u8]) -> Option<RoleKey> {
    if bytes.len() != ID_BYTES + KEY_BYTES {
        return None;
    }
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Some(RoleKey {
        id: hex(&bytes[..ID_BYTES]),
        key: Secret::new(hex(&bytes[ID_BYTES..])),
    })
}

/// Makes the key object under a lock, so racing first runs agree on one key; a run that waited
/// reads the one the leader made.
async fn create(session: &Session) -> Result<RoleKey> {
    let mut bytes = vec![0u8; ID_BYTES + KEY_BYTES];
    getrandom::fill(&mut bytes).expect("the OS random number generator works");
    let lock = lock::key(session.admin(), "role-key", MARK);
    let statement = format!(
        "BEGIN; SET LOCAL lock_timeout = '{}s'; SELECT pg_catalog.pg_advisory_xact_lock({lock})",
        session.timeout().as_secs().max(1)
    );
    let client = &session.client;
    let result = async {
        client.batch_execute(&statement).await?;
        let oid = key_oid(session);
        let compat: bool = client
            .query_typed_one(
                "SELECT pg_catalog.current_setting('lo_compat_privileges')::bool",
                &[],
            )
            .await?
            .get(0);
        if compat {
            return Ok(true);
        }
        let existing = client
            .query_typed(
                "SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1",
                &[(&oid, Type::OID)],
            )
            .await?;
        if existing.is_empty() {
            client
                .query_typed(
                    "SELECT pg_catalog.lo_from_bytea($1, $2)",
                    &[(&oid, Type::OID), (&bytes, Type::BYTEA)],
                )
                .await?;
            // The comment is for people (and `lo_unlink` by description to rotate).
            client
                .batch_execute(&format!("COMMENT ON LARGE OBJECT {oid} IS '{MARK}'"))
                .await?;
        }
        client.batch_execute("COMMIT").await.map(|()| false)
    }
    .await;
    if matches!(result, Ok(true)) {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(Error::server(
            "lo_compat_privileges is on: every role could read the key deploydb would keep for role passwords; nothing was made",
        )
        .with_hint("turn lo_compat_privileges off, or set DEPLOYDB_ROLE_SECRET (32+ random characters)"));
    }
    if let Err(e) = result {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(fail("create", &e).with_hint(
            "the admin must be able to create a large object in its own database; or set DEPLOYDB_ROLE_SECRET (32+ random characters)",
        ));
    }
    read(session)
        .await?
        .ok_or_else(|| Error::server("the role key deploydb made cannot be read back"))
}

fn fail(action: &str, e: &tokio_postgres::Error) -> Error {
    Error::server(format!(
        "could not {action} the key for timeline role passwords: {}",
        describe(e)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_is_refused_and_a_long_one_has_a_stable_id() {
        assert!(from_secret("short").is_err());
        let secret = "x".repeat(40);
        let (a, b) = (from_secret(&secret).unwrap(), from_secret(&secret).unwrap());
        assert_eq!(a.id, b.id);
        assert_eq!(a.password("r"), b.password("r"));
        assert_ne!(a.id, from_secret(&"y".repeat(40)).unwrap().id);
    }

    #[test]
    fn the_stored_form_is_id_then_key() {
        let bytes: Vec<u8> = (0..48).collect();
        let key = parse(&bytes).unwrap();
        assert_eq!(key.id.len(), 32);
        assert!(parse(&bytes[..47]).is_none());
    }
}
