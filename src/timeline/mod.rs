//! Which timeline this run belongs to: production, one branch, or a preview. The answer comes
//! from the first source that speaks — `--timeline`, `DEPLOYDB_TIMELINE`, GitHub Actions, GitLab
//! CI, the local git checkout — and when none can say (a tag, a detached HEAD), resolution fails
//! rather than guessing. Production is only ever chosen by name: the flag, or a branch that is
//! the production branch.

pub mod git;
mod github;
mod gitlab;
pub mod naming;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Production,
    Branch,
    Preview,
    /// `{app}-template`: an empty database at production's schema that new branch databases
    /// are copied from (`branch_from = "template"`). Nothing deploys to it.
    Template,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Production => "production",
            Kind::Branch => "branch",
            Kind::Preview => "preview",
            Kind::Template => "template",
        }
    }
}

/// Where the answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Flag,
    Env,
    Github,
    Gitlab,
    Git,
}

/// A timeline as named by a person: `production`, `preview`, `pr:<number>` or `branch:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Production,
    Preview,
    /// One pull/merge request's own preview database (`{app}-pr-{N}`).
    Pr(u64),
    Branch(String),
}

/// How previews map to databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreviewMode {
    /// One `{app}-preview` for every pull request.
    #[default]
    Shared,
    /// `{app}-pr-{N}` for each pull request, so previews stop trampling each other.
    PerPr,
}

impl PreviewMode {
    pub fn parse(text: &str) -> Option<PreviewMode> {
        match text {
            "shared" => Some(PreviewMode::Shared),
            "per-pr" => Some(PreviewMode::PerPr),
            _ => None,
        }
    }
}

impl FromStr for Spec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "production" => Ok(Spec::Production),
            "preview" => Ok(Spec::Preview),
            _ => {
                if let Some(name) = s.strip_prefix("branch:").filter(|n| !n.trim().is_empty()) {
                    return Ok(Spec::Branch(name.to_string()));
                }
                match s.strip_prefix("pr:").map(str::parse::<u64>) {
                    Some(Ok(n)) => Ok(Spec::Pr(n)),
                    _ => Err(format!(
                        "`{s}` is not a timeline: use `production`, `preview`, `pr:<number>` or `branch:<name>`"
                    )),
                }
            }
        }
    }
}

/// What a CI system or git says about the current ref.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ref {
    Branch(String),
    PullRequest {
        number: Option<u64>,
        branch: Option<String>,
    },
    Tag(String),
}

/// Whether the CI event that started this run may deploy the production branch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trigger {
    /// A push, a manual or scheduled run, a deployment to production: it deploys its ref.
    Deploy,
    /// A deployment to another environment: never production.
    NotProduction(String),
    /// Anything else (a comment, another workflow finishing, an API trigger): not a deploy of
    /// its ref, so it needs an explicit `--timeline`.
    Unknown(String),
}

/// A CI system's view: the ref, the repository's default branch when it knows it, and the
/// event that started the run.
#[derive(Debug, Clone)]
struct CiView {
    source: Source,
    reference: Ref,
    default_branch: Option<String>,
    trigger: Trigger,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub kind: Kind,
    pub branch: Option<String>,
    pub pr: Option<u64>,
    pub source: Source,
    pub production_branch: String,
    /// A preview with its own database (`{app}-pr-{N}`) rather than the shared one.
    #[serde(skip)]
    pub own_preview: bool,
}

impl Timeline {
    pub fn database(&self, app: &str) -> String {
        match (self.kind, self.pr) {
            (Kind::Production, _) => naming::production(app),
            (Kind::Preview, Some(pr)) if self.own_preview => naming::pr(app, pr),
            (Kind::Preview, _) => naming::preview(app),
            (Kind::Branch, _) => naming::branch(app, self.branch.as_deref().unwrap_or_default()),
            (Kind::Template, _) => naming::template(app),
        }
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.branch, self.pr) {
            (Kind::Branch, Some(branch), _) => {
                write!(f, "branch:{}", crate::report::shorten(branch))
            }
            (Kind::Preview, _, Some(pr)) => write!(f, "preview (#{pr})"),
            (kind, _, _) => f.write_str(kind.as_str()),
        }
    }
}

/// What resolution needs: the override (if any), the production branch set by the pipeline
/// (`--production-branch`, `DEPLOYDB_PRODUCTION_BRANCH`) and by the repository's
/// `deploydb.toml` (if any), the environment, and the directory to look for `.git` from.
pub struct Inputs<'a> {
    pub spec: Option<(Spec, Source)>,
    pub production_branch: Option<&'a str>,
    pub file_production_branch: Option<&'a str>,
    pub preview: PreviewMode,
    pub env: &'a Env,
    pub root: &'a Path,
}

pub fn resolve(inputs: Inputs<'_>) -> Result<Timeline> {
    let ci = github::view(inputs.env)?.or(gitlab::view(inputs.env));
    // Empty when a CI run cannot tell: a branch run then stops instead of guessing.
    let production_branch = production_branch(&inputs, ci.as_ref())?.unwrap_or_default();

    let per_pr = inputs.preview == PreviewMode::PerPr;
    if let Some((spec, source)) = inputs.spec {
        let (kind, branch, pr) = match spec {
            Spec::Production => (Kind::Production, Some(production_branch.clone()), None),
            Spec::Preview if per_pr => {
                return Err(Error::timeline(
                    "with preview = \"per-pr\" every preview has its own database, so `preview` alone does not name one",
                )
                .with_hint("name it with --timeline pr:<number>"));
            }
            Spec::Preview => (Kind::Preview, None, None),
            Spec::Pr(n) => (Kind::Preview, None, Some(n)),
            // `branch:main` on the production branch almost always means production; a branch
            // database of that name would be a second, silent copy of it.
            Spec::Branch(name) if name == production_branch => {
                return Err(Error::usage(format!(
                    "`branch:{name}` names the production branch, whose timeline is production"
                ))
                .with_hint("use --timeline production (or name another branch)"));
            }
            Spec::Branch(name) => (Kind::Branch, Some(name), None),
        };
        return Ok(Timeline {
            kind,
            branch,
            pr,
            source,
            production_branch,
            own_preview: pr.is_some(),
        });
    }

    let (source, reference, trigger) = match ci {
        Some(view) => (view.source, view.reference, view.trigger),
        None => (Source::Git, git::head(inputs.root)?, Trigger::Deploy),
    };
    let timeline = |kind, branch, pr| Timeline {
        kind,
        branch,
        pr,
        source,
        production_branch: production_branch.clone(),
        own_preview: per_pr,
    };
    match reference {
        Ref::PullRequest { number: None, .. } if per_pr => Err(Error::timeline(
            "this is a pull/merge request run, but its number is unknown, so its own preview database cannot be named",
        )
        .with_hint(NAME_IT)),
        Ref::PullRequest { number, branch } => Ok(timeline(Kind::Preview, branch, number)),
        Ref::Branch(_) if matches!(trigger, Trigger::Unknown(_)) => {
            let Trigger::Unknown(event) = trigger else {
                unreachable!()
            };
            Err(Error::timeline(format!(
                "this run was started by {event}, which is not a deploy of the branch it runs on"
            ))
            .with_hint(NOT_A_DEPLOY))
        }
        Ref::Branch(name) if production_branch.is_empty() => Err(Error::timeline(format!(
            "cannot tell whether branch `{name}` is the production branch: the CI did not say which branch is the default"
        ))
        .with_hint(
            "set DEPLOYDB_PRODUCTION_BRANCH in the pipeline, or name the timeline with --timeline",
        )),
        Ref::Branch(name) if name == production_branch => match trigger {
            Trigger::NotProduction(event) => Err(Error::timeline(format!(
                "this run was started by {event} on the production branch `{name}`; only a deployment to production deploys production"
            ))
            .with_hint(NOT_A_DEPLOY)),
            _ => Ok(timeline(Kind::Production, Some(name), None)),
        },
        Ref::Branch(name) => Ok(timeline(Kind::Branch, Some(name), None)),
        Ref::Tag(tag) => Err(Error::timeline(format!(
            "this run is for tag `{tag}`, and a tag does not say which database it deploys to"
        ))
        .with_hint(NAME_IT)),
    }
}

/// The production branch. The CI platform says which branch is the default; the pipeline may
/// say otherwise (flag or `DEPLOYDB_PRODUCTION_BRANCH`), the repository may not: a branch could
/// otherwise declare itself production in its own `deploydb.toml` and be deployed as such. The
/// file's value counts where no CI speaks (a local checkout), and where it agrees with the CI.
fn production_branch(inputs: &Inputs<'_>, ci: Option<&CiView>) -> Result<Option<String>> {
    if let Some(branch) = inputs.production_branch {
        return Ok(Some(branch.to_string()));
    }
    let Some(ci) = ci else {
        return Ok(Some(
            inputs.file_production_branch.unwrap_or("main").to_string(),
        ));
    };
    match (inputs.file_production_branch, ci.default_branch.as_deref()) {
        (Some(file), Some(default)) if file != default => Err(Error::usage(format!(
            "deploydb.toml sets production_branch = \"{file}\", but the CI says the default branch is `{default}`; the repository cannot redefine production"
        ))
        .with_hint("remove production_branch from deploydb.toml, or set DEPLOYDB_PRODUCTION_BRANCH in the pipeline")),
        (_, default) => Ok(default.map(str::to_string)),
    }
}

/// The hint for a run whose event does not deploy its ref.
const NOT_A_DEPLOY: &str = "deploydb resolves production only for GitHub push, workflow_dispatch, schedule and deployment-to-production events and GitLab push, web and scheduled pipelines; name the timeline with --timeline";

/// The hint for every "cannot tell" error.
const NAME_IT: &str =
    "name the timeline with --timeline production|preview|branch:<name> or DEPLOYDB_TIMELINE";

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn resolve_env(pairs: &[(&str, &str)]) -> Result<Timeline> {
        let env: Env = pairs.iter().copied().collect();
        let dir = tempfile::tempdir().unwrap();
        resolve(Inputs {
            spec: None,
            production_branch: None,
            file_production_branch: None,
            preview: PreviewMode::Shared,
            env: &env,
            root: dir.path(),
        })
    }

    /// GitHub events as the documentation's payloads carry them: which resolve to production,
    /// which to a branch or preview, and which need an explicit `--timeline`.
    #[test]
    fn github_event_table() {
        let dir = tempfile::tempdir().unwrap();
        let payload = |name: &str, json: &str| {
            let path = dir.path().join(name);
            fs::write(&path, json).unwrap();
            path.to_str().unwrap().to_string()
        };
        let with_default = payload("push.json", r#"{"repository":{"default_branch":"main"}}"#);
        let staging = payload(
            "staging.json",
            r#"{"deployment":{"environment":"staging"},"repository":{"default_branch":"main"}}"#,
        );
        let production = payload(
            "production.json",
            r#"{"deployment":{"environment":"Production"},"repository":{"default_branch":"main"}}"#,
        );
        let schedule = payload("schedule.json", r#"{"schedule":"0 0 * * *"}"#);
        let run = |event: &str, path: &str, reference: &str| {
            resolve_env(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", event),
                ("GITHUB_REF_NAME", reference),
                ("GITHUB_REF_TYPE", "branch"),
                ("GITHUB_EVENT_PATH", path),
            ])
            .map(|t| t.kind)
            .map_err(|e| e.kind)
        };
        use crate::error::Kind as E;
        for (event, path, reference, expected) in [
            ("push", &with_default, "main", Ok(Kind::Production)),
            (
                "workflow_dispatch",
                &with_default,
                "main",
                Ok(Kind::Production),
            ),
            ("schedule", &with_default, "main", Ok(Kind::Production)),
            ("push", &with_default, "feature", Ok(Kind::Branch)),
            ("deployment", &production, "main", Ok(Kind::Production)),
            ("deployment", &staging, "main", Err(E::Timeline)),
            ("deployment", &staging, "feature", Ok(Kind::Branch)),
            ("issue_comment", &with_default, "main", Err(E::Timeline)),
            ("workflow_run", &with_default, "main", Err(E::Timeline)),
            (
                "repository_dispatch",
                &with_default,
                "main",
                Err(E::Timeline),
            ),
            ("release", &with_default, "main", Err(E::Timeline)),
            ("", &with_default, "main", Err(E::Timeline)),
            // A schedule's payload names no default branch: `main` is not guessed to be it.
            ("schedule", &schedule, "main", Err(E::Timeline)),
            // Runs a fork's code with the base repository's secrets: never implicit.
            (
                "pull_request_target",
                &with_default,
                "main",
                Err(E::Timeline),
            ),
        ] {
            assert_eq!(
                run(event, path, reference),
                expected,
                "{event} on {reference}"
            );
        }
    }

    #[test]
    fn gitlab_pipeline_source_table() {
        use crate::error::Kind as E;
        let run = |source: &str, extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_BRANCH", "main"),
                ("CI_DEFAULT_BRANCH", "main"),
                ("CI_PIPELINE_SOURCE", source),
            ];
            pairs.extend_from_slice(extra);
            resolve_env(&pairs)
                .map(|t| (t.kind, t.pr))
                .map_err(|e| e.kind)
        };
        for source in ["push", "web", "schedule"] {
            assert_eq!(run(source, &[]), Ok((Kind::Production, None)), "{source}");
        }
        for source in ["api", "trigger", "pipeline", "parent_pipeline", "chat"] {
            assert_eq!(run(source, &[]), Err(E::Timeline), "{source}");
        }
        let external = run(
            "external_pull_request_event",
            &[("CI_EXTERNAL_PULL_REQUEST_IID", "12")],
        );
        assert_eq!(external, Ok((Kind::Preview, Some(12))));
    }

    /// A branch must not make itself production through its own deploydb.toml.
    #[test]
    fn the_repository_cannot_redefine_production() {
        let dir = tempfile::tempdir().unwrap();
        let env: Env = [
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_BRANCH", "attacker"),
            ("CI_DEFAULT_BRANCH", "main"),
        ]
        .into_iter()
        .collect();
        let inputs = |pipeline, file| Inputs {
            spec: None,
            production_branch: pipeline,
            file_production_branch: file,
            preview: PreviewMode::Shared,
            env: &env,
            root: dir.path(),
        };
        let err = resolve(inputs(None, Some("attacker"))).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(
            err.message.contains("cannot redefine production"),
            "{}",
            err.message
        );
        assert_eq!(
            resolve(inputs(None, Some("main"))).unwrap().kind,
            Kind::Branch
        );
        // The pipeline itself may say so.
        assert_eq!(
            resolve(inputs(Some("attacker"), None)).unwrap().kind,
            Kind::Production
        );
        // Outside CI the file is the only word there is.
        let local = tempfile::tempdir().unwrap();
        fs::create_dir(local.path().join(".git")).unwrap();
        fs::write(local.path().join(".git/HEAD"), "ref: refs/heads/trunk\n").unwrap();
        let empty = Env::default();
        let t = resolve(Inputs {
            env: &empty,
            root: local.path(),
            ..inputs(None, Some("trunk"))
        })
        .unwrap();
        assert_eq!(t.kind, Kind::Production);
    }

    #[test]
    fn spec_parsing() {
        assert_eq!("production".parse(), Ok(Spec::Production));
        assert_eq!("branch:a/b".parse(), Ok(Spec::Branch("a/b".into())));
        assert!("branch:".parse::<Spec>().is_err());
        assert!("prod".parse::<Spec>().is_err());
        assert_eq!("pr:12".parse(), Ok(Spec::Pr(12)));
        assert!("pr:x".parse::<Spec>().is_err());
    }

    #[test]
    fn github_push_to_default_branch_is_production() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        fs::write(&event, r#"{"repository":{"default_branch":"trunk"}}"#).unwrap();
        let t = resolve_env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "trunk"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!((t.kind, t.source), (Kind::Production, Source::Github));
        assert_eq!(t.production_branch, "trunk");
    }

    #[test]
    fn github_push_to_main_is_a_branch_when_default_is_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        fs::write(&event, r#"{"repository":{"default_branch":"trunk"}}"#).unwrap();
        let t = resolve_env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(t.kind, Kind::Branch);
        assert_eq!(t.database("shop"), "shop--main");
    }

    #[test]
    fn github_pull_request_is_preview_with_number() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        fs::write(&event, r#"{"number":42,"pull_request":{"number":42}}"#).unwrap();
        let t = resolve_env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_HEAD_REF", "feature/x"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(t.kind, Kind::Preview);
        assert_eq!(t.pr, Some(42));
        assert_eq!(t.branch.as_deref(), Some("feature/x"));
        assert_eq!(t.database("shop"), "shop-preview");
    }

    #[test]
    fn github_tag_is_an_error() {
        let err = resolve_env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "v1.0"),
            ("GITHUB_REF_TYPE", "tag"),
        ])
        .unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Timeline);
        assert!(err.message.contains("v1.0"));
    }

    #[test]
    fn gitlab_variants() {
        let prod = resolve_env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_DEFAULT_BRANCH", "main"),
        ])
        .unwrap();
        assert_eq!((prod.kind, prod.source), (Kind::Production, Source::Gitlab));

        let branch = resolve_env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_DEFAULT_BRANCH", "develop"),
        ])
        .unwrap();
        assert_eq!(branch.kind, Kind::Branch);

        let mr = resolve_env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_REF_NAME", "feat"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feat"),
            ("CI_DEFAULT_BRANCH", "main"),
        ])
        .unwrap();
        assert_eq!((mr.kind, mr.pr), (Kind::Preview, Some(7)));

        let tag = resolve_env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_TAG", "v2"),
            ("CI_COMMIT_REF_NAME", "v2"),
        ]);
        assert_eq!(tag.unwrap_err().kind, crate::error::Kind::Timeline);
    }

    #[test]
    fn per_pr_previews_get_their_own_database() {
        let env: Env = [
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_DEFAULT_BRANCH", "main"),
        ]
        .into_iter()
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let inputs = |spec| Inputs {
            spec,
            production_branch: None,
            file_production_branch: None,
            preview: PreviewMode::PerPr,
            env: &env,
            root: dir.path(),
        };
        assert_eq!(resolve(inputs(None)).unwrap().database("shop"), "shop-pr-7");
        let flagged = resolve(inputs(Some((Spec::Pr(9), Source::Flag)))).unwrap();
        assert_eq!(flagged.database("shop"), "shop-pr-9");
        assert!(resolve(inputs(Some((Spec::Preview, Source::Flag)))).is_err());
        let unnumbered: Env = [("GITLAB_CI", "true"), ("CI_MERGE_REQUEST_IID", "x")]
            .into_iter()
            .collect();
        let err = resolve(Inputs {
            env: &unnumbered,
            ..inputs(None)
        })
        .unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Timeline);
    }

    #[test]
    fn a_branch_spec_naming_the_production_branch_is_refused() {
        let env = Env::default();
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(Inputs {
            spec: Some((Spec::Branch("trunk".into()), Source::Flag)),
            production_branch: Some("trunk"),
            file_production_branch: None,
            preview: PreviewMode::Shared,
            env: &env,
            root: dir.path(),
        })
        .unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
    }

    #[test]
    fn flag_wins_over_ci() {
        let env: Env = [("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "main")]
            .into_iter()
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let t = resolve(Inputs {
            spec: Some((Spec::Branch("x".into()), Source::Flag)),
            production_branch: None,
            file_production_branch: None,
            preview: PreviewMode::Shared,
            env: &env,
            root: dir.path(),
        })
        .unwrap();
        assert_eq!((t.kind, t.source), (Kind::Branch, Source::Flag));
    }

    #[test]
    fn no_ci_and_no_git_is_an_error_not_production() {
        let err = resolve_env(&[]).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Timeline);
    }

    #[test]
    fn local_git_branch_and_detached_head() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        let head = dir.path().join(".git/HEAD");
        fs::write(&head, "ref: refs/heads/feature/login\n").unwrap();
        let env = Env::default();
        let inputs = || Inputs {
            spec: None,
            production_branch: Some("main"),
            file_production_branch: None,
            preview: PreviewMode::Shared,
            env: &env,
            root: dir.path(),
        };
        let t = resolve(inputs()).unwrap();
        assert_eq!((t.kind, t.source), (Kind::Branch, Source::Git));
        assert_eq!(t.branch.as_deref(), Some("feature/login"));

        fs::write(&head, "ref: refs/heads/main\n").unwrap();
        assert_eq!(resolve(inputs()).unwrap().kind, Kind::Production);

        fs::write(&head, "0123456789abcdef0123456789abcdef01234567\n").unwrap();
        assert_eq!(
            resolve(inputs()).unwrap_err().kind,
            crate::error::Kind::Timeline
        );
    }

    #[test]
    fn git_worktree_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let gitdir = dir.path().join("main-repo/.git/worktrees/wt");
        fs::create_dir_all(&gitdir).unwrap();
        fs::write(gitdir.join("HEAD"), "ref: refs/heads/wt-branch\n").unwrap();
        let wt = dir.path().join("wt");
        fs::create_dir_all(wt.join("sub")).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", gitdir.display())).unwrap();
        let env = Env::default();
        let t = resolve(Inputs {
            spec: None,
            production_branch: None,
            file_production_branch: None,
            preview: PreviewMode::Shared,
            env: &env,
            root: &wt.join("sub"),
        })
        .unwrap();
        assert_eq!(t.branch.as_deref(), Some("wt-branch"));
    }
}
