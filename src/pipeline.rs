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
}

impl Plan {
    pub(crate) async fn new(config: Config, env: &Env) -> Result<Plan> {
        let (timeline, _) = resolve_timeline(&config, env)?;
        let admin = instance::admin(&config, env)?;
        let session = Session::open(&admin, config.connect_timeout).await?;
        let resolved = session.resolve(&config.app, &timeline).await?;
        let target = instance::credentials(&admin, &resolved.database, config.isolation, env)?;
        Ok(Plan {
            config,
            timeline,
            session,
            resolved,
            target,
        })
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
            secrets.push(password.expose().to_string());
            secrets.push(
                percent_encoding::utf8_percent_encode(
                    password.expose(),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string(),
            );
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
    let result = run_stages(global, args, env, cwd, ci, &mut summary).await;
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

async fn run_stages(
    global: &Global,
    args: RunArgs,
    env: &Env,
    cwd: &Path,
    ci: Ci,
    summary: &mut Summary,
) -> Result<i32> {
    let argv = (!args.command.is_empty()).then(|| args.command.clone());
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let stage = Stage::start("detect");
    let detected = detect::scan(&config.root)?;
    if !detected.uses_postgres() {
        let message = format!(
            "no PostgreSQL dependency found in {}",
            config.root.display()
        );
        if args.require {
            return Err(Error::new(Kind::NoPostgres, message)
                .with_hint("run `deploydb detect` to see what was found, or drop --require"));
        }
        stage.done(format!("{message}; nothing to provision"));
        summary.skipped = Some(message);
        return Ok(exit::OK);
    }

    let detect_line = stage.finish(describe_detection(&detected));
    // Decided before anything is created: an ambiguous "auto" must change nothing.
    let (program, migrate_dir) = match (argv, config.migrate_command.as_deref()) {
        (Some(argv), _) => (Some(Program::Argv(argv)), config.root.clone()),
        (None, Some("auto")) => {
            let chosen = detect::choose_migration(&detected)?;
            (
                Some(Program::Shell(chosen.command.clone())),
                config.root.join(&chosen.dir),
            )
        }
        (None, Some(line)) => (Some(Program::Shell(line.to_string())), config.root.clone()),
        (None, None) => (None, config.root.clone()),
    };
    let mut plan = Plan::new(config, env).await?;
    let exports = Exports::new(&plan.target);
    let secrets = plan.secrets(&exports);
    if ci == Ci::Github {
        // Before anything else is printed, so no later line can show these values.
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        print!("{}", export::github::masks(&secrets));
    }
    report::emit(&detect_line);
    report::line(
        "timeline",
        format!(
            "{} (from {}) -> {}",
            plan.timeline,
            source_name(&plan),
            plan.target.dbname
        ),
    );
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

    let stage = Stage::start("export");
    summary.exported = deliver(&plan, &exports, &ensured, &args, env)?;
    stage.done(if summary.exported.is_empty() {
        "to the migration command".to_string()
    } else {
        summary.exported.join(", ")
    });

    let Some(program) = program else {
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
        return Ok(exit::OK);
    };
    // Held (on a connection of its own) until the run ends.
    let _migration_lock = instance::lock::migration(
        plan.session.admin(),
        plan.session.timeout(),
        &plan.target.dbname,
        plan.config.lock_timeout,
    )
    .await?;
    let stage = Stage::start("migrate");
    let command = program.describe();
    report::line("migrate", format!("running `{command}`"));
    let migration = Migration {
        program: &program,
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
    summary.migration = Some(MigrationSummary {
        command,
        exit_code: code,
        duration_ms: stage.elapsed().as_millis(),
    });
    stage.done(format!("exited with {code}"));
    if code == 0
        && plan.config.branch_from == BranchFrom::Template
        && plan.timeline.kind == TimelineKind::Production
    {
        refresh_template(&migration, env).await?;
    }
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
        let hidden = instance::admin_only_variables(&self.plan.config);
        let mut child_env: BTreeMap<String, String> = self
            .env
            .iter()
            .filter(|(k, _)| !hidden.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, value) in &exports.vars {
            child_env.insert(name.to_string(), value.expose().to_string());
        }
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
    let password =
        instance::credentials(plan.session.admin(), &name, plan.config.isolation, env)?.password;
    let rebuild = match instance::template::begin(
        &plan.session,
        &plan.config.app,
        plan.config.isolation,
        password,
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
    let exports = Exports::new(&rebuild.credentials);
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
    if env.is_true("GITLAB_CI") {
        let file = args
            .dotenv_file
            .clone()
            .or_else(|| env.get("DEPLOYDB_DOTENV_FILE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("deploydb.env"));
        let path = if file.is_absolute() {
            file
        } else {
            plan.config.root.join(file)
        };
        let with_secrets = args.dotenv_secrets || env.is_true("DEPLOYDB_DOTENV_SECRETS");
        export::gitlab::write_dotenv(&path, exports, with_secrets)?;
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

fn source_name(plan: &Plan) -> &'static str {
    match plan.timeline.source {
        timeline::Source::Flag => "--timeline",
        timeline::Source::Env => "DEPLOYDB_TIMELINE",
        timeline::Source::Github => "GitHub Actions",
        timeline::Source::Gitlab => "GitLab CI",
        timeline::Source::Git => "git HEAD",
    }
}

fn describe_detection(report: &Report) -> String {
    let evidence: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.engine == detect::POSTGRES)
        .take(3)
        .map(|f| format!("{}:{} {}", f.file, f.line, f.package))
        .collect();
    format!("postgres ({})", evidence.join(", "))
}
