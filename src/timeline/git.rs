//! The local checkout's branch, read from `.git/HEAD` directly so that no git binary is needed
//! (CI images and the Docker image often have none). A worktree's `.git` is a file pointing at
//! its own git directory, which has its own `HEAD`.

use std::fs;
use std::path::{Path, PathBuf};

use super::{NAME_IT, Ref};
use crate::error::{Error, Result};

pub(super) fn head(start: &Path) -> Result<Ref> {
    let git_dir = find_git_dir(start)?;
    let head_path = git_dir.join("HEAD");
    let head = fs::read_to_string(&head_path).map_err(|e| {
        Error::timeline(format!("could not read {}: {e}", head_path.display())).with_hint(NAME_IT)
    })?;
    match head.trim().strip_prefix("ref: refs/heads/") {
        Some(branch) if !branch.is_empty() => Ok(Ref::Branch(branch.to_string())),
        _ => Err(Error::timeline(format!(
            "the git checkout at {} has a detached HEAD, so there is no branch to name a timeline after",
            git_dir.display()
        ))
        .with_hint(NAME_IT)),
    }
}

fn find_git_dir(start: &Path) -> Result<PathBuf> {
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Ok(dot_git);
        }
        if dot_git.is_file() {
            let text = fs::read_to_string(&dot_git).map_err(|e| {
                Error::timeline(format!("could not read {}: {e}", dot_git.display()))
            })?;
            let target = text.trim().strip_prefix("gitdir:").ok_or_else(|| {
                Error::timeline(format!(
                    "{} is a file but has no `gitdir:` line",
                    dot_git.display()
                ))
            })?;
            return Ok(dir.join(target.trim()));
        }
    }
    Err(Error::timeline(format!(
        "no CI variables and no git repository at or above {}, so the timeline is unknown",
        start.display()
    ))
    .with_hint(NAME_IT))
}
