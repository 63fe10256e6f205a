//! Running stages for one trade date: check the inputs exist, then execute each stage's SQL in
//! dependency order and write its output partition atomically.
//!
//! Parameters are bound by DataFusion as typed values, never pasted into the SQL text:
//! `$trade_date` is the DATE being processed, `$window_start` and `$window_end` the TIMESTAMP
//! bounds of the time window (the whole day unless a window run says otherwise), `$bucket`
//! and `$buckets` the part of the keys a bucketed stage computes (0 of 1 when it runs in one
//! piece; see [`bucketed_rows`]).
//!
//! An incremental stage (see [`crate::stages::Incremental`]) run for a window that does not start
//! the day merges its window's rows into the day's partition: earlier rows with the same key,
//! and rows at or after the window's start, are replaced. The merged partition is written aside
//! and swapped in like any other, and is byte-identical to what one whole-day run writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::config::Config;
use crate::engine;
use crate::error::{Error, Result};
use crate::intervals::Window;
use crate::lake::{Lake, PARTITION_COLUMN, RemoveOnDrop};
use crate::sources::Sources;
use crate::stages::{Stage, StageGraph, sql_error};

/// What one stage produced.
#[derive(Debug, Clone)]
pub struct StageRun {
    pub stage: String,
    /// Rows the stage produced (for a merged window: the window's rows, not the day's).
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the partition the stage left for the day.
    pub sha256: String,
    pub elapsed: Duration,
    /// Buckets the stage ran in (1: in one piece; see [`bucketed_rows`]).
    pub buckets: usize,
    /// Input tables split by bucket so that each bucket read its share only (0 in one piece).
    pub splits: u64,
    /// The process's peak resident memory while the stage ran, sampled (KiB).
    pub peak_rss_kib: Option<u64>,
}

/// The parameters every stage may use, for the whole trade date.
pub fn stage_params(date: NaiveDate) -> ParamValues {
    params_with(date, [])
}

/// The stage parameters for one time window of `window.date()`.
pub fn window_params(window: Window) -> ParamValues {
    params_for(window, [])
}

/// The parameters of one bucket's run of a stage: the window's, plus `$bucket` (0-based) and
/// `$buckets` (see [`bucketed_rows`]). A stage run in one piece gets bucket 0 of 1.
pub fn bucket_params(window: Window, bucket: usize, buckets: usize) -> ParamValues {
    params_in_bucket(window, (bucket, buckets), [])
}

/// The stage parameters plus `extra` named values (e.g. `$destination` for report files).
pub fn params_with<const N: usize>(
    date: NaiveDate,
    extra: [(&str, ScalarValue); N],
) -> ParamValues {
    params_for(Window::day(date), extra)
}

fn params_for<const N: usize>(window: Window, extra: [(&str, ScalarValue); N]) -> ParamValues {
    params_in_bucket(window, (0, 1), extra)
}

fn params_in_bucket<const N: usize>(
    window: Window,
    (bucket, buckets): (usize, usize),
    extra: [(&str, ScalarValue); N],
) -> ParamValues {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let days = (window.date() - epoch).num_days() as i32;
    let micros = |t: chrono::NaiveDateTime| {
        ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
    };
    let mut values = vec![
        ("trade_date", ScalarValue::Date32(Some(days))),
        ("window_start", micros(window.start)),
        ("window_end", micros(window.end)),
        ("bucket", ScalarValue::Int64(Some(bucket as i64))),
        ("buckets", ScalarValue::Int64(Some(buckets as i64))),
    ];
    values.extend(extra);
    ParamValues::from(values)
}

/// A context with every source table, every existing stage output and the configuration
/// tables registered.
pub async fn context_for(
    lake: &Lake,
    sources: &Sources,
    graph: &StageGraph,
    config: &Config,
    options: &engine::EngineOptions,
) -> Result<SessionContext> {
    let ctx = engine::new_context(lake, options)?;
    config.register(&ctx)?;
    crate::checks::register_recon(&ctx, None)?;
    for table in &sources.tables {
        if lake.raw_table_dir(&table.db, &table.name).exists() {
            engine::register_source(&ctx, lake, table).await?;
        }
    }
    for stage in &graph.stages {
        let dir = lake.stage_table_dir(&graph.version, &stage.name);
        if has_files(&dir) {
            engine::register_stage(&ctx, &dir, &stage.name).await?;
        }
    }
    Ok(ctx)
}

/// Run `names` (and the stages they read; all stages when empty) for `date`.
pub async fn run(
    ctx: &SessionContext,
    lake: &Lake,
    sources: &Sources,
    graph: &StageGraph,
    date: NaiveDate,
    names: &[String],
) -> Result<Vec<StageRun>> {
    lake.ensure_writable()?;
    let stages = graph.closure(names)?;
    check_inputs(lake, sources, &stages, date)?;
    let mut runs = Vec::with_capacity(stages.len());
    for stage in stages {
        let run = run_stage(ctx, lake, graph, stage, Window::day(date)).await?;
        tracing::info!(
            stage = %run.stage, rows = run.rows, ms = run.elapsed.as_millis() as u64,
            buckets = run.buckets, peak_rss_mib = run.peak_rss_kib.map(|k| k / 1024),
            "stage done"
        );
        runs.push(run);
    }
    Ok(runs)
}

/// Run exactly `stages` (in the given order) for `date`, without rerunning what they read:
/// every stage they read that is not among them must already have its partition for `date`.
pub async fn run_exact(
    ctx: &SessionContext,
    lake: &Lake,
    graph: &StageGraph,
    date: NaiveDate,
    stages: &[&Stage],
) -> Result<Vec<StageRun>> {
    lake.ensure_writable()?;
    for (i, stage) in stages.iter().enumerate() {
        for dep in &stage.deps {
            let earlier = stages[..i].iter().any(|s| &s.name == dep);
            let dir = lake.stage_table_dir(&graph.version, dep);
            if !earlier && !Lake::partition_dir(&dir, date).exists() {
                return Err(Error::input_hint(
                    format!(
                        "stage {} reads {dep}, which has no output for trade date {date}",
                        stage.name
                    ),
                    format!(
                        "run the pipeline for that day first: ordertrail run --lake {} --date {date}",
                        lake.root().display()
                    ),
                ));
            }
        }
    }
    let mut runs = Vec::with_capacity(stages.len());
    for stage in stages {
        runs.push(run_stage(ctx, lake, graph, stage, Window::day(date)).await?);
    }
    Ok(runs)
}

/// Every raw table the stages read must have a partition for `date`, and the day must not be
/// empty in all of them.
pub fn check_inputs(
    lake: &Lake,
    sources: &Sources,
    stages: &[&Stage],
    date: NaiveDate,
) -> Result<()> {
    let needed = StageGraph::sources_read(stages.iter().copied());
    let mut total_files = 0usize;
    let mut non_empty = false;
    for name in &needed {
        let table = sources
            .get(name)
            .ok_or_else(|| Error::input(format!("unknown source table {name}")))?;
        let dir = lake.raw_table_dir(&table.db, &table.name);
        if !dir.exists() {
            return Err(Error::input_hint(
                format!(
                    "raw table {name} is missing from the lake ({})",
                    dir.display()
                ),
                "sync it first (`ordertrail sync`), or load fixtures (`ordertrail load`)",
            ));
        }
        let part = Lake::partition_dir(&dir, date);
        if !part.exists() {
            return Err(Error::input_hint(
                format!(
                    "raw table {name} has no data for trade date {date} ({} is missing)",
                    part.display()
                ),
                format!(
                    "dates present: {}; sync that day first, or pick another --date",
                    fmt_dates(&Lake::partition_dates(&dir)?)
                ),
            ));
        }
        let declared = table.schema();
        for entry in std::fs::read_dir(&part).map_err(|e| Error::io(&part, e))? {
            let entry = entry.map_err(|e| Error::io(&part, e))?;
            total_files += 1;
            let (rows, schema) = parquet_rows_and_schema(&entry.path())?;
            if rows > 0 {
                non_empty = true;
            }
            check_schema(name, &entry.path(), &declared, &schema)?;
        }
    }
    if !needed.is_empty() && (!non_empty || total_files == 0) {
        return Err(Error::input_hint(
            format!(
                "trade date {date} is empty: none of the {} raw tables has a row",
                needed.len()
            ),
            "is it a trading day? did the sync for that day run against the right replica?",
        ));
    }
    Ok(())
}

fn parquet_rows_and_schema(path: &std::path::Path) -> Result<(i64, arrow::datatypes::SchemaRef)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, Default::default())
        .map_err(|e| {
        Error::input_hint(
            format!("{}: not a readable Parquet file: {e}", path.display()),
            "sync or load that day again; the partition is damaged",
        )
    })?;
    Ok((
        meta.metadata().file_metadata().num_rows(),
        meta.schema().clone(),
    ))
}

/// Schema drift is an error, never NULLs filled in without a word: every column
/// `sql/sources.sql` declares for `table` must be in the raw file with the declared type. A
/// column the declaration lacks is logged and not read.
fn check_schema(
    table: &str,
    path: &std::path::Path,
    declared: &arrow::datatypes::SchemaRef,
    actual: &arrow::datatypes::SchemaRef,
) -> Result<()> {
    for field in declared.fields() {
        match actual.field_with_name(field.name()) {
            Err(_) => {
                return Err(Error::input_hint(
                    format!(
                        "raw table {table}: column {} ({}) declared in sources.sql is missing \
                         from {}",
                        field.name(),
                        field.data_type(),
                        path.display()
                    ),
                    "the source's schema changed: sync the day again from a replica that has \
                     the column, or change sql/sources.sql (and the stages) to the new schema",
                ));
            }
            Ok(f) if f.data_type() != field.data_type() => {
                return Err(Error::input_hint(
                    format!(
                        "raw table {table}: column {} is {} in {}, but sql/sources.sql declares \
                         {}",
                        field.name(),
                        f.data_type(),
                        path.display(),
                        field.data_type()
                    ),
                    "the source's schema changed: sync the day again, or change \
                     sql/sources.sql to the new type",
                ));
            }
            Ok(_) => {}
        }
    }
    for f in actual.fields() {
        if declared.field_with_name(f.name()).is_err() {
            tracing::warn!(
                "raw table {table}: column {} in {} is not declared in sql/sources.sql; not read",
                f.name(),
                path.display()
            );
        }
    }
    Ok(())
}

fn fmt_dates(dates: &[NaiveDate]) -> String {
    if dates.is_empty() {
        return "none".into();
    }
    dates
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run `stage` for `window` and write (or merge into) its partition for the window's date.
pub async fn run_stage(
    ctx: &SessionContext,
    lake: &Lake,
    graph: &StageGraph,
    stage: &Stage,
    window: Window,
) -> Result<StageRun> {
    let started = Instant::now();
    let rss = crate::metrics::RssPeak::start();
    set_joins_as_written(ctx, stage.join_order_as_written);
    let result = engine::with_spilling_fallback(ctx, &stage.name, || async {
        let (first, doublings) = match stage.bucketed {
            true => (
                engine::bucket_count(ctx, input_bytes(lake, graph, stage, window.date())),
                engine::bucket_doublings(ctx),
            ),
            false => (1, 0),
        };
        engine::with_more_buckets(&stage.name, first, doublings, |buckets| {
            run_stage_planned(ctx, lake, graph, stage, window, started, buckets)
        })
        .await
    })
    .await;
    set_joins_as_written(ctx, false);
    result.map(|run| StageRun {
        peak_rss_kib: rss.kib(),
        ..run
    })
}

/// `-- join_order: as_written` (`true`) or the engine's choice (`false`).
///
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

/// One attempt at `stage` for `window`, in `buckets` buckets (1: in one piece; always 1 for a
/// stage that is not bucketed).
async fn run_stage_planned(
    ctx: &SessionContext,
    lake: &Lake,
    graph: &StageGraph,
    stage: &Stage,
    window: Window,
    started: Instant,
    buckets: usize,
) -> Result<StageRun> {
    let date = window.date();
    let err = |e| sql_error(&stage.path, e);
    let df = ctx.sql(&stage.sql).await.map_err(err)?;
    let df = df.with_param_values(window_params(window)).map_err(err)?;
    if !is_ordered(df.logical_plan()) {
        return Err(Error::Sql {
            file: stage.path.clone(),
            location: None,
            message: "the query has no final ORDER BY; stage outputs must be deterministic".into(),
        });
    }
    let schema = df.schema().as_arrow().clone();
    if schema.column_with_name(PARTITION_COLUMN).is_some() {
        return Err(Error::Sql {
            file: stage.path.clone(),
            location: None,
            message: format!(
                "the query outputs a column named {PARTITION_COLUMN}; that is the partition \
                 column the runner adds, select it under another name or not at all"
            ),
        });
    }
    let schema = std::sync::Arc::new(schema);
    let dir = lake.stage_table_dir(&graph.version, &stage.name);
    let merge = match &stage.incremental {
        Some(inc) if !window.starts_the_day() && Lake::partition_dir(&dir, date).exists() => {
            Some(inc)
        }
        _ => None,
    };
    let (rows, splits) = match buckets {
        1 => (df.execute_stream().await.map_err(err)?, 0),
        n => bucketed_rows(ctx, stage, window, n).await?,
    };
    let (written, window_rows) = match merge {
        None => {
            let mut writer = lake.sorted_partition_writer(&dir, date, &schema, sorted_by(stage))?;
            write_all(&mut writer, rows, stage).await?;
            crate::intervals::crash_point(&stage.name, window, "before_commit");
            let written = writer.commit()?;
            let rows = written.rows;
            (written, rows)
        }
        Some(inc) => merge_window(ctx, lake, stage, inc, window, rows, &schema, &dir).await?,
    };
    crate::intervals::crash_point(&stage.name, window, "after_commit");
    engine::register_stage(ctx, &dir, &stage.name).await?;
    Ok(StageRun {
        stage: stage.name.clone(),
        rows: window_rows,
        bytes: written.bytes,
        sha256: written.sha256,
        elapsed: started.elapsed(),
        buckets,
        splits,
        peak_rss_kib: None,
    })
}

/// Write the window's rows aside, then rewrite the day's partition as: the rows it had before
/// the window's start that the window does not replace, plus the window's rows, in key order.
/// Returns what was written and how many rows the window produced.
#[allow(clippy::too_many_arguments)]
async fn merge_window(
    ctx: &SessionContext,
    lake: &Lake,
    stage: &Stage,
    inc: &crate::stages::Incremental,
    window: Window,
    rows: SendableRecordBatchStream,
    schema: &arrow::datatypes::SchemaRef,
    dir: &std::path::Path,
) -> Result<(crate::lake::Written, u64)> {
    let date = window.date();
    let scratch = crate::lake::unique_tmp_dir(&lake.root().join(".tmp"))?;
    // Removed however the merge ends (a failed merge must not leave the window's rows behind).
    let _scratch = RemoveOnDrop(scratch.clone());
    let scratch_table = scratch.join(&stage.name);
    let mut writer =
        lake.sorted_partition_writer(&scratch_table, date, schema, sorted_by(stage))?;
    write_all(&mut writer, rows, stage).await?;
    let window_rows = writer.commit()?.rows;
    let window_table = format!("__window_{}", stage.name);
    engine::register_stage(ctx, &scratch_table, &window_table).await?;

    let cols = column_list(schema);
    let same_key = inc
        .unique_key
        .iter()
        .map(|k| format!("w.{k} = b.{k}", k = q(k)))
        .collect::<Vec<_>>()
        .join(" and ");
    let order = inc
        .unique_key
        .iter()
        .map(|k| q(k))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "select {cols} from {stage} b \
         where b.trade_date = $trade_date and b.{time} < $window_start \
           and not exists (select 1 from {window_table} w where {same_key}) \
         union all \
         select {cols} from {window_table} where trade_date = $trade_date \
         order by {order}",
        stage = q(&stage.name),
        time = q(&inc.event_time),
    );
    // Both sides are Parquet files with statistics: let the engine pick the build side.
    set_joins_as_written(ctx, false);
    let result = async {
        let merged = ctx
            .sql(&sql)
            .await?
            .with_param_values(window_params(window))?;
        merged.execute_stream().await
    }
    .await
    .map_err(|e| {
        Error::input_hint(
            format!(
                "merging window {window} of stage {} into its day failed: {e}",
                stage.name
            ),
            format!(
                "check the stage's `-- unique_key:` and `-- event_time:` columns in {}",
                stage.path.display()
            ),
        )
    });
    let mut writer = lake.sorted_partition_writer(dir, date, schema, sorted_by(stage))?;
    write_all(&mut writer, result?, stage).await?;
    crate::intervals::crash_point(&stage.name, window, "before_commit");
    let written = writer.commit()?;
    ctx.deregister_table(&window_table)?;
    Ok((written, window_rows))
}

/// Write every batch of `rows` (a stage's output) to `writer`; an engine error names the stage.
async fn write_all(
    writer: &mut crate::lake::PartitionWriter,
    mut rows: SendableRecordBatchStream,
    stage: &Stage,
) -> Result<()> {
    while let Some(batch) = rows.next().await {
        writer.write(&batch.map_err(|e| sql_error(&stage.path, e))?)?;
    }
    Ok(())
}

/// The order a stage's rows come out in, recorded in its files (none when its `order by` is
/// not plain columns).
fn sorted_by(stage: &Stage) -> &[String] {
    stage.output_order.as_deref().unwrap_or(&[])
}

/// `"a", "b", ...`: the schema's columns, quoted.
fn column_list(schema: &arrow::datatypes::SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| q(f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A quoted SQL identifier.
fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Bytes of Parquet a stage reads for `date`: the partitions of `date` and the day before of
/// every stage and raw source it reads (what stages read at most; see their `Reads:`).
fn input_bytes(lake: &Lake, graph: &StageGraph, stage: &Stage, date: NaiveDate) -> u64 {
    let tables = stage.deps.iter().chain(&stage.sources);
    tables_bytes(lake, graph, tables, date)
}

/// Bytes of Parquet in the partitions of `date` and the day before of `tables`: stages by
/// name, raw sources as `db.table`; other names (configuration tables) count nothing.
pub fn tables_bytes<'a>(
    lake: &Lake,
    graph: &StageGraph,
    tables: impl IntoIterator<Item = &'a String>,
    date: NaiveDate,
) -> u64 {
    let dirs = tables.into_iter().filter_map(|t| match t.split_once('.') {
        None => graph
            .get(t)
            .map(|s| lake.stage_table_dir(&graph.version, &s.name)),
        Some((db, table)) => Some(lake.raw_table_dir(db, table)),
    });
    let days = [date.pred_opt(), Some(date)];
    dirs.flat_map(|t| {
        days.iter()
            .flatten()
            .map(move |d| Lake::partition_dir(&t, *d))
    })
    .map(|dir| dir_bytes(&dir))
    .sum()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Bucketed stages. A stage whose SQL uses `$bucket` and `$buckets` (see the `bucket` UDF) is
/// run once per bucket, each run restricted to the keys `bucket(key, $buckets) = $bucket`, so
/// that its hash joins hold a bucket's share of the input instead of the whole day. The
/// inputs filtered by bucket are split once and each bucket reads its share only (see
/// `engine::SplitScope`). Each bucket's rows, sorted by the stage's `ORDER BY`, are written
/// aside to a scratch Parquet file (`engine::ScratchWriter`), then the buckets are merged in that order: the partition holds the same rows in the same order,
/// and the same bytes, as a single run's.
///
/// Returns the merged rows (which keep the buckets' files until dropped) and how many
/// splits were made.
async fn bucketed_rows(
    ctx: &SessionContext,
    stage: &Stage,
    window: Window,
    buckets: usize,
) -> Result<(SendableRecordBatchStream, u64)> {
    use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
    use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};

    let err = |e| sql_error(&stage.path, e);
    let splits = engine::SplitScope::begin(ctx);
    let mut files = Vec::with_capacity(buckets);
    let mut merge: Option<(arrow::datatypes::SchemaRef, _)> = None;
    let batch_size = ctx.copied_config().batch_size();
    for bucket in 0..buckets {
        if bucket > 0 {
            crate::intervals::crash_point(&stage.name, window, &format!("before_bucket_{bucket}"));
        }
        // A long stage stops between buckets on SIGTERM: nothing of it is written yet.
        if bucket > 0 && crate::intervals::SHUTDOWN.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Interrupted {
                stage: stage.name.clone(),
                done: bucket,
                buckets,
            });
        }
        let started = Instant::now();
        let df = ctx.sql(&stage.sql).await.map_err(err)?;
        let df = df
            .with_param_values(bucket_params(window, bucket, buckets))
            .map_err(err)?;
        let plan = df.create_physical_plan().await.map_err(err)?;
        let (schema, _) = match &merge {
            Some(m) => m,
            None => {
                let ordering = output_ordering(&plan, &stage.path)?;
                merge.insert((plan.schema(), ordering))
            }
        };
        let mut file =
            engine::ScratchWriter::create(&ctx.runtime_env(), schema.clone(), "bucket rows")
                .map_err(err)?;
        let mut rows =
            datafusion::physical_plan::execute_stream(plan, ctx.task_ctx()).map_err(err)?;
        while let Some(batch) = rows.next().await {
            file.write(&batch.map_err(err)?).map_err(err)?;
        }
        let written = file.rows();
        files.push(engine::ScratchPart {
            schema: schema.clone(),
            file: file.finish().map_err(err)?,
            batch_size,
        });
        tracing::debug!(
            stage = %stage.name, bucket, buckets, rows = written,
            ms = started.elapsed().as_millis() as u64, "bucket done"
        );
    }
    let made = splits.made();
    drop(splits);
    let Some((schema, ordering)) = merge else {
        return Err(Error::input(format!(
            "stage {} ran in no buckets",
            stage.name
        )));
    };
    let parts = files
        .into_iter()
        .map(|f| Arc::new(f) as Arc<dyn PartitionStream>)
        .collect();
    let merge_err = |e| {
        Error::input(format!(
            "merging the {buckets} buckets of stage {} failed: {e}",
            stage.name
        ))
    };
    let buckets_exec =
        StreamingTableExec::try_new(schema, parts, None, [ordering.clone()], false, None)
            .map_err(merge_err)?;
    let merged = SortPreservingMergeExec::new(ordering, Arc::new(buckets_exec));
    let rows = datafusion::physical_plan::execute_stream(Arc::new(merged), ctx.task_ctx())
        .map_err(merge_err)?;
    Ok((rows, made))
}

/// The order of a bucketed stage's or check's plan, in which its buckets are merged (its
/// `order by`, required when the file is loaded).
pub(crate) fn output_ordering(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    file: &std::path::Path,
) -> Result<datafusion::physical_expr::LexOrdering> {
    plan.properties()
        .output_ordering()
        .cloned()
        .ok_or_else(|| Error::Sql {
            file: file.to_path_buf(),
            location: None,
            message: "the plan of a query run in buckets has no output order; it must end in \
                      `order by`"
                .into(),
        })
}

/// Whether the plan ends in a sort, so that its output order is defined.
fn is_ordered(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Sort(_) => true,
        LogicalPlan::Projection(p) => is_ordered(&p.input),
        LogicalPlan::Limit(l) => is_ordered(&l.input),
        LogicalPlan::SubqueryAlias(s) => is_ordered(&s.input),
        _ => false,
    }
}

/// Stages with no output for `date` (the pipeline has not run, or not completely).
pub fn missing_outputs(lake: &Lake, graph: &StageGraph, date: NaiveDate) -> Vec<String> {
    graph
        .stages
        .iter()
        .filter(|s| {
            !Lake::partition_dir(&lake.stage_table_dir(&graph.version, &s.name), date).exists()
        })
        .map(|s| s.name.clone())
        .collect()
}

fn has_files(dir: &std::path::Path) -> bool {
    Lake::partition_dates(dir).is_ok_and(|d| !d.is_empty())
}
