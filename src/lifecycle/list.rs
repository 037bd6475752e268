//! `deploydb list`: the databases deploydb manages, from their ownership comments. A database
//! without one is never listed, whatever its name.

use serde::Serialize;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Result, exit};
use crate::instance::{self, catalog::Managed, ensure::Session};
use crate::report::Format;
use crate::report::inert;
use crate::timeline::{Kind, git};

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    managed: &'a Managed,
    /// For branches: whether `origin` still has the branch, when the checkout can tell.
    branch_exists: Option<bool>,
    /// False when the record does not follow from the database's name: its owner may have
    /// rewritten it, and nothing in it is to be believed.
    record_matches_name: bool,
}

pub async fn run(config: &Config, env: &Env, all_apps: bool, format: Format) -> Result<i32> {
    let admin = instance::admin(config, env)?;
    let session = Session::open(&admin, config.connect_timeout).await?;
    let wanted = config.app.as_str();
    let mut managed: Vec<Managed> = session.managed((!all_apps).then_some(wanted)).await?;
    session.measure(&mut managed).await?;
    let remote = git::remote_branches(&config.root);
    let rows: Vec<Row<'_>> = managed
        .iter()
        .map(|m| Row {
            managed: m,
            record_matches_name: m.trusted(),
            branch_exists: match (&m.record.kind, &m.record.branch, &remote) {
                (Kind::Branch, Some(branch), Some(remote)) => Some(remote.contains(branch)),
                _ => None,
            },
        })
        .collect();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialize")
        ),
        Format::Text => {
            if rows.is_empty() {
                println!(
                    "no deploydb databases for {}",
                    if all_apps {
                        "any app".to_string()
                    } else {
                        format!("app `{wanted}`")
                    }
                );
            }
            for row in &rows {
                let m = row.managed;
                let what = match (m.record.kind, &m.record.branch, m.record.pr) {
                    (Kind::Branch, Some(b), _) => {
                        format!("branch {}", crate::report::shorten(b))
                    }
                    (Kind::Preview, _, Some(pr)) => format!("preview #{pr}"),
                    (kind, _, _) => kind.as_str().to_string(),
                };
                let gone = if !row.record_matches_name {
                    "  (record does not match the name: rewritten by its owner?)"
                } else if row.branch_exists == Some(false) {
                    "  (branch gone)"
                } else {
                    ""
                };
                // Everything but the size comes from a comment the database's owner can rewrite.
                println!(
                    "{:<40} {:<12} {:<30} created {}  deployed {}  {}{gone}",
                    inert(&m.name),
                    inert(&m.record.app),
                    inert(&what),
                    inert(&m.record.created_at),
                    inert(m.record.last_deployed_at.as_deref().unwrap_or("-")),
                    m.size.map_or("-".to_string(), human_size),
                );
            }
        }
    }
    Ok(exit::OK)
}

fn human_size(bytes: i64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1} MiB")
}
