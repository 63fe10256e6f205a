//! The command line's arguments, one struct per subcommand (clap derive). The commands take
//! them; the command line (`cli.rs`) parses them and dispatches.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// The feed configuration: broker, stream or queue, batches (see config/ingest.example.toml)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Stop once the feed is caught up (nothing pending) instead of running until SIGTERM
    #[arg(long)]
    pub once: bool,
    /// Source table declarations [default: sql/sources.sql]
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The feed configuration (see config/ingest.example.toml)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Publish a fixture directory's rows (CSV per source table)
    #[arg(long, value_name = "DIR", conflicts_with = "lake")]
    pub fixtures: Option<PathBuf>,
    /// Publish the rows a lake holds for --date
    #[arg(long, value_name = "DIR", requires = "date")]
    pub lake: Option<PathBuf>,
    /// Trade date to publish from --lake, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
    /// Also publish every N-th message a second time (a publisher retrying)
    #[arg(long, value_name = "N")]
    pub repeat_every: Option<usize>,
    /// Publish at this many messages per second (as a live source would) [default: as fast
    /// as the broker confirms]
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Source table declarations [default: sql/sources.sql]
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// The schedule file (see config/schedule.example.toml)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run what is due now, including ticks missed while the scheduler was down, then exit
    #[arg(long)]
    pub once: bool,
    /// Show the job history and exit
    #[arg(long)]
    pub history: bool,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Also list the processing log (every attempt, with its owner)
    #[arg(long)]
    pub log: bool,
    #[command(flatten)]
    pub sql: SqlArgs,
}

/// The operator's console: a read-only web page of the lake's days (windows by stage, checks,
/// report files), the stage DAG and trends. Localhost only unless a token is set.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The lake to show
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Where report files are (`report --out`; the demo's: out/demo/reports)
    #[arg(long, value_name = "DIR", default_value = "out/reports")]
    pub reports: PathBuf,
    /// Address to listen on; anything but localhost needs --token (port 0: a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Token every request must carry (Authorization: Bearer, or ?token= once)
    #[arg(long, env = "ORDERTRAIL_CONSOLE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds between the refreshes of an open page (0: never)
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub refresh_secs: u64,
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExtractArgs {
    /// The lake the order is in (run for the date)
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// The trade date it was reported on
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// The OMS order id (or chain id)
    #[arg(long, value_name = "ID")]
    pub order: String,
    /// The new fixture directory (new or empty)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace account numbers consistently (columns and FIX text)
    #[arg(long)]
    pub pseudonymise: bool,
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LineageArgs {
    /// STAGE or STAGE.COLUMN (not needed for --format svg)
    pub target: Option<String>,
    /// text, json, dot (Graphviz), or svg (the stage DAG)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: String,
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The trade date compared
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Side A's lake
    #[arg(long, value_name = "DIR")]
    pub lake_a: PathBuf,
    /// Side B's lake [default: side A's]
    #[arg(long, value_name = "DIR")]
    pub lake_b: Option<PathBuf>,
    /// Side A's SQL version (stages/<version>/) [default: the --sql folder's name]
    #[arg(long, value_name = "NAME")]
    pub version_a: Option<String>,
    /// Side B's SQL version [default: side A's]
    #[arg(long, value_name = "NAME")]
    pub version_b: Option<String>,
    /// Side A's report files (report --out), to compare file by file
    #[arg(long, value_name = "DIR", requires = "reports_b")]
    pub reports_a: Option<PathBuf>,
    /// Side B's report files
    #[arg(long, value_name = "DIR", requires = "reports_a")]
    pub reports_b: Option<PathBuf>,
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The new project's folder (new or empty)
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// Only the cases of this stage or check (repeatable)
    #[arg(long = "stage", value_name = "NAME")]
    pub stages: Vec<String>,
    #[command(flatten)]
    pub sql: SqlArgs,
}

/// Where the SQL lives.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// Versioned SQL folder holding the stages [default: sql/v1]
    #[arg(long, value_name = "DIR")]
    pub sql: Option<PathBuf>,
    /// Source table declarations [default: sources.sql beside the SQL folder]
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
    /// Destinations and calendar [default: config/ordertrail.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl SqlArgs {
    /// The project these flags name (see [`Project::load`]).
    pub fn project(&self) -> crate::error::Result<crate::project::Project> {
        crate::project::Project::load(
            self.sql.as_deref(),
            self.sources.as_deref(),
            self.config.as_deref(),
        )
    }
}

#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub process: ClusterProcess,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClusterProcess {
    /// The scheduler: takes queries from ordertrail commands (--cluster) and hands their tasks
    /// to executors.
    Scheduler {
        /// Address to listen on
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Seconds an executor may go without asking for work (it asks at least every 5 s,
        /// busy or not) before it is taken for lost and its tasks run again on the others
        /// [at least 6]
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        executor_timeout: u64,
    },
    /// An executor: runs tasks the scheduler hands it; reads the lake by the paths the
    /// commands registered, so it must reach the same files.
    Executor {
        /// The scheduler's address (a host name or an IP address)
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
        scheduler: (String, u16),
        /// Address to listen on (its Arrow Flight port; the gRPC port is --grpc-port)
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// Port for the scheduler's task calls
        #[arg(long, value_name = "PORT", default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once [default: the number of cores]
        #[arg(long, value_name = "N")]
        concurrent_tasks: Option<usize>,
        /// Where shuffle files go [default: a temporary directory]
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Memory the executor's tasks share before they spill, e.g. 4G (each task gets its
        /// share by --concurrent-tasks) [default: most of the machine's]
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<usize>,
        /// The host name the scheduler and other executors reach this one by [default: the
        /// --bind address; with 0.0.0.0, the address the scheduler sees it connect from]
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
    },
}

/// `HOST:PORT`, the host a name or an address (`[v6]:port` too).
fn parse_host_port(s: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}` is not HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{port}` in `{s}` is not a port number"))?;
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    Ok((host.to_string(), port))
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Memory the engine may use before spilling, e.g. 2G, 512M [default: half the RAM]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<usize>,
    /// The lake's bucket count: chain stages are written as this many bucket partitions
    /// (recorded in the lake when its stages are first written; a lake keeps its count)
    /// [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub buckets: Option<u16>,
    /// Buckets processed at once, sharing --memory-limit [default: the number of cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    /// Run the queries on the Ballista cluster whose scheduler is at HOST:PORT (a build with
    /// `--features cluster`; see `ordertrail cluster`)
    #[arg(long, value_name = "HOST:PORT", env = "ORDERTRAIL_CLUSTER")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Process windows from this time of the trade date, UTC [default: 00:00]. Earlier
    /// windows that are not done are processed first: a window needs the state before it.
    #[arg(long, value_name = "HH:MM")]
    pub from: Option<String>,
    /// Process windows up to this time (exclusive) [default: 24:00]
    #[arg(long, value_name = "HH:MM")]
    pub to: Option<String>,
    /// Window length [default: 30m with --from/--to, else the whole day]
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Reprocess the range even where it is done and current
    #[arg(long)]
    pub restate: bool,
    /// Take over a claim on the date whose owner has not been heard from for this long
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub claim_timeout: String,
    /// Take over a damaged claim file, or a claim held from another host, at once instead of
    /// after the claim timeout (only when you know no run is processing the date)
    #[arg(long)]
    pub take_over: bool,
    /// Run only this stage and the stages it reads, for the whole day, outside the interval
    /// state (for working on a stage; repeatable)
    #[arg(long = "stage", value_name = "NAME")]
    pub stages: Vec<String>,
    /// Do not run the checks after the day is complete
    #[arg(long)]
    pub no_checks: bool,
    /// Write per-stage and per-check timings, rows and peak memory to FILE as JSON
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StagesArgs {
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where the demo lake is written; a previous demo there is replaced
    #[arg(long, value_name = "DIR", default_value = "out/demo")]
    pub out: PathBuf,
    /// Fixture directory [default: data-fixtures]
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Fixture directory [default: data-fixtures]
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    #[command(flatten)]
    pub sql: SqlArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The lake directory (the pipeline must have run for the date)
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// External reconciliation totals: CSV with header metric,value
    #[arg(long, value_name = "FILE")]
    pub recon: Option<PathBuf>,
    /// Where check_results.json and check_report.md go [default: <lake>/checks/<version>/trade_date=D]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only this check (its file stem; repeat for more). The results are printed, and
    /// written only to --out: the default folder keeps the day's results of every check
    #[arg(long = "check", value_name = "NAME")]
    pub checks: Vec<String>,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The lake directory (the pipeline must have run for the date)
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Where report files go: <out>/<date>/<destination>/
    #[arg(long, value_name = "DIR", default_value = "out/reports")]
    pub out: PathBuf,
    /// Write reports even for a weekend or exchange holiday, keep CAT files that fail
    /// validation, and report a day whose next trade date is not processed
    #[arg(long)]
    pub force: bool,
    /// Only these destinations (repeatable) [default: every destination in the config]
    #[arg(long = "destination", value_name = "NAME")]
    pub destinations: Vec<String>,
    /// Write per-stage timings, rows and peak memory to FILE as JSON
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateCatArgs {
    /// CAT data files (*.json.bz2, *.json) or folders holding them
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Earlier days' files or folders, read only to resolve orders that started before
    #[arg(long, value_name = "FILE|DIR")]
    pub context: Vec<PathBuf>,
    /// When the files are submitted (Eastern Time, YYYY-MM-DDTHH:MM:SS): events of day T
    /// submitted after 08:00 ET on T+1 are reported late (a warning)
    #[arg(long, value_name = "TIME")]
    pub submitted_at: Option<chrono::NaiveDateTime>,
    /// Largest compressed data file accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::reports::cat_validate::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
    /// Print the result as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Bind $trade_date to this date
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
    /// The SQL query
    pub query: String,
    #[command(flatten)]
    pub sql: SqlArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Sync configuration: sources, tables, limits (see config/sync.example.toml)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD: the window is that UTC day
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Start of a partial window, a UTC time of day (rows outside it are kept)
    #[arg(long, value_name = "HH:MM[:SS]")]
    pub from: Option<String>,
    /// End (exclusive) of a partial window, a UTC time of day or 24:00
    #[arg(long, value_name = "HH:MM[:SS]")]
    pub to: Option<String>,
    /// Only this table, `db.table` or `table` (repeatable) [default: every configured table]
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// Source table declarations [default: sql/sources.sql]
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Sync configuration: sources, tables, limits (see config/sync.example.toml)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The lake directory
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Trade date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Only this table, `db.table` or `table` (repeatable) [default: every configured table]
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// Source table declarations [default: sql/sources.sql]
    #[arg(long, value_name = "FILE")]
    pub sources: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// Number of client orders to generate
    #[arg(long, value_name = "N")]
    pub orders: u64,
    /// Trade date, YYYY-MM-DD: every generated row falls on it (UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// Generate this many consecutive calendar dates from --date, --orders each: ids unique
    /// across dates, balances carried over, some GTC orders filled on the next date
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub days: u32,
    /// The lake directory; the date's raw partitions there are replaced
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// Seed: the same orders, date and seed give byte-identical files
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub sql: SqlArgs,
}

/// Parse `512M`, `2G`, `1073741824`.
pub fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult: usize = match s[i..].to_ascii_uppercase().trim_end_matches(['B', 'I']) {
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                "" => 1,
                other => return Err(format!("unknown size unit '{other}' (use K, M, G)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size like 512M or 2G"))?;
    if n <= 0.0 {
        return Err("size must be positive".into());
    }
    Ok((n * mult as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
    }
}
