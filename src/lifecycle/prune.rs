//! `deploydb prune`: drops branch (and, when asked, preview) databases whose branch no longer
//! exists or that were not deployed for longer than a given age. Never production, never
//! another app's, never a database without deploydb's record; every decision is printed.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::Duration;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result, exit};
use crate::instance::timestamp::epoch_seconds;
use crate::instance::{self, catalog::Managed, ensure::Session};
use crate::report::inert;
use crate::timeline::{Kind, naming};

pub struct Options<'a> {
    pub dry_run: bool,
    pub older_than: Option<Duration>,
    /// `git`, a file, or `-` for standard input.
    pub branches_from: Option<&'a str>,
    pub include_previews: bool,
    pub format: crate::report::Format,
}

/// One database's fate, for `--format json`.
#[derive(serde::Serialize)]
struct Decision {
    database: String,
    /// `drop`, `would_drop`, `keep` or `failed`.
    action: &'static str,
    reason: String,
}

pub async fn run(config: &Config, env: &Env, options: Options<'_>) -> Result<i32> {
    if options.older_than.is_none() && options.branches_from.is_none() {
        return Err(Error::usage("prune needs a reason to drop anything")
            .with_hint("pass --branches-from git|FILE|- and/or --older-than 14d"));
    }
    if let Some(age) = options.older_than
        && age.as_secs() > MAX_AGE_SECS
    {
        return Err(Error::usage(format!(
            "--older-than {}s is more than 1000 years",
            age.as_secs()
        ))
        .with_hint("give an age such as 14d or 12w"));
    }
    let live = match options.branches_from {
        Some(source) => Some(live_branches(source, config)?),
        None => None,
    };
    let admin = instance::admin(config, env)?;
    let session = Session::open(&admin, config.connect_timeout).await?;
    let now: i64 = session
        .client
        .query_typed_one("SELECT extract(epoch FROM now())::bigint", &[])
        .await
        .map_err(|e| {
            Error::server(format!(
                "could not read the server's clock: {}",
                instance::connect::describe(&e)
            ))
        })?
        .get(0);
    let managed: Vec<Managed> = session.managed(Some(&config.app)).await?;
    let live_names = live.as_ref().map(|live| live_names(&config.app, live));
    let mut dropped = 0;
    let mut failures = Vec::new();
    let json = matches!(options.format, crate::report::Format::Json);
    let mut decisions = Vec::new();
    for m in &managed {
        let (drop, why) = decide(
            m,
            &config.app,
            live.as_ref().zip(live_names.as_ref()),
            options.older_than,
            options.include_previews,
            now,
        );
        let verb = match (drop, options.dry_run) {
            (true, true) => "would drop",
            (true, false) => "drop",
            (false, _) => "keep",
        };
        // `why` may quote a branch name from the record, which the database's owner can rewrite.
        if !json {
            println!("{verb:<10} {:<40} {}", inert(&m.name), inert(&why));
        }
        let mut action = match (drop, options.dry_run) {
            (true, true) => "would_drop",
            (true, false) => "drop",
            (false, _) => "keep",
        };
        let mut reason = why;
        if drop {
            if !options.dry_run
                && let Err(e) = session.drop_timeline(&m.name, &config.app).await
            {
                // One database that cannot go (sessions a pooler holds, a lost privilege)
                // must not keep the rest: go on, and report every failure at the end.
                if !json {
                    println!("failed     {:<40} {}", inert(&m.name), inert(&e.message));
                }
                failures.push(m.name.clone());
                action = "failed";
                reason = e.message;
            } else {
                dropped += 1;
            }
        }
        decisions.push(Decision {
            database: m.name.clone(),
            action,
            reason,
        });
    }
    if json {
        let value = serde_json::json!({
            "app": config.app,
            "dry_run": options.dry_run,
            "pruned": dropped,
            "databases": managed.len(),
            "decisions": decisions,
        });
        println!("{value}");
    } else {
        print_totals(dropped, managed.len(), &config.app, options.dry_run);
    }
    if !failures.is_empty() {
        return Err(Error::server(format!(
            "{} of the databases to prune could not be dropped: {}",
            failures.len(),
            failures.join(", ")
        ))
        .with_hint("see the `failed` lines above for why; the others were pruned"));
    }
    Ok(exit::OK)
}

fn print_totals(dropped: usize, total: usize, app: &str, dry_run: bool) {
    println!(
        "{} {dropped} of {total} databases of app `{app}`{}",
        if dry_run { "would prune" } else { "pruned" },
        if dry_run {
            " (dry run: nothing was dropped)"
        } else {
            ""
        }
    );
}

/// The largest `--older-than` taken: 1000 years, far beyond any deploy yet small enough that
/// no arithmetic on it can overflow.
const MAX_AGE_SECS: u64 = 1000 * 366 * 86_400;

/// The names the live branches hold or may hold.
fn live_names(app: &str, live: &BTreeSet<String>) -> BTreeSet<String> {
    live.iter()
        .flat_map(|branch| naming::branch_candidates(app, branch))
        .collect()
}

/// Whether to drop `m`, and why (or why not). Production and the template are kept by name,
/// whatever their record says; a record that does not follow from its name (its owner rewrote
/// it) decides nothing, and such a database of the app's branch form goes when no live branch
/// can have its name.
fn decide(
    m: &Managed,
    app: &str,
    live: Option<(&BTreeSet<String>, &BTreeSet<String>)>,
    older_than: Option<Duration>,
    include_previews: bool,
    now: i64,
) -> (bool, String) {
    if m.name == naming::production(app) {
        return (false, "production is never pruned".into());
    }
    if m.name == naming::template(app) {
        return (
            false,
            "the template is rebuilt by production runs, never pruned".into(),
        );
    }
    if !m.trusted() {
        return match live {
            Some((_, names)) if !names.contains(&m.name) => (
                true,
                "its record does not match its name (rewritten?), and no live branch can have this name".into(),
            ),
            _ => (
                false,
                "its record does not match its name (rewritten?); kept, inspect it".into(),
            ),
        };
    }
    match m.record.kind {
        Kind::Production => return (false, "production is never pruned".into()),
        Kind::Template => {
            return (
                false,
                "the template is rebuilt by production runs, never pruned".into(),
            );
        }
        Kind::Preview if !include_previews => {
            return (false, "previews are kept without --include-previews".into());
        }
        _ => {}
    }
    if let (Kind::Branch, Some((live, _)), Some(branch)) = (m.record.kind, live, &m.record.branch)
        && !live.contains(branch)
    {
        return (true, format!("branch `{branch}` no longer exists"));
    }
    let deployed = m
        .record
        .last_deployed_at
        .as_deref()
        .unwrap_or(&m.record.created_at);
    if let Some(age) = older_than {
        match epoch_seconds(deployed) {
            // Checked: an age beyond i64 seconds must mean "nothing is that old", not wrap
            // around to a negative limit that everything exceeds.
            Some(at)
                if now
                    .checked_sub(at)
                    .zip(i64::try_from(age.as_secs()).ok())
                    .is_some_and(|(since, limit)| since > limit) =>
            {
                let days = (now - at) / 86_400;
                return (
                    true,
                    format!("not deployed for {days} days (last {deployed})"),
                );
            }
            Some(_) => {}
            None => return (false, format!("unreadable deploy time `{deployed}`; kept")),
        }
    }
    let why = match (m.record.kind, &m.record.branch, live) {
        (Kind::Branch, Some(branch), Some(_)) => format!("branch `{branch}` still exists"),
        _ => "not older than the limit".to_string(),
    };
    (false, format!("{why} (last deployed {deployed})"))
}

/// The live branches: `git ls-remote --heads origin`, a file, or standard input. Lines may be
/// bare names, `refs/heads/<name>`, or ls-remote's `<sha>\trefs/heads/<name>`. An empty list is
/// refused: it would mean every branch is gone.
fn live_branches(source: &str, config: &Config) -> Result<BTreeSet<String>> {
    let text = match source {
        "git" => {
            let output = std::process::Command::new("git")
                .args(["ls-remote", "--heads", "origin"])
                .current_dir(&config.root)
                .output()
                .map_err(|e| {
                    Error::usage(format!("could not run git ls-remote: {e}"))
                        .with_hint("install git, or pass a file with --branches-from")
                })?;
            if !output.status.success() {
                return Err(Error::usage(format!(
                    "git ls-remote --heads origin failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            // Local branches count as live too: one that was never pushed (a database made
            // by `deploydb run` on a laptop) is not gone.
            let local = std::process::Command::new("git")
                .args(["for-each-ref", "--format=%(refname)", "refs/heads"])
                .current_dir(&config.root)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            String::from_utf8_lossy(&output.stdout).into_owned() + &local
        }
        "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Error::usage(format!("could not read branches from standard input: {e}"))
            })?;
            text
        }
        path => std::fs::read_to_string(path)
            .map_err(|e| Error::usage(format!("could not read the branch list {path}: {e}")))?,
    };
    let branches: BTreeSet<String> = text
        .lines()
        .filter_map(|line| {
            let reference = line.split_whitespace().last()?;
            Some(
                reference
                    .strip_prefix("refs/heads/")
                    .unwrap_or(reference)
                    .to_string(),
            )
        })
        .collect();
    if branches.is_empty() {
        return Err(Error::usage(format!(
            "the branch list from `{source}` is empty; refusing to treat every branch as gone"
        )));
    }
    Ok(branches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::ownership::Ownership;

    fn managed(kind: Kind, branch: Option<&str>, deployed: &str) -> Managed {
        let name = match kind {
            Kind::Production => naming::production("shop"),
            Kind::Preview => naming::preview("shop"),
            Kind::Template => naming::template("shop"),
            Kind::Branch => naming::branch("shop", branch.unwrap()),
        };
        Managed {
            owner: name.clone(),
            name,
            record: Ownership {
                managed_by: "deploydb".into(),
                app: "shop".into(),
                kind,
                branch: branch.map(str::to_string),
                pr: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                last_deployed_at: Some(deployed.into()),
                key_id: None,
            },
            size: None,
        }
    }

    #[test]
    fn decisions() {
        let now = epoch_seconds("2026-11-21T00:00:00Z").unwrap();
        let live: BTreeSet<String> = ["main".to_string(), "kept".to_string()].into();
        let names = live_names("shop", &live);
        let live = Some((&live, &names));
        let old = "2026-10-01T00:00:00Z";
        let fresh = "2026-11-20T00:00:00Z";
        let two_weeks = Some(Duration::from_secs(14 * 86_400));
        let decide =
            |m: &Managed, live, age, previews| decide(m, "shop", live, age, previews, now).0;
        assert!(!decide(
            &managed(Kind::Production, Some("main"), old),
            live,
            two_weeks,
            true
        ));
        assert!(decide(
            &managed(Kind::Branch, Some("gone"), fresh),
            live,
            None,
            false
        ));
        assert!(!decide(
            &managed(Kind::Branch, Some("kept"), fresh),
            live,
            two_weeks,
            false
        ));
        assert!(decide(
            &managed(Kind::Branch, Some("kept"), old),
            live,
            two_weeks,
            false
        ));
        assert!(!decide(
            &managed(Kind::Preview, None, old),
            None,
            two_weeks,
            false
        ));
        assert!(decide(
            &managed(Kind::Preview, None, old),
            None,
            two_weeks,
            true
        ));

        // A branch database whose owner relabelled it: as production (kept by name only for
        // the real production name), as a live branch, or as another app's.
        let mut relabelled = managed(Kind::Branch, Some("gone"), fresh);
        relabelled.record.kind = Kind::Production;
        assert!(decide(&relabelled, live, None, false));
        let mut relabelled = managed(Kind::Branch, Some("gone"), fresh);
        relabelled.record.branch = Some("main".into());
        assert!(decide(&relabelled, live, None, false));
        assert!(
            !decide(&relabelled, None, two_weeks, false),
            "no live list: kept"
        );
        let mut relabelled = managed(Kind::Branch, Some("gone"), fresh);
        relabelled.record.app = "other".into();
        assert!(relabelled.of_app("shop") && !relabelled.of_app("other"));
        // Production's database relabelled as a gone branch is still production.
        let mut production = managed(Kind::Production, Some("main"), old);
        production.record.kind = Kind::Branch;
        production.record.branch = Some("gone".into());
        assert!(!decide(&production, live, two_weeks, true));
    }
}
