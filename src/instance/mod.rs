//! The linked PostgreSQL server: parsing its admin URL, connecting, ensuring a timeline's
//! database, and the local clusters deploydb can run itself.

pub mod connect;
pub mod conninfo;
pub mod ensure;
pub mod local;
pub mod ownership;

use crate::config::Config;
use crate::env::Env;
use crate::error::{Error, Result};
use conninfo::ConnInfo;

/// The admin connection: from the variable named by `[instance] url_env`, or, when that is
/// unset, the embedded local cluster (started on demand).
pub fn admin(config: &Config, env: &Env) -> Result<ConnInfo> {
    match env.get(&config.url_env) {
        Some(url) => ConnInfo::parse(url).map_err(|reason| {
            Error::usage(format!("the admin URL in ${} cannot be used: {reason}", config.url_env))
                .with_hint("write it as postgresql://USER:PASSWORD@HOST:PORT/postgres, with special characters percent-encoded")
        }),
        None => local::embedded(env),
    }
}
