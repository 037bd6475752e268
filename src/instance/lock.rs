//! Serialising migrations per database with a PostgreSQL advisory lock, held on the admin
//! session while the migration command runs: two pipelines of one timeline never migrate at
//! once, and a run that dies releases the lock with its connection.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::connect::describe;
use crate::error::{Error, Kind, Result};
use crate::report;

/// A 64-bit lock key from a purpose and a name, so deploydb's keys do not collide with an
/// application's own advisory locks by accident.
pub fn key(purpose: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("deploydb:{purpose}:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(bytes)
}

/// Takes the migration lock for `database`, waiting (with a visible line) up to `timeout`.
pub async fn migration(client: &Client, database: &str, timeout: Duration) -> Result<()> {
    let key = key("migrate", database);
    let deadline = Instant::now() + timeout;
    let mut announced = false;
    let mut delay = Duration::from_millis(50);
    loop {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| {
                Error::server(format!(
                    "could not take the migration lock for {database}: {}",
                    describe(&e)
                ))
            })?;
        if row.get::<_, bool>(0) {
            return Ok(());
        }
        if !announced {
            report::line(
                "migrate",
                format!(
                    "waiting for another deploydb run migrating {database} (up to {}s)",
                    timeout.as_secs()
                ),
            );
            announced = true;
        }
        if Instant::now() + delay > deadline {
            return Err(Error::new(
                Kind::LockTimeout,
                format!(
                    "another run kept migrating {database} for longer than [migrate] lock_timeout ({}s)",
                    timeout.as_secs()
                ),
            )
            .with_hint("wait for it to finish, or raise [migrate] lock_timeout"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}
