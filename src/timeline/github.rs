//! GitHub Actions: the ref from `GITHUB_*` variables, and the pull request number and the
//! repository's default branch from the event payload at `GITHUB_EVENT_PATH`.

use serde::Deserialize;

use super::{CiView, NAME_IT, Ref, Source};
use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Deserialize, Default)]
struct Event {
    number: Option<u64>,
    pull_request: Option<PullRequest>,
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: Option<u64>,
}

#[derive(Deserialize)]
struct Repository {
    default_branch: Option<String>,
}

/// `None` outside GitHub Actions.
pub(super) fn view(env: &Env) -> Result<Option<CiView>> {
    if !env.is_true("GITHUB_ACTIONS") {
        return Ok(None);
    }
    let event = read_event(env)?;
    let default_branch = event.repository.and_then(|r| r.default_branch);
    let event_name = env.get("GITHUB_EVENT_NAME").unwrap_or_default();
    let reference = if event_name.starts_with("pull_request") {
        Ref::PullRequest {
            number: event.number.or(event.pull_request.and_then(|p| p.number)),
            branch: env.get("GITHUB_HEAD_REF").map(str::to_string),
        }
    } else {
        let name = env.get("GITHUB_REF_NAME").ok_or_else(|| {
            Error::timeline("GITHUB_ACTIONS is set but GITHUB_REF_NAME is not").with_hint(NAME_IT)
        })?;
        if env.get("GITHUB_REF_TYPE") == Some("tag") {
            Ref::Tag(name.to_string())
        } else {
            Ref::Branch(name.to_string())
        }
    };
    Ok(Some(CiView {
        source: Source::Github,
        reference,
        default_branch,
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
