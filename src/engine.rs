//! The embedded DataFusion engine: one `SessionContext` per run, with ordertrail's UDFs, a
//! bounded memory pool that spills to disk, and the lake's tables registered by name.
//!
//! Raw sources are registered as `<db>.<table>` (typed from `sql/sources.sql`), stage outputs as
//! bare `<stage>`; both are hive-partitioned by `trade_date` (a DATE) so a stage's
//! `where trade_date = $trade_date` reads one partition.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::common::config::{ConfigNonZeroUsize, SpillCompression};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, IoContext, Result};
use crate::lake::{BUCKET_COLUMN, Lake, PARTITION_COLUMN};
use crate::sources::SourceTable;
use crate::udf;

/// Spill files one external-sort merge pass reads at once. Each open run holds two of its
/// largest batches, and DataFusion's default (no limit) lets one sort's merge take the whole
/// pool, so the next operator fails: at 1M orders a stage's final ORDER BY of ~70-column rows
/// opened enough runs to hold 1.9 GB. More runs than this are merged in several passes.
const SPILL_MERGE_FAN_IN: usize = 8;

/// How the engine may use the machine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Bytes of memory the process should stay within. The engine's pool gets
    /// [`pool_size`] of it; operators spill (or fail, if they cannot) beyond that.
    pub memory_limit: usize,
    /// Parallelism; defaults to the number of cores.
    pub target_partitions: usize,
    /// The lake's bucket count, when a lake with none recorded is written first (see
    /// [`BucketPlan`]); `None`: [`DEFAULT_BUCKETS`].
    pub buckets: Option<usize>,
    /// Buckets run at once (each with `target_partitions / jobs` threads); defaults to the
    /// number of cores.
    pub jobs: usize,
    /// A Ballista scheduler (`HOST:PORT`) that runs the queries (`--features cluster`);
    /// `None`: this process runs them.
    pub cluster: Option<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            memory_limit: default_memory_limit(),
            target_partitions: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            buckets: None,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            cluster: None,
        }
    }
}

/// Half of the machine's memory (from /proc/meminfo), or 2 GiB when unknown.
pub fn default_memory_limit() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<usize>().ok())
    });
    match total_kib {
        Some(kib) => kib * 1024 / 2,
        None => 2 << 30,
    }
}

/// Share of `--memory-limit` kept out of the engine's memory pool, for what the pool does not
/// account: Parquet decoding and writing buffers, batches in flight between operators, split
/// writers, the allocator's own overhead. With the whole limit as the pool, peak RSS at 1M
/// orders under 2G was 2.2 GB; see bench/NOTES.md.
const UNTRACKED_SHARE: f64 = 0.25;

/// Bytes the engine's memory pool may hand out under a process memory limit of `limit`.
pub fn pool_size(limit: usize) -> usize {
    limit - (limit as f64 * UNTRACKED_SHARE) as usize
}

/// The hive partition columns of a lake table: `trade_date`, and `bucket` for a bucketed stage.
fn partition_cols(bucketed: bool) -> Vec<(String, DataType)> {
    let mut cols = vec![(PARTITION_COLUMN.to_string(), DataType::Date32)];
    if bucketed {
        cols.push((BUCKET_COLUMN.to_string(), DataType::Int64));
    }
    cols
}

/// A fresh context for one run over `lake`.
pub fn new_context(lake: &Lake, options: &EngineOptions) -> Result<SessionContext> {
    lake.ensure_writable()?;
    // Scratch of killed runs (bucket rows, spill files, writes aside) is never read again.
    for dir in crate::lake::remove_stale_scratch(lake.root()) {
        tracing::info!("removed scratch of a run that is gone: {}", dir.display());
    }
    // Spill files go to a folder of this process, so that a later run can tell they are stale.
    let spill = lake
        .root()
        .join(".tmp")
        .join("spill")
        .join(crate::lake::scratch_prefix(std::process::id()));
    std::fs::create_dir_all(&spill).map_err(|e| Error::io(&spill, e))?;
    // Partitions are replaced in place between stages of one run, so nothing about the files
    // may be cached: DataFusion's default list-files cache never expires.
    let caches = CacheManagerConfig::default()
        .with_list_files_cache_limit(0)
        .with_file_statistics_cache_limit(0)
        .with_metadata_cache_limit(0);
    // A fair pool: each spilling operator (sort, aggregate) gets an equal share of what the
    // non-spilling ones (hash join build sides, sort merges) leave, so one sorter cannot take
    // the whole pool and starve the merge of another (the greedy pool's failure at 1M orders).
    let pool = TrackConsumersPool::new(
        FairSpillPool::new(pool_size(options.memory_limit)),
        std::num::NonZeroUsize::new(5).expect("non-zero"),
    );
    let runtime = RuntimeEnvBuilder::new()
        .with_cache_manager(caches)
        .with_memory_pool(Arc::new(pool))
        .with_temp_file_path(spill)
        .with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN)
        .build_arc()?;
    // DATAFUSION_* environment variables tune the engine (e.g.
    // DATAFUSION_EXECUTION_BATCH_SIZE); ordertrail's own settings below take precedence.
    let mut config = SessionConfig::from_env()?
        .with_target_partitions(options.target_partitions.max(1))
        .with_information_schema(true);
    config.options_mut().sql_parser.collect_spans = true;
    // Strings are read as Utf8, not Utf8View. Views into shared buffers made the engine
    // account a 1.18M-row hash join build side of lifecycle at 1.3 GB (83 MB as Utf8) and
    // stages ran out of memory under 2G; as Utf8 that stage is also faster (40 s vs 56 s at
    // 1M orders).
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // Spill files are LZ4-compressed: at 1M orders session_fill under 2G spilled 4.1 GB instead
    // of 10.7 GB, no slower (87 s vs 91 s); at 10M the uncompressed spill passed 25 GB.
    config.options_mut().execution.spill_compression = SpillCompression::Lz4Frame;
    let config = config.with_extension(Arc::new(BucketPlan {
        buckets: options.buckets.unwrap_or(DEFAULT_BUCKETS),
        jobs: options.jobs.max(1),
    }));
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    udf::register_all(&ctx);
    Ok(ctx)
}

/// Buckets of a lake whose count was never given.
pub const DEFAULT_BUCKETS: usize = 8;

/// Most buckets a lake may have.
pub const MAX_BUCKETS: usize = 1000;

/// How the chain work is split: the lake's bucket count (`$buckets`) and how many buckets run
/// at once (kept in the session's configuration; see `pipeline`, "Buckets").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketPlan {
    pub buckets: usize,
    pub jobs: usize,
}

/// The session's [`BucketPlan`] (one bucket, one job for a context made elsewhere).
pub fn bucket_plan(ctx: &SessionContext) -> BucketPlan {
    ctx.state()
        .config()
        .get_extension::<BucketPlan>()
        .map(|p| *p)
        .unwrap_or(BucketPlan {
            buckets: 1,
            jobs: 1,
        })
}

/// Set the session's bucket count (the lake's, once resolved; see `pipeline::context_for`).
pub fn set_buckets(ctx: &SessionContext, buckets: usize) {
    let plan = BucketPlan {
        buckets,
        ..bucket_plan(ctx)
    };
    ctx.state_ref()
        .write()
        .config_mut()
        .set_extension(Arc::new(plan));
}

/// A context for one of `jobs` buckets running at once: the session's tables, functions,
/// memory pool and settings, with the cores shared between the jobs.
pub fn job_context(ctx: &SessionContext, jobs: usize) -> SessionContext {
    let state = ctx.state();
    let partitions = (state.config().target_partitions() / jobs.max(1)).max(1);
    // The catalogs are the session's (shared): creating a default catalog would replace its
    // tables for every context.
    let mut config = state
        .config()
        .clone()
        .with_create_default_catalog_and_schema(false);
    config.options_mut().execution.target_partitions = partitions;
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    SessionContext::new_with_state(state)
}

/// Run `runs` bucket runs, `jobs` at a time, each on a tokio task with a context of its own
/// ([`job_context`]: same tables and memory pool, the cores shared): `run(ctx, k)` computes
/// bucket `k`. The results come back in bucket order; the first error stops the runs not yet
/// started and aborts those running.
///
/// Stages and checks that run per bucket both go through here.
pub async fn run_buckets<T, F, Fut>(
    ctx: &SessionContext,
    runs: usize,
    jobs: usize,
    run: F,
) -> Result<Vec<T>>
where
    F: Fn(SessionContext, usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    use futures::{StreamExt, TryStreamExt};
    let jobs = jobs.clamp(1, runs.max(1));
    let job_ctx = match jobs {
        1 => ctx.clone(),
        n => job_context(ctx, n),
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let show = |n: usize| {
        if runs > 1 {
            crate::progress::detail(format!("{n}/{runs} buckets"));
        }
    };
    show(0);
    let results = futures::stream::iter(0..runs)
        .map(|k| {
            let task = AbortOnDrop(tokio::spawn(run(job_ctx.clone(), k)));
            let (done, show) = (&done, &show);
            async move {
                let mut task = task;
                let result = (&mut task.0).await.map_err(|e| {
                    Error::internal(format!("bucket {k} of a run stopped unexpectedly: {e}"))
                })?;
                show(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                result
            }
        })
        .buffered(jobs)
        .try_collect()
        .await;
    if runs > 1 {
        crate::progress::detail("");
    }
    results
}

/// A spawned task that is aborted when its handle is dropped (a bucket run whose stage failed).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Register `files` (Parquet files of `schema`) as the table `name`: part of a partition, or
/// rows written aside.
pub async fn register_files(
    ctx: &SessionContext,
    name: &str,
    files: &[std::path::PathBuf],
    schema: arrow::datatypes::SchemaRef,
) -> Result<()> {
    let urls = files
        .iter()
        .map(|f| {
            let abs = std::path::absolute(f).map_err(|e| Error::io(f, e))?;
            Ok(ListingTableUrl::parse(abs.display().to_string())?)
        })
        .collect::<Result<Vec<_>>>()?;
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Rows per batch in spilling plans: every sort and merge holds a few batches of full-width
/// rows, and the fair pool gives each of a plan's many sorts only its share.
const SPILLING_BATCH_ROWS: usize = 2048;

/// Run `attempt` with the engine's usual plans and, if it runs out of memory, once more with
/// plans that spill: sort-merge joins instead of hash joins (a hash join holds its whole build
/// side in memory and cannot spill) and smaller batches. The fast plan is tried first because
/// it is 2-3x faster when the data fits; outputs are identical either way (every stage orders
/// by its unique key, and the partition writer fixes the file's batch boundaries).
///
/// `what` names the stage or check for the log.
pub async fn with_spilling_fallback<T, F, Fut>(
    ctx: &SessionContext,
    what: &str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    match attempt().await {
        Err(e) if e.is_out_of_memory() && !spilling_plans(ctx) => {
            tracing::warn!(
                "{what}: out of memory with hash joins; running it again with sort-merge joins, \
                 which spill ({e})"
            );
            let saved = set_spilling_plans(ctx, None);
            let result = attempt().await;
            set_spilling_plans(ctx, Some(saved));
            result
        }
        other => other,
    }
}

/// Whether the session already plans sort-merge joins (by fallback or by configuration).
fn spilling_plans(ctx: &SessionContext) -> bool {
    !ctx.state_ref()
        .read()
        .config_options()
        .optimizer
        .prefer_hash_join
}

/// The settings [`set_spilling_plans`] changes: prefer_hash_join, batch_size,
/// repartition_joins.
type PlanSettings = (bool, ConfigNonZeroUsize, bool);

/// Switch the session to spilling plans (`None`), or back to saved settings; returns the
/// settings it replaced. Sort-merge joins need `repartition_joins` (without it the engine
/// plans collect-left hash joins whatever `prefer_hash_join` says), which stages whose joins
/// are as written turn off.
fn set_spilling_plans(ctx: &SessionContext, restore: Option<PlanSettings>) -> PlanSettings {
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    let saved = (
        options.optimizer.prefer_hash_join,
        options.execution.batch_size,
        options.optimizer.repartition_joins,
    );
    let (prefer_hash_join, batch_size, repartition_joins) = match restore {
        Some(saved) => saved,
        None => {
            let rows = saved.1.get().min(SPILLING_BATCH_ROWS);
            (
                false,
                ConfigNonZeroUsize::try_new(rows).unwrap_or(saved.1),
                true,
            )
        }
    };
    options.optimizer.prefer_hash_join = prefer_hash_join;
    options.execution.batch_size = batch_size;
    options.optimizer.repartition_joins = repartition_joins;
    saved
}

/// Register a raw source table as `<db>.<table>`, with its declared schema.
pub async fn register_source(ctx: &SessionContext, lake: &Lake, table: &SourceTable) -> Result<()> {
    let dir = lake.raw_table_dir(&table.db, &table.name);
    ensure_schema(ctx, &table.db)?;
    let provider = listing_table(ctx, &dir, Some(table.schema()), false).await?;
    ctx.register_table(
        TableReference::partial(table.db.as_str(), table.name.as_str()),
        provider,
    )?;
    Ok(())
}

/// Register (or re-register after a write) a stage's output table under its bare name.
/// The order its files were written in is read from their metadata (Parquet
/// `sorting_columns`, see `Lake::sorted_partition_writer`): a query that needs that order
/// merges the files instead of sorting them. A bucketed stage's table also has the partition
/// column `bucket` (BIGINT), so `where bucket = $bucket` reads that bucket's folder only.
pub async fn register_stage(
    ctx: &SessionContext,
    dir: &Path,
    stage: &str,
    bucketed: bool,
) -> Result<()> {
    let provider = listing_table(ctx, dir, None, bucketed).await?;
    ctx.deregister_table(stage)?;
    ctx.register_table(stage, provider)?;
    Ok(())
}

/// Make sure the schema `db` (a source database) exists in the default catalog.
pub fn ensure_schema(ctx: &SessionContext, db: &str) -> Result<()> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::internal("default catalog missing"))?;
    if catalog.schema(db).is_none() {
        catalog.register_schema(db, Arc::new(MemorySchemaProvider::new()))?;
    }
    Ok(())
}

async fn listing_table(
    ctx: &SessionContext,
    dir: &Path,
    schema: Option<arrow::datatypes::SchemaRef>,
    bucketed: bool,
) -> Result<Arc<ListingTable>> {
    let abs = std::path::absolute(dir).map_err(|e| Error::io(dir, e))?;
    let url = ListingTableUrl::parse(format!("{}/", abs.display()))?;
    // The session's Parquet options (e.g. DATAFUSION_EXECUTION_PARQUET_* variables) apply.
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols(bucketed));
    let schema = match schema {
        Some(schema) => schema,
        None => match options.infer_schema(&ctx.state(), &url).await {
            Ok(schema) => schema,
            // A damaged partition must not stop queries of the other dates: take the schema
            // from a readable file; a query reading the damaged one fails, naming it.
            Err(e) => match readable_schema(dir) {
                Some((schema, damaged)) => {
                    tracing::warn!(
                        "{} is not a readable Parquet file; queries of its partition fail \
                         until it is written again ({})",
                        damaged.display(),
                        damaged_hint(damaged.parent().unwrap_or(dir))
                    );
                    schema
                }
                None => return Err(unreadable_table(dir, e)),
            },
        },
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// What to do about a damaged file in `partition`.
fn damaged_hint(partition: &Path) -> String {
    // A bucket folder's date is its parent's.
    let date = partition
        .ancestors()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
        .find_map(|n| n.strip_prefix("trade_date="));
    match date {
        Some(d) => format!(
            "it was damaged outside ordertrail: `ordertrail run --date {d}` redoes it (a raw \
             partition must be landed again: sync or load that day)"
        ),
        None => format!(
            "it was damaged outside ordertrail: remove it ({}) and write it again",
            partition.display()
        ),
    }
}

/// The Parquet files under a table folder, sorted.
fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// When some of a table's files are damaged and others are not: the file schema of the first
/// readable one (without schema metadata, as DataFusion infers it) and the first damaged file.
fn readable_schema(dir: &Path) -> Option<(arrow::datatypes::SchemaRef, std::path::PathBuf)> {
    let mut schema = None;
    let mut damaged = None;
    for f in parquet_files(dir) {
        let read = std::fs::File::open(&f).ok().and_then(|file| {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).ok()
        });
        match read {
            Some(builder) if schema.is_none() => {
                let fields = builder.schema().fields().clone();
                schema = Some(Arc::new(arrow::datatypes::Schema::new(fields)));
            }
            Some(_) => {}
            None if damaged.is_none() => damaged = Some(f),
            None => {}
        }
    }
    Some((schema?, damaged?))
}

/// The error for a table whose files cannot be read: names the first damaged file, when one
/// is, and says what to do.
fn unreadable_table(dir: &Path, e: datafusion::error::DataFusionError) -> Error {
    let damaged = parquet_files(dir).into_iter().find(|f| {
        std::fs::File::open(f)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                parquet::file::reader::SerializedFileReader::new(file).map_err(|e| e.to_string())
            })
            .is_err()
    });
    match damaged {
        Some(file) => Error::input_hint(
            format!("{} is not a readable Parquet file: {e}", file.display()),
            damaged_hint(file.parent().unwrap_or(dir)),
        ),
        None => Error::input(format!(
            "cannot read the tables under {}: {e}",
            dir.display()
        )),
    }
}

/// Register `recon.totals` (metric, value) from a reconciliation CSV, or empty when `None`.
pub fn register_recon(ctx: &SessionContext, file: Option<&Path>) -> Result<()> {
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("metric", DataType::Utf8, false),
        arrow::datatypes::Field::new("value", DataType::Decimal128(28, 6), false),
    ]));
    let batches = match file {
        None => vec![arrow::record_batch::RecordBatch::new_empty(schema.clone())],
        Some(path) => {
            let f = std::fs::File::open(path).at(path)?;
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(f)
                .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
            reader
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| {
                    Error::input_hint(
                        format!("{}: {e}", path.display()),
                        "the reconciliation file is a CSV with header metric,value \
                         (metrics: orders, trades, shares, turnover)",
                    )
                })?
        }
    };
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::internal("default catalog missing"))?;
    if catalog.schema("recon").is_none() {
        catalog.register_schema("recon", Arc::new(MemorySchemaProvider::new()))?;
    }
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
    let reference = TableReference::partial("recon", "totals");
    ctx.deregister_table(reference.clone())?;
    ctx.register_table(reference, Arc::new(table))?;
    Ok(())
}

/// As written, the engine keeps the SQL's join order, and each hash join collects its first
/// side into one table that every partition of the second side probes (`CollectLeft`) instead
/// of hash-repartitioning both sides: the second side is the stage's wide records, which are
/// then neither copied through a repartition nor reordered, so a stage reading its input in
/// its output order merges instead of sorting at the end. At 1M orders under 2G the stages
/// took 215 s instead of 341 s and wrote the same bytes (`session_fill` 54 s instead of 91 s,
/// `business_fill` 24 s instead of 56 s).
/// Sort-merge joins (the fallback of `engine::with_spilling_fallback`, or
/// `DATAFUSION_OPTIMIZER_PREFER_HASH_JOIN=false`) still repartition.
pub fn set_joins_as_written(ctx: &SessionContext, as_written: bool) {
    let state = ctx.state_ref();
    let mut state = state.write();
    let optimizer = &mut state.config_mut().options_mut().optimizer;
    optimizer.join_reordering = !as_written;
    optimizer.repartition_joins = !as_written || !optimizer.prefer_hash_join;
}

/// Marks a session whose queries a cluster runs (set by `cluster::connect`).
#[derive(Debug)]
pub struct OnCluster;

/// Whether `ctx` sends its queries to a cluster.
pub fn on_cluster(ctx: &SessionContext) -> bool {
    ctx.state_ref()
        .read()
        .config()
        .get_extension::<OnCluster>()
        .is_some()
}

/// The `order by` that ends `df`'s query (under a limit or an alias), as sort expressions
/// over its output columns; `None` when it ends otherwise (e.g. sorts by a column it then
/// leaves out).
///
/// Taken from the query as written, not from a physical plan's output order: DataFusion
/// reports the order of a merge over a union of per-gateway branches as `(src_id, gateway)`
/// though it merges by `(gateway, src_id)` (a column constant in each branch may move).
pub fn query_ordering(
    ctx: &SessionContext,
    df: &datafusion::dataframe::DataFrame,
) -> datafusion::common::Result<Option<datafusion::physical_expr::LexOrdering>> {
    use datafusion::logical_expr::LogicalPlan;
    let mut plan = df.logical_plan();
    loop {
        plan = match plan {
            LogicalPlan::Limit(l) => &l.input,
            LogicalPlan::SubqueryAlias(a) => &a.input,
            _ => break,
        };
    }
    let LogicalPlan::Sort(sort) = plan else {
        return Ok(None);
    };
    let state = ctx.state();
    let exprs = datafusion::physical_expr::create_physical_sort_exprs(
        &sort.expr,
        sort.input.schema(),
        state.execution_props(),
        &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext::default(),
    )?;
    Ok(datafusion::physical_expr::LexOrdering::new(exprs))
}

/// The rows of `df`; from a cluster, sorted again here in `ordering` (its [`query_ordering`]).
///
/// Ballista cuts a plan into stages at its exchanges, and the stage after an exchange no
/// longer knows which partitions hold one value of a sort key: a union of per-gateway branches
/// merged by `(gateway, src_id)` came back ordered by `src_id` alone. The order a file is
/// written in is made where the rows arrive, so that a cluster writes a local run's bytes.
pub async fn execute_in_order(
    ctx: &SessionContext,
    df: datafusion::dataframe::DataFrame,
    ordering: Option<&datafusion::physical_expr::LexOrdering>,
) -> datafusion::common::Result<datafusion::physical_plan::SendableRecordBatchStream> {
    let rows = df.execute_stream().await?;
    match ordering {
        Some(ordering) if on_cluster(ctx) => {
            use datafusion::physical_plan::sorts::sort::SortExec;
            use datafusion::physical_plan::streaming::StreamingTableExec;
            let schema = rows.schema();
            let source = Arc::new(OneStream {
                schema: schema.clone(),
                rows: std::sync::Mutex::new(Some(rows)),
            });
            let scan = StreamingTableExec::try_new(schema, vec![source], None, [], false, None)?;
            let sort = SortExec::new(ordering.clone(), Arc::new(scan));
            sort.execute(0, ctx.task_ctx())
        }
        _ => Ok(rows),
    }
}

/// A stream that has arrived, as the one partition of a plan run once.
struct OneStream {
    schema: arrow::datatypes::SchemaRef,
    rows: std::sync::Mutex<Option<datafusion::physical_plan::SendableRecordBatchStream>>,
}

impl std::fmt::Debug for OneStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneStream").finish_non_exhaustive()
    }
}

impl datafusion::physical_plan::streaming::PartitionStream for OneStream {
    fn schema(&self) -> &arrow::datatypes::SchemaRef {
        &self.schema
    }

    fn execute(
        &self,
        _ctx: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::physical_plan::SendableRecordBatchStream {
        let taken = self.rows.lock().ok().and_then(|mut rows| rows.take());
        taken.unwrap_or_else(|| {
            let error = datafusion::common::DataFusionError::Internal(
                "a stream that has arrived can be read once".into(),
            );
            Box::pin(
                datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    self.schema.clone(),
                    futures::stream::once(async move { Err(error) }),
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    /// The order of a query is its final `order by` over the output columns, also where
    /// DataFusion reports a merge of per-branch constants in another order; on a cluster the
    /// rows are sorted in it where they arrive.
    #[tokio::test]
    async fn rows_from_a_cluster_are_sorted_in_the_querys_own_order() {
        let ctx = SessionContext::new();
        let sql = "select * from (select 'outbound' as gateway, column1 as src_id \
                   from (values (5), (1), (3)) union all select 'inbound', column1 \
                   from (values (4), (2))) order by gateway, src_id";
        let df = ctx.sql(sql).await.unwrap();
        let ordering = query_ordering(&ctx, &df).unwrap().unwrap();
        assert_eq!(
            ordering.to_string(),
            "gateway@0 ASC NULLS LAST, src_id@1 ASC NULLS LAST"
        );
        // Rows in another order, from a session marked as a cluster's: sorted on arrival.
        let config = SessionConfig::new().with_extension(Arc::new(OnCluster));
        let remote = SessionContext::new_with_config(config);
        assert!(on_cluster(&remote) && !on_cluster(&ctx));
        let unsorted = remote
            .sql(&sql.replace(" order by gateway, src_id", ""))
            .await
            .unwrap();
        let rows: Vec<_> = futures::TryStreamExt::try_collect(
            execute_in_order(&remote, unsorted, Some(&ordering))
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        let order: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| "))
            .skip(1)
            .collect();
        assert_eq!(
            order,
            [
                "| inbound  | 2      |",
                "| inbound  | 4      |",
                "| outbound | 1      |",
                "| outbound | 3      |",
                "| outbound | 5      |",
            ]
        );
    }

    fn settings(ctx: &SessionContext) -> (bool, usize) {
        let state = ctx.state();
        let options = state.config_options();
        (
            options.optimizer.prefer_hash_join,
            options.execution.batch_size.get(),
        )
    }

    fn out_of_memory() -> Error {
        Error::Engine(DataFusionError::ResourcesExhausted(
            "hash join build".into(),
        ))
    }

    /// A sort far bigger than the pool spills (LZ4-compressed runs, merged at most
    /// SPILL_MERGE_FAN_IN at a time) and still returns every row in order.
    #[tokio::test]
    async fn a_sort_larger_than_the_pool_spills_and_stays_correct() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let options = EngineOptions {
            memory_limit: 64 << 20,
            target_partitions: 2,
            buckets: None,
            jobs: 1,
            cluster: None,
        };
        let ctx = new_context(&lake, &options).unwrap();
        let rows = 1_000_000u64;
        let sql = format!(
            "select v, repeat('x', 40) || cast(v as varchar) as s from \
             (select (value * 7919) % {rows} as v from generate_series(1, {rows})) order by v"
        );
        let analyzed = ctx.sql(&format!("explain analyze {sql}")).await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&analyzed.collect().await.unwrap())
            .unwrap()
            .to_string();
        let spilled = text
            .split("spill_count=")
            .skip(1)
            .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit() && c != '0'));
        assert!(spilled, "the sort did not spill: {text}");

        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let mut previous = None;
        let mut count = 0u64;
        for b in &batches {
            let v = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            for x in v.values().iter() {
                assert!(previous.is_none_or(|p| p <= *x), "out of order at {x}");
                previous = Some(*x);
                count += 1;
            }
        }
        assert_eq!(count, rows);
    }

    #[tokio::test]
    async fn out_of_memory_is_retried_once_with_spilling_plans() {
        let ctx = SessionContext::new();
        let before = settings(&ctx);
        assert!(before.0, "hash joins are the default");
        let mut seen = Vec::new();
        let result = with_spilling_fallback(&ctx, "stage", || {
            seen.push(settings(&ctx));
            let fail = seen.len() == 1;
            async move { if fail { Err(out_of_memory()) } else { Ok(7) } }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(seen, vec![before, (false, SPILLING_BATCH_ROWS)]);
        assert_eq!(settings(&ctx), before, "settings are restored afterwards");
    }

    /// Bucket runs come back in bucket order, at most `jobs` run at once, each on a context
    /// with its share of the cores and the session's tables; the first error is returned and
    /// the runs not started yet never start.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bucket_runs_keep_their_order_and_stop_at_an_error() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
        ctx.sql("create table t as values (1)").await.unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let out = run_buckets(&ctx, 6, 2, |job, k| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                // A later bucket finishes first: the order is still the buckets'.
                tokio::time::sleep(std::time::Duration::from_millis(30 - 5 * k as u64)).await;
                let rows = job.sql("select * from t").await?.collect().await?;
                running.fetch_sub(1, SeqCst);
                Ok((k, job.state().config().target_partitions(), rows.len()))
            }
        })
        .await
        .unwrap();
        assert_eq!(out, (0..6).map(|k| (k, 2, 1)).collect::<Vec<_>>());
        assert_eq!(most.load(SeqCst), 2, "two jobs at a time");

        let started = Arc::new(AtomicUsize::new(0));
        let result: Result<Vec<()>> = run_buckets(&ctx, 10, 1, |_, k| {
            started.fetch_add(1, SeqCst);
            async move {
                match k {
                    2 => Err(Error::input("bucket 2 failed")),
                    _ => Ok(()),
                }
            }
        })
        .await;
        assert!(result.unwrap_err().to_string().contains("bucket 2 failed"));
        assert_eq!(started.load(SeqCst), 3, "nothing started after the failure");
    }

    #[tokio::test]
    async fn other_errors_and_a_second_out_of_memory_are_returned() {
        let ctx = SessionContext::new();
        let mut calls = 0;
        let result: Result<()> = with_spilling_fallback(&ctx, "stage", || {
            calls += 1;
            async { Err(Error::input("bad input")) }
        })
        .await;
        assert!(!result.unwrap_err().is_out_of_memory());
        assert_eq!(calls, 1, "only running out of memory is retried");

        let mut calls = 0;
        let result: Result<()> = with_spilling_fallback(&ctx, "stage", || {
            calls += 1;
            async { Err(out_of_memory()) }
        })
        .await;
        assert!(result.unwrap_err().is_out_of_memory());
        assert_eq!(calls, 2, "one retry, then the error");
        assert!(
            settings(&ctx).0,
            "settings are restored after a failed retry"
        );
    }
}
