//! Making sure the timeline's database exists: look it up, create it if missing, record
//! ownership, and wait until it takes connections. Safe to run twice and safe to race: every
//! racer that finds the database already there (or loses the create) treats it as existing.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::Client;

use super::connect::{connect, describe};
use super::conninfo::ConnInfo;
use super::ownership::Ownership;
use crate::error::{Error, Result};
use crate::timeline::Timeline;

#[derive(Debug, Clone, Serialize)]
pub struct Ensured {
    pub database: String,
    pub created: bool,
    /// Set when the database exists but carries no deploydb ownership record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

pub struct Target<'a> {
    pub database: &'a str,
    pub app: &'a str,
    pub timeline: &'a Timeline,
}

pub async fn ensure(admin: &ConnInfo, target: Target<'_>, timeout: Duration) -> Result<Ensured> {
    let client = connect(admin, timeout).await?;
    let name = target.database;
    let comment = lookup(&client, admin, name).await?;
    let mut ensured = Ensured {
        database: name.to_string(),
        created: false,
        warning: None,
    };
    match comment {
        Some(comment) => ensured.warning = check_owner(comment.as_deref(), &target)?,
        None => ensured.created = create(&client, admin, &target).await?,
    }
    wait_until_connectable(&admin.with_database(name), timeout).await?;
    Ok(ensured)
}

/// `None` when the database does not exist, else its comment (which may be absent).
async fn lookup(client: &Client, admin: &ConnInfo, name: &str) -> Result<Option<Option<String>>> {
    let rows = client
        .query(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .map_err(|e| statement_error(admin, "look up", name, &e))?;
    Ok(rows.first().map(|row| row.get::<_, Option<String>>(0)))
}

/// Refuses a database whose ownership record names another app or timeline kind: that is a
/// sign of a naming collision, and using it could run one timeline's migrations on another's
/// data. A database without a record is used (it may predate deploydb) with a warning.
fn check_owner(comment: Option<&str>, target: &Target<'_>) -> Result<Option<String>> {
    let Some(owner) = comment.and_then(Ownership::parse) else {
        return Ok(Some(format!(
            "database {} exists but was not created by deploydb; using it as it is",
            target.database
        )));
    };
    if owner.app != target.app || owner.kind != target.timeline.kind {
        return Err(Error::server(format!(
            "database {} belongs to app `{}` ({} timeline) according to its deploydb record, not to app `{}` ({} timeline)",
            target.database,
            owner.app,
            owner.kind.as_str(),
            target.app,
            target.timeline.kind.as_str()
        ))
        .with_hint("check `app` in deploydb.toml; deploydb will not touch another timeline's database"));
    }
    Ok(None)
}

/// Creates the database and records ownership. Returns false when another run created it first.
async fn create(client: &Client, admin: &ConnInfo, target: &Target<'_>) -> Result<bool> {
    let name = target.database;
    let statement = format!("CREATE DATABASE {}", quote_ident(name));
    if let Err(e) = client.batch_execute(&statement).await {
        // 42P04 duplicate_database, or 23505 unique_violation when a concurrent create committed
        // between our check and our insert into pg_database: either way it exists now.
        return match e.code().map(|c| c.code()) {
            Some("42P04" | "23505") => Ok(false),
            Some("42501") => Err(Error::server(format!(
                "the admin role `{}` may not create database {name}",
                admin.user
            ))
            .with_hint("grant it CREATEDB (ALTER ROLE ... CREATEDB) or use another admin URL")),
            _ => Err(statement_error(admin, "create", name, &e)),
        };
    }
    let now: String = client
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[],
        )
        .await
        .map_err(|e| statement_error(admin, "read the time for", name, &e))?
        .get(0);
    let record = Ownership::new(target.app, target.timeline, now).to_json();
    let statement = format!(
        "COMMENT ON DATABASE {} IS {}",
        quote_ident(name),
        quote_literal(&record)
    );
    client
        .batch_execute(&statement)
        .await
        .map_err(|e| statement_error(admin, "record ownership of", name, &e))?;
    Ok(true)
}

/// A freshly created database can refuse connections for a moment on some managed services;
/// the next pipeline step should never be the first to find out.
async fn wait_until_connectable(info: &ConnInfo, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout.min(Duration::from_secs(10));
    let mut delay = Duration::from_millis(20);
    loop {
        let error = match connect(info, timeout).await {
            Ok(client) => match client.simple_query("SELECT 1").await {
                Ok(_) => return Ok(()),
                Err(e) => Error::server(format!(
                    "database {} does not answer SELECT 1: {}",
                    info.dbname,
                    describe(&e)
                )),
            },
            Err(e) => e,
        };
        if Instant::now() + delay > deadline {
            return Err(error);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

fn statement_error(admin: &ConnInfo, action: &str, name: &str, e: &tokio_postgres::Error) -> Error {
    Error::server(format!(
        "could not {action} database {name} on {}: {}",
        admin.redacted(),
        describe(e)
    ))
}

/// A double-quoted identifier with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A dollar-quoted literal whose tag does not occur in the text, so no escaping rule (and no
/// `standard_conforming_strings` setting) can change its meaning.
pub fn quote_literal(text: &str) -> String {
    let mut tag = String::from("deploydb");
    while text.contains(&format!("${tag}$")) {
        tag.push('x');
    }
    format!("${tag}${text}${tag}$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "$deploydb$it's$deploydb$");
        assert_eq!(
            quote_literal("x$deploydb$y"),
            "$deploydbx$x$deploydb$y$deploydbx$"
        );
    }
}
