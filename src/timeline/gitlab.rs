//! GitLab CI: merge request pipelines from `CI_MERGE_REQUEST_*`, external pull requests from
//! `CI_EXTERNAL_PULL_REQUEST_*`, tags from `CI_COMMIT_TAG`, branches from `CI_COMMIT_BRANCH` (or
//! `CI_COMMIT_REF_NAME`), the default branch from `CI_DEFAULT_BRANCH`, and what started the
//! pipeline from `CI_PIPELINE_SOURCE`: only branch pipelines (a push, the web UI) and
//! scheduled ones deploy the ref they run on.

use super::{CiView, Ref, Source, Trigger};
use crate::env::Env;

/// Pipeline sources that deploy their branch. A runner always sets `CI_PIPELINE_SOURCE`; its
/// absence (older self-managed runners, local tools) is read as a branch pipeline.
const DEPLOY_SOURCES: &[&str] = &["push", "web", "schedule"];

/// `None` outside GitLab CI.
pub(super) fn view(env: &Env) -> Option<CiView> {
    if !env.is_true("GITLAB_CI") {
        return None;
    }
    let source = env.get("CI_PIPELINE_SOURCE").unwrap_or("push");
    let trigger = if DEPLOY_SOURCES.contains(&source) {
        Trigger::Deploy
    } else {
        Trigger::Unknown(format!("a GitLab pipeline from `{source}`"))
    };
    let default_branch = env.get("CI_DEFAULT_BRANCH").map(str::to_string);
    let pull_request = |iid: &str, branch: &str| Ref::PullRequest {
        number: iid.parse().ok(),
        branch: env.get(branch).map(str::to_string),
    };
    let (reference, trigger) = if let Some(iid) = env.get("CI_MERGE_REQUEST_IID") {
        (
            pull_request(iid, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
            Trigger::Deploy,
        )
    } else if let Some(iid) = env.get("CI_EXTERNAL_PULL_REQUEST_IID") {
        (
            pull_request(iid, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"),
            Trigger::Deploy,
        )
    } else if let Some(tag) = env.get("CI_COMMIT_TAG") {
        (Ref::Tag(tag.to_string()), trigger)
    } else if let Some(branch) = env
        .get("CI_COMMIT_BRANCH")
        .or_else(|| env.get("CI_COMMIT_REF_NAME"))
    {
        (Ref::Branch(branch.to_string()), trigger)
    } else {
        // A pipeline with neither a branch nor a tag nor a merge request is nothing we can name.
        (Ref::Tag(String::from("(unknown ref)")), trigger)
    };
    Some(CiView {
        source: Source::Gitlab,
        reference,
        default_branch,
        trigger,
    })
}
