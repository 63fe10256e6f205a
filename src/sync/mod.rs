//! Replica sync: dump MySQL replica tables, one time window at a time, into the lake's raw
//! partitions, and verify them against the source (design 5.1-5.4 and 10).
//!
//! For each table and window one task, at most `max_parallel_tables` at once, each source's
//! connections capped by its pool: open a read-only `START TRANSACTION WITH CONSISTENT
//! SNAPSHOT` (plain reads, no locks), check the replica's columns against `sql/sources.sql`,
//! compute the window's row count and checksum in SQL ([`verify`]), then stream the window's
//! rows in key order into Arrow batches ([`mysql`]) and into the partition writer, checksumming
//! them on the way. The partition is swapped in only when both sides agree; any failure drops the
//! writer and leaves the previous partition as it was. Connection failures are retried per table
//! and window with exponential backoff.
//!
//! A window is a whole UTC day unless narrowed (`--from/--to`): then the existing partition's rows
//! outside the window are kept and the window's rows replaced (a merge), so a partial sync never
//! drops the rest of the day. This module does not parse arguments or print summaries.

pub mod config;
pub mod mysql;
pub mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::TimestampMicrosecondArray;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use futures::TryStreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row, TxOpts, Value};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, IoContext, Result};
use crate::lake::{Lake, PART_FILE};
use crate::sources::{SourceTable, Sources};

pub use config::SyncConfig;
use mysql::BatchBuilder;
use verify::{Checksum, Checksummer, checksum_sql, quote};

/// A time window `[from, to)` within one trade date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub date: NaiveDate,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

impl Window {
    /// The whole UTC day.
    pub fn day(date: NaiveDate) -> Window {
        let from = date.and_time(NaiveTime::MIN);
        Window {
            date,
            from,
            to: from + chrono::Duration::days(1),
        }
    }

    /// Part of a day; `from` and `to` must lie within it, `from < to`.
    pub fn within(date: NaiveDate, from: NaiveDateTime, to: NaiveDateTime) -> Result<Window> {
        let day = Window::day(date);
        if from < day.from || to > day.to || from >= to {
            return Err(Error::input_hint(
                format!("window {from} .. {to} is not a non-empty part of {date}"),
                "--from and --to are times of day (HH:MM[:SS[.ffffff]], --to may be 24:00) with from < to",
            ));
        }
        Ok(Window { date, from, to })
    }

    pub fn is_whole_day(&self) -> bool {
        *self == Window::day(self.date)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_whole_day() {
            write!(f, "{}", self.date)
        } else {
            write!(
                f,
                "{} {}..{}",
                self.date,
                self.from.format("%H:%M:%S%.6f"),
                if self.to == Window::day(self.date).to {
                    "24:00:00".to_string()
                } else {
                    self.to.format("%H:%M:%S%.6f").to_string()
                }
            )
        }
    }
}

/// One table to sync: where it is on the replica and how its rows are ordered and partitioned.
#[derive(Debug, Clone)]
pub struct TableJob {
    /// Source name (the lake's `<db>`).
    pub source: String,
    /// `` `database`.`table` `` on the replica.
    pub replica: String,
    pub replica_database: String,
    pub table: SourceTable,
    pub time_column: String,
    pub key_column: String,
}

impl TableJob {
    pub fn name(&self) -> String {
        self.table.qualified_name()
    }
}

/// What syncing one table window did.
#[derive(Debug, Clone)]
pub struct Synced {
    pub table: String,
    pub window: Window,
    /// Rows of the window (as counted on the replica and landed).
    pub rows: u64,
    /// Rows kept from the previous partition outside a partial window.
    pub kept_rows: u64,
    /// Size of the partition file.
    pub bytes: u64,
    pub seconds: f64,
    pub attempts: u32,
    pub checksum: Checksum,
}

/// Both sides of a verification.
#[derive(Debug, Clone)]
pub struct Verified {
    pub table: String,
    pub window: Window,
    pub replica: Checksum,
    /// `None` when the lake has no partition for the date.
    pub lake: Option<Checksum>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.lake == Some(self.replica)
    }
}

/// Counters shared by the table tasks, for progress lines.
#[derive(Debug, Default)]
pub struct Progress {
    pub rows: AtomicU64,
    pub tables_done: AtomicUsize,
    pub tables_total: AtomicUsize,
}

/// Load the sync configuration at `config` and the source declarations at `sources`, and
/// plan every table (or `only` those) to sync or verify.
pub fn load_plan(
    config: &std::path::Path,
    sources: &std::path::Path,
    only: &[String],
) -> Result<(SyncConfig, Vec<TableJob>)> {
    let config = SyncConfig::load(config)?;
    let sources = Sources::load(sources)?;
    let jobs = plan(&config, &sources, only)?;
    Ok((config, jobs))
}

/// The tables to sync, in `sql/sources.sql` order: those in the config, narrowed to `only`
/// (`db.table` or `table` names) when not empty.
pub fn plan(config: &SyncConfig, sources: &Sources, only: &[String]) -> Result<Vec<TableJob>> {
    let mut jobs = Vec::new();
    for (name, source) in &config.sources {
        if !sources.tables.iter().any(|t| &t.db == name) {
            return Err(Error::input_hint(
                format!("sync config: source {name} is not a database in sql/sources.sql"),
                "name sources after the <db> part of the tables in sql/sources.sql",
            ));
        }
        let wanted: Vec<(String, String, Option<String>)> = if source.tables.is_empty() {
            sources
                .tables
                .iter()
                .filter(|t| &t.db == name)
                .map(|t| (t.name.clone(), "create_time".to_string(), None))
                .collect()
        } else {
            source
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.time_column.clone(), t.key_column.clone()))
                .collect()
        };
        for (table_name, time_column, key_column) in wanted {
            let qualified = format!("{name}.{table_name}");
            let table = sources.get(&qualified).ok_or_else(|| {
                Error::input_hint(
                    format!("sync config: table {qualified} is not declared"),
                    format!("declare it in {}", sources.path.display()),
                )
            })?;
            if !table.columns.iter().any(|c| {
                c.name == time_column
                    && matches!(c.data_type, arrow::datatypes::DataType::Timestamp(..))
            }) {
                return Err(Error::input(format!(
                    "sync config: {qualified}: time column {time_column} is not a datetime column"
                )));
            }
            let key_column = key_column.or_else(|| table.key.clone()).ok_or_else(|| {
                Error::input_hint(
                    format!("sync config: {qualified} has no key column"),
                    "declare a primary key in sql/sources.sql or set key_column",
                )
            })?;
            if !table.columns.iter().any(|c| c.name == key_column) {
                return Err(Error::input(format!(
                    "sync config: {qualified}: key column {key_column} is not a column"
                )));
            }
            let database = source.database(name).to_string();
            jobs.push(TableJob {
                source: name.clone(),
                replica: format!("{}.{}", quote(&database), quote(&table_name)),
                replica_database: database,
                table: table.clone(),
                time_column,
                key_column,
            });
        }
    }
    for wanted in only {
        if !jobs
            .iter()
            .any(|j| &j.name() == wanted || &j.table.name == wanted)
        {
            return Err(Error::input_hint(
                format!("--table {wanted}: not a table of the sync config"),
                format!(
                    "tables: {}",
                    jobs.iter().map(|j| j.name()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    jobs.retain(|j| only.is_empty() || only.iter().any(|w| *w == j.name() || *w == j.table.name));
    let order = |j: &TableJob| {
        sources
            .tables
            .iter()
            .position(|t| t.qualified_name() == j.name())
    };
    jobs.sort_by_key(order);
    Ok(jobs)
}

/// One connection pool per source, capped at its `max_connections`.
pub struct Replicas {
    pools: BTreeMap<String, Replica>,
}

/// One source's pool, and the permits that keep its tasks within `max_connections`.
#[derive(Clone)]
struct Replica {
    pool: Pool,
    connections: Arc<tokio::sync::Semaphore>,
    max_connections: u32,
}

impl Replicas {
    pub fn new(config: &SyncConfig) -> Result<Replicas> {
        let mut pools = BTreeMap::new();
        for (name, source) in &config.sources {
            let opts = Opts::from_url(&source.url).map_err(|e| {
                Error::input_hint(
                    format!("sync config: sources.{name}.url: {e}"),
                    "write it as mysql://user@host:port",
                )
            })?;
            let constraints = PoolConstraints::new(0, source.max_connections)
                .ok_or_else(|| Error::input(format!("sources.{name}.max_connections")))?;
            let opts = OptsBuilder::from_opts(opts)
                .pass(source.password(name)?)
                .prefer_socket(false)
                .setup(vec!["set time_zone = '+00:00'"])
                .pool_opts(PoolOpts::default().with_constraints(constraints));
            pools.insert(
                name.clone(),
                Replica {
                    pool: Pool::new(opts),
                    connections: Arc::new(tokio::sync::Semaphore::new(source.max_connections)),
                    max_connections: source.max_connections as u32,
                },
            );
        }
        Ok(Replicas { pools })
    }

    fn replica(&self, source: &str) -> Result<Replica> {
        self.pools
            .get(source)
            .cloned()
            .ok_or_else(|| Error::input(format!("no connection configured for source {source}")))
    }

    /// Close every connection.
    pub async fn close(self) {
        for (_, replica) in self.pools {
            let _ = replica.pool.disconnect().await;
        }
    }
}

/// Sync every job's window into the lake. Returns one result per job, in job order; a failed
/// table does not stop the others.
pub async fn sync(
    config: &SyncConfig,
    replicas: &Replicas,
    lake: &Lake,
    jobs: &[TableJob],
    window: Window,
    progress: &Arc<Progress>,
) -> Vec<Result<Synced>> {
    progress.tables_total.store(jobs.len(), Ordering::Relaxed);
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_parallel_tables));
    let mut tasks = Vec::new();
    for job in jobs {
        let replica = match replicas.replica(&job.source) {
            Ok(p) => p,
            Err(e) => {
                tasks.push(Err(e));
                continue;
            }
        };
        let (job, lake, config, permits, progress) = (
            job.clone(),
            lake.clone(),
            config.clone(),
            permits.clone(),
            progress.clone(),
        );
        tasks.push(Ok(tokio::spawn(async move {
            let _permit = permits.acquire().await;
            let result = sync_with_retry(&config, &replica, &lake, &job, window, &progress).await;
            progress.tables_done.fetch_add(1, Ordering::Relaxed);
            result
        })));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(match task {
            Ok(handle) => handle
                .await
                .unwrap_or_else(|e| Err(Error::input(format!("sync task failed: {e}")))),
            Err(e) => Err(e),
        });
    }
    results
}

/// Compare each job's whole-day window on the replica with the lake's partition.
pub async fn verify(
    config: &SyncConfig,
    replicas: &Replicas,
    lake: &Lake,
    jobs: &[TableJob],
    date: NaiveDate,
) -> Vec<Result<Verified>> {
    let window = Window::day(date);
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_parallel_tables));
    let mut tasks = Vec::new();
    for job in jobs {
        let replica = replicas.replica(&job.source);
        let (job, lake, permits) = (job.clone(), lake.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await;
            let replica = replica?;
            let _permit = replica
                .connections
                .acquire()
                .await
                .map_err(|e| Error::input(format!("connection limit closed: {e}")))?;
            let mut conn = replica
                .pool
                .get_conn()
                .await
                .map_err(|e| mysql_error(&job, window, e))?;
            let mut tx = conn
                .start_transaction(snapshot())
                .await
                .map_err(|e| mysql_error(&job, window, e))?;
            let convert = check_replica_columns(&mut tx, &job, window).await?;
            let replica = replica_checksum(&mut tx, &job, window, &convert)
                .await
                .map_err(|e| mysql_error(&job, window, e))?;
            drop(tx);
            let file =
                Lake::partition_dir(&lake.raw_table_dir(&job.table.db, &job.table.name), date)
                    .join(PART_FILE);
            let lake_sum = if file.exists() {
                let (table, time) = (job.table.clone(), job.time_column.clone());
                Some(
                    tokio::task::spawn_blocking(move || {
                        verify::file_checksum(&file, &table, &time, window.from, window.to)
                    })
                    .await
                    .map_err(|e| Error::input(format!("verify task failed: {e}")))??,
                )
            } else {
                None
            };
            Ok(Verified {
                table: job.name(),
                window,
                replica,
                lake: lake_sum,
            })
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(
            task.await
                .unwrap_or_else(|e| Err(Error::input(format!("verify task failed: {e}")))),
        );
    }
    results
}

/// Why one attempt failed: the connection (worth retrying) or anything else.
enum Failure {
    Mysql(mysql_async::Error),
    /// Checksum and dump ran in two snapshots and disagree: redo both in one snapshot.
    Mismatch(String),
    Other(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Other(e)
    }
}

impl From<mysql_async::Error> for Failure {
    fn from(e: mysql_async::Error) -> Self {
        Failure::Mysql(e)
    }
}

/// Lost connections, server shutdown, killed queries, lock and deadlock timeouts.
fn retryable(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => {
            matches!(
                s.code,
                1053 | 1152 | 1158 | 1159 | 1160 | 1161 | 1205 | 1213 | 1317 | 1927 | 2006 | 2013
            )
        }
        _ => false,
    }
}

fn mysql_error(job: &TableJob, window: Window, e: mysql_async::Error) -> Error {
    Error::input_hint(
        format!(
            "sync {} window {window}: MySQL ({}): {e}",
            job.name(),
            job.replica
        ),
        "check that the replica is reachable and the sync user may read the table",
    )
}

async fn sync_with_retry(
    config: &SyncConfig,
    replica: &Replica,
    lake: &Lake,
    job: &TableJob,
    window: Window,
    progress: &Progress,
) -> Result<Synced> {
    let mut delay = Duration::from_millis(config.backoff_ms);
    let mut attempt = 1;
    let mut same_snapshot = false;
    let started = Instant::now();
    loop {
        let mut rows_seen = 0u64;
        match sync_once(
            config,
            replica,
            lake,
            job,
            window,
            progress,
            &mut rows_seen,
            same_snapshot,
        )
        .await
        {
            Ok(mut synced) => {
                synced.attempts = attempt;
                synced.seconds = started.elapsed().as_secs_f64();
                return Ok(synced);
            }
            Err(failure) => {
                progress.rows.fetch_sub(rows_seen, Ordering::Relaxed);
                match failure {
                    Failure::Mismatch(message) => {
                        tracing::info!("{message}; checking again in one snapshot");
                        same_snapshot = true;
                    }
                    Failure::Mysql(e) if retryable(&e) && attempt < config.attempts => {
                        tracing::warn!(
                            "sync {} window {window}: attempt {attempt} failed ({e}); retrying in {delay:?}",
                            job.name()
                        );
                        eprintln!(
                            "ordertrail: sync {} {window}: connection failed ({e}); retry {} of {} in {:.1} s",
                            job.name(),
                            attempt,
                            config.attempts - 1,
                            delay.as_secs_f64()
                        );
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                        attempt += 1;
                    }
                    Failure::Mysql(e) => {
                        let mut err = mysql_error(job, window, e);
                        if let Error::Input { message, .. } = &mut err {
                            message.push_str(&format!(
                                " (after {attempt} attempt(s); the previous partition is unchanged)"
                            ));
                        }
                        return Err(err);
                    }
                    Failure::Other(e) => return Err(e),
                }
            }
        }
    }
}

fn snapshot() -> TxOpts {
    let mut opts = TxOpts::new();
    opts.with_consistent_snapshot(true)
        .with_isolation_level(mysql_async::IsolationLevel::RepeatableRead)
        .with_readonly(true);
    opts
}

/// `[from, to)` as MySQL DATETIME parameters.
fn window_params(window: Window) -> (Value, Value) {
    let v = |t: NaiveDateTime| {
        use chrono::{Datelike, Timelike};
        Value::Date(
            t.year() as u16,
            t.month() as u8,
            t.day() as u8,
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            t.nanosecond() / 1000,
        )
    };
    (v(window.from), v(window.to))
}

/// Check the replica's columns against the declaration; returns the declared columns whose text
/// is not already UTF-8 on the replica (the checksum converts those).
async fn check_replica_columns<Q: Queryable>(
    conn: &mut Q,
    job: &TableJob,
    window: Window,
) -> Result<Vec<String>> {
    let rows: Vec<(String, String, Option<String>)> = conn
        .exec(
            "select column_name, column_type, character_set_name from information_schema.columns \
             where table_schema = ? and table_name = ? order by ordinal_position",
            (job.replica_database.as_str(), job.table.name.as_str()),
        )
        .await
        .map_err(|e| mysql_error(job, window, e))?;
    let columns: Vec<(String, String)> = rows
        .iter()
        .map(|(n, t, _)| (n.clone(), t.clone()))
        .collect();
    mysql::check_columns(&job.table, &job.replica, &columns)?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, charset)| {
            charset
                .as_deref()
                .is_some_and(|c| !matches!(c, "utf8mb4" | "utf8mb3" | "utf8" | "ascii"))
        })
        .map(|(name, _, _)| name)
        .collect())
}

async fn replica_checksum<Q: Queryable>(
    conn: &mut Q,
    job: &TableJob,
    window: Window,
    convert: &[String],
) -> std::result::Result<Checksum, mysql_async::Error> {
    let sql = checksum_sql(&job.table, &job.replica, &job.time_column, convert);
    let row: Option<(u64, String)> = conn.exec_first(sql, window_params(window)).await?;
    let (rows, sum) = row.unwrap_or((0, "0".into()));
    Ok(Checksum {
        rows,
        sum: sum.parse().unwrap_or(u128::MAX),
    })
}

// The attempt's whole context; bundling it in a struct would only rename the arguments.
#[allow(clippy::too_many_arguments)]
async fn sync_once(
    config: &SyncConfig,
    replica: &Replica,
    lake: &Lake,
    job: &TableJob,
    window: Window,
    progress: &Progress,
    rows_seen: &mut u64,
    same_snapshot: bool,
) -> std::result::Result<Synced, Failure> {
    // Two connections (checksum and dump at the same time, each in its own snapshot) when the
    // source allows it; the permits are taken together so two tables cannot deadlock.
    let concurrent = !same_snapshot && replica.max_connections >= 2;
    let _permits = replica
        .connections
        .acquire_many(if concurrent { 2 } else { 1 })
        .await
        .map_err(|e| Error::input(format!("connection limit closed: {e}")))?;
    let mut conn = replica.pool.get_conn().await?;
    let mut tx = conn.start_transaction(snapshot()).await?;
    let convert = check_replica_columns(&mut tx, job, window).await?;
    let (expected, dumped) = if concurrent {
        let checksum = async {
            let mut conn = replica.pool.get_conn().await?;
            let mut tx = conn.start_transaction(snapshot()).await?;
            let sum = replica_checksum(&mut tx, job, window, &convert).await?;
            tx.commit().await?;
            Ok::<_, mysql_async::Error>(sum)
        };
        let dump = dump(config, &mut tx, lake, job, window, progress, rows_seen);
        let (expected, dumped) = tokio::join!(checksum, dump);
        (expected?, dumped?)
    } else {
        let expected = replica_checksum(&mut tx, job, window, &convert).await?;
        (
            expected,
            dump(config, &mut tx, lake, job, window, progress, rows_seen).await?,
        )
    };
    tx.commit().await?;
    let (writer, landed, kept_rows) = dumped;
    if landed != expected {
        let message = format!(
            "sync {} window {window}: verification failed: the replica has {expected}, \
             the landed rows have {landed}; the partition was not replaced",
            job.name(),
        );
        return Err(if concurrent {
            Failure::Mismatch(message)
        } else {
            Failure::Other(Error::input_hint(
                message,
                "the rows changed in type conversion or differ from the replica; run sync again, \
                 and report it if it persists",
            ))
        });
    }
    let written = writer.commit()?;
    Ok(Synced {
        table: job.name(),
        window,
        rows: landed.rows,
        kept_rows,
        bytes: written.bytes,
        seconds: 0.0,
        attempts: 0,
        checksum: landed,
    })
}

/// Stream the window's rows in key order into a new partition (not yet committed), with the
/// previous partition's rows outside a partial window; returns the writer, the checksum of the
/// window's rows and how many rows were kept.
async fn dump<Q: Queryable>(
    config: &SyncConfig,
    conn: &mut Q,
    lake: &Lake,
    job: &TableJob,
    window: Window,
    progress: &Progress,
    rows_seen: &mut u64,
) -> std::result::Result<(crate::lake::PartitionWriter, Checksum, u64), Failure> {
    let table_dir = lake.raw_table_dir(&job.table.db, &job.table.name);
    let schema = job.table.schema();
    let mut writer = lake.partition_writer(&table_dir, window.date, &schema)?;
    let mut kept_rows = 0;
    if !window.is_whole_day() {
        kept_rows = keep_outside(&table_dir, job, window, &mut writer)?;
    }
    let columns: Vec<String> = job.table.columns.iter().map(|c| quote(&c.name)).collect();
    let sql = format!(
        "select {} from {} where {time} >= ? and {time} < ? order by {}",
        columns.join(", "),
        job.replica,
        quote(&job.key_column),
        time = quote(&job.time_column)
    );
    let mut builder = BatchBuilder::new(&job.table)?;
    let mut landed = Checksummer::default();
    let mut land = |builder: &mut BatchBuilder| -> Result<()> {
        let batch = builder.finish()?;
        landed.add(&batch)?;
        writer.write(&batch)?;
        *rows_seen += batch.num_rows() as u64;
        progress
            .rows
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        Ok(())
    };
    let mut result = conn.exec_iter(sql, window_params(window)).await?;
    if let Some(mut stream) = result.stream::<Row>().await? {
        while let Some(row) = stream.try_next().await? {
            builder.push(row.unwrap())?;
            if builder.len() >= config.batch_rows {
                land(&mut builder)?;
            }
        }
    }
    drop(result);
    if !builder.is_empty() {
        land(&mut builder)?;
    }
    Ok((writer, landed.checksum, kept_rows))
}

/// Copy the existing partition's rows outside a partial window into the new partition.
fn keep_outside(
    table_dir: &std::path::Path,
    job: &TableJob,
    window: Window,
    writer: &mut crate::lake::PartitionWriter,
) -> Result<u64> {
    let file = Lake::partition_dir(table_dir, window.date).join(PART_FILE);
    if !file.exists() {
        return Ok(0);
    }
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).at(&file)?)?
        .with_batch_size(8192)
        .build()?;
    let (from, to) = (
        window.from.and_utc().timestamp_micros(),
        window.to.and_utc().timestamp_micros(),
    );
    let mut kept = 0;
    for batch in reader {
        let batch = batch?;
        let times = batch
            .column_by_name(&job.time_column)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
            .ok_or_else(|| {
                Error::input(format!(
                    "{}: no timestamp column {}",
                    file.display(),
                    job.time_column
                ))
            })?;
        let mask: arrow::array::BooleanArray = times
            .iter()
            .map(|t| Some(!t.is_some_and(|t| t >= from && t < to)))
            .collect();
        let batch = arrow::compute::filter_record_batch(&batch, &mask)?;
        kept += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    Ok(kept)
}
