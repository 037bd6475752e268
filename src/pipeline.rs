//! `deploydb run`: the stages in order — detect → timeline → instance → export → migrate —
//! and the plan that the database-touching commands share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Format, Global, RunArgs, TimelineFlag};
use crate::config::BranchFrom;
use crate::config::{Config, Overrides};
use crate::detect::{self, Report};
use crate::env::Env;
use crate::error::{Error, Kind, Result, exit};
use crate::export::log::Ci;
use crate::export::{self, Exports};
use crate::instance::ensure::{Ensured, Resolved, Session, Target};
use crate::instance::{self, conninfo::ConnInfo};
use crate::migrate::{self, Invocation, Program};
use crate::report::{self, Stage};
use crate::timeline::{self, Timeline};
use crate::timeline::{Kind as TimelineKind, naming};

pub(crate) fn load_config(
    global: &Global,
    flag: &TimelineFlag,
    migrate: Option<String>,
    env: &Env,
    cwd: &Path,
) -> Result<Config> {
    Config::load(
        Overrides {
            path: global.path.clone(),
            app: global.app.clone(),
            production_branch: global.production_branch.clone(),
            timeline: flag.timeline.clone(),
            migrate_command: migrate,
        },
        env,
        cwd,
    )
}

pub(crate) fn resolve_timeline(config: &Config, env: &Env) -> Result<(Timeline, String)> {
    let timeline = timeline::resolve(timeline::Inputs {
        spec: config.timeline.clone(),
        production_branch: config.production_branch.as_deref(),
        file_production_branch: config.file_production_branch.as_deref(),
        preview: config.preview,
        env,
        root: &config.root,
    })?;
    let database = timeline.database(&config.app);
    Ok((timeline, database))
}

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
    pub(crate) role_key: Option<instance::role_key::RoleKey>,
}

impl Plan {
    pub(crate) async fn new(config: Config, env: &Env) -> Result<Plan> {
        let (timeline, _) = resolve_timeline(&config, env)?;
        let admin = instance::admin(&config, env)?;
        let session = Session::open(&admin, config.connect_timeout).await?;
        let resolved = session.resolve(&config.app, &timeline).await?;
        let client_tls =
            instance::tls::for_clients(&session.client, &admin, config.connect_timeout).await?;
        let role_key = match config.isolation {
            instance::role::Isolation::Role => {
                Some(instance::role_key::RoleKey::load(&session, env).await?)
            }
            instance::role::Isolation::Shared => None,
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

/// What a run did, for `--format json` and GitHub's job summary. Never holds a secret.
#[derive(Debug, Default, Serialize)]
struct Summary {
    timeline: Option<String>,
    database: Option<String>,
    created: Option<bool>,
    exported: Vec<String>,
    migration: Option<MigrationSummary>,
    skipped: Option<String>,
}

#[derive(Debug, Serialize)]
struct MigrationSummary {
    command: String,
    exit_code: i32,
    duration_ms: u128,
}

pub async fn run(global: &Global, args: RunArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let ci = Ci::from_env(env);
    let format = args.format;
    let mut summary = Summary::default();
    let started = std::time::Instant::now();
    let result = run_stages(global, args, env, cwd, ci, &mut summary).await;
    if matches!(format, Format::Text)
        && let Ok(code) = &result
        && let Some(line) = closing_line(&summary, *code, started.elapsed())
    {
        report::line("done", line);
    }
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY") {
        export::log::append_summary(
            Path::new(path),
            &job_summary(&summary, result.as_ref().err()),
        )?;
    }
    if matches!(format, Format::Json) {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("the summary serializes")
        );
    }
    result
}

/// The last line of a successful run in text mode: what the timeline's database is now, in
/// one line a reader of the log can stop at. A failure ends with its `error:` line instead.
fn closing_line(summary: &Summary, code: i32, took: std::time::Duration) -> Option<String> {
    if let Some(reason) = &summary.skipped {
        return Some(format!("nothing to do: {reason}"));
    }
    let database = summary.database.as_deref()?;
    let state = if summary.created == Some(true) {
        "created"
    } else {
        "reused"
    };
    let migrated = match &summary.migration {
        Some(m) if code == 0 => format!(", migrated (`{}`)", m.command),
        Some(_) => return None,
        None => ", no migration command".to_string(),
    };
    Some(format!(
        "{database} {state}{migrated} in {}",
        report::human(took)
    ))
}

async fn run_stages(
    global: &Global,
    args: RunArgs,
    env: &Env,
    cwd: &Path,
    ci: Ci,
    summary: &mut Summary,
) -> Result<i32> {
    let argv = (!args.command.is_empty()).then(|| args.command.clone());
    let mut config = load_config(global, &args.timeline, None, env, cwd)?;
    let stage = Stage::start("detect");
    let detected = detect::scan(&config.root)?;
    // An explicit command always runs; only "nothing detected and nothing configured" skips.
    let explicit = argv.is_some()
        || config
            .migrate_command
            .as_deref()
            .is_some_and(|c| c != "auto");
    if !detected.uses_postgres() && (args.require || (!explicit && detected.migrations.is_empty()))
    {
        let others = if detected.engines.is_empty() {
            String::new()
        } else {
            format!(" (found: {})", detected.engines.join(", "))
        };
        let message = format!(
            "no PostgreSQL dependency found in {}{others}",
            config.root.display()
        );
        if args.require {
            return Err(Error::new(Kind::NoPostgres, message)
                .with_hint("run `deploydb detect` to see what was found, or drop --require"));
        }
        stage.done(format!("{message}; nothing to provision"));
        // A later step's `if:` can tell a skipped run from a failed or a successful one.
        if let Some(path) = env.get("GITHUB_OUTPUT") {
            export::github::append_outputs(
                Path::new(path),
                &[("skipped", "true"), ("skip-reason", &message)],
            )?;
        }
        summary.skipped = Some(message);
        return Ok(exit::OK);
    }

    let detect_line = stage.finish(describe_detection(&detected));
    // Decided before anything is created: an ambiguous "auto" must change nothing.
    let (step, migrate_dir) = match (argv, config.migrate_command.as_deref()) {
        (Some(argv), _) => (
            Some(Step::Command(Program::Argv(argv))),
            config.root.clone(),
        ),
        (None, Some("auto")) => {
            let chosen = detect::choose_migration(&detected)?;
            let step = if chosen.command == BUILTIN_SQL {
                // The folders as configured, but under the component detection found.
                let dir = config.root.join(&chosen.dir);
                let rebase = |p: &Path| dir.join(p.strip_prefix(&config.root).unwrap_or(p));
                config.sql = migrate::sql::Layout {
                    schema: rebase(&config.sql.schema),
                    migrations: rebase(&config.sql.migrations),
                    root: config.root.clone(),
                };
                Step::Sql
            } else {
                Step::Command(Program::Shell(chosen.command.clone()))
            };
            (Some(step), config.root.join(&chosen.dir))
        }
        (None, Some(BUILTIN_SQL)) => (Some(Step::Sql), config.root.clone()),
        (None, Some(line)) => (
            Some(Step::Command(Program::Shell(line.to_string()))),
            config.root.clone(),
        ),
        (None, None) => (None, config.root.clone()),
    };
    // What was detected and which database is meant are said before connecting: with a wrong
    // password or a server that is down, the user still learns what was targeted. Neither line
    // holds a secret, so they may come before the masks.
    report::emit(&detect_line);
    let (early_timeline, early_database) = resolve_timeline(&config, env)?;
    report::line(
        "timeline",
        format!(
            "{early_timeline} (from {}) -> {early_database}",
            source_name(early_timeline.source)
        ),
    );
    let mut plan = Plan::new(config, env).await?;
    let exports = plan.exports(env)?;
    let secrets = plan.secrets(&exports);
    if ci == Ci::Github {
        // Before anything that could show these values is printed.
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        print!("{}", export::github::masks(&secrets));
    }
    if let Some(warning) = &plan.client_tls.warning {
        report::warning(warning);
    }
    if exports
        .vars
        .iter()
        .any(|(n, v)| *n == "DATABASE_URL" && v.expose().contains('%'))
        && detected.migrations.iter().any(|m| m.tool == "alembic")
    {
        report::warning(
            "DATABASE_URL holds `%` (a percent-encoded character), which Alembic's config.set_main_option reads as interpolation; pass DATABASE_URL.replace(\"%\", \"%%\") there",
        );
    }
    if plan.target.sslmode >= instance::conninfo::SslMode::VerifyCa
        && detected.migrations.iter().any(|m| m.tool == "prisma")
    {
        report::warning(format!(
            "Prisma's own URL rules know sslmode disable, prefer and require only, so its engines encrypt without verifying the server; to verify, give Prisma its own URL with sslmode=require&sslcert={}&sslaccept=strict",
            plan.target.sslrootcert.as_deref().unwrap_or("CA.pem")
        ));
    }
    if plan.target.host.starts_with('/') {
        report::warning(
            "JDBC_DATABASE_URL is not exported: pgjdbc cannot reach a Unix socket without a socket factory; connect over TCP",
        );
    }
    if plan.target.dbname != early_database {
        report::line(
            "timeline",
            format!(
                "{early_database} belongs to another branch; {} uses {}",
                plan.timeline, plan.target.dbname
            ),
        );
    }
    summary.timeline = Some(plan.timeline.to_string());
    summary.database = Some(plan.target.dbname.clone());

    let stage = Stage::start("database");
    let ensured = plan.ensure().await?;
    if let Some(warning) = &ensured.warning {
        report::warning(warning);
    }
    summary.created = Some(ensured.created);
    stage.done(format!(
        "{} {} on {}",
        plan.target.dbname,
        if ensured.created { "created" } else { "reused" },
        plan.session.admin().redacted()
    ));

    if ensured.created && seeds(&plan) {
        // Marked before the migration, so a seed that never ran (a failed migration) or failed
        // is still owed on the next run, while an old database is never seeded out of the blue.
        seed_table(&plan)
            .await?
            .query_typed(
                "INSERT INTO public.deploydb_seed (command) VALUES ($1)",
                &[(&plan.config.seed_command, tokio_postgres::types::Type::TEXT)],
            )
            .await
            .map_err(seed_error(&plan))?;
    }

    let stage = Stage::start("export");
    summary.exported = deliver(&plan, &exports, &ensured, &args, env)?;
    stage.done(if summary.exported.is_empty() {
        "to the migration command".to_string()
    } else {
        summary.exported.join(", ")
    });

    // Held (on a connection of its own) through the migration and the seed, until the run ends.
    let mut _migration_lock = None;
    let code = match step {
        None => {
            report::line(
                "migrate",
                "no migration command configured ([migrate] command in deploydb.toml, or `deploydb run -- CMD`)",
            );
            for m in &detected.migrations {
                report::line(
                    "migrate",
                    format!("suggested ({}): `{}` in {}", m.tool, m.command, m.dir),
                );
            }
            exit::OK
        }
        Some(step) => {
            _migration_lock = Some(
                instance::lock::migration(
                    plan.session.admin(),
                    plan.session.timeout(),
                    &plan.target.dbname,
                    plan.config.lock_timeout,
                )
                .await?,
            );
            let stage = Stage::start("migrate");
            let (command, code) = match &step {
                Step::Sql => {
                    report::line(
                        "migrate",
                        format!(
                            "built-in SQL migrations: {} and {}/ (ledger {})",
                            show(&plan.config.root, &plan.config.sql.schema),
                            show(&plan.config.root, &plan.config.sql.migrations),
                            migrate::sql::LEDGER
                        ),
                    );
                    let code = migrate::sql::apply(
                        &plan.target,
                        &plan.config.sql,
                        plan.config.connect_timeout,
                    )
                    .await?;
                    (BUILTIN_SQL.to_string(), code)
                }
                Step::Command(program) => {
                    let command = program.describe();
                    report::line(
                        "migrate",
                        format!(
                            "running `{command}` in {}",
                            show(&plan.config.root, &migrate_dir)
                        ),
                    );
                    let migration = Migration {
                        program,
                        dir: &migrate_dir,
                        env,
                        ci,
                        plan: &plan,
                    };
                    let code = migration
                        .run(
                            &exports,
                            &secrets,
                            &format!("deploydb: migrate `{command}`"),
                        )
                        .await?;
                    (command, code)
                }
            };
            summary.migration = Some(MigrationSummary {
                command,
                exit_code: code,
                duration_ms: stage.elapsed().as_millis(),
            });
            stage.done(format!("exited with {code}"));
            if code == 0
                && plan.config.branch_from == BranchFrom::Template
                && plan.timeline.kind == TimelineKind::Production
                && let Step::Command(program) = &step
            {
                {
                    let migration = Migration {
                        program,
                        dir: &migrate_dir,
                        env,
                        ci,
                        plan: &plan,
                    };
                    refresh_template(&migration, env).await?;
                }
            }
            code
        }
    };
    if code != 0 {
        // One clear line (and a GitHub annotation) for a failed migration; its own output above
        // says why. The exit code is the command's, passed through.
        let command = summary
            .migration
            .as_ref()
            .map_or_else(String::new, |m| m.command.clone());
        let mut failure = Error::new(
            Kind::Migration(code),
            format!("the migration command `{command}` exited with {code}"),
        );
        if code == 127 {
            failure = failure.with_hint(
                "127 is the shell's \"command not found\": is the tool installed and on PATH in this job?",
            );
        }
        return Err(failure);
    }
    seed(&plan, &exports, &secrets, env, ci).await
}

/// `[migrate] command = "sql"`: deploydb applies the SQL files itself (`migrate::sql`).
pub(crate) const BUILTIN_SQL: &str = "sql";

/// What the migrate stage runs.
enum Step {
    Command(Program),
    Sql,
}

fn show(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Whether this timeline is seeded at all.
fn seeds(plan: &Plan) -> bool {
    plan.config.seed_command.is_some()
        && (plan.timeline.kind != TimelineKind::Production || plan.config.seed_production)
}

/// A connection to the timeline's database (as its role) with the seed record's table.
async fn seed_table(plan: &Plan) -> Result<tokio_postgres::Client> {
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

fn seed_error(plan: &Plan) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
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
async fn seed(
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

/// One migration command, ready to run against a database's exports.
struct Migration<'a> {
    program: &'a Program,
    dir: &'a Path,
    env: &'a Env,
    ci: Ci,
    plan: &'a Plan,
}

impl Migration<'_> {
    /// Runs the command with `exports` in its environment (and not the admin's variables),
    /// its output in a collapsible section, secrets masked. Returns its exit code.
    async fn run(&self, exports: &Exports, secrets: &[String], title: &str) -> Result<i32> {
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
async fn refresh_template(migration: &Migration<'_>, env: &Env) -> Result<()> {
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

/// The job summary: what a reviewer of the run wants to see at a glance, as markdown.
fn job_summary(summary: &Summary, error: Option<&Error>) -> String {
    let mut out = String::from("### deploydb\n\n| | |\n|---|---|\n");
    if let Some(skipped) = &summary.skipped {
        out.push_str(&format!("| Result | skipped: {skipped} |\n"));
    }
    if let Some(timeline) = &summary.timeline {
        out.push_str(&format!("| Timeline | `{timeline}` |\n"));
    }
    if let (Some(database), Some(created)) = (&summary.database, summary.created) {
        let how = if created { "created" } else { "reused" };
        out.push_str(&format!("| Database | `{database}` ({how}) |\n"));
    }
    if !summary.exported.is_empty() {
        out.push_str(&format!("| Exported | {} |\n", summary.exported.join(", ")));
    }
    if let Some(m) = &summary.migration {
        let result = if m.exit_code == 0 {
            "succeeded".to_string()
        } else {
            format!("failed with exit code {}", m.exit_code)
        };
        out.push_str(&format!(
            "| Migration | `{}` {result} in {} |\n",
            m.command.replace('|', "\\|"),
            report::human(std::time::Duration::from_millis(m.duration_ms as u64))
        ));
    }
    if let Some(e) = error {
        out.push_str(&format!("| Error | {} |\n", e.message.replace('|', "\\|")));
    }
    out.push('\n');
    out
}

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
fn deliver(
    plan: &Plan,
    exports: &Exports,
    ensured: &instance::ensure::Ensured,
    args: &RunArgs,
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
    let dotenv_asked = args.dotenv_file.is_some() || args.dotenv_secrets;
    if dotenv_asked && !env.is_true("GITLAB_CI") {
        report::warning(
            "--dotenv-file and --dotenv-secrets shape GitLab's dotenv report, and this is not a GitLab CI job (GITLAB_CI is not true): no report was written; use `deploydb env --format dotenv` for a file elsewhere",
        );
    }
    if env.is_true("GITLAB_CI") {
        let file = args
            .dotenv_file
            .clone()
            .or_else(|| env.get("DEPLOYDB_DOTENV_FILE").map(PathBuf::from))
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
        let with_secrets = args.dotenv_secrets || env.is_true("DEPLOYDB_DOTENV_SECRETS");
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

/// The `--timeline` value that names `timeline` again (none for the template, which nothing
/// deploys to).
fn timeline_spec(timeline: &Timeline) -> Option<String> {
    match (timeline.kind, &timeline.branch, timeline.pr) {
        (TimelineKind::Production, _, _) => Some("production".to_string()),
        (TimelineKind::Preview, _, Some(pr)) if timeline.own_preview => Some(format!("pr:{pr}")),
        (TimelineKind::Preview, _, _) => Some("preview".to_string()),
        (TimelineKind::Branch, Some(branch), _) => Some(format!("branch:{branch}")),
        (TimelineKind::Branch, None, _) | (TimelineKind::Template, _, _) => None,
    }
}

fn source_name(source: timeline::Source) -> &'static str {
    match source {
        timeline::Source::Flag => "--timeline",
        timeline::Source::Env => "DEPLOYDB_TIMELINE",
        timeline::Source::Github => "GitHub Actions",
        timeline::Source::Gitlab => "GitLab CI",
        timeline::Source::Git => "git HEAD",
    }
}

fn describe_detection(report: &Report) -> String {
    if !report.uses_postgres() {
        let tools: Vec<String> = report
            .migrations
            .iter()
            .map(|m| format!("{} in {}", m.tool, m.dir))
            .collect();
        return format!(
            "no PostgreSQL driver found in a manifest{}; running the configured migration anyway",
            if tools.is_empty() {
                String::new()
            } else {
                format!(" (migrations: {})", tools.join(", "))
            }
        );
    }
    let evidence: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.engine == detect::POSTGRES)
        .take(3)
        .map(|f| format!("{}:{} {}", f.file, f.line, f.package))
        .collect();
    format!("postgres ({})", evidence.join(", "))
}
