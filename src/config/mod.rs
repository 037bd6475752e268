//! One checked configuration built from `deploydb.toml`, then `DEPLOYDB_*` variables, then flags
//! (each overriding the one before). Stages receive this, never raw flags or files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

mod shape;

use crate::duration;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::timeline::{PreviewMode, Source, Spec, naming};

/// What a new branch database starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BranchFrom {
    /// An empty database; the branch's migrations build the whole schema.
    #[default]
    Empty,
    /// A copy of `{app}-template`, an empty database kept at production's schema.
    Template,
}

impl BranchFrom {
    pub fn parse(text: &str) -> Option<BranchFrom> {
        match text {
            "empty" => Some(BranchFrom::Empty),
            "template" => Some(BranchFrom::Template),
            _ => None,
        }
    }
}

/// How timelines are kept apart on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// A login role per database that owns it; the exported credentials are that role's.
    #[default]
    Role,
    /// The admin's own credentials are exported (for servers where roles cannot be created).
    Shared,
}

impl Isolation {
    pub fn parse(text: &str) -> Option<Isolation> {
        match text {
            "role" => Some(Isolation::Role),
            "shared" => Some(Isolation::Shared),
            _ => None,
        }
    }
}

pub const FILE_NAME: &str = "deploydb.toml";
pub const DEFAULT_URL_ENV: &str = "DEPLOYDB_ADMIN_URL";
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    app: Option<Spanned<String>>,
    production_branch: Option<String>,
    isolation: Option<Spanned<String>>,
    preview: Option<Spanned<String>>,
    branch_from: Option<Spanned<String>>,
    #[serde(default)]
    instance: InstanceSection,
    #[serde(default)]
    migrate: MigrateSection,
    #[serde(default)]
    seed: SeedSection,
}

/// `[seed]`: a command run once on each new timeline database, after its migration.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SeedSection {
    command: Option<String>,
    /// Production is never seeded unless this says so.
    #[serde(default)]
    production: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InstanceSection {
    url_env: Option<String>,
    connect_timeout: Option<Spanned<String>>,
    ca_cert: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MigrateSection {
    command: Option<String>,
    timeout: Option<Spanned<String>>,
    lock_timeout: Option<Spanned<String>>,
    kill_after: Option<Spanned<String>>,
    /// For `command = "sql"`: the schema applied to a new database.
    schema: Option<String>,
    /// For `command = "sql"`: the folder of append-only migration files.
    migrations: Option<String>,
}

/// What flags can override.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub path: Option<PathBuf>,
    pub app: Option<String>,
    pub production_branch: Option<String>,
    pub timeline: Option<Spec>,
    pub migrate_command: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The project root: where `deploydb.toml` is, else the git top level, else `--path`.
    pub root: PathBuf,
    pub file: Option<PathBuf>,
    pub app: String,
    /// Set by the pipeline (`--production-branch`, `DEPLOYDB_PRODUCTION_BRANCH`); otherwise the
    /// timeline stage asks the CI, then uses `main` outside CI.
    pub production_branch: Option<String>,
    /// `production_branch` in `deploydb.toml`: the repository's word, which counts only where
    /// no CI speaks or where it agrees with the CI (see `timeline::resolve`).
    pub file_production_branch: Option<String>,
    /// The name of the variable holding the admin URL (never the URL itself).
    pub url_env: String,
    pub connect_timeout: Duration,
    pub migrate_command: Option<String>,
    pub migrate_timeout: Option<Duration>,
    /// How long to wait for another run's migration of the same database.
    pub lock_timeout: Duration,
    /// How long an interrupted migration gets between SIGTERM and SIGKILL.
    pub kill_after: Duration,
    pub timeline: Option<(Spec, Source)>,
    pub isolation: Isolation,
    pub preview: PreviewMode,
    pub branch_from: BranchFrom,
    /// `[instance] ca_cert`, resolved against the config file's folder.
    pub ca_cert: Option<PathBuf>,
    /// The built-in SQL migrations' schema file and migrations folder, under `root`.
    pub sql: crate::migrate::sql::Layout,
    /// `[seed] command`.
    pub seed_command: Option<String>,
    /// `[seed] production = true`: also seed a new production database.
    pub seed_production: bool,
}

impl Config {
    pub fn load(overrides: Overrides, env: &Env, cwd: &Path) -> Result<Config> {
        let start = overrides.path.clone().unwrap_or_else(|| cwd.to_path_buf());
        let start = start.canonicalize().map_err(|e| {
            Error::usage(format!("path {} cannot be used: {e}", start.display()))
                .with_hint("pass an existing directory with --path")
        })?;
        let (file, git_top) = find_config(&start);
        let root = file
            .as_deref()
            .and_then(Path::parent)
            .or(git_top.as_deref())
            .unwrap_or(&start)
            .to_path_buf();
        let parsed = match &file {
            Some(path) => parse_file(path)?,
            None => (FileConfig::default(), String::new()),
        };
        let (fc, text) = parsed;
        let at = |span: std::ops::Range<usize>| Location {
            file: file.as_deref(),
            line: line_of(&text, span.start),
        };

        // Every bad value is reported at once, not one per run.
        let mut problems: Vec<Error> = Vec::new();
        let mut gather = |result: Result<()>| {
            if let Err(e) = result {
                problems.push(e);
            }
        };
        let app =
            if let Some(app) = overrides.app.clone() {
                gather(naming::validate_app(&app));
                app
            } else if let Some(app) = env.get("DEPLOYDB_APP") {
                gather(naming::validate_app(app).map_err(|e| e.in_context("DEPLOYDB_APP")));
                app.to_string()
            } else if let Some(app) = &fc.app {
                gather(naming::validate_app(app.get_ref()).map_err(|e| {
                    at(app.span()).locate(e.in_context(&at(app.span()).describe("app")))
                }));
                app.get_ref().clone()
            } else {
                default_app(env, &root)?
            };

        let production_branch = overrides
            .production_branch
            .clone()
            .or_else(|| env.get("DEPLOYDB_PRODUCTION_BRANCH").map(str::to_string));
        let file_production_branch = fc.production_branch;

        let url_env = url_env(env, fc.instance.url_env).unwrap_or_else(|e| {
            gather(Err(e));
            String::new()
        });

        let connect_timeout = duration_setting(
            env,
            "DEPLOYDB_CONNECT_TIMEOUT",
            fc.instance.connect_timeout.as_ref(),
            "instance.connect_timeout",
            &at,
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let migrate_timeout = duration_setting(
            env,
            "DEPLOYDB_MIGRATE_TIMEOUT",
            fc.migrate.timeout.as_ref(),
            "migrate.timeout",
            &at,
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        });

        let lock_timeout = duration_setting(
            env,
            "DEPLOYDB_LOCK_TIMEOUT",
            fc.migrate.lock_timeout.as_ref(),
            "migrate.lock_timeout",
            &at,
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or(DEFAULT_LOCK_TIMEOUT);
        let kill_after = duration_setting(
            env,
            "DEPLOYDB_KILL_AFTER",
            fc.migrate.kill_after.as_ref(),
            "migrate.kill_after",
            &at,
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or(DEFAULT_KILL_AFTER);

        let isolation = choice_setting(
            env,
            "DEPLOYDB_ISOLATION",
            fc.isolation.as_ref(),
            "isolation",
            &at,
            Isolation::parse,
            "role, shared",
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or_default();
        let preview = choice_setting(
            env,
            "DEPLOYDB_PREVIEW",
            fc.preview.as_ref(),
            "preview",
            &at,
            PreviewMode::parse,
            "shared, per-pr",
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or_default();
        let branch_from = choice_setting(
            env,
            "DEPLOYDB_BRANCH_FROM",
            fc.branch_from.as_ref(),
            "branch_from",
            &at,
            BranchFrom::parse,
            "empty, template",
        )
        .unwrap_or_else(|e| {
            gather(Err(e));
            None
        })
        .unwrap_or_default();
        let ca_cert = fc.instance.ca_cert.map(|p| root.join(p));

        let migrate_command = overrides
            .migrate_command
            .clone()
            .or_else(|| env.get("DEPLOYDB_MIGRATE_COMMAND").map(str::to_string))
            .or(fc.migrate.command)
            .filter(|c| !c.trim().is_empty());

        let sql = crate::migrate::sql::Layout {
            schema: root.join(fc.migrate.schema.as_deref().unwrap_or("db/schema.sql")),
            migrations: root.join(fc.migrate.migrations.as_deref().unwrap_or("db/migrations")),
            root: root.clone(),
        };
        let seed_command = fc.seed.command.filter(|c| !c.trim().is_empty());
        let seed_production = fc.seed.production;

        let timeline = match (overrides.timeline.clone(), env.get("DEPLOYDB_TIMELINE")) {
            (Some(spec), _) => Some((spec, Source::Flag)),
            (None, Some(text)) => Some((
                text.parse::<Spec>()
                    .map_err(|e| Error::usage(format!("DEPLOYDB_TIMELINE: {e}")))?,
                Source::Env,
            )),
            (None, None) => None,
        };

        if let Some(error) = Error::all(problems) {
            return Err(error);
        }

        Ok(Config {
            root,
            file,
            app,
            production_branch,
            file_production_branch,
            url_env,
            connect_timeout,
            migrate_command,
            migrate_timeout,
            lock_timeout,
            kill_after,
            timeline,
            isolation,
            preview,
            branch_from,
            ca_cert,
            sql,
            seed_command,
            seed_production,
        })
    }
}

/// Where a setting was written, for error messages.
struct Location<'a> {
    file: Option<&'a Path>,
    line: usize,
}

impl Location<'_> {
    fn locate(&self, error: Error) -> Error {
        match self.file {
            Some(file) => error.located(file, self.line),
            None => error,
        }
    }

    fn describe(&self, key: &str) -> String {
        match self.file {
            Some(file) => format!("`{key}` in {}:{}", file.display(), self.line),
            None => format!("`{key}`"),
        }
    }
}

impl Error {
    fn in_context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// The name of the variable that holds the admin URL. In CI that is the pipeline's word
/// (`DEPLOYDB_URL_ENV`, else `DEPLOYDB_ADMIN_URL`): a branch can edit `deploydb.toml`, and a
/// `url_env` there could point deploydb at another credential the job holds (another server's
/// admin URL) or leave the real one behind for the migration. Outside CI the file's value is
/// used; in CI only when it names the variable the pipeline would use anyway.
fn url_env(env: &Env, file: Option<String>) -> Result<String> {
    if let Some(pipeline) = env.get("DEPLOYDB_URL_ENV") {
        return Ok(pipeline.to_string());
    }
    match file {
        Some(file) if env.in_ci() && file != DEFAULT_URL_ENV => Err(Error::usage(format!(
            "deploydb.toml sets [instance] url_env = \"{file}\", but in CI the pipeline names the admin URL's variable, not the repository"
        ))
        .with_hint(format!(
            "set DEPLOYDB_URL_ENV={file} in the pipeline (or pass the secret as {DEFAULT_URL_ENV}) and remove url_env from deploydb.toml"
        ))),
        Some(file) => Ok(file),
        None => Ok(DEFAULT_URL_ENV.to_string()),
    }
}

fn duration_setting<'a>(
    env: &Env,
    var: &str,
    file_value: Option<&Spanned<String>>,
    key: &str,
    at: &dyn Fn(std::ops::Range<usize>) -> Location<'a>,
) -> Result<Option<Duration>> {
    let bad = |what: String, text: &str| {
        Error::usage(format!(
            "{what}: `{text}` is not a duration; write {}",
            duration::ACCEPTED
        ))
    };
    if let Some(text) = env.get(var) {
        return duration::parse(text)
            .map(Some)
            .ok_or_else(|| bad(var.to_string(), text));
    }
    match file_value {
        Some(value) => duration::parse(value.get_ref()).map(Some).ok_or_else(|| {
            at(value.span()).locate(bad(at(value.span()).describe(key), value.get_ref()))
        }),
        None => Ok(None),
    }
}

/// A setting with a fixed set of values, from its variable or else the file.
fn choice_setting<'a, T>(
    env: &Env,
    var: &str,
    file_value: Option<&Spanned<String>>,
    key: &str,
    at: &dyn Fn(std::ops::Range<usize>) -> Location<'a>,
    parse: fn(&str) -> Option<T>,
    accepted: &str,
) -> Result<Option<T>> {
    let bad = |what: String, text: &str| {
        Error::usage(format!("{what}: `{text}` is not one of {accepted}"))
    };
    if let Some(text) = env.get(var) {
        return parse(text)
            .map(Some)
            .ok_or_else(|| bad(var.to_string(), text));
    }
    match file_value {
        Some(value) => parse(value.get_ref()).map(Some).ok_or_else(|| {
            at(value.span()).locate(bad(at(value.span()).describe(key), value.get_ref()))
        }),
        None => Ok(None),
    }
}

/// Walks up from `start` looking for `deploydb.toml`, stopping at the git top level so that a
/// stray file in a parent folder (a home directory) is never picked up. Returns the file and
/// the git top level, when found.
fn find_config(start: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        let is_top = dir.join(".git").exists();
        if candidate.is_file() {
            let top = if is_top {
                Some(dir.to_path_buf())
            } else {
                git_top(dir)
            };
            return (Some(candidate), top);
        }
        if is_top {
            return (None, Some(dir.to_path_buf()));
        }
    }
    (None, None)
}

fn git_top(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

fn parse_file(path: &Path) -> Result<(FileConfig, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(crate::error::Kind::Usage, "read", path, e))?;
    let problems: Vec<Error> = shape::problems(&text)
        .into_iter()
        .map(|(line, message)| {
            Error::usage(format!("{}:{line}: {message}", path.display())).located(path, line)
        })
        .collect();
    if let Some(error) = Error::all(problems) {
        return Err(error.with_hint("see the configuration reference in the README"));
    }
    let parsed: FileConfig = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
        let message = e.message().trim().replace("field", "key");
        Error::usage(format!("{}:{line}: {message}", path.display()))
            .with_hint("see the configuration reference in the README")
            .located(path, line)
    })?;
    Ok((parsed, text))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The repository's name from the CI, else the project folder's name, slugged.
fn default_app(env: &Env, root: &Path) -> Result<String> {
    let raw = env
        .get("GITHUB_REPOSITORY")
        .and_then(|r| r.rsplit('/').next())
        .or_else(|| env.get("CI_PROJECT_NAME"))
        .map(str::to_string)
        .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let app = naming::slug(&raw);
    naming::validate_app(&app).map_err(|e| {
        e.in_context("the app name derived from the repository")
            .with_hint("set `app = \"my-app\"` in deploydb.toml, DEPLOYDB_APP or --app")
    })?;
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn load(dir: &Path, env: &[(&str, &str)], overrides: Overrides) -> Result<Config> {
        let env: Env = env.iter().copied().collect();
        Config::load(overrides, &env, dir)
    }

    fn repo(toml: &str) -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("My_Shop.")
            .tempdir()
            .unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(FILE_NAME), toml).unwrap();
        dir
    }

    #[test]
    fn precedence_file_env_flag() {
        let dir = repo("app = \"from-file\"\n[migrate]\ncommand = \"make migrate\"\n");
        let c = load(dir.path(), &[], Overrides::default()).unwrap();
        assert_eq!(c.app, "from-file");
        assert_eq!(c.migrate_command.as_deref(), Some("make migrate"));
        let c = load(
            dir.path(),
            &[("DEPLOYDB_APP", "from-env")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.app, "from-env");
        let flags = Overrides {
            app: Some("from-flag".into()),
            ..Default::default()
        };
        let c = load(dir.path(), &[("DEPLOYDB_APP", "from-env")], flags).unwrap();
        assert_eq!(c.app, "from-flag");
    }

    #[test]
    fn default_app_from_ci_or_folder() {
        let dir = repo("");
        let c = load(
            dir.path(),
            &[("GITHUB_REPOSITORY", "acme/Web_Store")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.app, "web-store");
        let c = load(dir.path(), &[], Overrides::default()).unwrap();
        assert!(c.app.starts_with("my-shop-"), "{}", c.app);
    }

    #[test]
    fn found_from_a_subfolder() {
        let dir = repo("app = \"shop\"\n");
        let sub = dir.path().join("src/deep");
        fs::create_dir_all(&sub).unwrap();
        let c = load(&sub, &[], Overrides::default()).unwrap();
        assert_eq!(c.app, "shop");
        assert_eq!(c.root, dir.path().canonicalize().unwrap());
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let dir = repo("app = \"shop\"\n\n[instance]\nurl_evn = \"X\"\n");
        let err = load(dir.path(), &[], Overrides::default()).unwrap_err();
        assert!(err.message.contains("url_evn"), "{}", err.message);
        assert!(err.message.contains("deploydb.toml:4"), "{}", err.message);
    }

    #[test]
    fn bad_duration_names_key_and_accepted_form() {
        let dir = repo("[migrate]\ntimeout = \"soon\"\n");
        let err = load(dir.path(), &[], Overrides::default()).unwrap_err();
        assert!(err.message.contains("migrate.timeout"), "{}", err.message);
        assert!(err.message.contains(":2"), "{}", err.message);
        assert!(err.message.contains("30s"), "{}", err.message);
    }

    #[test]
    fn bad_app_in_file_names_line() {
        let dir = repo("\napp = \"Bad App\"\n");
        let err = load(dir.path(), &[], Overrides::default()).unwrap_err();
        assert!(err.message.contains("deploydb.toml:2"), "{}", err.message);
    }

    #[test]
    fn timeline_env_is_parsed() {
        let dir = repo("");
        let c = load(
            dir.path(),
            &[("DEPLOYDB_TIMELINE", "branch:x")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.timeline, Some((Spec::Branch("x".into()), Source::Env)));
        let err = load(
            dir.path(),
            &[("DEPLOYDB_TIMELINE", "prod")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("DEPLOYDB_TIMELINE"));
    }
}
