//! What a run did, said three ways: the `--format json` line, the closing line in text mode,
//! and GitHub's job summary. None of them ever holds a secret.

use serde::Serialize;

use crate::error::Error;
use crate::report::{self};

/// What a run did, for `--format json` and GitHub's job summary. Never holds a secret.
#[derive(Debug, Default, Serialize)]
pub(super) struct Summary {
    pub(super) timeline: Option<String>,
    pub(super) database: Option<String>,
    pub(super) created: Option<bool>,
    pub(super) exported: Vec<String>,
    pub(super) migration: Option<MigrationSummary>,
    pub(super) skipped: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct MigrationSummary {
    pub(super) command: String,
    pub(super) exit_code: i32,
    pub(super) duration_ms: u128,
}

/// The last line of a successful run in text mode: what the timeline's database is now, in
/// one line a reader of the log can stop at. A failure ends with its `error:` line instead.
pub(super) fn closing_line(
    summary: &Summary,
    code: i32,
    took: std::time::Duration,
) -> Option<String> {
    if let Some(reason) = &summary.skipped {
        return Some(format!("nothing to do: {reason}"));
    }
    let database = summary.database.as_deref()?;
    let state = if summary.created == Some(true) {
        "created"
    } else {
        "reused"
    };
    let migrated = match &summary.migration {
        Some(m) if code == 0 => format!(", migrated (`{}`)", m.command),
        Some(_) => return None,
        None => ", no migration command".to_string(),
    };
    Some(format!(
        "{database} {state}{migrated} in {}",
        report::human(took)
    ))
}

/// The job summary: what a reviewer of the run wants to see at a glance, as markdown.
pub(super) fn job_summary(summary: &Summary, error: Option<&Error>) -> String {
    let mut out = String::from("### deploydb\n\n| | |\n|---|---|\n");
    if let Some(skipped) = &summary.skipped {
        out.push_str(&format!("| Result | skipped: {skipped} |\n"));
    }
    if let Some(timeline) = &summary.timeline {
        out.push_str(&format!("| Timeline | `{timeline}` |\n"));
    }
    if let (Some(database), Some(created)) = (&summary.database, summary.created) {
        let how = if created { "created" } else { "reused" };
        out.push_str(&format!("| Database | `{database}` ({how}) |\n"));
    }
    if !summary.exported.is_empty() {
        out.push_str(&format!("| Exported | {} |\n", summary.exported.join(", ")));
    }
    if let Some(m) = &summary.migration {
        let result = if m.exit_code == 0 {
            "succeeded".to_string()
        } else {
            format!("failed with exit code {}", m.exit_code)
        };
        out.push_str(&format!(
            "| Migration | `{}` {result} in {} |\n",
            m.command.replace('|', "\\|"),
            report::human(std::time::Duration::from_millis(m.duration_ms as u64))
        ));
    }
    if let Some(e) = error {
        out.push_str(&format!("| Error | {} |\n", e.message.replace('|', "\\|")));
    }
    out.push('\n');
    out
}
