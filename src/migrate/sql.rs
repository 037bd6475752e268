//! Built-in SQL migrations (`[migrate] command = "sql"`), for the plain layout: `db/schema.sql`
//! as the source of truth and `db/migrations/*.sql` as append-only changes. Each file is applied
//! exactly once, in file-name order, each in its own transaction together with its row in the
//! ledger table `deploydb_migrations` of the timeline's database (name, checksum, applied_at,
//! duration). An applied file that was edited or removed stops the run before anything changes.
//!
//! A new database (no ledger, no tables) gets `schema.sql` and every migration file present at
//! that moment is recorded as included in it (`applied_by = 'schema'`): schema.sql is the
//! current schema, so replaying migrations on top of it would apply their changes twice. A
//! layout without `schema.sql` applies every migration instead.
//!
//! Runs as the timeline's own role, so what it creates belongs to that role; the caller holds
//! the database's migration lock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::{Error, Result};
use crate::instance::connect::{connect, describe};
use crate::instance::conninfo::ConnInfo;

pub const LEDGER: &str = "deploydb_migrations";

/// Where the files are (absolute), and the root they are shown relative to.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub schema: PathBuf,
    pub migrations: PathBuf,
    pub root: PathBuf,
}

impl Layout {
    fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// The migration files in file-name order, with their text and checksum.
    fn files(&self) -> Result<Vec<File>> {
        let mut files = Vec::new();
        let entries = match std::fs::read_dir(&self.migrations) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
            Err(e) => {
                return Err(Error::usage(format!(
                    "the migrations folder {} cannot be read: {e}",
                    self.show(&self.migrations)
                )));
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "sql") || !path.is_file() {
                continue;
            }
            let text = read(&path, self)?;
            files.push(File {
                name: entry.file_name().to_string_lossy().into_owned(),
                checksum: checksum(&text),
                text,
                path,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }
}

struct File {
    name: String,
    path: PathBuf,
    text: String,
    checksum: String,
}

/// One row of `deploydb migrate status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub name: String,
    /// `applied`, `included in schema.sql`, `pending`, `edited since applied`, `missing`.
    pub state: &'static str,
    pub applied_at: Option<String>,
}

fn read(path: &Path, layout: &Layout) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!("{} cannot be read: {e}", layout.show(path)))
            .with_hint("SQL migrations must be UTF-8 text files")
    })
}

fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ledger's rows: name, checksum, applied_at (text), applied_by. `None` without a ledger.
async fn ledger(client: &Client) -> Result<Option<Vec<(String, String, String, String)>>> {
    let exists: bool = client
        .query_typed_one(
            &format!("SELECT pg_catalog.to_regclass('public.{LEDGER}') IS NOT NULL"),
            &[],
        )
        .await
        .map_err(server("read the migration ledger"))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client
        .query_typed(
            &format!("SELECT name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), applied_by FROM public.{LEDGER} ORDER BY name"),
            &[],
        )
        .await
        .map_err(server("read the migration ledger"))?;
    Ok(Some(
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect(),
    ))
}

fn server(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::server(format!("could not {what}: {}", describe(&e)))
}

/// What the files and the ledger say together.
fn compare(
    files: &[File],
    ledger: &[(String, String, String, String)],
    layout: &Layout,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|f| {
            let row = ledger.iter().find(|r| r.0 == f.name);
            Entry {
                name: layout.show(&f.path),
                state: match row {
                    None => "pending",
                    Some(r) if r.1 != f.checksum => "edited since applied",
                    Some(r) if r.3 == "schema" => "included in schema.sql",
                    Some(_) => "applied",
                },
                applied_at: row.map(|r| r.2.clone()),
            }
        })
        .collect();
    for row in ledger {
        if !files.iter().any(|f| f.name == row.0) {
            entries.push(Entry {
                name: layout.show(&layout.migrations.join(&row.0)),
                state: "missing",
                applied_at: Some(row.2.clone()),
            });
        }
    }
    entries
}

/// `deploydb migrate status`: every file and what the ledger says about it.
pub async fn status(conn: &ConnInfo, layout: &Layout, timeout: Duration) -> Result<Vec<Entry>> {
    let client = connect(conn, timeout).await?;
    let files = layout.files()?;
    let rows = ledger(&client).await?.unwrap_or_default();
    Ok(compare(&files, &rows, layout))
}

/// Applies what is pending and returns the exit code to pass on: 0, or 1 when a file failed
/// or the ledger refuses (the reason printed as an `error:` line, like any migration tool's).
pub async fn apply(conn: &ConnInfo, layout: &Layout, timeout: Duration) -> Result<i32> {
    let mut client = connect(conn, timeout).await?;
    let files = layout.files()?;
    let has_schema = layout.schema.is_file();
    if files.is_empty() && !has_schema {
        return Err(Error::usage(format!(
            "[migrate] command is \"sql\", but neither {} nor any {}/*.sql exists",
            layout.show(&layout.schema),
            layout.show(&layout.migrations)
        ))
        .with_hint("add the files, or set [migrate] schema and migrations to where they are"));
    }
    let rows = match ledger(&client).await? {
        Some(rows) => rows,
        None => {
            let tables: i64 = client
                .query_typed_one(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') \
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
                     AND c.oid IS DISTINCT FROM pg_catalog.to_regclass('public.deploydb_seed')",
                    &[],
                )
                .await
                .map_err(server("inspect the database"))?
                .get(0);
            if tables > 0 {
                return Ok(refuse(
                    &format!(
                        "database {} has tables but no {LEDGER} ledger, so deploydb cannot tell which migrations it already has",
                        conn.dbname
                    ),
                    "drop the database so it is made anew (`deploydb drop`), or create the ledger and record the applied files by hand (README, \"Migrations\")",
                ));
            }
            return start(&mut client, &files, layout, has_schema).await;
        }
    };
    for entry in compare(&files, &rows, layout) {
        let why = match entry.state {
            "edited since applied" => "was edited after it was applied",
            "missing" => "was applied but is no longer there",
            _ => continue,
        };
        return Ok(refuse(
            &format!(
                "{} {why} (migrations are append-only); nothing was applied",
                entry.name
            ),
            "restore the file as it was and put the change in a new migration file",
        ));
    }
    let pending: Vec<&File> = files
        .iter()
        .filter(|f| !rows.iter().any(|r| r.0 == f.name))
        .collect();
    if pending.is_empty() {
        say(&format!(
            "{} migration(s) already applied; nothing to do",
            rows.len()
        ));
        return Ok(0);
    }
    for file in &pending {
        if let Err(code) = apply_file(&mut client, file, layout).await? {
            return Ok(code);
        }
    }
    say(&format!(
        "{} applied, {} already applied",
        pending.len(),
        rows.len()
    ));
    Ok(0)
}

/// A new database: the ledger, then schema.sql (its migrations recorded as included) in one
/// transaction, or, without schema.sql, each migration in turn.
async fn start(
    client: &mut Client,
    files: &[File],
    layout: &Layout,
    has_schema: bool,
) -> Result<i32> {
    let create = format!(
        "CREATE TABLE public.{LEDGER} (\
           name text PRIMARY KEY, checksum text NOT NULL, \
           applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL, \
           applied_by text NOT NULL CHECK (applied_by IN ('file', 'schema')))"
    );
    if !has_schema {
        client
            .batch_execute(&create)
            .await
            .map_err(server("create the migration ledger"))?;
        for file in files {
            if let Err(code) = apply_file(client, file, layout).await? {
                return Ok(code);
            }
        }
        say(&format!("{} applied to a new database", files.len()));
        return Ok(0);
    }
    let text = read(&layout.schema, layout)?;
    let shown = layout.show(&layout.schema);
    say(&format!("applying {shown} to a new database"));
    let started = Instant::now();
    let tx = client
        .transaction()
        .await
        .map_err(server("begin a transaction"))?;
    if let Err(e) = tx.batch_execute(&text).await {
        return Ok(failed(&shown, &text, &e));
    }
    tx.batch_execute(&create)
        .await
        .map_err(server("create the migration ledger"))?;
    let ms = started.elapsed().as_millis() as i64;
    // Every migration's row in one statement: one round trip, however many files there are.
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let checksums: Vec<&str> = files.iter().map(|f| f.checksum.as_str()).collect();
    tx.query_typed(
        &format!(
            "INSERT INTO public.{LEDGER} (name, checksum, duration_ms, applied_by) \
             SELECT n, c, $3, 'schema' FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS f(n, c)"
        ),
        &[
            (&names, Type::TEXT_ARRAY),
            (&checksums, Type::TEXT_ARRAY),
            (&ms, Type::INT8),
        ],
    )
    .await
    .map_err(server("record a migration in the ledger"))?;
    tx.commit()
        .await
        .map_err(|e| Error::server(format!("{shown} could not be committed: {}", describe(&e))))?;
    say(&format!(
        "applied {shown} [{}ms]; {} migration(s) recorded as included in it",
        ms,
        files.len()
    ));
    Ok(0)
}

/// One file and its ledger row in one transaction, sent together: `BEGIN`, the file, the row
/// and `COMMIT` go out at once and cost one round trip, not four. When the file fails, the
/// server refuses the row (the transaction is aborted) and `COMMIT` rolls back, so nothing of
/// it stays. The row's duration is the server's: from `BEGIN` to the row. `Ok(Err(1))` when
/// the file failed.
async fn apply_file(
    client: &mut Client,
    file: &File,
    layout: &Layout,
) -> Result<std::result::Result<(), i32>> {
    let shown = layout.show(&file.path);
    say(&format!("applying {shown}"));
    let record = format!(
        "INSERT INTO public.{LEDGER} (name, checksum, duration_ms, applied_by) \
         VALUES ($1, $2, (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - pg_catalog.now()) * 1000)::bigint, 'file') \
         RETURNING duration_ms"
    );
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 2] =
        [(&file.name, Type::TEXT), (&file.checksum, Type::TEXT)];
    let (begun, applied, recorded, committed) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.batch_execute(&file.text),
        client.query_typed_one(&record, &params),
        client.batch_execute("COMMIT"),
    );
    begun.map_err(server("begin a transaction"))?;
    if let Err(e) = applied {
        return Ok(Err(failed(&shown, &file.text, &e)));
    }
    let ms: i64 = recorded
        .map_err(server("record a migration in the ledger"))?
        .get(0);
    committed
        .map_err(|e| Error::server(format!("{shown} could not be committed: {}", describe(&e))))?;
    say(&format!("applied {shown} [{ms}ms]"));
    Ok(Ok(()))
}

/// Prints a failed file's error with its line, and returns the exit code 1.
fn failed(shown: &str, text: &str, e: &tokio_postgres::Error) -> i32 {
    let line = e
        .as_db_error()
        .and_then(|db| match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(at)) => Some(
                text.chars()
                    .take(*at as usize)
                    .filter(|c| *c == '\n')
                    .count()
                    + 1,
            ),
            _ => None,
        })
        .map(|l| format!(":{l}"))
        .unwrap_or_default();
    refuse(
        &format!("{shown}{line} failed: {}; it was rolled back", describe(e)),
        "fix the file (it was not applied) and run again",
    )
}

fn refuse(message: &str, hint: &str) -> i32 {
    eprintln!("error: {message}");
    eprintln!("hint: {hint}");
    1
}

/// A progress line on stdout, where a migration tool's own output goes.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_and_the_files_are_compared_by_name_and_checksum() {
        let layout = Layout {
            schema: "/r/db/schema.sql".into(),
            migrations: "/r/db/migrations".into(),
            root: "/r".into(),
        };
        let file = |name: &str, text: &str| File {
            name: name.into(),
            path: layout.migrations.join(name),
            text: text.into(),
            checksum: checksum(text),
        };
        let files = [
            file("1_a.sql", "a"),
            file("2_b.sql", "b"),
            file("3_c.sql", "c"),
        ];
        let row = |name: &str, text: &str, by: &str| {
            (
                name.to_string(),
                checksum(text),
                "t".to_string(),
                by.to_string(),
            )
        };
        let ledger = [
            row("1_a.sql", "a", "schema"),
            row("2_b.sql", "edited", "file"),
            row("0_gone.sql", "x", "file"),
        ];
        let states: Vec<(String, &str)> = compare(&files, &ledger, &layout)
            .into_iter()
            .map(|e| (e.name, e.state))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "db/migrations/1_a.sql".to_string(),
                    "included in schema.sql"
                ),
                ("db/migrations/2_b.sql".to_string(), "edited since applied"),
                ("db/migrations/3_c.sql".to_string(), "pending"),
                ("db/migrations/0_gone.sql".to_string(), "missing"),
            ]
        );
    }
}
