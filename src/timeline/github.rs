//! GitHub Actions: the ref from `GITHUB_*` variables, and the pull request number, the
//! repository's default branch and a deployment's environment from the event payload at
//! `GITHUB_EVENT_PATH`.
//!
//! Which events may deploy production is decided here, by event name: a workflow can be
//! triggered on the default branch by events that are not deploys of it (`issue_comment`,
//! `workflow_run` — GitHub's pattern for fork pull requests —, a deployment to a staging
//! environment), and those must never resolve to production by accident.

use serde::Deserialize;

use super::{CiView, NAME_IT, Ref, Source, Trigger};
use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Deserialize, Default)]
struct Event {
    number: Option<u64>,
    pull_request: Option<PullRequest>,
    repository: Option<Repository>,
    deployment: Option<Deployment>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: Option<u64>,
}

#[derive(Deserialize)]
struct Repository {
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct Deployment {
    environment: Option<String>,
}

/// Events that run for a pull request: they resolve to its preview. Not `pull_request_target`:
/// it runs a fork's pull request with the base repository's secrets (the admin URL among
/// them), so a workflow that deploys from it names the timeline itself, knowingly.
const PULL_REQUEST_EVENTS: &[&str] = &[
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
];

/// Events that deploy the ref they run on: a push, a manual run, a schedule.
const DEPLOY_EVENTS: &[&str] = &["push", "workflow_dispatch", "schedule"];

/// The environment names a `deployment` event deploys production to.
pub(super) const PRODUCTION_ENVIRONMENTS: &[&str] = &["production", "prod"];

/// `None` outside GitHub Actions.
pub(super) fn view(env: &Env) -> Result<Option<CiView>> {
    if !env.is_true("GITHUB_ACTIONS") {
        return Ok(None);
    }
    let event = read_event(env)?;
    let default_branch = event.repository.and_then(|r| r.default_branch);
    let event_name = env.get("GITHUB_EVENT_NAME").unwrap_or_default();
    if PULL_REQUEST_EVENTS.contains(&event_name) {
        return Ok(Some(CiView {
            source: Source::Github,
            reference: Ref::PullRequest {
                number: event.number.or(event.pull_request.and_then(|p| p.number)),
                branch: env.get("GITHUB_HEAD_REF").map(str::to_string),
            },
            default_branch,
            trigger: Trigger::Deploy,
        }));
    }
    let trigger = if DEPLOY_EVENTS.contains(&event_name) {
        Trigger::Deploy
    } else if event_name == "deployment" {
        let environment = event
            .deployment
            .and_then(|d| d.environment)
            .unwrap_or_default();
        if PRODUCTION_ENVIRONMENTS.contains(&environment.to_ascii_lowercase().as_str()) {
            Trigger::Deploy
        } else {
            Trigger::NotProduction(format!(
                "a GitHub deployment to environment `{environment}`"
            ))
        }
    } else if event_name.is_empty() {
        Trigger::Unknown("a GitHub Actions run without GITHUB_EVENT_NAME".to_string())
    } else {
        Trigger::Unknown(format!("the GitHub event `{event_name}`"))
    };
    let name = env.get("GITHUB_REF_NAME").ok_or_else(|| {
        Error::timeline("GITHUB_ACTIONS is set but GITHUB_REF_NAME is not").with_hint(NAME_IT)
    })?;
    let reference = if env.get("GITHUB_REF_TYPE") == Some("tag") {
        Ref::Tag(name.to_string())
    } else {
        Ref::Branch(name.to_string())
    };
    Ok(Some(CiView {
        source: Source::Github,
        reference,
        default_branch,
        trigger,
    }))
}

/// The payload is optional (a local `act` run may lack it), but one that exists and cannot be
/// read is an error: silently missing the default branch could misjudge production.
fn read_event(env: &Env) -> Result<Event> {
    let Some(path) = env.get("GITHUB_EVENT_PATH") else {
        return Ok(Event::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::timeline(format!(
            "could not read the GitHub event payload {path}: {e}"
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::timeline(format!(
            "the GitHub event payload {path} is not valid JSON: {e}"
        ))
    })
}
