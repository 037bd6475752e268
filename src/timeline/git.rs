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

/// The branches `origin` had when the checkout last fetched, from its remote-tracking refs
/// (loose and packed). `None` when the checkout has none, so callers can say "unknown" rather
/// than "gone".
pub fn remote_branches(start: &Path) -> Option<std::collections::BTreeSet<String>> {
    let git_dir = find_git_dir(start).ok()?;
    // A worktree's git directory points at the shared one, where the refs are.
    let common = fs::read_to_string(git_dir.join("commondir"))
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or(git_dir);
    let prefix = "refs/remotes/origin/";
    let mut branches = std::collections::BTreeSet::new();
    let loose = common.join(prefix);
    let mut found = loose.is_dir();
    if let Ok(packed) = fs::read_to_string(common.join("packed-refs")) {
        for line in packed.lines() {
            if let Some(name) = line
                .split_whitespace()
                .nth(1)
                .and_then(|r| r.strip_prefix(prefix))
            {
                found = true;
                branches.insert(name.to_string());
            }
        }
    }
    for entry in walkdir::WalkDir::new(&loose).into_iter().flatten() {
        if entry.file_type().is_file()
            && let Ok(rel) = entry.path().strip_prefix(&loose)
        {
            branches.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    branches.remove("HEAD");
    found.then_some(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_branches_from_loose_and_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        fs::create_dir_all(git.join("refs/remotes/origin/feature")).unwrap();
        fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(remote_branches(dir.path()), Some(Default::default()));
        fs::write(git.join("refs/remotes/origin/feature/login"), "abc\n").unwrap();
        fs::write(
            git.join("refs/remotes/origin/HEAD"),
            "ref: refs/remotes/origin/main\n",
        )
        .unwrap();
        fs::write(
            git.join("packed-refs"),
            "# pack-refs\nabc refs/remotes/origin/main\nabc refs/tags/v1\n",
        )
        .unwrap();
        let found: Vec<String> = remote_branches(dir.path()).unwrap().into_iter().collect();
        assert_eq!(found, vec!["feature/login", "main"]);
        let bare = tempfile::tempdir().unwrap();
        fs::create_dir_all(bare.path().join(".git")).unwrap();
        assert_eq!(remote_branches(bare.path()), None);
    }
}
