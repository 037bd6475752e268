//! The walk: every file whose name a reader or the migration inference wants, found in
//! parallel. It honours `.gitignore` and git's excludes, never follows a symlink, stops at a
//! bounded depth, and never enters dependency or build folders — a manifest inside
//! `node_modules` describes someone else's package, not the app.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

/// Folders that never hold the app's own manifests.
pub const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "vendor",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".next",
    ".nuxt",
    ".cache",
    ".tox",
    ".terraform",
    ".svelte-kit",
    "coverage",
    "site-packages",
    "bower_components",
];

/// How deep a manifest can be below the root.
pub const MAX_DEPTH: usize = 16;

pub fn manifests(root: &Path, wanted: fn(&Path) -> bool) -> Vec<PathBuf> {
    let found = Mutex::new(Vec::new());
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .max_depth(Some(MAX_DEPTH))
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(true)
        .threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(8)))
        .filter_entry(|entry| {
            !(entry.depth() > 0
                && entry.file_type().is_some_and(|t| t.is_dir())
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n) || n.ends_with(".egg-info")))
        })
        .build_parallel();
    walker.run(|| {
        let found = &found;
        Box::new(move |entry| {
            if let Ok(entry) = entry
                // Not only regular files: a FIFO or a link with a manifest's name is listed so
                // that reading it is refused with a warning, not skipped without a word.
                && entry.file_type().is_some_and(|t| !t.is_dir())
                && wanted(entry.path())
            {
                found
                    .lock()
                    .expect("no panics while holding the lock")
                    .push(entry.into_path());
            }
            WalkState::Continue
        })
    });
    let mut files = found.into_inner().expect("the walk is over");
    files.sort();
    files
}
