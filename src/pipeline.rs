//! The commands, each a composition of the stages: detect → timeline → instance → export →
//! migrate. Stages get what they need from here; only here are they put in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::{
    CheckArgs, DetectArgs, DropArgs, EnsureArgs, EnvArgs, Format, Global, ListArgs, LocalAction,
    LocalArgs, PruneArgs, RunArgs, TimelineArgs, TimelineFlag,
};
use crate::config::{Config, Overrides};
use crate::detect::{self, Report};
use crate::env::Env;
use crate::error::{Error, Kind, Result, exit};
use crate::export::{self, Exports, format::render};
use crate::instance::ensure::{Ensured, Resolved, Session, Target};
use crate::instance::{self, conninfo::ConnInfo, local};
use crate::lifecycle;
use crate::migrate::{self, Invocation, Program};
use crate::report::{self, Stage};
use crate::timeline::{self, Timeline};

fn load_config(
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

fn resolve_timeline(config: &Config, env: &Env) -> Result<(Timeline, String)> {
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
struct Plan {
    config: Config,
    timeline: Timeline,
    session: Session,
    resolved: Resolved,
    target: ConnInfo,
}

impl Plan {
    async fn new(config: Config, env: &Env) -> Result<Plan> {
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

    async fn ensure(&mut self) -> Result<Ensured> {
        self.session
            .ensure(
                &self.resolved,
                Target {
                    app: &self.config.app,
                    timeline: &self.timeline,
                    isolation: self.config.isolation,
                    credentials: &self.target,
                },
            )
            .await
    }

    /// Everything that must be masked in CI logs and redacted from the migration's output: the
    /// exported password and URL (also percent-encoded) and the admin's password.
    fn secrets(&self, exports: &Exports) -> Vec<String> {
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

pub async fn run(global: &Global, args: RunArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let argv = (!args.command.is_empty()).then(|| args.command.clone());
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let stage = Stage::start("detect");
    let detected = detect::scan(&config.root)?;
    if !detected.uses_postgres() {
        if args.require {
            return Err(Error::new(
                Kind::NoPostgres,
                format!(
                    "no PostgreSQL dependency found in {}",
                    config.root.display()
                ),
            )
            .with_hint("run `deploydb detect` to see what was found, or drop --require"));
        }
        stage.done(format!(
            "no PostgreSQL dependency found in {}; nothing to provision",
            config.root.display()
        ));
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
    if env.is_true("GITHUB_ACTIONS") {
        // Before anything else is printed, so no later line can show these values.
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        print!("{}", export::github::masks(&secrets));
    }
    eprintln!("{detect_line}");
    report::line(
        "timeline",
        format!(
            "{} (from {}) -> {}",
            plan.timeline,
            source_name(&plan),
            plan.target.dbname
        ),
    );

    let stage = Stage::start("database");
    let ensured = plan.ensure().await?;
    if let Some(warning) = &ensured.warning {
        report::warning(warning);
    }
    stage.done(format!(
        "{} {} on {}",
        plan.target.dbname,
        if ensured.created { "created" } else { "reused" },
        plan.session.admin().redacted()
    ));

    let stage = Stage::start("export");
    let delivered = deliver(&plan, &exports, &ensured, &args, env)?;
    stage.done(if delivered.is_empty() {
        "to the migration command".to_string()
    } else {
        delivered.join(", ")
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
    instance::lock::migration(
        &plan.session.client,
        &plan.target.dbname,
        plan.config.lock_timeout,
    )
    .await?;
    let stage = Stage::start("migrate");
    report::line("migrate", format!("running `{}`", program.describe()));
    let hidden = instance::admin_only_variables(&plan.config);
    let mut child_env: BTreeMap<String, String> = env
        .iter()
        .filter(|(k, _)| !hidden.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, value) in &exports.vars {
        child_env.insert(name.to_string(), value.expose().to_string());
    }
    let code = migrate::run(Invocation {
        program,
        dir: migrate_dir,
        env: child_env,
        secrets: secrets.iter().map(String::as_str).collect(),
        timeout: plan.config.migrate_timeout,
        grace: plan.config.kill_after,
    })
    .await?;
    stage.done(format!("exited with {code}"));
    Ok(code)
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
    if let Some(path) = env.get("GITHUB_OUTPUT") {
        let created = if ensured.created { "true" } else { "false" };
        let timeline = plan.timeline.to_string();
        export::github::append_outputs(
            Path::new(path),
            &[
                ("database", &plan.target.dbname),
                ("timeline", &timeline),
                ("created", created),
            ],
        )?;
        delivered.push("$GITHUB_OUTPUT".to_string());
    }
    if env.is_true("GITLAB_CI") {
        let path: PathBuf = plan.config.root.join(&args.dotenv_file);
        let path = if args.dotenv_file.is_absolute() {
            args.dotenv_file.clone()
        } else {
            path
        };
        export::gitlab::write_dotenv(&path, exports, args.dotenv_secrets)?;
        delivered.push(format!(
            "dotenv report {}{}",
            path.display(),
            if args.dotenv_secrets {
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

pub async fn ensure(global: &Global, args: EnsureArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let mut plan = Plan::new(config, env).await?;
    let ensured = plan.ensure().await?;
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "database": ensured.database,
                "created": ensured.created,
                "timeline": plan.timeline.kind,
                "app": plan.config.app,
                "warning": ensured.warning,
            });
            println!("{value}");
        }
        Format::Text => {
            if let Some(w) = &ensured.warning {
                report::warning(w);
            }
            println!(
                "{} {}",
                ensured.database,
                if ensured.created { "created" } else { "exists" }
            );
        }
    }
    Ok(exit::OK)
}

pub fn timeline(global: &Global, args: TimelineArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let (timeline, database) = resolve_timeline(&config, env)?;
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "kind": timeline.kind,
                "branch": timeline.branch,
                "pr": timeline.pr,
                "app": config.app,
                "database": database,
                "source": timeline.source,
                "production_branch": timeline.production_branch,
            });
            println!("{value}");
        }
        Format::Text => println!("{timeline} -> {database}"),
    }
    Ok(exit::OK)
}

pub async fn env(global: &Global, args: EnvArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let plan = Plan::new(config, env).await?;
    print!("{}", render(&Exports::new(&plan.target), args.format)?);
    Ok(exit::OK)
}

pub fn detect(global: &Global, args: DetectArgs, env: &Env, cwd: &Path) -> Result<i32> {
    // An explicit folder (the argument, or --path) is scanned as it is: that is how one
    // component of a monorepo is inspected on its own.
    let root = match args.dir.as_ref().or(global.path.as_ref()) {
        Some(dir) => dir.canonicalize().map_err(|e| {
            Error::usage(format!("{} cannot be inspected: {e}", dir.display()))
                .with_hint("pass an existing folder")
        })?,
        None => load_config(global, &TimelineFlag::default(), None, env, cwd)?.root,
    };
    let report = detect::scan(&root)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        ),
        Format::Text => print!("{}", detect::text(&report, &root.display().to_string())),
    }
    Ok(exit::OK)
}

pub async fn check(global: &Global, args: CheckArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    lifecycle::check::run(&config, env, args.format).await
}

pub async fn list(global: &Global, args: ListArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    lifecycle::list::run(&config, env, args.all_apps, args.format).await
}

pub async fn drop(global: &Global, args: DropArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let options = lifecycle::drop::Options {
        yes: args.yes,
        dry_run: args.dry_run,
        production: args.production,
        confirm: args.confirm.as_deref(),
    };
    lifecycle::drop::run(&config, env, options).await
}

pub async fn prune(global: &Global, args: PruneArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    let options = lifecycle::prune::Options {
        dry_run: args.dry_run,
        older_than: args.older_than,
        branches_from: args.branches_from.as_deref(),
        include_previews: args.include_previews,
    };
    lifecycle::prune::run(&config, env, options).await
}

pub fn local(args: LocalArgs, env: &Env) -> Result<i32> {
    let cluster = local::existing(env)?;
    match (args.action, cluster) {
        (_, None) => println!(
            "the local cluster is not set up (it will be under {})",
            local::home(env)?.display()
        ),
        (LocalAction::Status, Some(c)) => {
            let state = if c.is_running() { "running" } else { "stopped" };
            println!(
                "{state}: 127.0.0.1:{} user {} data {}",
                c.port,
                c.superuser,
                c.data.display()
            );
        }
        (LocalAction::Stop, Some(c)) => {
            if c.is_running() {
                c.stop_daemon()?;
                println!("stopped");
            } else {
                println!("not running");
            }
        }
    }
    Ok(exit::OK)
}
