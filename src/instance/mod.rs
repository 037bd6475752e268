//! The linked PostgreSQL server: parsing its admin URL, connecting, ensuring a timeline's
//! database, and the local clusters deploydb can run itself.

pub mod catalog;
pub mod connect;
pub mod conninfo;
pub mod ensure;
#[cfg(unix)]
pub mod local;
/// Elsewhere (Windows) there is no embedded cluster: deploydb works with a server's admin URL.
#[cfg(not(unix))]
#[path = "local_unsupported.rs"]
pub mod local;
pub mod lock;
pub mod ownership;
pub mod quote;
pub mod role;
pub mod role_key;
pub mod template;
pub mod timestamp;
pub mod tls;
pub mod version;

use std::path::PathBuf;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result};
use conninfo::ConnInfo;
use role::Isolation;

/// Whether the migration command must not inherit `name=value`: it would give the command the
/// admin's power, or tell it about the admin's set-up. By name — the admin URL's variables,
/// wherever the configuration says the URL comes from, the role key and the admin's CA — and
/// by value: any variable that carries the admin password in any of the encodings masked in
/// logs (raw, percent-encoded, base64, …), whatever it is called.
pub fn is_admin_only(config: &Config, admin: &ConnInfo, name: &str, value: &str) -> bool {
    const ALWAYS: &[&str] = &[
        DEFAULT_URL_ENV,
        "DEPLOYDB_URL_ENV",
        "DEPLOYDB_ROLE_SECRET",
        "DEPLOYDB_CA_CERT",
    ];
    if name == config.url_env || ALWAYS.contains(&name) {
        return true;
    }
    let Some(password) = admin.password.as_ref().filter(|p| !p.is_empty()) else {
        return false;
    };
    value.contains(&conninfo::encode_component(password.expose()))
        || password.encodings().iter().any(|form| value.contains(form))
}

const DEFAULT_URL_ENV: &str = "DEPLOYDB_ADMIN_URL";

/// The admin connection: from the variable named by `[instance] url_env`, or, when that is
/// unset, the embedded local cluster (started on demand). A CA given outside the URL
/// (`DEPLOYDB_CA_CERT` as PEM text, or `[instance] ca_cert`) becomes its `sslrootcert`.
/// Whether the run has a linked server (an admin URL), rather than the embedded one.
pub fn linked(config: &Config, env: &Env) -> bool {
    admin_url(config, env).is_some()
}

fn admin_url<'e>(config: &Config, env: &'e Env) -> Option<&'e str> {
    env.get(&config.url_env).filter(|url| !url.is_empty())
}

pub fn admin(config: &Config, env: &Env) -> Result<ConnInfo> {
    let mut info = match admin_url(config, env) {
        Some(url) => ConnInfo::parse(url).map_err(|reason| {
            Error::usage(format!("the admin URL in ${} cannot be used: {reason}", config.url_env))
                .with_hint("write it as postgresql://USER:PASSWORD@HOST:PORT/postgres, with special characters percent-encoded")
        })?,
        None => {
            refuse_silent_local(config, env)?;
            local::embedded(env)?
        }
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

/// In CI a missing admin URL is almost always a missing secret — fork pull requests get no
/// secrets, GitLab hides protected variables on unprotected refs — and quietly deploying to a
/// throwaway local server instead would report success for a deploy that never happened. The
/// local cluster in CI is used only when the pipeline asks for it (`DEPLOYDB_LOCAL=true`).
fn refuse_silent_local(config: &Config, env: &Env) -> Result<()> {
    if !env.in_ci() || env.is_true("DEPLOYDB_LOCAL") {
        return Ok(());
    }
    Err(Error::usage(format!(
        "this CI job has no admin URL: ${} is not set or empty",
        config.url_env
    ))
    .with_hint(format!(
        "store the admin URL in a CI secret and pass it as {} (fork pull requests and unprotected GitLab refs get no secrets); to use a throwaway PostgreSQL on the runner instead, set DEPLOYDB_LOCAL=true",
        config.url_env
    )))
}

/// CI secrets hold the CA as text, but libpq clients want a file: write it where later steps
/// of the job can read it.
fn write_ca(pem: &str, env: &Env) -> Result<PathBuf> {
    write_for_later_steps(
        env,
        "ca.pem",
        pem,
        crate::error::Kind::Usage,
        "write DEPLOYDB_CA_CERT to",
    )
}

/// Writes `text` to a file named `name` that later steps of the job can read: under
/// `$RUNNER_TEMP` on GitHub, else the temp folder, in a new private folder of its own, the
/// file created new. A fixed or predictable path (even one named after the content's hash)
/// could be planted in advance as a link, by an earlier job on a shared runner or another user.
pub(crate) fn write_for_later_steps(
    env: &Env,
    name: &str,
    text: &str,
    kind: crate::error::Kind,
    what: &str,
) -> Result<PathBuf> {
    let parent = PathBuf::from(
        env.get("RUNNER_TEMP")
            .or(env.get("TMPDIR"))
            .unwrap_or("/tmp"),
    );
    let fail = |e: std::io::Error| Error::io(kind, what, &parent, e);
    // tempfile makes folders with the default mode (0755 under the usual umask): ask for 0700.
    let mut builder = tempfile::Builder::new();
    builder.prefix("deploydb-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let dir = builder.tempdir_in(&parent).map_err(fail)?.keep();
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(fail)?;
    Ok(path)
}

/// The connection the app gets for `database`: its own role under role isolation (password
/// derived from the role key, see [`role_key`]), the admin's otherwise.
pub fn credentials(
    admin: &ConnInfo,
    database: &str,
    isolation: Isolation,
    key: Option<&role_key::RoleKey>,
) -> Result<ConnInfo> {
    let mut info = admin.with_database(database);
    if isolation == Isolation::Role {
        let key = key.ok_or_else(|| Error::server("the role key was not loaded"))?;
        info.user = database.to_string();
        info.password = Some(key.password(database));
    }
    Ok(info)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Each file gets a new folder only its owner can enter, so nothing planted in the temp
    /// folder beforehand (a link at a name computed from the content) is written through.
    #[test]
    fn files_for_later_steps_go_into_new_private_folders() {
        let temp = tempfile::tempdir().unwrap();
        let env: Env = [("RUNNER_TEMP", temp.path().to_str().unwrap())]
            .into_iter()
            .collect();
        let write = || {
            write_for_later_steps(&env, "ca.pem", "PEM", crate::error::Kind::Usage, "write")
                .unwrap()
        };
        let (first, second) = (write(), write());
        assert_ne!(first.parent(), second.parent());
        for path in [&first, &second] {
            assert_eq!(std::fs::read_to_string(path).unwrap(), "PEM");
            let dir = std::fs::symlink_metadata(path.parent().unwrap()).unwrap();
            assert!(dir.is_dir());
            assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        }
    }
}
