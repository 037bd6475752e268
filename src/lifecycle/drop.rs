//! `deploydb drop`: one timeline's database and its role. Production needs `--production`,
//! `--yes` and its exact name; a database without deploydb's record is never dropped.

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Kind as ErrorKind, Result, exit};
use crate::instance::{self, ensure::Session, ownership::Ownership};
use crate::report::inert;
use crate::timeline::Kind;

pub struct Options<'a> {
    pub yes: bool,
    pub dry_run: bool,
    pub production: bool,
    pub confirm: Option<&'a str>,
    /// One JSON document instead of a sentence: `database`, `existed`, `dropped`,
    /// `role_dropped`, `dry_run`.
    pub json: bool,
}

fn say(
    options: &Options<'_>,
    text: String,
    database: &str,
    existed: bool,
    dropped: bool,
    role: bool,
) {
    if options.json {
        println!(
            "{}",
            serde_json::json!({
                "database": database,
                "existed": existed,
                "dropped": dropped,
                "role_dropped": role,
                "dry_run": options.dry_run,
            })
        );
    } else {
        println!("{text}");
    }
}

pub async fn run(config: &Config, env: &Env, options: Options<'_>) -> Result<i32> {
    if config.timeline.is_none() {
        return Err(
            Error::usage("drop needs the timeline named explicitly").with_hint(
                "pass --timeline branch:<name>, pr:<number> or preview (or set DEPLOYDB_TIMELINE)",
            ),
        );
    }
    let (timeline, _) = crate::pipeline::resolve_timeline(config, env)?;
    let admin = instance::admin(config, env)?;
    let session = Session::open(&admin, config.connect_timeout).await?;
    let resolved = session.resolve(&config.app, &timeline).await?;
    let name = resolved.database.as_str();
    if timeline.kind == Kind::Production
        && !(options.production && options.yes && options.confirm == Some(name))
    {
        return Err(
            Error::usage(format!("refusing to drop production database {name}")).with_hint(
                format!("if you really mean it: --production --yes --confirm {name}"),
            ),
        );
    }
    let Some(existing) = &resolved.existing else {
        say(
            &options,
            format!("nothing to drop: database {name} does not exist"),
            name,
            false,
            false,
            false,
        );
        return Ok(exit::OK);
    };
    let record = existing.comment.as_deref().and_then(Ownership::parse);
    match record {
        Some(r) if r.same_timeline(&config.app, &timeline) && r.matches_name(name) => {}
        Some(r) if !r.matches_name(name) => {
            return Err(Error::new(
                ErrorKind::Server,
                format!(
                    "database {name} carries a deploydb record that does not match its name (its owner may have rewritten it); nothing was dropped"
                ),
            )
            .with_hint("inspect it; `deploydb prune` drops such a branch database when no live branch can have its name"));
        }
        Some(r) => {
            return Err(Error::new(
                ErrorKind::Server,
                format!(
                    "database {name} belongs to app `{}` ({} timeline), not this timeline; nothing was dropped",
                    inert(&r.app),
                    r.kind.as_str()
                ),
            ));
        }
        None => {
            return Err(Error::new(
                ErrorKind::Server,
                format!("database {name} was not created by deploydb (no ownership record); nothing was dropped"),
            )
            .with_hint("drop it yourself if it should go"));
        }
    }
    if options.dry_run {
        say(
            &options,
            format!("would drop database {name} and its role (dry run)"),
            name,
            true,
            false,
            false,
        );
        return Ok(exit::OK);
    }
    if !options.yes {
        return Err(Error::usage(format!(
            "dropping {name} deletes its data; add --yes to go ahead"
        ))
        .with_hint("--dry-run shows what would go"));
    }
    let outcome = session.drop_timeline(name, &config.app).await?;
    let text = format!(
        "dropped database {name}{}",
        if outcome.role_dropped {
            " and its role"
        } else {
            ""
        }
    );
    say(&options, text, name, true, true, outcome.role_dropped);
    Ok(exit::OK)
}
