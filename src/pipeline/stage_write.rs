//! Writing one stage's run for a window: its bucket runs, each row to the file of its bucket,
//! the window merged into the day, and the day's files swapped in at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{RecordBatch, UInt32Array};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::{StageRun, bucket_params, is_ordered, window_params};
use crate::engine;
use crate::engine::set_joins_as_written;
use crate::error::{Error, Result};
use crate::lake::{BUCKET_COLUMN, Lake, PART_FILE, PARTITION_COLUMN, Staging};
use crate::stages::{Stage, StageGraph, sql_error};
use crate::window::Window;

/// Buckets.
///
/// The lake splits each trade date's chain work by order: a stage with `-- bucket_by: col`
/// writes its partition as bucket folders, `trade_date=D/bucket=N/part-K.parquet`, each row
/// in the folder of `bucket(col, $buckets)`, where `$buckets` is the lake's bucket count
/// (`stages/<version>/_buckets`). A stage whose SQL uses `$bucket` runs once per bucket `K`
/// (`run K` writes the files `part-K`), and reads its bucket of bucketed inputs by partition
/// pruning (`where bucket = $bucket`); a stage that does not runs once (run 0). Runs go
/// `jobs` at a time, sharing the session's memory pool (see `engine::run_buckets`).
///
/// `flow_complete` is where the split by chain happens: it runs per bucket of the ClOrdID (its
/// input `flow` is bucketed so), and each run writes its rows to the bucket of their chain, so
/// a chain bucket folder holds one file per run. The stages after it run per chain bucket and
/// write one file each. Every file is written in the stage's `order by`.
///
/// All files of a stage's day are written aside and swapped in with one rename (readers see
/// the old set or the new one); an incremental stage's window merges each run's new rows into
/// that run's files, and a run with nothing new keeps its files (hard links).
pub(super) async fn run_stage_planned(
    ctx: &SessionContext,
    lake: &Lake,
    graph: &StageGraph,
    stage: &Stage,
    window: Window,
    started: Instant,
) -> Result<StageRun> {
    let date = window.date();
    let plan = engine::bucket_plan(ctx);
    let err = |e| sql_error(&stage.path, e);
    let df = ctx.sql(&stage.sql).await.map_err(err)?;
    let df = df
        .with_param_values(bucket_params(window, 0, plan.buckets))
        .map_err(err)?;
    if !is_ordered(df.logical_plan()) {
        return Err(Error::Sql {
            file: stage.path.clone(),
            location: None,
            message: "the query has no final ORDER BY; stage outputs must be deterministic".into(),
        });
    }
    let schema = Arc::new(df.schema().as_arrow().clone());
    check_output_columns(stage, &schema)?;
    // On a cluster the rows are put in the stage's order where they arrive (see there).
    let ordering = match engine::on_cluster(ctx) {
        false => None,
        true => Some(
            engine::query_ordering(ctx, &df)
                .map_err(err)?
                .ok_or_else(|| Error::Sql {
                    file: stage.path.clone(),
                    location: None,
                    message: "on a cluster a stage's final ORDER BY must sort by columns it \
                              outputs (its rows are sorted where they arrive)"
                        .into(),
                })?,
        ),
    };
    let dir = lake.stage_table_dir(&graph.version, &stage.name);
    if stage.bucket_by.is_some() {
        crate::lake::ensure_buckets(
            &lake.root().join("stages").join(&graph.version),
            plan.buckets,
        )?;
    }
    let part = Lake::partition_dir(&dir, date);
    let merge = stage
        .incremental
        .clone()
        .filter(|_| !window.starts_the_day() && part.exists());
    let runs = if stage.bucketed { plan.buckets } else { 1 };
    let job = Arc::new(StageJob {
        lake: lake.clone(),
        stage: stage.clone(),
        window,
        buckets: plan.buckets,
        runs,
        schema,
        ordering,
        staging: Staging::new(lake, part.clone())?,
        merge,
    });
    let outputs = {
        let job = job.clone();
        engine::run_buckets(ctx, runs, plan.jobs, move |ctx, run| {
            let job = job.clone();
            async move { job.run(ctx, run).await }
        })
        .await?
    };
    let mut files = std::collections::BTreeMap::new();
    let (mut rows, mut bytes) = (0, 0);
    for out in outputs {
        rows += out.rows;
        for (rel, written) in out.files {
            bytes += written.bytes;
            files.insert(rel, written.sha256);
        }
    }
    if files.is_empty() {
        // No rows at all: one empty file, so that the day's schema is known.
        let rel = job.layout().file(0, 0);
        let written = job
            .staging
            .file(Path::new(&rel), &job.schema, sorted_by(stage))?
            .finish()?;
        bytes += written.bytes;
        files.insert(rel, written.sha256);
    }
    crate::signal::crash_point(&stage.name, window, "before_commit");
    job.staging.commit()?;
    crate::signal::crash_point(&stage.name, window, "after_commit");
    engine::register_stage(ctx, &dir, &stage.name, stage.bucket_by.is_some()).await?;
    Ok(StageRun {
        stage: stage.name.clone(),
        rows,
        bytes,
        sha256: crate::lake::files_digest(&files),
        elapsed: started.elapsed(),
        buckets: runs,
        peak_rss_kib: None,
        cpu: None,
    })
}

/// The runner adds the partition columns; a stage must not output them, and its
/// `bucket_by` column must be one of its outputs.
fn check_output_columns(stage: &Stage, schema: &arrow::datatypes::SchemaRef) -> Result<()> {
    let sql_err = |message: String| Error::Sql {
        file: stage.path.clone(),
        location: None,
        message,
    };
    for col in [PARTITION_COLUMN, BUCKET_COLUMN] {
        if col == BUCKET_COLUMN && stage.bucket_by.is_none() {
            continue;
        }
        if schema.column_with_name(col).is_some() {
            return Err(sql_err(format!(
                "the query outputs a column named {col}; that is a partition column the runner \
                 adds, select it under another name or not at all (`select * exclude ({col})`)"
            )));
        }
    }
    if let Some(col) = &stage.bucket_by
        && schema.column_with_name(col).is_none()
    {
        return Err(sql_err(format!(
            "`-- bucket_by: {col}` names a column the query does not output"
        )));
    }
    Ok(())
}

/// Where a stage's files go in its partition.
enum Layout<'a> {
    /// One file, `part-0.parquet`.
    Single,
    /// Bucket folders by the value of `column`: `bucket=N/part-<run>.parquet`.
    Buckets { column: &'a str, buckets: usize },
}

impl Layout<'_> {
    /// The file of `run` in `bucket`, relative to the partition.
    fn file(&self, bucket: usize, run: usize) -> String {
        match self {
            Layout::Single => PART_FILE.to_string(),
            Layout::Buckets { .. } => format!(
                "{}/{}",
                crate::lake::bucket_dir(Path::new(""), bucket).display(),
                crate::lake::run_file(run)
            ),
        }
    }
}

/// One stage run for one window, shared by its bucket runs.
struct StageJob {
    lake: Lake,
    stage: Stage,
    window: Window,
    buckets: usize,
    runs: usize,
    schema: arrow::datatypes::SchemaRef,
    /// The order rows are sorted in where they arrive (`Some` on a cluster).
    ordering: Option<datafusion::physical_expr::LexOrdering>,
    staging: Staging,
    /// Set when the window merges into the day's partition.
    merge: Option<crate::stages::Incremental>,
}

/// What one bucket run wrote: its rows (for a merge, the window's) and its files.
struct RunOutput {
    rows: u64,
    files: Vec<(String, crate::lake::Written)>,
}

impl StageJob {
    fn layout(&self) -> Layout<'_> {
        match &self.stage.bucket_by {
            None => Layout::Single,
            Some(column) => Layout::Buckets {
                column,
                buckets: self.buckets,
            },
        }
    }

    /// Run `run` (the bucket of a stage run per bucket; 0 for one in one piece).
    async fn run(&self, ctx: SessionContext, run: usize) -> Result<RunOutput> {
        let stage = &self.stage;
        if run > 0 {
            crate::signal::crash_point(&stage.name, self.window, &format!("before_bucket_{run}"));
            // A long stage stops between buckets on SIGTERM: nothing of it is written yet.
            if crate::signal::stopping() {
                return Err(Error::Interrupted {
                    stage: stage.name.clone(),
                    done: run,
                    buckets: self.runs,
                });
            }
        }
        let started = Instant::now();
        let err = |e| sql_error(&stage.path, e);
        let df = ctx.sql(&stage.sql).await.map_err(err)?;
        let df = df
            .with_param_values(bucket_params(self.window, run, self.buckets))
            .map_err(err)?;
        let rows = engine::execute_in_order(&ctx, df, self.ordering.as_ref())
            .await
            .map_err(err)?;
        let out = match &self.merge {
            None => {
                let mut sink = self.sink(run);
                sink.write_all(rows, stage).await?;
                let files = sink.finish()?;
                let rows = files.iter().map(|(_, w)| w.rows).sum();
                RunOutput { rows, files }
            }
            Some(inc) => self.merge_run(&ctx, inc, run, rows).await?,
        };
        tracing::debug!(
            stage = %stage.name, run, runs = self.runs, rows = out.rows,
            ms = started.elapsed().as_millis() as u64, "bucket done"
        );
        Ok(out)
    }

    fn sink(&self, run: usize) -> BucketSink<'_> {
        BucketSink {
            job: self,
            run,
            files: std::collections::BTreeMap::new(),
        }
    }

    /// The files of `run` in the partition being replaced.
    fn old_files(&self, run: usize) -> Result<Vec<std::path::PathBuf>> {
        let part = self.staging.target();
        Ok(match self.layout() {
            Layout::Single => vec![part.join(PART_FILE)]
                .into_iter()
                .filter(|p| p.exists())
                .collect(),
            Layout::Buckets { .. } => {
                let name = crate::lake::run_file(run);
                let mut files = Vec::new();
                for entry in std::fs::read_dir(part).map_err(|e| Error::io(part, e))? {
                    let file = entry.map_err(|e| Error::io(part, e))?.path().join(&name);
                    if file.exists() {
                        files.push(file);
                    }
                }
                files.sort();
                files
            }
        })
    }

    /// Write the window's rows of `run` aside, then write the run's files again as: the rows
    /// they had before the window's start that the window does not replace, plus the window's
    /// rows, in key order. A run with no rows in the window, and none at or after its start,
    /// keeps its files.
    async fn merge_run(
        &self,
        ctx: &SessionContext,
        inc: &crate::stages::Incremental,
        run: usize,
        rows: SendableRecordBatchStream,
    ) -> Result<RunOutput> {
        let stage = &self.stage;
        let window = self.window;
        let started = Instant::now();
        let old = self.old_files(run)?;
        let scratch = Staging::new(&self.lake, self.staging.target().to_path_buf())?;
        let scratch_file = Path::new("window.parquet");
        let mut writer = scratch.file(scratch_file, &self.schema, sorted_by(stage))?;
        for_each_batch(rows, stage, |batch| writer.write(batch)).await?;
        let window_rows = writer.finish()?.rows;
        let computed = started.elapsed();
        let start = window.start.and_utc().timestamp_micros();
        if window_rows == 0
            && old
                .iter()
                .all(|f| crate::lake::max_timestamp(f, &inc.event_time).is_some_and(|t| t < start))
        {
            let part = self.staging.target();
            let mut files = Vec::new();
            for f in &old {
                let rel = f
                    .strip_prefix(part)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .to_string();
                self.staging.keep(f, Path::new(&rel))?;
                let written = crate::lake::Written {
                    sha256: crate::lake::file_sha256(f)?,
                    ..Default::default()
                };
                files.push((rel, written));
            }
            return Ok(RunOutput { rows: 0, files });
        }
        let window_table = format!("__window_{}_{run}", stage.name);
        let old_table = format!("__old_{}_{run}", stage.name);
        let plain = crate::lake::plain_schema(&self.schema);
        engine::register_files(
            ctx,
            &window_table,
            &[scratch.path_of(scratch_file)],
            plain.clone(),
        )
        .await?;
        let cols = column_list(&self.schema);
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
        let earlier = match old.is_empty() {
            true => String::new(),
            false => {
                engine::register_files(ctx, &old_table, &old, plain).await?;
                format!(
                    "select {cols} from {old_table} b \
                     where b.{time} < $window_start \
                       and not exists (select 1 from {window_table} w where {same_key}) \
                     union all ",
                    old_table = q(&old_table),
                    window_table = q(&window_table),
                    time = q(&inc.event_time),
                )
            }
        };
        let sql = format!(
            "{earlier}select {cols} from {window_table} order by {order}",
            window_table = q(&window_table)
        );
        // Both sides are Parquet files with statistics: let the engine pick the build side.
        let merge_ctx = engine::job_context(ctx, 1);
        set_joins_as_written(&merge_ctx, false);
        let merged = async {
            let df = merge_ctx
                .sql(&sql)
                .await?
                .with_param_values(window_params(window))?;
            let plan = df.create_physical_plan().await?;
            if tracing::enabled!(tracing::Level::TRACE) {
                tracing::trace!(
                    "merge plan:\n{}",
                    datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
                );
            }
            datafusion::physical_plan::execute_stream(plan, merge_ctx.task_ctx())
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
        let result = async {
            let mut sink = self.sink(run);
            sink.write_all(merged?, stage).await?;
            sink.finish()
        }
        .await;
        ctx.deregister_table(&window_table)?;
        ctx.deregister_table(&old_table)?;
        let files = result?;
        tracing::debug!(
            stage = %stage.name, run, window_rows, old_files = old.len(),
            compute_ms = computed.as_millis() as u64,
            merge_ms = (started.elapsed() - computed).as_millis() as u64,
            "window merged into the day"
        );
        Ok(RunOutput {
            rows: window_rows,
            files,
        })
    }
}

/// The files one bucket run writes: rows go to the file of their bucket (one file for a stage
/// that is not bucketed), each in the order they arrive.
struct BucketSink<'a> {
    job: &'a StageJob,
    run: usize,
    files: std::collections::BTreeMap<usize, crate::lake::FileWriter>,
}

impl BucketSink<'_> {
    async fn write_all(&mut self, rows: SendableRecordBatchStream, stage: &Stage) -> Result<()> {
        for_each_batch(rows, stage, |batch| self.write(batch)).await
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (column, buckets) = match self.job.layout() {
            Layout::Single => return self.file(0)?.write(batch),
            Layout::Buckets { column, buckets } => (column, buckets),
        };
        let keys = batch.column_by_name(column).ok_or_else(|| {
            Error::input(format!(
                "stage {}: bucket_by column {column} is missing from a batch",
                self.job.stage.name
            ))
        })?;
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); buckets];
        let mut i = 0u32;
        crate::udf::bucket::for_each_bucket(keys, buckets as u64, |b| {
            rows[b.unwrap_or(0) as usize].push(i);
            i += 1;
        })?;
        for (bucket, rows) in rows.into_iter().enumerate() {
            if rows.len() == batch.num_rows() {
                return self.file(bucket)?.write(batch);
            }
            if !rows.is_empty() {
                let part = arrow::compute::take_record_batch(batch, &UInt32Array::from(rows))?;
                self.file(bucket)?.write(&part)?;
            }
        }
        Ok(())
    }

    fn file(&mut self, bucket: usize) -> Result<&mut crate::lake::FileWriter> {
        use std::collections::btree_map::Entry;
        match self.files.entry(bucket) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let rel = self.job.layout().file(bucket, self.run);
                let writer = self.job.staging.file(
                    Path::new(&rel),
                    &self.job.schema,
                    sorted_by(&self.job.stage),
                )?;
                Ok(e.insert(writer))
            }
        }
    }

    fn finish(self) -> Result<Vec<(String, crate::lake::Written)>> {
        let layout = self.job.layout();
        self.files
            .into_iter()
            .map(|(bucket, w)| Ok((layout.file(bucket, self.run), w.finish()?)))
            .collect()
    }
}

/// Hand every batch of `rows` (a stage's output) to `f`; an engine error names the stage.
async fn for_each_batch(
    mut rows: SendableRecordBatchStream,
    stage: &Stage,
    mut f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    while let Some(batch) = rows.next().await {
        f(&batch.map_err(|e| sql_error(&stage.path, e))?)?;
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
