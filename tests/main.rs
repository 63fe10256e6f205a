//! Integration tests: one binary (each test binary links all of DataFusion).
//!
//! Where a new test goes:
//! - `pipeline.rs`: golden outputs of every stage on the fixture day, reruns, parameters
//! - `scenarios.rs`: per fixture scenario, the event_status and reportable flag it must get
//! - `dag.rs`: the stage DAG derived from the SQL
//! - `lineage.rs`: column lineage from the logical plans (`ordertrail lineage`)
//! - `reports.rs`: report files: formats, CAT event sequences per scenario, determinism
//! - `cat_validate.rs`: `validate-cat` on a valid day and a corpus of broken files
//! - `checks.rs`: correctness checks on the clean day and the defect day
//! - `console.rs`: the operator's console (`serve`) in headless chromium, and its defences
//! - `diff.rs`: `ordertrail diff` and `test` on a deliberately changed rule
//! - `extract.rs`: one order's raw rows as fixtures reproduce its rows and report lines
//! - `cluster.rs` (`--features cluster`): the fixture days and a generated day on a real
//!   Ballista scheduler and two executors, byte for byte against a local run, also with an
//!   executor lost mid-run
//! - `cli.rs`: whole invocations of the binary: exit codes and error messages on bad input
//! - `sqltest.rs`: the SQL unit tests under sql/v1/tests/ (`ordertrail test`)
//! - `synth.rs`: the synthetic-day generator (`ordertrail gen`): determinism, checks pass
//! - `schedule.rs`: the scheduler with a controllable clock: order, catch-up, concurrency
//! - `windows.rs`: time windows, interval state, claims, staleness (issue #6)
//! - `sync.rs`: replica sync and verify against a real MariaDB (required when CI=true)
//! - `layout.rs`: the crate's modules import downwards only (no import circles)
//! - `ingest.rs`: the real-time feed against a real NATS server (started per test) and RabbitMQ
//!
//! Shared helpers live in `common/`. Golden files live in `golden/`; after a reviewed change,
//! regenerate them with `ORDERTRAIL_BLESS=1 cargo test` and say why in the commit.

mod common;

mod cat_validate;
mod checks;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod console;
mod dag;
mod diff;
mod extract;
mod ingest;
mod layout;
mod lineage;
mod pipeline;
mod reports;
mod scenarios;
mod schedule;
mod sqltest;
mod sync;
mod synth;
mod windows;
