//! The embedded local cluster is for Linux and macOS (it runs PostgreSQL as a child, switching
//! to the `postgres` account when root). Elsewhere every entry point says so and points at an
//! admin URL, which works the same on every platform.

use std::path::PathBuf;

use super::conninfo::ConnInfo;
use crate::env::Env;
use crate::error::{Error, Result};

fn unsupported() -> Error {
    Error::local("the embedded local PostgreSQL runs on Linux and macOS only")
        .with_hint("set DEPLOYDB_ADMIN_URL to a PostgreSQL server's admin URL")
}

/// Never set up here; the fields mirror the Unix cluster's for `deploydb local status`.
pub struct Cluster {
    pub data: PathBuf,
    pub port: u16,
    pub superuser: String,
}

impl Cluster {
    pub fn is_running(&self) -> bool {
        false
    }

    pub fn stop_daemon(&self) -> Result<()> {
        Err(unsupported())
    }
}

pub fn home(env: &Env) -> Result<PathBuf> {
    env.get("LOCALAPPDATA")
        .map(|d| PathBuf::from(d).join("deploydb"))
        .ok_or_else(unsupported)
}

pub fn embedded(_env: &Env) -> Result<ConnInfo> {
    Err(unsupported())
}

pub fn existing(_env: &Env) -> Result<Option<Cluster>> {
    Ok(None)
}
