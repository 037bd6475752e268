//! End-to-end tests: the real `deploydb` binary against real PostgreSQL servers started by the
//! harness, in temp repositories, with fake CI environments. One binary, a module per concern.

#![cfg(unix)] // The harness runs PostgreSQL as the `postgres` account and uses Unix process groups.

mod clients;
mod detect_rules;
mod detection;
mod hostile_repo;
mod hostile_role;
mod lifecycle;
mod output;
mod pgbouncer;
mod pipeline;
mod pipelines;
mod psql;
mod real_repos;
mod release;
mod security;
mod servers;
mod ship;
mod support;
