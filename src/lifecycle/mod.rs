//! What happens after a database is created: checking the linked server, listing deploydb's
//! databases, dropping one timeline's, and pruning those whose branch is gone or that were not
//! deployed for a while. The catalog (each database's ownership comment) is the only state, and
//! production is never touched without being named in full.

pub mod check;
pub mod drop;
pub mod list;
pub mod prune;
