//! The migration command against a database's exports, and the template rebuilt with it after
//! production's migration (`branch_from = "template"`).

use std::path::Path;

use super::Plan;
use crate::env::Env;
use crate::error::Result;
use crate::export::log::Ci;
use crate::export::{self, Exports};
use crate::instance::{self};
use crate::migrate::{self, Invocation, Program};
use crate::report::{self, Stage};
use crate::timeline::naming;

/// One migration command, ready to run against a database's exports.
pub(super) struct Migration<'a> {
    pub(super) program: &'a Program,
    pub(super) dir: &'a Path,
    pub(super) env: &'a Env,
    pub(super) ci: Ci,
    pub(super) plan: &'a Plan,
}

impl Migration<'_> {
    /// Runs the command with `exports` in its environment (and not the admin's variables),
    /// its output in a collapsible section, secrets masked. Returns its exit code.
    pub(super) async fn run(
        &self,
        exports: &Exports,
        secrets: &[String],
        title: &str,
    ) -> Result<i32> {
        let child_env = self.plan.child_env(self.env, exports);
        let section = "deploydb_migrate";
        if let Some(start) = self.ci.section_start(section, title) {
            println!("{start}");
        }
        let outcome = migrate::run(Invocation {
            program: self.program.clone(),
            dir: self.dir.to_path_buf(),
            env: child_env,
            secrets: secrets.iter().map(String::as_str).collect(),
            timeout: self.plan.config.migrate_timeout,
            grace: self.plan.config.kill_after,
        })
        .await;
        if let Some(end) = self.ci.section_end(section) {
            println!("{end}");
        }
        outcome
    }
}

/// After production's migration: rebuild `{app}-template` by running the same migration on an
/// empty database. Failures here are warnings — the deploy itself has succeeded.
pub(super) async fn refresh_template(migration: &Migration<'_>, env: &Env) -> Result<()> {
    let plan = migration.plan;
    let stage = Stage::start("template");
    let name = naming::template(&plan.config.app);
    let rebuild = match instance::template::begin(
        &plan.session,
        &plan.config.app,
        plan.config.isolation,
        plan.role_key.as_ref(),
    )
    .await?
    {
        Ok(rebuild) => rebuild,
        Err(reason) => {
            report::warning(format!(
                "{name} was not refreshed: {reason}; new branches start from the old one or empty"
            ));
            return Ok(());
        }
    };
    let mut credentials = rebuild.credentials.clone();
    plan.client_tls.apply(&mut credentials);
    let mut exports = Exports::new(&credentials);
    exports.keep_existing_node_ca(env)?;
    let mut secrets = plan.secrets(&exports);
    secrets.extend(exports.secrets().into_iter().map(str::to_string));
    if migration.ci == Ci::Github {
        let masks: Vec<&str> = exports.secrets();
        print!("{}", export::github::masks(&masks));
    }
    let title = format!("deploydb: migrate the template {name}");
    let code = migration.run(&exports, &secrets, &title).await?;
    instance::template::finish(&plan.session, &rebuild, code == 0).await?;
    if code == 0 {
        stage.done(format!("{name} rebuilt at production's schema"));
    } else {
        report::warning(format!(
            "the migration failed on {name} (exit {code}); it was dropped, new branches start empty"
        ));
    }
    Ok(())
}
