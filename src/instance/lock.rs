//! deploydb's advisory locks: the migration lock (two pipelines of one timeline never migrate at
//! once) and the ensure locks (one run creates a timeline's database while racers wait, also
//! for its acceptance check).
//!
//! Each lock is transaction-scoped and held in an open transaction for as long as it is needed,
//! on the admin session or on a connection of its own (see [`Holder`]). That is what holds behind a pooler in
//! transaction mode (PgBouncer, Supavisor, Neon's pooler): the pooler pins one server connection
//! to a client for the length of a transaction, whereas a session-level lock could be taken on
//! one server connection and released on another. A run that dies closes its connection, and the
//! server (or the pooler) ends the transaction and the lock with it. Every wait is bounded by
//! `lock_timeout` on the server. Statements are simple queries with the key as a literal: no
//! named prepared statement, which a pooler in transaction mode cannot keep.

use std::time::Duration;

use sha2::Sha256;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::connect::{connect, describe};
use super::conninfo::ConnInfo;
use crate::error::{Error, Kind, Result};
use crate::report;

/// A 64-bit lock key from a purpose and a name, keyed with the admin's password. Advisory
/// locks live in the admin's database, which every login role may connect to; a key anyone can
/// compute would let a branch's role take production's lock first and stall its deploys. Only
/// runs that hold the admin credential can compute these keys (HMAC-SHA-256, truncated); with
/// no password (trust or peer authentication) the name alone keys it, as before.
pub fn key(admin: &ConnInfo, purpose: &str, name: &str) -> i64 {
    use hmac::{Hmac, KeyInit, Mac};
    let secret = admin.password.as_ref().map_or("", |p| p.expose());
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("deploydb:{purpose}:{name}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(bytes)
}

/// A connection holding locks in an open transaction: one of its own, which dropping closes
/// (releasing them), or the admin session, borrowed while nothing else needs it (its
/// transaction ends when the session does). [`Holder::release`] ends the transaction at once.
pub struct Holder<'a> {
    client: Connection<'a>,
}

enum Connection<'a> {
    Own(Client),
    Borrowed(&'a Client),
}

impl Holder<'static> {
    pub async fn open(admin: &ConnInfo, timeout: Duration) -> Result<Holder<'static>> {
        Ok(Holder {
            client: Connection::Own(connect(admin, timeout).await?),
        })
    }
}

impl<'a> Holder<'a> {
    /// Locks on `session` itself: one connection fewer, for as long as nothing else is sent on
    /// it until the holder is released (a statement that fails would end the transaction).
    pub fn on(session: &'a Client) -> Holder<'a> {
        Holder {
            client: Connection::Borrowed(session),
        }
    }

    fn client(&self) -> &Client {
        match &self.client {
            Connection::Own(client) => client,
            Connection::Borrowed(client) => client,
        }
    }

    /// Starts a transaction and tries `key` exclusively; on `false` the transaction is ended.
    pub async fn try_exclusive(&self, key: i64) -> std::result::Result<bool, String> {
        tracing::debug!("trying the timeline's lock exclusively");
        let got = first_bool(
            self.client()
                .simple_query(&format!(
                    "BEGIN; SELECT pg_catalog.pg_try_advisory_xact_lock({key})"
                ))
                .await,
        )?;
        if !got {
            self.end().await?;
        }
        Ok(got)
    }

    /// Waits (at most `wait`) until `key` is free, taking it exclusively in a transaction that
    /// stays open. `Ok(false)` when the wait ran out.
    pub async fn exclusive(&self, key: i64, wait: Duration) -> std::result::Result<bool, String> {
        self.bounded(&format!("pg_catalog.pg_advisory_xact_lock({key})"), wait)
            .await
    }

    /// Waits until whoever holds each of `keys` exclusively is done, in order (at most `wait`
    /// for each), then lets go.
    pub async fn wait_shared(
        &self,
        keys: &[i64],
        wait: Duration,
    ) -> std::result::Result<bool, String> {
        tracing::info!(
            "another run is creating the database; waiting up to {}s for it",
            wait.as_secs()
        );
        let calls = keys
            .iter()
            .map(|key| format!("pg_catalog.pg_advisory_xact_lock_shared({key})"))
            .collect::<Vec<_>>()
            .join("; SELECT ");
        let got = self.bounded(&calls, wait).await?;
        if got {
            self.end().await?;
        }
        Ok(got)
    }

    /// Runs `SELECT {calls}` under a `lock_timeout` of `wait`, in a transaction that stays open
    /// when they all return; `calls` may hold several calls separated by `; SELECT `.
    async fn bounded(&self, calls: &str, wait: Duration) -> std::result::Result<bool, String> {
        let ms = wait.as_millis().clamp(1, i32::MAX as u128);
        let statement = format!("BEGIN; SET LOCAL lock_timeout = {ms}; SELECT {calls}");
        match self.client().simple_query(&statement).await {
            Ok(_) => Ok(true),
            Err(e) if e.code().map(|c| c.code()) == Some("55P03") => {
                self.end().await?;
                Ok(false)
            }
            Err(e) => {
                let _ = self.end().await;
                Err(describe(&e))
            }
        }
    }

    async fn end(&self) -> std::result::Result<(), String> {
        self.client()
            .simple_query("ROLLBACK")
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// Ends the transaction, and with it the locks.
    pub async fn release(self) {
        let _ = self.end().await;
    }
}

fn first_bool(
    result: std::result::Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>,
) -> std::result::Result<bool, String> {
    let messages = result.map_err(|e| describe(&e))?;
    Ok(messages.iter().any(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0) == Some("t"),
        _ => false,
    }))
}

/// Takes the migration lock for `database`, waiting (with a visible line) up to `timeout`, on
/// `session` when given (see [`Holder::on`]), else on a connection of its own. The lock is held
/// until the returned holder is released or dropped.
pub async fn migration<'a>(
    admin: &ConnInfo,
    session: Option<&'a Client>,
    connect_timeout: Duration,
    database: &str,
    timeout: Duration,
) -> Result<Holder<'a>> {
    let key = key(admin, "migrate", database);
    let fail = |detail: String| {
        Error::server(format!(
            "could not take the migration lock for {database}: {detail}"
        ))
    };
    let holder = match session {
        Some(client) => Holder::on(client),
        None => Holder::open(admin, connect_timeout).await?,
    };
    if holder.try_exclusive(key).await.map_err(fail)? {
        return Ok(holder);
    }
    report::line(
        "migrate",
        format!(
            "waiting for another deploydb run migrating {database} (up to {}s)",
            timeout.as_secs()
        ),
    );
    if holder.exclusive(key, timeout).await.map_err(fail)? {
        return Ok(holder);
    }
    Err(Error::new(
        Kind::LockTimeout,
        format!(
            "another run kept migrating {database} for longer than [migrate] lock_timeout ({}s)",
            timeout.as_secs()
        ),
    )
    .with_hint("wait for it to finish, or raise [migrate] lock_timeout"))
}
