//! Handing the timeline's connection to the rest of the pipeline as `PG*` variables and
//! `DATABASE_URL` (and the JDBC buildpack convention, and the CA file for Node and Deno): into GitHub's `GITHUB_ENV`, a GitLab dotenv report, or printed for a shell.

pub mod format;
pub mod github;
pub mod gitlab;
pub mod log;

use crate::instance::conninfo::ConnInfo;
use crate::secret::Secret;

/// A variable's value; secrets are masked in CI logs and left out of world-readable reports.
#[derive(Clone)]
pub enum Value {
    Plain(String),
    Secret(Secret),
}

impl Value {
    pub fn expose(&self) -> &str {
        match self {
            Value::Plain(v) => v,
            Value::Secret(s) => s.expose(),
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }
}

#[derive(Clone)]
pub struct Exports {
    pub vars: Vec<(&'static str, Value)>,
}

impl Exports {
    pub fn new(conn: &ConnInfo) -> Exports {
        let mut vars = vec![
            ("PGHOST", Value::Plain(conn.host.clone())),
            ("PGPORT", Value::Plain(conn.port.to_string())),
            ("PGDATABASE", Value::Plain(conn.dbname.clone())),
            ("PGUSER", Value::Plain(conn.user.clone())),
        ];
        if let Some(password) = &conn.password {
            vars.push(("PGPASSWORD", Value::Secret(password.clone())));
        }
        vars.push(("PGSSLMODE", Value::Plain(conn.sslmode.as_str().to_string())));
        if let Some(ca) = &conn.sslrootcert {
            vars.push(("PGSSLROOTCERT", Value::Plain(ca.clone())));
            // node-postgres and postgres.js read no PGSSLROOTCERT; Node (and Deno) add this
            // file to their roots for every TLS connection.
            if ca != "system" {
                vars.push(("NODE_EXTRA_CA_CERTS", Value::Plain(ca.clone())));
            }
        }
        // The CA travels in PGSSLROOTCERT (libpq, psycopg, asyncpg, pgx, lib/pq and sqlx read
        // it) and NODE_EXTRA_CA_CERTS, not in the URL: postgres.js sends unknown URL parameters
        // to the server as settings, which refuses `sslrootcert`.
        let url = ConnInfo {
            sslrootcert: None,
            ..conn.clone()
        };
        vars.push(("DATABASE_URL", Value::Secret(url.url())));
        if let Some(jdbc) = conn.jdbc_url() {
            vars.push(("JDBC_DATABASE_URL", Value::Secret(jdbc)));
            vars.push(("JDBC_DATABASE_USERNAME", Value::Plain(conn.user.clone())));
            if let Some(password) = &conn.password {
                vars.push(("JDBC_DATABASE_PASSWORD", Value::Secret(password.clone())));
            }
        }
        Exports { vars }
    }

    /// `NODE_EXTRA_CA_CERTS` names one file: when the environment already sets it (a company
    /// proxy's CA, say), the exported file is a bundle of both, so Node and Deno keep reaching
    /// the registry and other hosts while also trusting the database's CA.
    pub fn keep_existing_node_ca(&mut self, env: &crate::env::Env) -> crate::error::Result<()> {
        let Some(existing) = env.get("NODE_EXTRA_CA_CERTS").filter(|e| !e.is_empty()) else {
            return Ok(());
        };
        let Some((_, value)) = self
            .vars
            .iter_mut()
            .find(|(name, _)| *name == "NODE_EXTRA_CA_CERTS")
        else {
            return Ok(());
        };
        let ours = value.expose().to_string();
        if ours == existing {
            return Ok(());
        }
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|e| {
                crate::error::Error::io(
                    crate::error::Kind::Export,
                    "read the CA file",
                    std::path::Path::new(path),
                    e,
                )
            })
        };
        let mut bundle = read(existing)?;
        if !bundle.ends_with('\n') {
            bundle.push('\n');
        }
        bundle.push_str(&read(&ours)?);
        let path = crate::instance::write_for_later_steps(
            env,
            "node-ca.pem",
            &bundle,
            crate::error::Kind::Export,
            "write the CA bundle for NODE_EXTRA_CA_CERTS in",
        )?;
        *value = Value::Plain(path.display().to_string());
        Ok(())
    }

    /// The secret values, for masking and for redacting the migration's output.
    pub fn secrets(&self) -> Vec<&str> {
        self.vars
            .iter()
            .filter(|(_, v)| v.is_secret())
            .map(|(_, v)| v.expose())
            .filter(|v| !v.is_empty())
            .collect()
    }
}
