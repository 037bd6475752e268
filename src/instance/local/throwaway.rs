//! Throwaway clusters for tests and benchmarks: a temp directory and a free port, gone when
//! dropped. Built only with the `testkit` feature.

use std::fs;
use std::path::PathBuf;
use std::process::Child;

use super::{Binaries, Cluster, hand_over, server_account, write_private};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// A cluster in a temp directory that is shut down and deleted when dropped.
pub struct Throwaway {
    pub cluster: Cluster,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Settings that trade durability for speed; a throwaway cluster has nothing to lose.
const THROWAWAY_SETTINGS: &[&str] = &[
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
];

/// How a throwaway cluster differs from the default: a fixed port, more settings, files placed
/// in its data directory before it starts (certificates, a pg_hba.conf).
#[derive(Default)]
pub struct ThrowawayOptions {
    /// The folder to make the cluster's temp directory in (default: the system's temp folder);
    /// a tmpfs such as /dev/shm takes disk noise out of benchmarks.
    pub parent: Option<PathBuf>,
    pub port: Option<u16>,
    pub settings: Vec<String>,
    pub files: Vec<(String, Vec<u8>)>,
    /// Server binaries to use instead of the ones found on PATH (tests run several majors).
    pub bins: Option<Binaries>,
}

impl Throwaway {
    pub fn start(superuser: &str, password: &Secret) -> Result<Throwaway> {
        Throwaway::start_with(superuser, password, ThrowawayOptions::default())
    }

    pub fn start_with(
        superuser: &str,
        password: &Secret,
        options: ThrowawayOptions,
    ) -> Result<Throwaway> {
        let bins = match &options.bins {
            Some(bins) => bins.clone(),
            None => Binaries::find(&Env::from_process())?,
        };
        let builder = {
            let mut b = tempfile::Builder::new();
            b.prefix("deploydb-cluster-");
            b
        };
        let dir = match &options.parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|e| Error::local(format!("could not create a temp directory: {e}")))?;
        hand_over(server_account()?, dir.path())?;
        let mut settings: Vec<&str> = THROWAWAY_SETTINGS.to_vec();
        settings.extend(options.settings.iter().map(String::as_str));
        let cluster = Cluster::init(
            &bins,
            &dir.path().join("data"),
            superuser,
            password,
            &settings,
            options.port,
        )?;
        for (name, contents) in &options.files {
            let path = cluster.data.join(name);
            write_private(&path, &String::from_utf8_lossy(contents))?;
            cluster.hand_over(&path)?;
        }
        let child = cluster.start_child()?;
        Ok(Throwaway {
            cluster,
            child,
            _dir: dir,
        })
    }

    /// Stops the server (fast shutdown) and starts it again on the same port.
    pub fn restart(&mut self) -> Result<()> {
        // A fast shutdown (SIGINT): sessions are ended as in a real restart, but what was
        // committed stays — with synchronous_commit off, an immediate one could lose the last
        // commits, which no restarted real server does.
        // SAFETY: signalling our own child, which we have not waited for yet.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
        // Readiness is read from postmaster.pid; a stale one would say "ready" too early.
        let _ = fs::remove_file(self.cluster.data.join("postmaster.pid"));
        self.child = self.cluster.start_child()?;
        Ok(())
    }

    fn stop(&mut self) {
        // SIGQUIT is PostgreSQL's immediate shutdown: nothing here needs to survive.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGQUIT);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.stop();
    }
}
