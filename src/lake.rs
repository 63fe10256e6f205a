//! The lake: a directory of hive-partitioned Parquet tables, and the only way ordertrail writes.
//!
//! ```text
//! <lake>/raw/<source_db>/<table>/trade_date=YYYY-MM-DD/part-0.parquet    replica data
//! <lake>/stages/<sql version>/<stage>/trade_date=YYYY-MM-DD/part-0.parquet stage outputs
//! <lake>/stages/<sql version>/<stage>/trade_date=YYYY-MM-DD/bucket=N/part-K.parquet
//!                                                     outputs of stages written in buckets
//! <lake>/stages/<sql version>/_buckets                the lake's bucket count
//! <lake>/.tmp/                                        partitions being written
//! ```
//!
//! A partition (all its files) is always written aside under `.tmp/` and then swapped into
//! place with one atomic rename, so readers see the old partition or the new one, never a mix
//! and never a half-written file. Files are written deterministically: the same rows in the same order give
//! the same bytes. This module knows nothing about SQL or stages.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

use crate::error::{Error, IoContext, Result};

/// Name of the hive partition column every lake table has.
pub const PARTITION_COLUMN: &str = "trade_date";
/// Rows per batch handed to the Parquet writer; fixed so that output bytes do not depend on how
/// the engine happened to batch its results.
const WRITE_BATCH_ROWS: usize = 8192;
/// Rows per Parquet row group.
const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Memory a file's in-progress row group may hold (encoded pages, values not yet encoded,
/// dictionaries) before it is closed early (see [`FileWriter`]).
const ROW_GROUP_MEMORY: usize = 8 << 20;
/// File name of the single file in a partition written by ordertrail.
pub const PART_FILE: &str = "part-0.parquet";
/// Name of the hive partition column under `trade_date` of a bucketed stage's partition.
pub const BUCKET_COLUMN: &str = "bucket";
/// File under `stages/<version>/` that records the lake's bucket count.
const BUCKETS_FILE: &str = "_buckets";

#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

/// What one partition write produced.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file, computed as it was written (hex).
    pub sha256: String,
}

/// Lower-case hex of `bytes` (digests in state files and report meta files).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file that hashes what is written to it, so a partition's digest costs no second read.
pub struct HashingFile {
    file: fs::File,
    hasher: sha2::Sha256,
}

impl HashingFile {
    pub fn new(file: fs::File) -> HashingFile {
        HashingFile {
            file,
            hasher: sha2::Digest::new(),
        }
    }

    /// Sync the file to disk; its SHA-256 (hex) and size in bytes. `path` names it in errors.
    pub fn finish(self, path: &Path) -> Result<(String, u64)> {
        let sha256 = hex(&sha2::Digest::finalize(self.hasher));
        self.file.sync_all().at(path)?;
        let bytes = self.file.metadata().at(path)?.len();
        Ok((sha256, bytes))
    }
}

impl std::io::Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `raw/<db>/<table>`
    pub fn raw_table_dir(&self, db: &str, table: &str) -> PathBuf {
        self.root.join("raw").join(db).join(table)
    }

    /// `stages/<version>/<stage>`
    pub fn stage_table_dir(&self, version: &str, stage: &str) -> PathBuf {
        self.root.join("stages").join(version).join(stage)
    }

    /// `<table_dir>/trade_date=YYYY-MM-DD`
    pub fn partition_dir(table_dir: &Path, date: NaiveDate) -> PathBuf {
        table_dir.join(format!("{PARTITION_COLUMN}={date}"))
    }

    /// Trade dates that have a partition under `table_dir`, sorted.
    pub fn partition_dates(table_dir: &Path) -> Result<Vec<NaiveDate>> {
        let mut dates = Vec::new();
        let entries = match fs::read_dir(table_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dates),
            Err(e) => return Err(Error::io(table_dir, e)),
        };
        for entry in entries {
            let entry = entry.at(table_dir)?;
            let name = entry.file_name();
            let Some(value) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PARTITION_COLUMN))
                .and_then(|n| n.strip_prefix('='))
            else {
                continue;
            };
            if let Ok(date) = value.parse::<NaiveDate>() {
                dates.push(date);
            }
        }
        dates.sort();
        Ok(dates)
    }

    /// Make sure the lake root exists and is writable, with a clear error if not.
    pub fn ensure_writable(&self) -> Result<()> {
        let tmp = self.root.join(".tmp");
        fs::create_dir_all(&tmp).map_err(|e| {
            Error::input_hint(
                format!("cannot write to lake {}: {e}", self.root.display()),
                "pass a writable directory with --lake",
            )
        })?;
        Ok(())
    }

    /// Start writing the partition `date` of the table at `table_dir`. Nothing is visible until
    /// [`PartitionWriter::commit`]; dropping the writer without committing leaves the old
    /// partition (if any) untouched.
    pub fn partition_writer(
        &self,
        table_dir: &Path,
        date: NaiveDate,
        schema: &SchemaRef,
    ) -> Result<PartitionWriter> {
        self.sorted_partition_writer(table_dir, date, schema, &[])
    }

    /// A [`Lake::partition_writer`] for rows that arrive sorted by `sorted_by` (ascending,
    /// NULLs last). The file's metadata says so (Parquet `sorting_columns`), and readers take
    /// the order from there: a file is never assumed sorted by what its SQL says today.
    pub fn sorted_partition_writer(
        &self,
        table_dir: &Path,
        date: NaiveDate,
        schema: &SchemaRef,
        sorted_by: &[String],
    ) -> Result<PartitionWriter> {
        let staging = Staging::new(self, Lake::partition_dir(table_dir, date))?;
        let file = staging.file(Path::new(PART_FILE), schema, sorted_by)?;
        Ok(PartitionWriter { staging, file })
    }
}

/// `<partition>/bucket=N`: the folder of bucket `bucket` of a bucketed stage's partition. The
/// number is written plainly (`bucket=7`, not `bucket=007`): DataFusion turns `bucket = 7` into
/// the folder name to list, so any other spelling would be found by no query.
pub fn bucket_dir(partition: &Path, bucket: usize) -> PathBuf {
    partition.join(format!("{BUCKET_COLUMN}={bucket}"))
}

/// `part-<run>.parquet`: the file the run `run` of a stage writes in each bucket folder (a
/// stage run in one piece is run 0; one run per bucket writes `part-<bucket>`).
pub fn run_file(run: usize) -> String {
    format!("part-{run}.parquet")
}

/// The bucket of a partition file's folder (`.../bucket=7/part-3.parquet` is 7), if any.
pub fn bucket_of_path(file: &Path) -> Option<usize> {
    file.parent()?
        .file_name()?
        .to_str()?
        .strip_prefix(BUCKET_COLUMN)?
        .strip_prefix('=')?
        .parse()
        .ok()
}

/// The lake-wide bucket count of the stages of SQL version folder `stages_dir`
/// (`stages/<version>/_buckets`), if recorded.
pub fn recorded_buckets(stages_dir: &Path) -> Result<Option<usize>> {
    let path = stages_dir.join(BUCKETS_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            Error::data(
                format!("{}: not a bucket count: {:?}", path.display(), text.trim()),
                "the file holds the number of buckets the lake's stages were written in; \
                 restore it, or restate every date into a new lake",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Record the bucket count of `stages_dir` when none is; a different recorded count is an error
/// (another process started the lake with it).
pub fn ensure_buckets(stages_dir: &Path, buckets: usize) -> Result<()> {
    match recorded_buckets(stages_dir)? {
        None => record_buckets(stages_dir, buckets),
        Some(have) if have == buckets => Ok(()),
        Some(have) => Err(Error::input_hint(
            format!(
                "the lake's stages ({}) are written in {have} buckets, not {buckets}",
                stages_dir.display()
            ),
            "run again: the count the lake has is used",
        )),
    }
}

/// Record the bucket count of `stages_dir` (atomically; see [`recorded_buckets`]).
fn record_buckets(stages_dir: &Path, buckets: usize) -> Result<()> {
    fs::create_dir_all(stages_dir).at(stages_dir)?;
    let path = stages_dir.join(BUCKETS_FILE);
    let tmp = stages_dir.join(format!(".{BUCKETS_FILE}.{}", std::process::id()));
    fs::write(&tmp, format!("{buckets}\n")).at(&tmp)?;
    fs::rename(&tmp, &path).at(&path)?;
    Ok(())
}

/// A whole partition being written aside (one file or many, e.g. one per bucket), swapped into
/// place by [`Staging::commit`] in one atomic rename: readers see the old set of files or the
/// new one. Dropped without a commit, it removes what was written.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: std::sync::atomic::AtomicBool,
}

impl Staging {
    /// Start writing the partition `target` (e.g. `<table>/trade_date=D`).
    pub fn new(lake: &Lake, target: PathBuf) -> Result<Staging> {
        lake.ensure_writable()?;
        let dir = unique_tmp_dir(&lake.root.join(".tmp"))?;
        Ok(Staging {
            dir,
            target,
            committed: Default::default(),
        })
    }

    /// Where the file `rel` is while it is written aside.
    pub fn path_of(&self, rel: &Path) -> PathBuf {
        self.dir.join(rel)
    }

    /// The partition this will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A new file at `rel` (relative to the partition) for rows that arrive sorted by
    /// `sorted_by` (ascending, NULLs last; none: no order). The file's metadata says so
    /// (Parquet `sorting_columns`), and readers take the order from there: a file is never
    /// assumed sorted by what its SQL says today.
    pub fn file(&self, rel: &Path, schema: &SchemaRef, sorted_by: &[String]) -> Result<FileWriter> {
        let sorting = sorted_by
            .iter()
            .map(|c| {
                let column_idx = schema.index_of(c).map_err(|_| {
                    Error::input(format!("cannot sort a partition by {c}: no such column"))
                })?;
                Ok(SortingColumn {
                    column_idx: column_idx as i32,
                    descending: false,
                    nulls_first: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let file = HashingFile::new(fs::File::create(&path).at(&path)?);
        let schema = plain_schema(schema);
        let properties = match sorting.is_empty() {
            true => writer_properties()?,
            false => writer_properties_builder()?
                .set_sorting_columns(Some(sorting))
                .build(),
        };
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
        Ok(FileWriter {
            target: self.target.join(rel),
            path,
            schema,
            writer: Some(writer),
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
        })
    }

    /// Keep the file `from` (of the partition being replaced) as `rel` in the new set: a hard
    /// link, so an unchanged file costs no copy.
    pub fn keep(&self, from: &Path, rel: &Path) -> Result<()> {
        let to = self.dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        fs::hard_link(from, &to)
            .or_else(|_| fs::copy(from, &to).map(|_| ()))
            .at(&to)
    }

    /// Swap the written set into place atomically (the old set, if any, is removed when this
    /// is dropped). Only the first commit swaps.
    pub fn commit(&self) -> Result<()> {
        if self.committed.swap(true, Ordering::SeqCst) {
            return Err(Error::input(format!(
                "partition {} committed twice",
                self.target.display()
            )));
        }
        swap_into_place(&self.dir, &self.target)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Not committed (error or crash path), or the old set after a swap: remove it. Best
        // effort; a leftover under .tmp/ is never read.
        if self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// SHA-256 of one file (hex), streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut h = sha2::Sha256::default();
    fs::File::open(path)
        .and_then(|mut file| std::io::copy(&mut file, &mut h))
        .at(path)?;
    Ok(hex(&sha2::Digest::finalize(h)))
}

/// The digest of a partition's set of files: SHA-256 over each file's path relative to the
/// partition (`/`-separated) and its SHA-256, in path order. A file added, removed, moved or
/// changed changes it.
pub fn files_digest(files: &std::collections::BTreeMap<String, String>) -> String {
    let mut h = sha2::Sha256::default();
    for (rel, sha) in files {
        sha2::Digest::update(&mut h, format!("{rel} {sha}\n").as_bytes());
    }
    hex(&sha2::Digest::finalize(h))
}

/// A file's size and modification time (ns since the epoch): whether it changed since it
/// was last read. `None` when it cannot be read.
pub fn file_stamp(path: &Path) -> Option<(u64, i128)> {
    let meta = fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos() as i128;
    Some((meta.len(), mtime))
}

/// The files under a partition folder (recursively), by path relative to it, sorted.
pub fn partition_files(part: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let mut todo = vec![part.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).at(&dir)? {
            let path = entry.at(&dir)?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(part).unwrap_or(&path);
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((rel, path));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The Parquet settings of every file ordertrail writes.
pub fn writer_properties() -> Result<WriterProperties> {
    Ok(writer_properties_builder()?.build())
}

fn writer_properties_builder() -> Result<WriterPropertiesBuilder> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS)))
}

/// A whole Parquet file in memory (for report files), written as deterministically as lake
/// partitions.
pub fn parquet_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let schema = plain_schema(schema);
    let mut buf = Vec::new();
    {
        let mut writer =
            ArrowWriter::try_new(&mut buf, schema.clone(), Some(writer_properties()?))?;
        let all = concat_batches(
            &schema,
            &batches
                .iter()
                .map(|b| to_plain(b, &schema))
                .collect::<Result<Vec<_>>>()?,
        )?;
        let mut offset = 0;
        while offset < all.num_rows() {
            let n = WRITE_BATCH_ROWS.min(all.num_rows() - offset);
            writer.write(&without_unused_null_buffers(&all.slice(offset, n))?)?;
            offset += n;
        }
        writer.close()?;
    }
    Ok(buf)
}

/// Writing the partition `target` failed. An I/O failure underneath (a full disk, a lost
/// mount) keeps its kind, so that the error names the partition and its hint fits.
pub fn write_error(target: &Path, e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            let source = match inner.downcast::<std::io::Error>() {
                Ok(io) => *io,
                Err(other) => std::io::Error::other(other),
            };
            Error::io(target, source)
        }
        other => Error::Parquet(other),
    }
}

/// A partition of one file being written aside; see [`Lake::partition_writer`].
pub struct PartitionWriter {
    staging: Staging,
    file: FileWriter,
}

impl PartitionWriter {
    pub fn schema(&self) -> &SchemaRef {
        self.file.schema()
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.file.write(batch)
    }

    /// Finish the file and swap it into place atomically.
    pub fn commit(self) -> Result<Written> {
        let written = self.file.finish()?;
        self.staging.commit()?;
        Ok(written)
    }
}

/// One Parquet file of a partition being written aside; see [`Staging::file`]. Rows are
/// handed to the Parquet writer in batches of a fixed size and row groups end at a fixed
/// row count or encoded size, so the same rows give the same bytes however they arrived.
pub struct FileWriter {
    /// Where the file will be once its partition is committed (for error messages).
    target: PathBuf,
    path: PathBuf,
    schema: SchemaRef,
    writer: Option<ArrowWriter<HashingFile>>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows: u64,
}

impl FileWriter {
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = to_plain(batch, &self.schema)?;
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        while self.pending_rows >= WRITE_BATCH_ROWS {
            self.flush_pending(WRITE_BATCH_ROWS)?;
        }
        Ok(())
    }

    /// Write out the first `n` pending rows as one batch.
    fn flush_pending(&mut self, n: usize) -> Result<()> {
        let all = concat_batches(&self.schema, &self.pending)?;
        let head = all.slice(0, n);
        let tail = all.slice(n, all.num_rows() - n);
        if let Some(writer) = self.writer.as_mut() {
            writer
                .write(&without_unused_null_buffers(&head)?)
                .map_err(|e| write_error(&self.target, e))?;
            // Many files may be open at once (a partition split by bucket: 32 at 10M), so a
            // row group is also closed once it holds this much memory, which the rows alone
            // decide. Its encoded size is the smaller part: at 1M orders, `flow` written in 32
            // buckets peaked 1145 MiB above the same run in 8 buckets (~48 MiB per extra open
            // file) with a limit on the encoded size alone.
            if writer.memory_size() >= ROW_GROUP_MEMORY {
                writer.flush().map_err(|e| write_error(&self.target, e))?;
            }
        }
        self.rows += n as u64;
        self.pending_rows = tail.num_rows();
        self.pending = if tail.num_rows() > 0 {
            vec![tail]
        } else {
            vec![]
        };
        Ok(())
    }

    /// Finish the file (still aside until its partition is committed).
    pub fn finish(mut self) -> Result<Written> {
        if self.pending_rows > 0 {
            self.flush_pending(self.pending_rows)?;
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::internal("file writer used after finish"))?;
        let (sha256, bytes) = writer
            .into_inner()
            .map_err(|e| write_error(&self.target, e))?
            .finish(&self.path)?;
        Ok(Written {
            rows: self.rows,
            bytes,
            sha256,
        })
    }
}

/// Move the finished directory `staging` to `target`, replacing any existing `target`
/// atomically, then delete the old contents.
pub fn swap_into_place(staging: &Path, target: &Path) -> Result<()> {
    let parent = target
        .parent()
        .ok_or_else(|| Error::internal(format!("bad partition path {}", target.display())))?;
    fs::create_dir_all(parent).at(parent)?;
    if target.exists() {
        exchange(staging, target)?;
        // `staging` now holds the old partition.
        fs::remove_dir_all(staging).at(staging)?;
    } else {
        fs::rename(staging, target).at(target)?;
    }
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Atomically exchange two paths (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())
        .map_err(|_| Error::input(format!("path has a NUL byte: {}", a.display())))?;
    let cb = CString::new(b.as_os_str().as_bytes())
        .map_err(|_| Error::input(format!("path has a NUL byte: {}", b.display())))?;
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::io(b, std::io::Error::last_os_error()))
    }
}

/// Portable fallback: move the old partition aside, then the new one in. Between the two
/// renames the partition is briefly absent, but never half-written.
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    let aside = a.with_extension("old");
    fs::rename(b, &aside).at(b)?;
    fs::rename(a, b).at(b)?;
    fs::rename(&aside, a).at(a)?;
    Ok(())
}

/// A new, empty directory under `base` for writing aside, named for this process
/// (`w-<pid>-<host>-<nanos>-<n>`) so that [`remove_stale_scratch`] can tell when its writer
/// is gone.
pub fn unique_tmp_dir(base: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "{}-{nanos}-{n}",
        scratch_prefix(std::process::id())
    ));
    fs::create_dir_all(&dir).at(&dir)?;
    Ok(dir)
}

/// A scratch folder that is removed, with what is left in it, when this is dropped (however
/// the work that used it ends).
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `w-<pid>-<host>`: how this host's process `pid` names its scratch folders under `.tmp/`
/// (the host as a hash, so that a lake shared between machines keeps other hosts' folders).
pub fn scratch_prefix(pid: u32) -> String {
    let host = hostname();
    let hash = host.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("w-{pid}-{:08x}", hash as u32)
}

/// This machine's name (`/etc/hostname`), or `localhost`.
pub fn hostname() -> String {
    fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` of this host is running (or may be: only "no such process" says no).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Remove the scratch folders that this host's processes left under `<lake>/.tmp/` and
/// `<lake>/.tmp/spill/` when they were killed (a write aside, a bucket's rows, spill files):
/// those of processes no longer running. Finished partitions are never under `.tmp/`, so
/// nothing a reader could see is touched. Returns the folders removed.
pub fn remove_stale_scratch(lake_root: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let tmp = lake_root.join(".tmp");
    for dir in [tmp.clone(), tmp.join("spill")] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("w-"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let ours = name.to_str().is_some_and(|n| {
                n == scratch_prefix(pid) || n.starts_with(&format!("{}-", scratch_prefix(pid)))
            });
            if ours && pid != std::process::id() && !process_alive(pid) {
                let path = entry.path();
                if fs::remove_dir_all(&path).is_ok() {
                    removed.push(path);
                }
            }
        }
    }
    removed
}

/// The schema as stored: view types become their plain equivalents so that every Parquet
/// reader understands the files; the partition column is never stored in the file.
pub fn plain_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let dt = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                other => other.clone(),
            };
            Field::new(f.name(), dt, f.is_nullable())
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The batch with every validity buffer that marks no nulls dropped (in nested columns too).
/// The Parquet writer splits a column into pages differently when it has a validity buffer
/// (definition levels written one by one, 1024 values per mini-batch) and when it has none
/// (one run of levels, 20k values per mini-batch), so without this the same rows could be
/// paged, and written, differently depending on the plan that produced them (seen at 1M
/// orders between a stage run in one piece and in buckets).
fn without_unused_null_buffers(batch: &RecordBatch) -> Result<RecordBatch> {
    // An array's `to_data` builds its `ArrayData`, and the builder drops a validity buffer
    // with no nulls, at every nesting level; building the array back keeps the buffers
    // without copying them.
    let columns = batch
        .columns()
        .iter()
        .map(|c| arrow::array::make_array(c.to_data()))
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn to_plain(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The largest value of the timestamp column `column` in a Parquet file's statistics, as
/// microseconds; `None` when unknown (no file, no statistics).
pub fn max_timestamp(file: &std::path::Path, column: &str) -> Option<i64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::statistics::Statistics;
    let file = std::fs::File::open(file).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    let meta = reader.metadata();
    let idx = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == column)?;
    let mut max = i64::MIN;
    for rg in meta.row_groups() {
        match rg.column(idx).statistics()? {
            Statistics::Int64(s) => max = max.max(*s.max_opt()?),
            _ => return None,
        }
    }
    Some(max)
}

/// The largest `column` of a partition's files (see [`max_timestamp`]); `None` when unknown
/// for any of them.
pub fn partition_max_timestamp(part: &std::path::Path, column: &str) -> Option<i64> {
    let files = partition_files(part).ok()?;
    files
        .iter()
        .map(|(_, f)| max_timestamp(f, column))
        .try_fold(i64::MIN, |max, t| t.map(|t| max.max(t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    /// A full disk while writing a partition names the partition and says what to do.
    #[test]
    fn a_full_disk_names_the_partition() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::StorageFull.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let b = batch(&[1, 2, 3]);
        let mut w = ArrowWriter::try_new(Full, b.schema(), None).unwrap();
        let failed = w.write(&b).and_then(|_| w.close().map(|_| ())).unwrap_err();
        let target = Path::new("lake/stages/v1/flow/trade_date=2026-11-20");
        let e = write_error(target, failed);
        let text = e.to_string();
        assert!(
            text.starts_with("lake/stages/v1/flow/trade_date=2026-11-20: "),
            "{text}"
        );
        assert!(e.hint().is_some_and(|h| h.contains("free space")), "{text}");
    }

    #[test]
    fn replace_is_atomic_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let table = lake.stage_table_dir("v1", "t");
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let write = |chunks: &[&[i64]]| {
            let schema = batch(&[]).schema();
            let mut w = lake.partition_writer(&table, date, &schema).unwrap();
            for c in chunks {
                w.write(&batch(c)).unwrap();
            }
            w.commit().unwrap()
        };
        let first = write(&[&[1, 2, 3], &[4]]);
        let file = Lake::partition_dir(&table, date).join(PART_FILE);
        let bytes_a = fs::read(&file).unwrap();
        // Same rows, different batching: same bytes.
        let second = write(&[&[1], &[2, 3, 4]]);
        assert_eq!(first.rows, 4);
        assert_eq!(second.rows, 4);
        assert_eq!(bytes_a, fs::read(&file).unwrap());
        // Nothing left behind in .tmp.
        assert_eq!(fs::read_dir(dir.path().join(".tmp")).unwrap().count(), 0);
        assert_eq!(Lake::partition_dates(&table).unwrap(), vec![date]);
    }

    /// The same rows give the same bytes whether or not the engine gave a column with no
    /// nulls a validity buffer (the Parquet writer pages the two cases differently).
    #[test]
    fn validity_buffers_without_nulls_do_not_change_the_bytes() {
        use arrow::array::{Array, StringArray};
        use arrow::buffer::NullBuffer;
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let table = lake.stage_table_dir("v1", "t");
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        // Enough distinct text for several data pages of one row group.
        let values: Vec<String> = (0..200_000u64)
            .map(|i| format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let write = |with_buffer: bool| {
            let array = StringArray::from(values.clone());
            let array = match with_buffer {
                true => {
                    let (offsets, data, _) = array.into_parts();
                    let nulls = NullBuffer::new_valid(values.len());
                    StringArray::new(offsets, data, Some(nulls))
                }
                false => array,
            };
            assert_eq!(array.nulls().is_some(), with_buffer);
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(array)]).unwrap();
            let mut w = lake.partition_writer(&table, date, &schema).unwrap();
            w.write(&batch).unwrap();
            w.commit().unwrap().sha256
        };
        assert_eq!(write(true), write(false));

        // The same inside a struct: the child's buffer.
        let child = Arc::new(Field::new("s", DataType::Utf8, true));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "st",
            DataType::Struct(vec![child.clone()].into()),
            true,
        )]));
        let write_struct = |with_buffer: bool| {
            let strings = StringArray::from(values.clone());
            let strings = match with_buffer {
                true => {
                    let (offsets, data, _) = strings.into_parts();
                    StringArray::new(offsets, data, Some(NullBuffer::new_valid(values.len())))
                }
                false => strings,
            };
            let array = arrow::array::StructArray::new(
                vec![child.clone()].into(),
                vec![Arc::new(strings) as arrow::array::ArrayRef],
                None,
            );
            assert_eq!(array.column(0).nulls().is_some(), with_buffer);
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(array)]).unwrap();
            let mut w = lake.partition_writer(&table, date, &schema).unwrap();
            w.write(&batch).unwrap();
            w.commit().unwrap().sha256
        };
        assert_eq!(write_struct(true), write_struct(false));
    }

    /// A file of wide rows closes row groups at the writer-memory limit, long before
    /// ROW_GROUP_ROWS, and where it closes them depends on the rows alone: the same rows in
    /// other batches give the same bytes.
    #[test]
    fn row_groups_closed_by_memory_do_not_depend_on_batching() {
        use arrow::array::StringArray;
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let table = lake.stage_table_dir("v1", "t");
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        // About 13 MiB encoded, in fewer rows than ROW_GROUP_ROWS.
        let rows = 250_000usize;
        let values: Vec<String> = (0..rows as u64)
            .map(|i| {
                // 160 bytes that do not compress: ten 64-bit mixes of the row number.
                (1..=10u64)
                    .map(|k| format!("{:016x}", (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 ^ k)))
                    .collect()
            })
            .collect();
        let write = |chunk: usize| {
            let mut w = lake.partition_writer(&table, date, &schema).unwrap();
            for part in values.chunks(chunk) {
                let array = StringArray::from(part.to_vec());
                w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(array)]).unwrap())
                    .unwrap();
            }
            w.commit().unwrap().sha256
        };
        let whole = write(rows);
        let file = Lake::partition_dir(&table, date).join(PART_FILE);
        let reader =
            parquet::file::reader::SerializedFileReader::new(fs::File::open(&file).unwrap())
                .unwrap();
        let groups = parquet::file::reader::FileReader::metadata(&reader)
            .row_groups()
            .len();
        assert!(
            groups > 1,
            "{rows} rows of 160 bytes in {groups} row group(s)"
        );
        assert_eq!(whole, write(997));
        assert_eq!(whole, write(8192 * 3 + 5));
    }

    #[test]
    fn uncommitted_write_leaves_old_partition() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let table = lake.raw_table_dir("db", "t");
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let schema = batch(&[]).schema();
        let mut w = lake.partition_writer(&table, date, &schema).unwrap();
        w.write(&batch(&[1])).unwrap();
        w.commit().unwrap();
        let file = Lake::partition_dir(&table, date).join(PART_FILE);
        let before = fs::read(&file).unwrap();
        {
            let mut w = lake.partition_writer(&table, date, &schema).unwrap();
            w.write(&batch(&[7, 8, 9])).unwrap();
            // dropped: simulates a failure before commit
        }
        assert_eq!(before, fs::read(&file).unwrap());
        assert_eq!(fs::read_dir(dir.path().join(".tmp")).unwrap().count(), 0);
    }

    /// Scratch of a killed process of this host goes; a live process's, another host's and
    /// anything not named like scratch stay.
    #[test]
    fn scratch_of_dead_processes_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".tmp");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let live = std::process::id();
        let dead_scratch = tmp.join(format!("{}-1-0", scratch_prefix(dead)));
        let dead_spill = tmp.join("spill").join(scratch_prefix(dead));
        let live_scratch = unique_tmp_dir(&tmp).unwrap();
        let other_host = tmp.join(format!("w-{dead}-00000000-1-0"));
        let not_scratch = tmp.join("spill").join("datafusion-abc");
        for d in [&dead_scratch, &dead_spill, &other_host, &not_scratch] {
            fs::create_dir_all(d.join("inner")).unwrap();
        }
        assert!(live_scratch.starts_with(&tmp) && live_scratch.exists());
        assert!(process_alive(live));
        let mut removed = remove_stale_scratch(dir.path());
        removed.sort();
        let mut expected = vec![dead_scratch.clone(), dead_spill.clone()];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(!dead_scratch.exists() && !dead_spill.exists());
        assert!(live_scratch.exists() && other_host.exists() && not_scratch.exists());
    }
}
