//! The plan every database-touching command works from: the configuration, the timeline,
//! an open admin session, the database as resolved against the catalog, and the credentials
//! (and TLS) the app gets.

use std::collections::BTreeMap;

use super::resolve_timeline;
use crate::config::BranchFrom;
use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::export::Exports;
use crate::instance::ensure::{Ensured, Resolved, Session, Target};
use crate::instance::role_key::RoleKey;
use crate::instance::{self, conninfo::ConnInfo};
use crate::timeline::Timeline;
use crate::timeline::{Kind as TimelineKind, naming};

/// What every database-touching command works from: the timeline, an open admin session, the
/// database name as resolved against the catalog, and the credentials the app will get.
pub(crate) struct Plan {
    pub(crate) config: Config,
    pub(crate) timeline: Timeline,
    pub(crate) session: Session,
    resolved: Resolved,
    pub(crate) target: ConnInfo,
    /// What clients are told about TLS (see `instance::tls::for_clients`).
    pub(crate) client_tls: instance::tls::ClientTls,
    /// What timeline role passwords are derived from (role isolation only).
    pub(crate) role_key: Option<RoleKey>,
}

/// The admin session being opened in the background (by `run`, while it reads the repository).
/// Dropped unused, the attempt stops.
pub(crate) struct Opening(tokio::task::JoinHandle<Result<Session>>);

impl Opening {
    /// Starts opening the session to a linked server; `None` for the embedded one, which is
    /// not started before it is known to be needed.
    pub(crate) fn start(config: &Config, env: &Env) -> Option<Opening> {
        if !instance::linked(config, env) {
            return None;
        }
        let admin = instance::admin(config, env);
        let timeout = config.connect_timeout;
        Some(Opening(tokio::spawn(async move {
            Session::connect(&admin?, timeout).await
        })))
    }

    async fn finish(mut self) -> Result<Session> {
        (&mut self.0)
            .await
            .map_err(|e| Error::internal(format!("opening the admin session stopped: {e}")))?
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Plan {
    pub(crate) async fn new(config: Config, env: &Env) -> Result<Plan> {
        Plan::with_session(config, env, None).await
    }

    /// The plan, on a session whose opening started earlier (see [`Opening`]) or, with `None`,
    /// on one opened now. An early session's error counts only here, after the timeline's:
    /// what a run reports first does not depend on which finished first.
    pub(crate) async fn with_session(
        config: Config,
        env: &Env,
        opening: Option<Opening>,
    ) -> Result<Plan> {
        let (timeline, _) = resolve_timeline(&config, env)?;
        let mut session = match opening {
            Some(opening) => opening.finish().await?,
            None => {
                let admin = instance::admin(&config, env)?;
                Session::connect(&admin, config.connect_timeout).await?
            }
        };
        let admin = session.admin().clone();
        let role_mode = config.isolation == instance::role::Isolation::Role;
        // The reads go out together with the query that identifies the admin and the server
        // and sets the search path, behind it: one round trip, not two. Its answer counts
        // first (an unsupported server is the error to report).
        let (identity, resolved, client_tls, found_key) = tokio::join!(
            session.identify(),
            session.resolve(&config.app, &timeline),
            instance::tls::for_clients(session.tls, &admin, config.connect_timeout),
            async {
                if role_mode {
                    RoleKey::find(&session, env).await
                } else {
                    Ok(None)
                }
            },
        );
        session.identified(identity?);
        let (resolved, client_tls, found_key) = (resolved?, client_tls?, found_key?);
        let role_key = match found_key {
            None if role_mode => Some(RoleKey::make(&session).await?),
            found => found,
        };
        let mut target = instance::credentials(
            &admin,
            &resolved.database,
            config.isolation,
            role_key.as_ref(),
        )?;
        client_tls.apply(&mut target);
        Ok(Plan {
            config,
            timeline,
            session,
            resolved,
            target,
            client_tls,
            role_key,
        })
    }

    /// The whole environment of a program deploydb starts for the timeline (the migration,
    /// `psql`): deploydb's own, less everything that carries the admin credential, plus the
    /// exports.
    pub(crate) fn child_env(&self, env: &Env, exports: &Exports) -> BTreeMap<String, String> {
        let admin = self.session.admin();
        let mut child_env: BTreeMap<String, String> = env
            .iter()
            .filter(|(k, v)| !instance::is_admin_only(&self.config, admin, k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, value) in &exports.vars {
            child_env.insert(name.to_string(), value.expose().to_string());
        }
        child_env
    }

    /// Fails when the timeline's database does not exist yet: credentials for it would be an
    /// answer that is not true.
    pub(crate) fn require_database(&self) -> Result<()> {
        if self.resolved.existing.is_some() {
            return Ok(());
        }
        Err(Error::server(format!(
            "database {} does not exist yet",
            self.resolved.database
        ))
        .with_hint("run `deploydb ensure` (or `deploydb run`) for this timeline first"))
    }

    /// The variables the app gets.
    pub(crate) fn exports(&self, env: &Env) -> Result<Exports> {
        let mut exports = Exports::new(&self.target);
        exports.keep_existing_node_ca(env)?;
        Ok(exports)
    }

    pub(crate) async fn ensure(&mut self) -> Result<Ensured> {
        let template = (self.config.branch_from == BranchFrom::Template
            && self.timeline.kind == TimelineKind::Branch)
            .then(|| naming::template(&self.config.app));
        self.session
            .ensure(
                &self.resolved,
                Target {
                    app: &self.config.app,
                    timeline: &self.timeline,
                    isolation: self.config.isolation,
                    credentials: &self.target,
                    role_key_id: self.role_key.as_ref().map(|k| k.id.as_str()),
                    template: template.as_deref(),
                },
            )
            .await
    }

    /// Everything that must be masked in CI logs and redacted from the migration's output: the
    /// exported password and URL (also percent-encoded) and the admin's password.
    pub(crate) fn secrets(&self, exports: &Exports) -> Vec<String> {
        let mut secrets: Vec<String> = exports.secrets().into_iter().map(str::to_string).collect();
        for password in [&self.target.password, &self.session.admin().password]
            .into_iter()
            .flatten()
        {
            secrets.extend(password.encodings());
            // The forms in the exported URLs, which leave more characters as they are.
            for (_, value) in &exports.vars {
                if let Some(rest) = value.expose().split("password=").nth(1) {
                    secrets.push(rest.split('&').next().unwrap_or_default().to_string());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort();
        secrets.dedup();
        secrets
    }
}
