//! Where the exports go for later steps: `$GITHUB_ENV` and the step's outputs, GitLab's dotenv
//! report, or the migration's environment alone.

use std::path::{Path, PathBuf};

use super::{Plan, RunOptions, timeline_spec};
use crate::env::Env;
use crate::error::Result;
use crate::export::{self, Exports};
use crate::instance::ensure::Ensured;
use crate::instance::{self};
use crate::report::{self};

/// The step's outputs (`database`, `timeline`, `created`, `database-url`) when `$GITHUB_OUTPUT`
/// is set. The URL was masked at the start of the run.
pub(crate) fn write_github_outputs(
    plan: &Plan,
    exports: &Exports,
    ensured: &Ensured,
    env: &Env,
) -> Result<bool> {
    let Some(path) = env.get("GITHUB_OUTPUT") else {
        return Ok(false);
    };
    let created = if ensured.created { "true" } else { "false" };
    let timeline = plan.timeline.to_string();
    let url = exports
        .vars
        .iter()
        .find(|(name, _)| *name == "DATABASE_URL")
        .map(|(_, v)| v.expose())
        .unwrap_or_default();
    export::github::append_outputs(
        Path::new(path),
        &[
            ("database", &plan.target.dbname),
            ("timeline", &timeline),
            ("created", created),
            ("database-url", url),
        ],
    )?;
    Ok(true)
}

/// Writes the exports where the CI picks them up; returns what was written, for the log.
pub(super) fn deliver(
    plan: &Plan,
    exports: &Exports,
    ensured: &instance::ensure::Ensured,
    options: &RunOptions,
    env: &Env,
) -> Result<Vec<String>> {
    let mut delivered = Vec::new();
    if let Some(path) = env.get("GITHUB_ENV") {
        export::github::append_env(Path::new(path), exports)?;
        delivered.push("$GITHUB_ENV".to_string());
    }
    if write_github_outputs(plan, exports, ensured, env)? {
        delivered.push("$GITHUB_OUTPUT".to_string());
    }
    if options.dotenv_flags && !env.is_true("GITLAB_CI") {
        report::warning(
            "--dotenv-file and --dotenv-secrets shape GitLab's dotenv report, and this is not a GitLab CI job (GITLAB_CI is not true): no report was written; use `deploydb env --format dotenv` for a file elsewhere",
        );
    }
    if env.is_true("GITLAB_CI") {
        let file = options
            .dotenv_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("deploydb.env"));
        // GitLab reads `artifacts:reports:dotenv` relative to the project's root, so a relative
        // report path is too (in a monorepo, deploydb.toml's folder is not the root).
        let path = if file.is_absolute() {
            file
        } else if let Some(project) = env.get("CI_PROJECT_DIR").filter(|d| !d.is_empty()) {
            Path::new(project).join(file)
        } else {
            plan.config.root.join(file)
        };
        let with_secrets = options.dotenv_secrets;
        // The app and timeline ride along, so a stop job (no checkout, so no deploydb.toml)
        // drops this very database. Their own names: a report's variables outrank a later
        // job's `variables:`, and DEPLOYDB_APP from one app's report must not retarget another.
        let mut report = exports.clone();
        report.vars.push((
            "DEPLOYDB_REPORT_APP",
            export::Value::Plain(plan.config.app.clone()),
        ));
        if let Some(spec) = timeline_spec(&plan.timeline) {
            report
                .vars
                .push(("DEPLOYDB_REPORT_TIMELINE", export::Value::Plain(spec)));
        }
        export::gitlab::write_dotenv(&path, &report, with_secrets)?;
        delivered.push(format!(
            "dotenv report {}{}",
            path.display(),
            if with_secrets {
                ""
            } else {
                " (without PGPASSWORD and DATABASE_URL)"
            }
        ));
    }
    Ok(delivered)
}
