//! Fingerprints of what a stage window read, so that a changed input makes exactly the windows
//! that saw it stale.
//!
//! A raw table's rows of a day are digested per minute of `create_time` (row count and the
//! wrapping sum of a 64-bit hash of each row's bytes in Arrow's row format), so the input of a
//! window ending at `t` is the digest of the minutes before `t` plus the whole previous day
//! (the stages' lookback). A stage read by another contributes the digest of its partition as it
//! stood when its covering window was done.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::row::{RowConverter, SortField};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::state::{DayState, fmt_time};
use crate::error::{Error, Result};
use crate::lake::{Lake, PARTITION_COLUMN};
use crate::sources::Sources;
use crate::stages::Stage;
use crate::window::Window;

/// Count and hash-sum of a set of rows; order-independent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowsDigest {
    pub rows: u64,
    pub sum: u64,
}

impl RowsDigest {
    fn add(&mut self, other: RowsDigest) {
        self.rows += other.rows;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

/// One raw table's rows of one day, digested per minute since midnight.
#[derive(Debug, Clone, Default)]
pub struct DayDigest {
    pub minutes: BTreeMap<i64, RowsDigest>,
    /// `(minute, digest of all minutes before it)`, ascending; built by [`DayDigest::seal`].
    prefix: Vec<(i64, RowsDigest)>,
}

impl DayDigest {
    fn seal(mut self) -> Self {
        let mut acc = RowsDigest::default();
        self.prefix = self
            .minutes
            .iter()
            .map(|(m, d)| {
                let before = acc;
                acc.add(*d);
                (*m, before)
            })
            .collect();
        self.prefix.push((i64::MAX, acc));
        self
    }

    /// Rows created before `t` (a time of this day, or the next midnight).
    pub fn before(&self, date: NaiveDate, t: NaiveDateTime) -> RowsDigest {
        let limit = (t - date.and_time(NaiveTime::MIN)).num_minutes();
        let i = self.prefix.partition_point(|(m, _)| *m < limit);
        self.prefix.get(i).map(|(_, d)| *d).unwrap_or_default()
    }

    pub fn total(&self) -> RowsDigest {
        self.prefix.last().map(|(_, d)| *d).unwrap_or_default()
    }
}

/// Digests computed during one run, each raw table and day read once.
pub struct Fingerprints<'a> {
    ctx: &'a SessionContext,
    lake: &'a Lake,
    sources: &'a Sources,
    cache: HashMap<(String, NaiveDate), DayDigest>,
    /// Hash of the configuration file, for stages reading `config.*` tables.
    config_hash: String,
}

impl<'a> Fingerprints<'a> {
    pub fn new(
        ctx: &'a SessionContext,
        lake: &'a Lake,
        sources: &'a Sources,
        config_hash: String,
    ) -> Self {
        Fingerprints {
            ctx,
            lake,
            sources,
            cache: HashMap::new(),
            config_hash,
        }
    }

    async fn day(&mut self, source: &str, date: NaiveDate) -> Result<&DayDigest> {
        let key = (source.to_string(), date);
        if !self.cache.contains_key(&key) {
            let digest = digest_source(self.ctx, self.lake, self.sources, source, date).await?;
            self.cache.insert(key.clone(), digest);
        }
        Ok(&self.cache[&key])
    }

    /// Use `digest` for `source`'s rows of `date` instead of reading them (a digest computed
    /// earlier, of files that have not changed since).
    pub fn seed(&mut self, source: &str, date: NaiveDate, digest: DayDigest) {
        self.cache.insert((source.to_string(), date), digest);
    }

    /// The digest of `source`'s rows of `date`, if it was computed or seeded.
    pub fn cached(&self, source: &str, date: NaiveDate) -> Option<&DayDigest> {
        self.cache.get(&(source.to_string(), date))
    }

    /// Whether none of `sources` has a row created in `window`.
    pub async fn window_is_empty(&mut self, sources: &[String], window: Window) -> Result<bool> {
        let date = window.date();
        for source in sources {
            let day = self.day(source, date).await?;
            if day.before(date, window.end) != day.before(date, window.start) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The fingerprint of `stage`'s input for a window of `date` ending at `end`.
    pub async fn input(
        &mut self,
        stage: &Stage,
        date: NaiveDate,
        end: NaiveDateTime,
        today: &DayState,
        yesterday: &DayState,
    ) -> Result<String> {
        let mut h = Sha256::new();
        let prev = date.pred_opt().unwrap_or(date);
        for source in &stage.sources {
            let before = self.day(source, prev).await?.total();
            let now = self.day(source, date).await?.before(date, end);
            h.update(format!(
                "source {source} {}:{:x} {}:{:x}\n",
                before.rows, before.sum, now.rows, now.sum
            ));
        }
        for dep in &stage.deps {
            let now = today
                .covering(dep, end)
                .map(|r| r.output_digest.as_str())
                .unwrap_or("none");
            let before = yesterday
                .records(dep)
                .last()
                .map(|r| r.output_digest.as_str())
                .unwrap_or("none");
            h.update(format!("stage {dep} {before} {now}\n"));
        }
        if !stage.config.is_empty() {
            h.update(format!("config {}\n", self.config_hash));
        }
        h.update(format!("end {}\n", fmt_time(end)));
        Ok(hex(&h.finalize()))
    }
}

use crate::lake::hex;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The digest of a partition's files ([`crate::lake::files_digest`]), or "empty" when there
/// is no partition.
pub fn partition_digest(dir: &std::path::Path) -> Result<String> {
    if !dir.exists() {
        return Ok("empty".into());
    }
    let mut files = std::collections::BTreeMap::new();
    // Streamed: a partition can be gigabytes.
    for (rel, path) in crate::lake::partition_files(dir)? {
        files.insert(rel, crate::lake::file_sha256(&path)?);
    }
    Ok(crate::lake::files_digest(&files))
}

async fn digest_source(
    ctx: &SessionContext,
    lake: &Lake,
    sources: &Sources,
    name: &str,
    date: NaiveDate,
) -> Result<DayDigest> {
    let table = sources
        .get(name)
        .ok_or_else(|| Error::internal(format!("unknown source table {name}")))?;
    let dir = Lake::partition_dir(&lake.raw_table_dir(&table.db, &table.name), date);
    let mut digest = DayDigest::default();
    if !dir.exists() || !ctx.table_exist(name)? {
        return Ok(digest.seal());
    }
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let days = (date - epoch).num_days() as i32;
    let df = ctx
        .table(name)
        .await?
        .filter(col(PARTITION_COLUMN).eq(lit(ScalarValue::Date32(Some(days)))))?;
    let schema = df.schema().as_arrow().clone();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != PARTITION_COLUMN)
        .collect();
    let time_idx = schema.index_of("create_time").map_err(|_| {
        Error::input(format!(
            "source {name} has no create_time column, which windows are cut by"
        ))
    })?;
    let converter = RowConverter::new(
        keep.iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect(),
    )?;
    let midnight = date.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let columns: Vec<_> = keep.iter().map(|&i| batch.column(i).clone()).collect();
        let rows = converter.convert_columns(&columns)?;
        let times = arrow::compute::cast(
            batch.column(time_idx),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let times = times
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| Error::input(format!("{name}.create_time is not a timestamp")))?;
        for i in 0..batch.num_rows() {
            let minute = if times.is_null(i) {
                -1
            } else {
                (times.value(i) - midnight).div_euclid(60_000_000)
            };
            let m = digest.minutes.entry(minute).or_default();
            m.rows += 1;
            m.sum = m.sum.wrapping_add(fnv1a(rows.row(i).as_ref()));
        }
    }
    Ok(digest.seal())
}

/// FNV-1a, 64 bits: stable across builds and platforms, which a fingerprint must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
