//! Command-line parsing, the one place errors are printed, and exit codes
//! (0 ok, 1 checks failed, 2 error; see [`crate::error`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::args::*;
use crate::commands;
use crate::error::{EXIT_ERROR, Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "ordertrail",
    version,
    about = "Trade-reporting pipeline: replica tables -> Parquet lake -> versioned SQL stages -> reports"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars or progress lines on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The project folder (sql/, config/, data-fixtures/) [default: the working directory]
    #[arg(long, value_name = "DIR", global = true)]
    pub project: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stage DAG (or the named stages and what they read) for one trade date.
    Run(RunArgs),
    /// List the stages in dependency order with their inputs and output.
    Stages(StagesArgs),
    /// Load the bundled fixture day into a fresh lake, run everything, print a summary.
    Demo(DemoArgs),
    /// Load a fixture directory (CSV per source table) into a lake's raw tables.
    Load(LoadArgs),
    /// Run ad-hoc SQL over a lake (sources as <db>.<table>, stages by name).
    Query(QueryArgs),
    /// Write the report files of every configured destination for one trade date.
    Report(ReportArgs),
    /// Check CAT order-event files (ours or another system's) against the CAT IM Tech Specs:
    /// syntax, linkage, timeliness, meta files; exit 1 on any error.
    ValidateCat(ValidateCatArgs),
    /// Dump the configured MySQL replica tables' window for a date into the lake, verified.
    Sync(SyncArgs),
    /// Compare a date's raw partitions in the lake with the replicas (rows and checksums).
    Verify(VerifyArgs),
    /// Run the correctness checks for one trade date; exit 1 when an error-level check fails.
    Check(CheckArgs),
    /// Write a synthetic raw trading day (N orders, deterministic for a seed) into a lake.
    Gen(GenArgs),
    /// Show a trade date's windows by stage: done, stale (and why), failed, running.
    Status(StatusArgs),
    /// Run the jobs of a schedule file: intraday windows, the nightly batch, catch-up.
    Schedule(ScheduleArgs),
    /// Land source rows from NATS JetStream or RabbitMQ in the lake, acked after the commit.
    Ingest(IngestArgs),
    /// Publish a day's source rows to the feed, one JSON message per row.
    Publish(PublishArgs),
    /// The operator's console: a read-only web page of the lake's days, checks, report files,
    /// stage DAG and trends (localhost unless a token is set).
    Serve(ServeArgs),
    /// SQL unit tests: each case under <sql>/tests/<stage or check>/ gives a few rows and the
    /// rows the stage or check must return; exit 1 when one fails.
    Test(TestArgs),
    /// A new project in DIR (sql/, config/, the fixture days) from the files built into the
    /// binary; then `cd DIR && ordertrail demo`.
    Init(InitArgs),
    /// Compare a trade date on two lakes (prod and gamma) or two SQL versions of one lake:
    /// per stage rows and a content hash, keyed row diffs, report file hashes; exit 1 on any
    /// difference.
    Diff(DiffArgs),
    /// Where a stage's columns come from (down to raw columns and FIX tags) and what reads
    /// them, from the logical plans; --format svg draws the stage DAG.
    Lineage(LineageArgs),
    /// One order's raw rows (its whole chain, the day before included) as a fixture
    /// directory: `load` + `run` on it reproduce the order's stage rows and report lines.
    Extract(ExtractArgs),
    /// A Ballista cluster's processes with ordertrail's functions compiled in: `scheduler`,
    /// `executor` (a build with `--features cluster`); commands reach it with --cluster.
    Cluster(ClusterArgs),
}

/// Entry point: parse, run, print any error once, return the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    crate::progress::set_quiet(cli.quiet);
    if let Some(dir) = &cli.project {
        crate::project::set_project(dir.clone());
    }
    // Plans are encoded, decoded and optimized recursively; a cluster's scheduler overflowed
    // 2 MiB worker stacks on the chain stages' plans (Ballista's own binaries use 32 MiB).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ordertrail: cannot start the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err);
            err.exit_code()
        }
    }
}

async fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => {
            again_if_executor_lost("run", || commands::run::run(args.clone())).await
        }
        Command::Stages(args) => commands::stages::run(args),
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Load(args) => commands::load::run(args),
        Command::Query(args) => commands::query::run(args).await,
        Command::Report(args) => {
            again_if_executor_lost("report", || commands::report::run(args.clone())).await
        }
        Command::ValidateCat(args) => commands::validate_cat::run(args),
        Command::Check(args) => {
            again_if_executor_lost("check", || commands::check::run(args.clone())).await
        }
        Command::Gen(args) => commands::synth::run(args),
        Command::Status(args) => commands::status::run(args).await,
        Command::Schedule(args) => commands::schedule::run(args).await,
        Command::Sync(args) => commands::sync::run(args).await,
        Command::Verify(args) => commands::verify::run(args).await,
        Command::Ingest(args) => commands::ingest::run(args).await,
        Command::Publish(args) => commands::ingest::publish(args).await,
        Command::Serve(args) => commands::serve::run(args).await,
        Command::Test(args) => commands::test::run(args).await,
        Command::Init(args) => commands::init::run(args),
        Command::Diff(args) => commands::diff::run(args).await,
        Command::Lineage(args) => commands::lineage::run(args).await,
        Command::Extract(args) => commands::extract::run(args).await,
        Command::Cluster(args) => commands::cluster::run(args).await,
    }
}

/// How many times a command that lost a cluster executor runs again.
const LOST_EXECUTOR_RETRIES: usize = 2;

/// Run a command again, up to [`LOST_EXECUTOR_RETRIES`] times, when it failed because a
/// cluster lost the executor it was reading rows from ([`Error::is_executor_lost`]). Ballista
/// reruns a lost executor's tasks while a job runs, but the client reads a finished job's rows
/// from the executors that hold them, and an executor lost then fails the query. A command
/// writes nothing it has not finished and checks its state against the lake, so running it
/// again redoes only what is not done; the scheduler gives the new jobs the executors left.
async fn again_if_executor_lost<F, Fut>(what: &str, mut attempt: F) -> Result<i32>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<i32>>,
{
    let mut lost = 0;
    loop {
        match attempt().await {
            Err(e) if e.is_executor_lost() && lost < LOST_EXECUTOR_RETRIES => {
                lost += 1;
                tracing::warn!(
                    "{what}: the cluster lost an executor it read rows from; running the \
                     command again ({lost} of {LOST_EXECUTOR_RETRIES}): {e}"
                );
            }
            other => return other,
        }
    }
}

fn print_error(err: &Error) {
    let mut text = format!("ordertrail: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(&format!("\n  caused by: {s_text}"));
        }
        source = s.source();
    }
    eprintln!("{text}");
    if let Some(hint) = err.hint() {
        eprintln!("\nhint: {hint}");
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "ordertrail=info",
        _ => "ordertrail=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
