//! The ownership record deploydb writes as the database's comment: the server's catalog is the
//! only state deploydb keeps, so this is how it knows later which databases are its own, for
//! which app and timeline.

use serde::{Deserialize, Serialize};

use crate::timeline::{Kind, Timeline};

pub const MANAGED_BY: &str = "deploydb";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ownership {
    pub managed_by: String,
    pub app: String,
    pub kind: Kind,
    pub branch: Option<String>,
    pub pr: Option<u64>,
    pub created_at: String,
    /// Set on every run that deploys the timeline; `prune --older-than` reads it.
    #[serde(default)]
    pub last_deployed_at: Option<String>,
    /// On a role's record: a hash of the password deploydb last set, so an unchanged password
    /// is not set again. It reveals nothing of the password (SHA-256 of 256 random-looking bits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_check: Option<String>,
}

impl Ownership {
    pub fn new(app: &str, timeline: &Timeline, created_at: String) -> Self {
        Ownership {
            managed_by: MANAGED_BY.to_string(),
            app: app.to_string(),
            kind: timeline.kind,
            branch: timeline.branch.clone(),
            pr: timeline.pr,
            last_deployed_at: Some(created_at.clone()),
            created_at,
            password_check: None,
        }
    }

    /// `None` for a comment that is not deploydb's (absent, free text, or another tool's JSON).
    pub fn parse(comment: &str) -> Option<Ownership> {
        serde_json::from_str::<Ownership>(comment)
            .ok()
            .filter(|o| o.managed_by == MANAGED_BY)
    }

    /// Whether this record is for the same timeline of the same app.
    pub fn is_for(&self, app: &str, timeline: &Timeline) -> bool {
        self.app == app
            && self.kind == timeline.kind
            && self.branch == timeline.branch
            && self.pr == timeline.pr
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ownership serializes")
    }
}
