//! The GitHub Action's install step on a cold runner: an empty tool cache, the release assets
//! (this build's binary, packed by `scripts/package.sh`) served from a loopback HTTP server as
//! `tests/cli/ship.rs` serves them. Against it, the same archive fetched and unpacked by hand,
//! with no checksum: what a workflow that curls the binary itself would pay.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::measure::{pair, time};
use crate::release::{ASSET, ReleaseServer, VERSION, install_step, release_tree};
use crate::table::Row;

/// The action's step against `curl | tar`, each run into a folder of its own.
pub fn figures(runs: usize, rows: &mut Vec<Row>) {
    let tree = release_tree(VERSION);
    let server = ReleaseServer::start(tree.path());
    let scratch = tempfile::tempdir().unwrap();
    let installed = |i: usize| {
        let runner = scratch.path().join(format!("runner-{i}"));
        std::fs::create_dir_all(&runner).unwrap();
        let mut c = install_step(&runner, &server);
        c.env("DEPLOYDB_VERSION", VERSION).stdout(Stdio::null());
        let took = time(c);
        let binary = runner
            .join("toolcache/deploydb")
            .join(VERSION.trim_start_matches('v'))
            .join("X64/deploydb");
        assert!(binary.is_file(), "the step installed nothing at {binary:?}");
        took
    };
    let by_hand = |i: usize| -> Duration {
        let dir = scratch.path().join(format!("by-hand-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("{}/download/{VERSION}/{ASSET}", server.url());
        let mut c = Command::new("sh");
        c.args(["-c", "curl -fsSL \"$1\" | tar -xzf - -C \"$2\"", "sh"])
            .arg(&url)
            .arg(&dir);
        let took = time(c);
        assert!(
            dir.join("deploydb").is_file(),
            "curl | tar unpacked nothing"
        );
        took
    };
    rows.push(Row::within(
        "cold GitHub Action install step (empty tool cache, checksum checked; release on a loopback server)",
        "`curl -fsSL …/deploydb-x86_64-unknown-linux-musl.tar.gz | tar -xz`",
        pair(runs, installed, by_hand),
        10_000.0,
    ));
}
