//! `[seed] command`: run once on each new timeline database after its migration (production
//! only when asked), recorded in a table of the database so that a retry seeds it again only
//! when the seed failed.

use super::{Migration, Plan};
use crate::env::Env;
use crate::error::{Error, Result, exit};
use crate::export::Exports;
use crate::export::log::Ci;
use crate::instance::{self};
use crate::migrate::Program;
use crate::report::{self, Stage};
use crate::timeline::Kind as TimelineKind;

/// Whether this timeline is seeded at all.
pub(super) fn seeds(plan: &Plan) -> bool {
    plan.config.seed_command.is_some()
        && (plan.timeline.kind != TimelineKind::Production || plan.config.seed_production)
}

/// A connection to the timeline's database (as its role) with the seed record's table.
pub(super) async fn seed_table(plan: &Plan) -> Result<tokio_postgres::Client> {
    let client = instance::connect::connect(&plan.target, plan.config.connect_timeout).await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS public.deploydb_seed (\
               command text NOT NULL, started_at timestamptz NOT NULL DEFAULT clock_timestamp(), \
               finished_at timestamptz, exit_code int)",
        )
        .await
        .map_err(seed_error(plan))?;
    Ok(client)
}

pub(super) fn seed_error(plan: &Plan) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| {
        Error::server(format!(
            "could not record the seed in {}: {}",
            plan.target.dbname,
            instance::connect::describe(&e)
        ))
    }
}

/// `[seed] command`, once per database: right after a new database was created and migrated,
/// or again on a later run if that first attempt did not succeed. Recorded in the table
/// `deploydb_seed` of the timeline's database, so a rerun never seeds twice. Production only with
/// `[seed] production = true`.
pub(super) async fn seed(
    plan: &Plan,
    exports: &Exports,
    secrets: &[String],
    env: &Env,
    ci: Ci,
) -> Result<i32> {
    let Some(command) = plan.config.seed_command.clone() else {
        return Ok(exit::OK);
    };
    if !seeds(plan) {
        report::line(
            "seed",
            "production is not seeded ([seed] production = true to do so)",
        );
        return Ok(exit::OK);
    }
    let client = seed_table(plan).await?;
    let failed = seed_error(plan);
    let row = client
        .query_typed_one(
            "SELECT count(*) FILTER (WHERE exit_code = 0), count(*) FROM public.deploydb_seed",
            &[],
        )
        .await
        .map_err(&failed)?;
    let (succeeded, attempted): (i64, i64) = (row.get(0), row.get(1));
    if succeeded > 0 || attempted == 0 {
        report::line(
            "seed",
            if succeeded > 0 {
                "already seeded; not again"
            } else {
                "the database existed before seeding was configured; not seeded"
            },
        );
        return Ok(exit::OK);
    }
    let stage = Stage::start("seed");
    report::line("seed", format!("running `{command}`"));
    // One row per attempt: the creation's marker, or a new row for a retry.
    client
        .query_typed(
            "INSERT INTO public.deploydb_seed (command) SELECT $1 \
             WHERE NOT EXISTS (SELECT 1 FROM public.deploydb_seed WHERE finished_at IS NULL)",
            &[(&command, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .map_err(&failed)?;
    let program = Program::Shell(command.clone());
    let migration = Migration {
        program: &program,
        dir: &plan.config.root,
        env,
        ci,
        plan,
    };
    let code = migration
        .run(exports, secrets, &format!("deploydb: seed `{command}`"))
        .await?;
    client
        .query_typed(
            "UPDATE public.deploydb_seed SET finished_at = now(), exit_code = $1, command = $2 \
             WHERE finished_at IS NULL",
            &[
                (&code, tokio_postgres::types::Type::INT4),
                (&command, tokio_postgres::types::Type::TEXT),
            ],
        )
        .await
        .map_err(failed)?;
    stage.done(format!("exited with {code}"));
    Ok(code)
}
