//! GitLab CI: merge request pipelines from `CI_MERGE_REQUEST_*`, tags from `CI_COMMIT_TAG`,
//! branches from `CI_COMMIT_BRANCH` (or `CI_COMMIT_REF_NAME`), the default branch from
//! `CI_DEFAULT_BRANCH`.

use super::{CiView, Ref, Source};
use crate::env::Env;

/// `None` outside GitLab CI.
pub(super) fn view(env: &Env) -> Option<CiView> {
    if !env.is_true("GITLAB_CI") {
        return None;
    }
    let reference = if let Some(iid) = env.get("CI_MERGE_REQUEST_IID") {
        Ref::PullRequest {
            number: iid.parse().ok(),
            branch: env
                .get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
                .map(str::to_string),
        }
    } else if let Some(tag) = env.get("CI_COMMIT_TAG") {
        Ref::Tag(tag.to_string())
    } else if let Some(branch) = env
        .get("CI_COMMIT_BRANCH")
        .or_else(|| env.get("CI_COMMIT_REF_NAME"))
    {
        Ref::Branch(branch.to_string())
    } else {
        // A pipeline with neither a branch nor a tag nor a merge request is nothing we can name.
        Ref::Tag(String::from("(unknown ref)"))
    };
    Some(CiView {
        source: Source::Gitlab,
        reference,
        default_branch: env.get("CI_DEFAULT_BRANCH").map(str::to_string),
    })
}
