//! ordertrail: trade-reporting pipeline. Replica tables land in a lake of hive-partitioned
//! Parquet; versioned SQL stages run on an embedded DataFusion engine; reports and checks are
//! built from the stage outputs.
//!
//! Where things live:
//! - [`sources`]: the raw tables, declared in `sql/sources.sql`
//! - [`lake`]: directory layout and atomic partition writes
//! - [`stages`]: stage discovery and the DAG derived from the SQL
//! - [`engine`]: the DataFusion session, table registration
//! - [`pipeline`]: running stages for a trade date
//! - [`metrics`]: per-stage timings as JSON, for benchmarks
//! - [`lineage`]: column lineage read off the stages' logical plans
//! - [`extract`]: one order's raw rows as a fixture directory, to reproduce a report
//! - [`diff`]: one date on two lakes or two SQL versions, stage by stage and file by file
//! - [`sqltest`]: SQL unit tests, a few rows in and the rows expected (`ordertrail test`)
//! - [`day`]: a trade date's checks and report files after its stages, for every command
//! - [`checks`]: correctness checks (SQL under `checks/`), results and alerts
//! - [`reports`]: report files (CAT, OATS, summary, bars) from the report stages' rows
//! - [`udf`]: functions SQL cannot express (FIX parsing)
//! - [`config`]: report destinations and calendar overrides (`config/ordertrail.toml`)
//! - [`fixtures`]: loading CSV fixture days into the lake
//! - [`synth`]: synthetic raw trading days at any scale, deterministic for a seed
//! - [`sync`]: MySQL replica tables into the lake by time window, verified against the source
//! - [`ingest`]: the real-time feed, NATS JetStream or RabbitMQ into the lake, acked after commit
//! - [`calendar`]: NYSE trading days and holidays
//! - [`console`]: the operator's web page over a lake (`serve`); [`html`]: its building blocks
//! - [`project`]: the SQL folder, sources and config a command works in
//! - [`intervals`]: windows of a day, their state in the lake, what is stale; [`window`]: a window
//! - [`signal`]: stopping on SIGTERM and the tests' crash points; [`resources`]: memory and CPU
//! - [`cli`], [`args`] and [`commands`]: the command line, one file per subcommand
//!
//! Modules import downwards only: `tests/layout.rs` fails on an import circle.

pub mod args;
pub mod calendar;
pub mod checks;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod commands;
pub mod config;
pub mod console;
pub mod day;
pub mod diff;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fixtures;
pub mod html;
pub mod ingest;
pub mod intervals;
pub mod lake;
pub mod lineage;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod project;
pub mod reports;
pub mod resources;
pub mod schedule;
pub mod signal;
pub mod sources;
pub mod sqltest;
pub mod stages;
pub mod sync;
pub mod synth;
pub mod udf;
pub mod window;

pub use error::{Error, Result};
