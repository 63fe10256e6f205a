//! Landing a batch of feed messages in the lake: typed by `sql/sources.sql`, split by table and
//! trade date, rows already landed recognised by their key, the rest written as one new file
//! per partition, messages that cannot be typed written to the feed's quarantine with the
//! reason and their bytes. Nothing here talks to a broker: the caller acks a batch only after
//! [`Lander::land`] returned.
//!
//! A batch's partitions are each swapped into place atomically (the old files kept as hard
//! links, the new one added). A crash between two partitions leaves some of the batch landed;
//! its messages were not acked, so they come again and the rows already landed are skipped by
//! key. The lake is the truth: a batch's keys are looked up in the partition's files (only the
//! row groups whose key statistics can hold them), not in a list the feed keeps.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt32Array, UInt64Array,
};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::row::{RowConverter, SortField};
use chrono::{NaiveDate, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, IoContext, Result};
use crate::lake::{Lake, Staging, partition_files};
use crate::sources::{SourceTable, Sources, UTC};

/// One message of the feed: a source row as JSON.
#[derive(Debug, Clone)]
pub struct Message {
    /// Where the broker knows it by: `nats:<stream sequence>`, the AMQP message id, or (an AMQP
    /// message without one) `amqp:<delivery tag>`, which changes with every delivery.
    pub id: String,
    /// The subject or queue it came from.
    pub source: String,
    /// `db.table`, when the transport names it (subject, `type` property).
    pub table: Option<String>,
    pub payload: bytes::Bytes,
    /// How often the broker has delivered it, this time included.
    pub deliveries: u64,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Landed {
    pub rows: u64,
    /// Rows whose key was already in the lake (or earlier in the batch) with the same values.
    pub duplicates: u64,
    pub quarantined: u64,
    /// Trade dates that received rows.
    pub dates: BTreeSet<NaiveDate>,
    /// Partitions that got a file.
    pub partitions: Vec<PathBuf>,
}

/// Rows of one table and date to land, and the message each came from.
type Accepted = (RecordBatch, Vec<usize>);
/// A file of a partition: its path relative to the partition, and its path.
type LakeFile = (String, PathBuf);

/// Keys landed in one partition, with a fingerprint of each row's values.
type KeySet = HashMap<u64, u32>;

pub struct Lander {
    lake: Lake,
    sources: Sources,
    feed: String,
    /// Tables without an integer key: per (table index, trade date), every row's hash in the
    /// lake, read on first use.
    keys: HashMap<(usize, NaiveDate), KeySet>,
    /// Per lake file (path, size, modification time): the key range of each row group, from
    /// the Parquet statistics, so that a batch reads only the row groups its keys fall in.
    ranges: HashMap<PathBuf, RowGroupRanges>,
    converters: Vec<RowConverter>,
}

type RowGroupRanges = (u64, std::time::SystemTime, Vec<(i64, i64)>);

/// Columns of the feed's quarantine table.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "received_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            false,
        ),
        Field::new("message_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("deliveries", DataType::UInt64, false),
        Field::new("payload", DataType::Binary, false),
    ]))
}

/// `<lake>/quarantine/feed/<feed>`: messages that could not be landed, by the UTC date they
/// were received (`trade_date=` like every lake table, so `query` and other readers see a
/// hive-partitioned table).
pub fn quarantine_dir(lake: &Lake, feed: &str) -> PathBuf {
    lake.root().join("quarantine").join("feed").join(feed)
}

struct Rejected {
    message: usize,
    table: Option<String>,
    reason: String,
}

impl Lander {
    pub fn new(lake: &Lake, sources: &Sources, feed: &str) -> Result<Lander> {
        let converters = sources
            .tables
            .iter()
            .map(|t| {
                RowConverter::new(
                    t.schema()
                        .fields()
                        .iter()
                        .map(|f| SortField::new(f.data_type().clone()))
                        .collect(),
                )
                .map_err(Error::from)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Lander {
            lake: lake.clone(),
            sources: sources.clone(),
            feed: feed.to_string(),
            keys: HashMap::new(),
            ranges: HashMap::new(),
            converters,
        })
    }

    /// Land a batch. When this returns Ok, every message is in a raw partition, recognised as
    /// already there, or in the quarantine: the caller may ack them all.
    pub fn land(&mut self, messages: &[Message], max_deliveries: u64) -> Result<Landed> {
        let mut rejected = Vec::new();
        let mut by_table: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, m) in messages.iter().enumerate() {
            let named = m.table.clone().or_else(|| table_field(&m.payload));
            if m.deliveries > max_deliveries {
                rejected.push(Rejected {
                    message: i,
                    table: named,
                    reason: format!(
                        "delivered {} times, more than batch.max_deliveries = {max_deliveries}: \
                         every earlier attempt to land it failed",
                        m.deliveries
                    ),
                });
                continue;
            }
            let Some(name) = named else {
                rejected.push(Rejected {
                    message: i,
                    table: None,
                    reason: "names no table (subject <prefix>.<db>.<table>, the `type` \
                             property or a `_table` field)"
                        .into(),
                });
                continue;
            };
            match self
                .sources
                .tables
                .iter()
                .position(|t| t.qualified_name() == name)
            {
                Some(t) => by_table.entry(t).or_default().push(i),
                None => rejected.push(Rejected {
                    message: i,
                    table: Some(name.clone()),
                    reason: format!(
                        "unknown table {name}: not declared in {}",
                        self.sources.path.display()
                    ),
                }),
            }
        }

        // Typed rows, and which message each row came from.
        let mut accepted: BTreeMap<(usize, NaiveDate), Vec<Accepted>> = BTreeMap::new();
        let mut landed = Landed::default();
        let mut new_keys: HashMap<(usize, NaiveDate), KeySet> = HashMap::new();
        for (t, idx) in by_table {
            let table = self.sources.tables[t].clone();
            let (batch, rows_from) = decode(&table, messages, &idx, &mut rejected)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let dates = table.row_dates(&batch)?;
            let keys = row_keys(&batch, &table, &self.converters[t])?;
            let prints = fingerprints(&batch, &self.converters[t])?;
            let mut by_date: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
            for (row, date) in dates.iter().enumerate() {
                match date {
                    Some(d) => by_date.entry(*d).or_default().push(row),
                    None => rejected.push(Rejected {
                        message: rows_from[row],
                        table: Some(table.qualified_name()),
                        reason: format!("{} is NULL: no trade date", table.time_column()),
                    }),
                }
            }
            let mut per_date: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
            for (date, rows) in by_date {
                let wanted: HashSet<u64> = rows.iter().map(|r| keys[*r]).collect();
                let lake_keys = self.lake_keys(t, date, &wanted)?;
                let batch_keys = new_keys.entry((t, date)).or_default();
                for row in rows {
                    match lake_keys
                        .get(&keys[row])
                        .or_else(|| batch_keys.get(&keys[row]))
                    {
                        Some(print) if *print == prints[row] => landed.duplicates += 1,
                        Some(_) => rejected.push(Rejected {
                            message: rows_from[row],
                            table: Some(table.qualified_name()),
                            reason: format!(
                                "key {} was already landed with other values (trade date {date})",
                                key_text(&batch, &table, row)
                            ),
                        }),
                        None => {
                            batch_keys.insert(keys[row], prints[row]);
                            per_date.entry(date).or_default().push(row as u32);
                        }
                    }
                }
            }
            for (date, rows) in per_date {
                let indices = UInt32Array::from(rows.clone());
                let columns = batch
                    .columns()
                    .iter()
                    .map(|c| take(c, &indices, None).map_err(Error::from))
                    .collect::<Result<Vec<ArrayRef>>>()?;
                let part = RecordBatch::try_new(batch.schema(), columns)?;
                let from = rows.iter().map(|r| rows_from[*r as usize]).collect();
                accepted.entry((t, date)).or_default().push((part, from));
            }
        }

        // Write: one new file per partition, plus the quarantine's.
        let stamp = file_stamp();
        let mut stagings = Vec::new();
        for ((t, date), parts) in &accepted {
            let table = &self.sources.tables[*t];
            let schema = table.schema();
            let batches: Vec<RecordBatch> = parts.iter().map(|(b, _)| b.clone()).collect();
            let rows = concat_batches(&schema, &batches)?;
            let dir = Lake::partition_dir(&self.lake.raw_table_dir(&table.db, &table.name), *date);
            stagings.push(add_file(
                &self.lake,
                &dir,
                &format!("{stamp}-f.parquet"),
                &rows,
            )?);
            landed.rows += rows.num_rows() as u64;
            landed.dates.insert(*date);
            landed.partitions.push(dir);
        }
        // A redelivered message may have been quarantined by an attempt that was killed
        // before its ack: it is a repeat, not a second poison message.
        let before = rejected.len();
        rejected = self.not_yet_quarantined(messages, rejected)?;
        landed.duplicates += (before - rejected.len()) as u64;
        if !rejected.is_empty() {
            rejected.sort_by_key(|r| r.message);
            let batch = quarantine_batch(messages, &rejected)?;
            let dir = Lake::partition_dir(
                &quarantine_dir(&self.lake, &self.feed),
                Utc::now().date_naive(),
            );
            stagings.push(add_file(
                &self.lake,
                &dir,
                &format!("{stamp}-q.parquet"),
                &batch,
            )?);
            landed.quarantined = rejected.len() as u64;
        }
        for staging in &stagings {
            staging.commit()?;
        }
        for (k, v) in new_keys {
            // The whole-row sets of tables without an integer key, where loaded, stay current;
            // keyed tables look in the files again.
            if let Some(set) = self.keys.get_mut(&k) {
                set.extend(v);
            }
        }
        Ok(landed)
    }

    /// `rejected` without the messages the quarantine already holds. Only redelivered
    /// messages are looked up (a first delivery cannot have been quarantined), so the
    /// quarantine is read only after a crash or a bounce. A message is the same one when its
    /// source, table and bytes match and, where the broker's id is stable (a NATS stream
    /// sequence, an AMQP `message_id`; not an AMQP delivery tag), its id too.
    fn not_yet_quarantined(
        &self,
        messages: &[Message],
        rejected: Vec<Rejected>,
    ) -> Result<Vec<Rejected>> {
        if rejected.iter().all(|r| messages[r.message].deliveries <= 1) {
            return Ok(rejected);
        }
        let dir = quarantine_dir(&self.lake, &self.feed);
        let mut held: HashSet<(Option<String>, String, Option<String>, u64)> = HashSet::new();
        for date in Lake::partition_dates(&dir)? {
            for (rel, path) in partition_files(&Lake::partition_dir(&dir, date))? {
                if !rel.ends_with(".parquet") {
                    continue;
                }
                let reader =
                    ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).at(&path)?)?
                        .build()?;
                for batch in reader {
                    let batch = batch?;
                    // Our own files; a column of another type is named, not a panic.
                    let column = |name: &str| {
                        batch.column_by_name(name).ok_or_else(|| {
                            Error::data(
                                format!(
                                    "{}: quarantine file without a {name} column",
                                    path.display()
                                ),
                                FOREIGN_QUARANTINE_FILE,
                            )
                        })
                    };
                    let text = |name: &str| -> Result<&StringArray> {
                        column(name)?
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .ok_or_else(|| {
                                Error::data(
                                    format!(
                                        "{}: quarantine column {name} is not text",
                                        path.display()
                                    ),
                                    FOREIGN_QUARANTINE_FILE,
                                )
                            })
                    };
                    let (ids, sources, tables) =
                        (text("message_id")?, text("source")?, text("table_name")?);
                    let payloads = column("payload")?
                        .as_any()
                        .downcast_ref::<BinaryArray>()
                        .ok_or_else(|| {
                            Error::data(
                                format!(
                                    "{}: quarantine column payload is not binary",
                                    path.display()
                                ),
                                FOREIGN_QUARANTINE_FILE,
                            )
                        })?;
                    for i in 0..batch.num_rows() {
                        let (source, table, print) = (
                            sources.value(i).to_string(),
                            tables.is_valid(i).then(|| tables.value(i).to_string()),
                            fnv1a(payloads.value(i)),
                        );
                        // Under its stable id, and for a message whose id the broker does not
                        // keep (an AMQP delivery tag) under none.
                        if let Some(id) = stable_id(ids.value(i)) {
                            held.insert((
                                Some(id.to_string()),
                                source.clone(),
                                table.clone(),
                                print,
                            ));
                        }
                        held.insert((None, source, table, print));
                    }
                }
            }
        }
        Ok(rejected
            .into_iter()
            .filter(|r| {
                let m = &messages[r.message];
                m.deliveries <= 1
                    || !held.contains(&(
                        stable_id(&m.id).map(str::to_string),
                        m.source.clone(),
                        r.table.clone(),
                        fnv1a(&m.payload),
                    ))
            })
            .collect())
    }

    /// Which of `wanted` are in the lake's partition of `date`, with their rows' fingerprints.
    /// A table with an integer key reads only the row groups whose key range (Parquet
    /// statistics) holds one of them: keys mostly grow, so a batch of new rows reads nothing,
    /// and memory does not grow with the day. Other tables keep every row's hash per partition.
    fn lake_keys(&mut self, t: usize, date: NaiveDate, wanted: &HashSet<u64>) -> Result<KeySet> {
        let table = self.sources.tables[t].clone();
        let schema = table.schema();
        let key_idx = table.key.as_ref().and_then(|k| {
            let i = schema.index_of(k).ok()?;
            (schema.field(i).data_type() == &DataType::Int64).then_some(i)
        });
        let Some(key_idx) = key_idx else {
            let all = self.keys_of(t, date)?;
            return Ok(wanted
                .iter()
                .filter_map(|k| all.get(k).map(|p| (*k, *p)))
                .collect());
        };
        let mut out = KeySet::new();
        let mut sorted: Vec<i64> = wanted.iter().map(|k| *k as i64).collect();
        sorted.sort_unstable();
        // Whether one of the wanted keys lies in [min, max].
        let holds = |min: i64, max: i64| {
            let i = sorted.partition_point(|k| *k < min);
            i < sorted.len() && sorted[i] <= max
        };
        let dir = Lake::partition_dir(&self.lake.raw_table_dir(&table.db, &table.name), date);
        if !dir.exists() {
            return Ok(out);
        }
        for (rel, path) in partition_files(&dir)? {
            if !rel.ends_with(".parquet") {
                continue;
            }
            let groups: Vec<usize> = self
                .row_group_ranges(&path, key_idx)?
                .iter()
                .enumerate()
                .filter(|(_, (min, max))| holds(*min, *max))
                .map(|(i, _)| i)
                .collect();
            // Of those, the ones that hold one of the keys, read by the key column alone.
            let groups = self.groups_holding(&path, key_idx, groups, wanted)?;
            if groups.is_empty() {
                continue;
            }
            let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).at(&path)?)
                .map_err(|e| damaged(&path, e))?
                .with_row_groups(groups)
                .with_batch_size(8192)
                .build()
                .map_err(|e| damaged(&path, e))?;
            for batch in reader {
                let batch = conform(&path, &schema, batch?)?;
                let hits: Vec<u32> = {
                    let ids = int64_column(&batch, key_idx, &path)?;
                    (0..batch.num_rows())
                        .filter(|r| ids.is_valid(*r) && wanted.contains(&(ids.value(*r) as u64)))
                        .map(|r| r as u32)
                        .collect()
                };
                if hits.is_empty() {
                    continue;
                }
                let rows = arrow::compute::take_record_batch(&batch, &UInt32Array::from(hits))?;
                let prints = fingerprints(&rows, &self.converters[t])?;
                let ids = int64_column(&rows, key_idx, &path)?;
                for (r, print) in prints.into_iter().enumerate() {
                    out.insert(ids.value(r) as u64, print);
                }
            }
        }
        Ok(out)
    }

    /// Which of the row groups `groups` of a lake file hold one of `wanted` in the key column
    /// (reading that column only).
    fn groups_holding(
        &self,
        path: &Path,
        key_idx: usize,
        groups: Vec<usize>,
        wanted: &HashSet<u64>,
    ) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for g in groups {
            let builder = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).at(path)?)
                .map_err(|e| damaged(path, e))?;
            let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [key_idx]);
            let reader = builder
                .with_projection(mask)
                .with_row_groups(vec![g])
                .with_batch_size(65536)
                .build()
                .map_err(|e| damaged(path, e))?;
            let mut hit = false;
            for batch in reader {
                let batch = batch?;
                let ids = int64_column(&batch, 0, path)?;
                if ids.iter().flatten().any(|id| wanted.contains(&(id as u64))) {
                    hit = true;
                    break;
                }
            }
            if hit {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// The key column's (min, max) per row group of a lake file; unknown bounds (no
    /// statistics) cover everything.
    fn row_group_ranges(&mut self, path: &Path, key_idx: usize) -> Result<Vec<(i64, i64)>> {
        let meta = fs::metadata(path).at(path)?;
        let stamp = (meta.len(), meta.modified().at(path)?);
        if let Some((len, modified, ranges)) = self.ranges.get(path)
            && (*len, *modified) == stamp
        {
            return Ok(ranges.clone());
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).at(path)?)
            .map_err(|e| damaged(path, e))?;
        let ranges: Vec<(i64, i64)> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| match rg.column(key_idx).statistics() {
                Some(parquet::file::statistics::Statistics::Int64(s)) => (
                    s.min_opt().copied().unwrap_or(i64::MIN),
                    s.max_opt().copied().unwrap_or(i64::MAX),
                ),
                _ => (i64::MIN, i64::MAX),
            })
            .collect();
        self.ranges
            .insert(path.to_path_buf(), (stamp.0, stamp.1, ranges.clone()));
        Ok(ranges)
    }

    /// Every row's hash in a partition of a table without an integer key, read from the lake
    /// the first time.
    fn keys_of(&mut self, t: usize, date: NaiveDate) -> Result<&KeySet> {
        if !self.keys.contains_key(&(t, date)) {
            let table = &self.sources.tables[t];
            let dir = Lake::partition_dir(&self.lake.raw_table_dir(&table.db, &table.name), date);
            let mut set = KeySet::new();
            for batch in read_partition(&dir, &table.schema())? {
                let keys = row_keys(&batch, table, &self.converters[t])?;
                let prints = fingerprints(&batch, &self.converters[t])?;
                set.extend(keys.into_iter().zip(prints));
            }
            self.keys.insert((t, date), set);
        }
        Ok(&self.keys[&(t, date)])
    }

    /// Forget the keys of dates before `date` (their partitions are read again if a late row
    /// comes), so memory follows the open days, not the feed's age.
    pub fn forget_before(&mut self, date: NaiveDate) {
        self.keys.retain(|(_, d), _| *d >= date);
        self.ranges.retain(|path, _| path.exists());
    }

    /// Merge the partition's batch files (`*-f.parquet`) into one when there are at least
    /// `min_files` of them; files merged before stay as they are, so every row is rewritten
    /// about twice in a day (here and when the date closes), not once per merge. Rows keep
    /// their landing order (file names sort in it). Returns whether it wrote.
    pub fn compact(&self, dir: &Path, min_files: usize) -> Result<bool> {
        compact(&self.lake, dir, min_files, true)
    }

    /// Make sure every declared table has a partition for `date` (an empty file where no row
    /// came: "the feed had nothing" differs from "never landed"), and compact each into one
    /// file.
    pub fn close_date(&self, date: NaiveDate) -> Result<()> {
        self.ensure_partitions(date)?;
        for table in &self.sources.tables {
            let dir = Lake::partition_dir(&self.lake.raw_table_dir(&table.db, &table.name), date);
            compact(&self.lake, &dir, 2, false)?;
        }
        Ok(())
    }

    /// Give every declared table a partition for `date` (an empty file where it has none), so
    /// that windows of a date the feed is caught up on can run: rows that come later are
    /// added to it.
    pub fn ensure_partitions(&self, date: NaiveDate) -> Result<()> {
        for table in &self.sources.tables {
            let dir = Lake::partition_dir(&self.lake.raw_table_dir(&table.db, &table.name), date);
            if !dir.exists() {
                let mut w = self.lake.partition_writer(
                    &self.lake.raw_table_dir(&table.db, &table.name),
                    date,
                    &table.schema(),
                )?;
                w.write(&RecordBatch::new_empty(table.schema()))?;
                w.commit()?;
            }
        }
        Ok(())
    }
}

/// A name that sorts in landing order: nanoseconds since the epoch, zero-padded.
fn file_stamp() -> String {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = Utc::now().timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    // Strictly increasing within the process, whatever the clock does.
    let prev = LAST.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    let n = if now > prev {
        now
    } else {
        LAST.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    };
    format!("{n:020}")
}

/// Stage the partition `dir` with its current files kept and `rows` added as `name`.
fn add_file(lake: &Lake, dir: &Path, name: &str, rows: &RecordBatch) -> Result<Staging> {
    let staging = Staging::new(lake, dir.to_path_buf())?;
    if dir.exists() {
        for (rel, path) in partition_files(dir)? {
            staging.keep(&path, Path::new(&rel))?;
        }
    }
    let mut file = staging.file(Path::new(name), &rows.schema(), &[])?;
    file.write(rows)?;
    file.finish()?;
    Ok(staging)
}

/// Merge `min_files` or more files of the partition `dir` (only batch files when
/// `batch_files_only`) into one, named after the first of them, the others kept.
fn compact(lake: &Lake, dir: &Path, min_files: usize, batch_files_only: bool) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    let (merge, keep): (Vec<LakeFile>, Vec<LakeFile>) =
        partition_files(dir)?.into_iter().partition(|(rel, _)| {
            rel.ends_with(".parquet") && (!batch_files_only || rel.ends_with("-f.parquet"))
        });
    if merge.len() < min_files.max(2) {
        return Ok(false);
    }
    let first = &merge[0];
    let schema = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&first.1).at(&first.1)?)
        .map_err(|e| damaged(&first.1, e))?
        .schema()
        .clone();
    let staging = Staging::new(lake, dir.to_path_buf())?;
    for (rel, path) in &keep {
        staging.keep(path, Path::new(rel))?;
    }
    let stem = first.0.split('-').next().unwrap_or("0");
    let mut out = staging.file(Path::new(&format!("{stem}-c.parquet")), &schema, &[])?;
    for (_, path) in &merge {
        let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).at(path)?)
            .map_err(|e| damaged(path, e))?
            .with_batch_size(8192)
            .build()?;
        for batch in reader {
            out.write(&batch?)?;
        }
    }
    out.finish()?;
    staging.commit()?;
    Ok(true)
}

/// Every batch of a partition's files (none when the partition does not exist).
pub fn read_partition(dir: &Path, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for (rel, path) in partition_files(dir)? {
        if !rel.ends_with(".parquet") {
            continue;
        }
        let file = fs::File::open(&path).at(&path)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| damaged(&path, e))?
            .with_batch_size(8192)
            .build()
            .map_err(|e| damaged(&path, e))?;
        for batch in reader {
            out.push(conform(&path, schema, batch?)?);
        }
    }
    Ok(out)
}

fn int64_column<'a>(batch: &'a RecordBatch, idx: usize, path: &Path) -> Result<&'a Int64Array> {
    batch
        .column(idx)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::input(format!("{}: the key column is not BIGINT", path.display())))
}

/// A lake file's batch as the declared schema (same columns, same types).
fn conform(path: &Path, schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
    RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| {
        Error::input_hint(
            format!(
                "{}: its columns differ from sql/sources.sql: {e}",
                path.display()
            ),
            "restate the partition (sync or load it again) before feeding it",
        )
    })
}

fn damaged(path: &Path, e: parquet::errors::ParquetError) -> Error {
    Error::input_hint(
        format!("{} is not a readable Parquet file: {e}", path.display()),
        "the feed reads a partition's keys before it adds rows: restore or rewrite the partition",
    )
}

/// The `_table` field of a JSON object, when the transport did not name the table.
fn table_field(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(rename = "_table")]
        table: Option<String>,
    }
    serde_json::from_slice::<Named>(payload).ok()?.table
}

/// Decode the messages `idx` (all of `table`) into one batch: all at once when they are all
/// well-formed, else one by one, rejecting each that does not type. Returns the rows and, per
/// row, the message it came from.
fn decode(
    table: &SourceTable,
    messages: &[Message],
    idx: &[usize],
    rejected: &mut Vec<Rejected>,
) -> Result<(RecordBatch, Vec<usize>)> {
    let schema = table.schema();
    let mut all = Vec::with_capacity(idx.iter().map(|i| messages[*i].payload.len() + 1).sum());
    for i in idx {
        all.extend_from_slice(&messages[*i].payload);
        all.push(b'\n');
    }
    if let Ok(batch) = decode_bytes(&schema, &all, idx.len())
        && batch.num_rows() == idx.len()
    {
        return Ok((batch, idx.to_vec()));
    }
    let mut batches = Vec::new();
    let mut from = Vec::new();
    for i in idx {
        match decode_bytes(&schema, &messages[*i].payload, 1) {
            Ok(b) if b.num_rows() == 1 => {
                batches.push(b);
                from.push(*i);
            }
            Ok(b) => rejected.push(Rejected {
                message: *i,
                table: Some(table.qualified_name()),
                reason: format!("holds {} JSON objects, not one row", b.num_rows()),
            }),
            Err(e) => rejected.push(Rejected {
                message: *i,
                table: Some(table.qualified_name()),
                reason: format!(
                    "does not type as {} ({}): {e}",
                    table.qualified_name(),
                    "columns as sql/sources.sql declares them"
                ),
            }),
        }
    }
    Ok((concat_batches(&schema, &batches)?, from))
}

fn decode_bytes(schema: &SchemaRef, bytes: &[u8], rows: usize) -> Result<RecordBatch> {
    // Decoded as all-nullable, so that a missing NOT NULL column is named below rather than
    // in the decoder's words.
    let nullable: SchemaRef = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let mut decoder = arrow::json::ReaderBuilder::new(nullable.clone())
        .with_batch_size(rows.max(1) + 1)
        .build_decoder()?;
    let mut rest = bytes;
    let mut batches = Vec::new();
    while !rest.is_empty() {
        let n = decoder.decode(rest)?;
        if n == 0 {
            if let Some(b) = decoder.flush()? {
                batches.push(b);
            }
            continue;
        }
        rest = &rest[n..];
    }
    if let Some(b) = decoder.flush()? {
        batches.push(b);
    }
    // NOT NULL columns must be present (the decoder fills missing fields with NULL).
    let batch = concat_batches(&nullable, &batches)?;
    for (i, f) in schema.fields().iter().enumerate() {
        if !f.is_nullable() && batch.column(i).null_count() > 0 {
            return Err(Error::input(format!(
                "column {} is NOT NULL but missing or null",
                f.name()
            )));
        }
    }
    Ok(RecordBatch::try_new(
        schema.clone(),
        batch.columns().to_vec(),
    )?)
}

/// Each row's key: the primary key when it is an integer, else a 64-bit hash of the whole row
/// (a table without a usable key deduplicates identical rows only).
fn row_keys(batch: &RecordBatch, table: &SourceTable, conv: &RowConverter) -> Result<Vec<u64>> {
    if let Some(key) = &table.key {
        let col = batch.column(batch.schema().index_of(key)?);
        if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
            return Ok(a.iter().map(|v| v.unwrap_or_default() as u64).collect());
        }
        if let Some(a) = col.as_any().downcast_ref::<UInt64Array>() {
            return Ok(a.iter().map(|v| v.unwrap_or_default()).collect());
        }
    }
    let rows = conv.convert_columns(batch.columns())?;
    Ok((0..batch.num_rows())
        .map(|i| fnv1a(rows.row(i).as_ref()))
        .collect())
}

fn key_text(batch: &RecordBatch, table: &SourceTable, row: usize) -> String {
    table
        .key
        .as_ref()
        .and_then(|k| batch.schema().index_of(k).ok())
        .and_then(|i| arrow::util::display::array_value_to_string(batch.column(i), row).ok())
        .map(|v| format!("{} = {v}", table.key.as_deref().unwrap_or("key")))
        .unwrap_or_else(|| "(the whole row)".into())
}

/// A fingerprint of each row's values, to tell a repeated row from a conflicting one.
fn fingerprints(batch: &RecordBatch, conv: &RowConverter) -> Result<Vec<u32>> {
    let rows = conv.convert_columns(batch.columns())?;
    Ok((0..batch.num_rows())
        .map(|i| {
            let h = fnv1a(rows.row(i).as_ref());
            (h ^ (h >> 32)) as u32
        })
        .collect())
}

/// Prefix of the ids of AMQP messages without a `message_id`: their delivery tag, which
/// changes with every delivery.
pub const DELIVERY_TAG_ID: &str = "amqp:";

/// What to do about a quarantine file this version cannot read.
const FOREIGN_QUARANTINE_FILE: &str = "move the file out of the quarantine (it was not written by \
     this version of ordertrail), then ingest again";

/// The broker's id of a message when it stays the same across deliveries.
fn stable_id(id: &str) -> Option<&str> {
    (!id.starts_with(DELIVERY_TAG_ID)).then_some(id)
}

/// FNV-1a, 64 bits: fixed forever (unlike std's hasher), cheap enough per row.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn quarantine_batch(messages: &[Message], rejected: &[Rejected]) -> Result<RecordBatch> {
    let now = Utc::now().timestamp_micros();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![now; rejected.len()]).with_timezone(UTC)),
        Arc::new(StringArray::from_iter_values(
            rejected.iter().map(|r| messages[r.message].id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejected.iter().map(|r| messages[r.message].source.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            rejected.iter().map(|r| r.table.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejected.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rejected.iter().map(|r| messages[r.message].deliveries),
        )),
        Arc::new(BinaryArray::from_iter_values(
            rejected
                .iter()
                .map(|r| messages[r.message].payload.as_ref()),
        )),
    ];
    Ok(RecordBatch::try_new(quarantine_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources::parse(
            Path::new("s.sql"),
            "create table a.t (id bigint not null primary key, create_time datetime(6) not null, \
             px decimal(18,6) null, note varchar(10) null);",
        )
        .unwrap()
    }

    fn msg(id: u64, json: &str) -> Message {
        Message {
            id: format!("nats:{id}"),
            source: "ordertrail.raw.a.t".into(),
            table: Some("a.t".into()),
            payload: bytes::Bytes::from(json.to_string()),
            deliveries: 1,
        }
    }

    fn count_rows(lake: &Lake, date: &str) -> usize {
        let dir = Lake::partition_dir(&lake.raw_table_dir("a", "t"), date.parse().unwrap());
        read_partition(&dir, &sources().tables[0].schema())
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum()
    }

    #[test]
    fn lands_rows_by_date_skips_repeats_and_quarantines_what_does_not_type() {
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::new(tmp.path());
        let mut lander = Lander::new(&lake, &sources(), "main").unwrap();
        let batch = vec![
            msg(
                1,
                r#"{"id":1,"create_time":"2026-11-19T14:30:00.000001Z","px":"10.25"}"#,
            ),
            msg(
                2,
                r#"{"id":2,"create_time":"2026-11-20T00:00:00Z","px":0.1}"#,
            ),
            msg(3, r#"{"id":3,"create_time":"2026-11-19T15:00:00Z""#),
            msg(4, r#"{"id":"x","create_time":"2026-11-19T15:00:00Z"}"#),
            msg(5, r#"{"create_time":"2026-11-19T15:00:00Z"}"#),
            msg(
                6,
                r#"{"id":1,"create_time":"2026-11-19T14:30:00.000001Z","px":"10.25"}"#,
            ),
        ];
        let landed = lander.land(&batch, 5).unwrap();
        assert_eq!(
            (landed.rows, landed.duplicates, landed.quarantined),
            (2, 1, 3)
        );
        assert_eq!(count_rows(&lake, "2026-11-19"), 1);
        assert_eq!(count_rows(&lake, "2026-11-20"), 1);

        // A new lander (a restarted process) reads the keys from the lake: the same rows again
        // are duplicates, a changed row under a landed key is quarantined.
        let mut again = Lander::new(&lake, &sources(), "main").unwrap();
        let landed = again
            .land(
                &[
                    msg(
                        7,
                        r#"{"id":2,"create_time":"2026-11-20T00:00:00Z","px":0.1}"#,
                    ),
                    msg(
                        8,
                        r#"{"id":1,"create_time":"2026-11-19T14:30:00.000001Z","px":"99"}"#,
                    ),
                ],
                5,
            )
            .unwrap();
        assert_eq!(
            (landed.rows, landed.duplicates, landed.quarantined),
            (0, 1, 1)
        );
        let q = read_partition(
            &Lake::partition_dir(&quarantine_dir(&lake, "main"), Utc::now().date_naive()),
            &quarantine_schema(),
        )
        .unwrap();
        let q = concat_batches(&quarantine_schema(), &q).unwrap();
        assert_eq!(q.num_rows(), 4);
        let reasons = q.column(4).as_any().downcast_ref::<StringArray>().unwrap();
        let all: Vec<&str> = reasons.iter().flatten().collect();
        assert!(all.iter().any(|r| r.contains("NOT NULL")), "{all:?}");
        assert!(
            all.iter()
                .any(|r| r.contains("already landed with other values")),
            "{all:?}"
        );
        let payloads = q.column(6).as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(
            payloads.value(0),
            batch[2].payload.as_ref(),
            "raw bytes kept"
        );
    }

    #[test]
    fn a_redelivered_poison_message_is_quarantined_once() {
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::new(tmp.path());
        let mut lander = Lander::new(&lake, &sources(), "main").unwrap();
        let poison = |id: &str, deliveries: u64| Message {
            id: id.into(),
            deliveries,
            ..msg(0, r#"{"id":1}"#)
        };
        let first = lander.land(&[poison("amqp:1", 1)], 5).unwrap();
        assert_eq!((first.quarantined, first.duplicates), (1, 0));
        // Killed before the ack: the broker delivers it again under a new delivery tag.
        let again = lander.land(&[poison("amqp:7", 2)], 5).unwrap();
        assert_eq!((again.quarantined, again.duplicates), (0, 1));
        // Another message with the same bytes, delivered for the first time, is its own record.
        let other = lander.land(&[poison("amqp:8", 1)], 5).unwrap();
        assert_eq!(other.quarantined, 1);
        // A stable id tells two redelivered messages with the same bytes apart.
        let stable = lander.land(&[poison("nats:3", 2)], 5).unwrap();
        assert_eq!((stable.quarantined, stable.duplicates), (1, 0));
        let repeat = lander.land(&[poison("nats:3", 3)], 5).unwrap();
        assert_eq!((repeat.quarantined, repeat.duplicates), (0, 1));
    }

    #[test]
    fn decimals_are_exact_and_the_bounce_limit_quarantines() {
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::new(tmp.path());
        let mut lander = Lander::new(&lake, &sources(), "main").unwrap();
        let mut bounced = msg(2, r#"{"id":2,"create_time":"2026-11-19T10:00:00Z"}"#);
        bounced.deliveries = 6;
        let landed = lander
            .land(
                &[
                    msg(
                        1,
                        r#"{"id":1,"create_time":"2026-11-19T10:00:00Z","px":123456789012.123456}"#,
                    ),
                    bounced,
                ],
                5,
            )
            .unwrap();
        assert_eq!((landed.rows, landed.quarantined), (1, 1));
        let dir = Lake::partition_dir(&lake.raw_table_dir("a", "t"), "2026-11-19".parse().unwrap());
        let rows = read_partition(&dir, &sources().tables[0].schema()).unwrap();
        let px = arrow::util::display::array_value_to_string(rows[0].column(2), 0).unwrap();
        assert_eq!(px, "123456789012.123456");
    }

    #[test]
    fn a_table_without_an_integer_key_skips_identical_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::new(tmp.path());
        let s = Sources::parse(
            Path::new("s.sql"),
            "create table a.v (code varchar(8) not null primary key, create_time datetime(6) not null);",
        )
        .unwrap();
        let m = |id: u64, json: &str| Message {
            table: Some("a.v".into()),
            ..msg(id, json)
        };
        let row = r#"{"code":"X","create_time":"2026-11-19T10:00:00Z"}"#;
        let landed = Lander::new(&lake, &s, "main")
            .unwrap()
            .land(&[m(1, row), m(2, row)], 5)
            .unwrap();
        assert_eq!((landed.rows, landed.duplicates), (1, 1));
        let landed = Lander::new(&lake, &s, "main")
            .unwrap()
            .land(&[m(3, row)], 5)
            .unwrap();
        assert_eq!((landed.rows, landed.duplicates), (0, 1));
    }

    #[test]
    fn compaction_keeps_rows_in_landing_order_and_closing_fills_missing_tables() {
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::new(tmp.path());
        let two = Sources::parse(
            Path::new("s.sql"),
            "create table a.t (id bigint not null primary key, create_time datetime(6) not null, \
             px decimal(18,6) null, note varchar(10) null); \
             create table a.u (id bigint not null primary key, create_time datetime(6) not null);",
        )
        .unwrap();
        let mut lander = Lander::new(&lake, &two, "main").unwrap();
        for id in [3, 1, 2] {
            lander
                .land(
                    &[msg(
                        id,
                        &format!(r#"{{"id":{id},"create_time":"2026-11-19T10:00:00Z"}}"#),
                    )],
                    5,
                )
                .unwrap();
        }
        let date: NaiveDate = "2026-11-19".parse().unwrap();
        let dir = Lake::partition_dir(&lake.raw_table_dir("a", "t"), date);
        assert_eq!(partition_files(&dir).unwrap().len(), 3);
        // Three batch files merge into one; a merged file is not merged again until the close.
        assert!(lander.compact(&dir, 3).unwrap());
        assert_eq!(partition_files(&dir).unwrap().len(), 1);
        lander
            .land(
                &[msg(4, r#"{"id":4,"create_time":"2026-11-19T10:00:00Z"}"#)],
                5,
            )
            .unwrap();
        assert!(!lander.compact(&dir, 2).unwrap());
        assert_eq!(partition_files(&dir).unwrap().len(), 2);
        lander.close_date(date).unwrap();
        assert_eq!(partition_files(&dir).unwrap().len(), 1);
        let rows = read_partition(&dir, &two.tables[0].schema()).unwrap();
        let ids = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.values().to_vec(), vec![3, 1, 2, 4]);
        let empty = Lake::partition_dir(&lake.raw_table_dir("a", "u"), date);
        assert_eq!(
            read_partition(&empty, &two.tables[1].schema())
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>(),
            0
        );
        assert!(empty.exists());
    }
}
