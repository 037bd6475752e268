//! Opening a connection, with errors that say which server (password hidden) and what to do.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::conninfo::{ConnInfo, SslMode};
use crate::error::{Error, Result};

/// Connects and drives the connection on its own task. TLS modes are refused here until TLS
/// support lands, rather than silently connecting in the clear.
pub async fn connect(info: &ConnInfo, timeout: Duration) -> Result<Client> {
    if !matches!(
        info.sslmode,
        SslMode::Disable | SslMode::Allow | SslMode::Prefer
    ) {
        return Err(Error::server(format!(
            "sslmode={} is not supported by this build of deploydb (connecting to {})",
            info.sslmode.as_str(),
            info.redacted()
        ))
        .with_hint(
            "use sslmode=prefer or disable for now; TLS support is tracked in the security issue",
        ));
    }
    let mut config = info.pg_config();
    config.connect_timeout(info.connect_timeout.unwrap_or(timeout));
    let attempt = tokio::time::timeout(timeout, config.connect(NoTls)).await;
    let (client, connection) = match attempt {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(connect_error(info, &e)),
        Err(_) => {
            return Err(Error::server(format!(
                "could not connect to {} within {}s",
                info.redacted(),
                timeout.as_secs()
            ))
            .with_hint("check that the server is reachable, or raise [instance] connect_timeout"));
        }
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn connect_error(info: &ConnInfo, e: &tokio_postgres::Error) -> Error {
    let code = e.code().map(|c| c.code().to_string());
    let hint = match code.as_deref() {
        Some("28P01" | "28000") => "check the user and password in the admin URL",
        Some("3D000") => {
            "the database in the admin URL does not exist; name an existing one (usually postgres)"
        }
        Some("53300") => {
            "the server has no free connection slots; retry later or raise max_connections"
        }
        _ => "check that the server is running and reachable at that host and port",
    };
    Error::server(format!(
        "could not connect to {}: {}",
        info.redacted(),
        describe(e)
    ))
    .with_hint(hint)
}

/// A one-line description of a driver error: the server's own message when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let text = e.to_string();
            match std::error::Error::source(e) {
                Some(source) if !text.contains(&source.to_string()) => format!("{text}: {source}"),
                _ => text,
            }
        }
    }
}
