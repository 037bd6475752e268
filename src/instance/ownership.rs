//! The ownership record deploydb writes as the database's comment: the server's catalog is the
//! only state deploydb keeps, so this is how it knows later which databases are its own, for
//! which app and timeline.

use serde::{Deserialize, Serialize};

use crate::timeline::{Kind, Timeline, naming};

/// The longest branch name a record may carry (git allows more, no real branch needs it).
const MAX_BRANCH: usize = 1024;

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
    /// On a role's record: the id of the role key its password was last set with, so an
    /// unchanged password is not set again. Random, not derived from any password (records
    /// before 0.2 carried a password hash here, `password_check`, which is dropped unread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

impl Ownership {
    pub fn new(app: &str, timeline: &Timeline, created_at: String) -> Self {
        Ownership {
            managed_by: MANAGED_BY.to_string(),
            app: app.to_string(),
            kind: timeline.kind,
            branch: timeline.branch.clone(),
            // The shared preview belongs to no one pull request: a number here would go stale
            // with the next one.
            pr: timeline
                .pr
                .filter(|_| timeline.kind != Kind::Preview || timeline.own_preview),
            last_deployed_at: Some(created_at.clone()),
            created_at,
            key_id: None,
        }
    }

    /// `None` for a comment that is not deploydb's (absent, free text, or another tool's JSON).
    pub fn parse(comment: &str) -> Option<Ownership> {
        serde_json::from_str::<Ownership>(comment)
            .ok()
            .filter(|o| o.managed_by == MANAGED_BY)
    }

    /// Whether this record belongs to `timeline` of `app`, the test every run applies before it
    /// uses a database. Production and the shared preview are one per app (production's branch
    /// may be renamed); a branch must be the same branch, a pull request the same number.
    pub fn same_timeline(&self, app: &str, timeline: &Timeline) -> bool {
        self.app == app
            && self.kind == timeline.kind
            && match self.kind {
                Kind::Production | Kind::Template => true,
                // The shared preview is one per app, whichever pull request deploys to it.
                Kind::Preview => !timeline.own_preview || self.pr == timeline.pr,
                Kind::Branch => self.branch.is_some() && self.branch == timeline.branch,
            }
    }

    /// Whether `name` is a name this record's timeline can have. The record is the database's
    /// comment, which its owner (a timeline role) can rewrite: a record whose name does not
    /// follow from it (a branch database relabelled as production, as another app's, as a live
    /// branch) is not trusted for anything.
    pub fn matches_name(&self, name: &str) -> bool {
        if naming::validate_app(&self.app).is_err() {
            return false;
        }
        let app = self.app.as_str();
        match (self.kind, self.pr, self.branch.as_deref()) {
            (Kind::Production, _, _) => name == naming::production(app),
            (Kind::Template, _, _) => name == naming::template(app),
            // The shared preview's record carried the creating PR's number before 0.2.
            (Kind::Preview, Some(pr), _) => {
                name == naming::pr(app, pr)
                    || name == naming::pr_legacy(app, pr)
                    || name == naming::preview(app)
            }
            (Kind::Preview, None, _) => name == naming::preview(app),
            (Kind::Branch, _, Some(branch)) => {
                branch.len() <= MAX_BRANCH
                    && !branch.chars().any(char::is_control)
                    && naming::branch_candidates(app, branch)
                        .iter()
                        .any(|n| n == name)
            }
            (Kind::Branch, _, None) => false,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ownership serializes")
    }
}
