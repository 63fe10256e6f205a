//! One file per subcommand, each taking its arguments (see [`crate::args`]). Shared here: the
//! engine options the flags give.

pub mod check;
pub mod cluster;
pub mod demo;
pub mod diff;
pub mod extract;
pub mod ingest;
pub mod init;
pub mod lineage;
pub mod load;
pub mod query;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod stages;
pub mod status;
pub mod sync;
pub mod synth;
pub mod test;
pub mod validate_cat;
pub mod verify;

use crate::args::EngineArgs;
use crate::engine::EngineOptions;

pub fn engine_options(args: &EngineArgs) -> EngineOptions {
    let mut options = EngineOptions::default();
    if let Some(limit) = args.memory_limit {
        options.memory_limit = limit;
    }
    options.buckets = args.buckets.map(usize::from);
    if let Some(jobs) = args.jobs {
        options.jobs = usize::from(jobs);
    }
    options.cluster = args.cluster.clone();
    options
}
