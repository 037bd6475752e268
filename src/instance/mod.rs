//! The linked PostgreSQL server: parsing its admin URL, connecting, ensuring a timeline's
//! database, and the local clusters deploydb can run itself.

pub mod catalog;
pub mod connect;
pub mod conninfo;
pub mod ensure;
pub mod local;
pub mod lock;
pub mod ownership;
pub mod role;
pub mod template;
pub mod tls;
pub mod version;

use std::path::PathBuf;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result};
use conninfo::ConnInfo;
use role::Isolation;

/// Variables the migration command must not inherit: they would give it the admin's power.
pub fn admin_only_variables(config: &Config) -> [&str; 2] {
    [config.url_env.as_str(), "DEPLOYDB_ROLE_SECRET"]
}

/// The admin connection: from the variable named by `[instance] url_env`, or, when that is
/// unset, the embedded local cluster (started on demand). A CA given outside the URL
/// (`DEPLOYDB_CA_CERT` as PEM text, or `[instance] ca_cert`) becomes its `sslrootcert`.
pub fn admin(config: &Config, env: &Env) -> Result<ConnInfo> {
    let mut info = match env.get(&config.url_env) {
        Some(url) => ConnInfo::parse(url).map_err(|reason| {
            Error::usage(format!("the admin URL in ${} cannot be used: {reason}", config.url_env))
                .with_hint("write it as postgresql://USER:PASSWORD@HOST:PORT/postgres, with special characters percent-encoded")
        })?,
        None => local::embedded(env)?,
    };
    if info.sslrootcert.is_none() {
        if let Some(pem) = env.get("DEPLOYDB_CA_CERT") {
            info.sslrootcert = Some(write_ca(pem, env)?.display().to_string());
        } else if let Some(path) = &config.ca_cert {
            info.sslrootcert = Some(path.display().to_string());
        }
    }
    Ok(info)
}

/// CI secrets hold the CA as text, but libpq clients want a file: write it where later steps
/// of the job can read it (`$RUNNER_TEMP` on GitHub, else the temp folder), named by content.
fn write_ca(pem: &str, env: &Env) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let dir = PathBuf::from(
        env.get("RUNNER_TEMP")
            .or(env.get("TMPDIR"))
            .unwrap_or("/tmp"),
    );
    let digest = Sha256::digest(pem.as_bytes());
    let name: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("deploydb-ca-{name}.pem"));
    std::fs::write(&path, pem).map_err(|e| {
        Error::io(
            crate::error::Kind::Usage,
            "write DEPLOYDB_CA_CERT to",
            &path,
            e,
        )
    })?;
    Ok(path)
}

/// The connection the app gets for `database`: its own role under role isolation (password
/// derived from `DEPLOYDB_ROLE_SECRET`, else the admin password), the admin's otherwise.
pub fn credentials(
    admin: &ConnInfo,
    database: &str,
    isolation: Isolation,
    env: &Env,
) -> Result<ConnInfo> {
    let mut info = admin.with_database(database);
    if isolation == Isolation::Role {
        let key = env
            .get("DEPLOYDB_ROLE_SECRET")
            .map(|s| s.as_bytes().to_vec())
            .or_else(|| admin.password.as_ref().map(|p| p.expose().as_bytes().to_vec()))
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                Error::usage("there is no key to derive the timeline role's password from: the admin URL has no password")
                    .with_hint("set DEPLOYDB_ROLE_SECRET, or isolation = \"shared\" in deploydb.toml")
            })?;
        info.user = database.to_string();
        info.password = Some(role::derive_password(&key, database));
    }
    Ok(info)
}
