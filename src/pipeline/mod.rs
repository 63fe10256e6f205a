//! Running stages for one trade date: check the inputs exist, then execute each stage's SQL in
//! dependency order and write its output partition atomically.
//!
//! Parameters are bound by DataFusion as typed values, never pasted into the SQL text:
//! `$trade_date` is the DATE being processed, `$window_start` and `$window_end` the TIMESTAMP
//! bounds of the time window (the whole day unless a window run says otherwise), `$bucket`
//! the bucket a stage run per bucket computes and `$buckets` the lake's bucket count (see
//! "Buckets" at [`run_stage_planned`]).
//!
//! An incremental stage (see [`crate::stages::Incremental`]) run for a window that does not start
//! the day merges its window's rows into the day's partition: earlier rows with the same key,
//! and rows at or after the window's start, are replaced. The merged partition is written aside
//! and swapped in like any other, and is byte-identical to what one whole-day run writes.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use crate::engine;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::sources::Sources;
use crate::stages::{Stage, StageGraph};
use crate::window::Window;

mod stage_write;
use stage_write::run_stage_planned;

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
    /// Runs the stage was computed in (its buckets; 1: in one piece).
    pub buckets: usize,
    /// The process's peak resident memory while the stage ran, sampled (KiB).
    pub peak_rss_kib: Option<u64>,
    /// CPU time (user and system) the process used while the stage ran.
    pub cpu: Option<Duration>,
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
/// `$buckets`, the lake's bucket count. A stage run in one piece gets bucket 0.
pub fn bucket_params(window: Window, bucket: usize, buckets: usize) -> ParamValues {
    params_in_bucket(window, (bucket, buckets), [])
}

/// A date as a SQL value (`Date32`), as `$trade_date` is bound.
pub fn date_scalar(date: NaiveDate) -> ScalarValue {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    ScalarValue::Date32(Some((date - epoch).num_days() as i32))
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
    let micros = |t: chrono::NaiveDateTime| {
        ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
    };
    let mut values = vec![
        ("trade_date", date_scalar(window.date())),
        ("window_start", micros(window.start)),
        ("window_end", micros(window.end)),
        ("bucket", ScalarValue::Int64(Some(bucket as i64))),
        ("buckets", ScalarValue::Int64(Some(buckets as i64))),
    ];
    values.extend(extra);
    ParamValues::from(values)
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
    let rss = crate::resources::RssPeak::start();
    let cpu = crate::resources::process_cpu();
    engine::set_joins_as_written(ctx, stage.join_order_as_written);
    let result = engine::with_spilling_fallback(ctx, &stage.name, || {
        run_stage_planned(ctx, lake, graph, stage, window, started)
    })
    .await;
    engine::set_joins_as_written(ctx, false);
    result.map(|run| StageRun {
        peak_rss_kib: rss.kib(),
        cpu: crate::resources::process_cpu()
            .zip(cpu)
            .map(|(end, start)| end - start),
        ..run
    })
}

/// `-- join_order: as_written` (`true`) or the engine's choice (`false`).
///
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
