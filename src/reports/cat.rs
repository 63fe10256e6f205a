//! FINRA CAT order event files: newline-delimited JSON, bzip2-compressed, split into files of
//! at most `records_per_file` events, each with its `.meta.json`.
//!
//! The rows and fields come from the `cat_order_events` stage; this module only serialises.
//! Whether the files meet the spec is [`super::cat_validate`]'s to say, before `report` keeps
//! them.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use super::values::{Value, value_at, write_members};
use crate::config::Destination;
use crate::error::{Error, IoContext, Result};
use crate::lake::HashingFile;

/// CAT file version written into meta files.
const FILE_VERSION: &str = "2.2.1";

/// One event: its fields in column order.
struct Event<'a> {
    fields: Vec<(&'a str, Value)>,
}

impl Event<'_> {
    /// The event as one JSON object (NULL fields left out), appended to `out`.
    fn write_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        write_members(self.fields.iter().map(|(k, v)| (*k, v)), out);
        out.push(b'}');
    }
}

/// bzip2 level of a destination that sets none: the smallest files.
const DEFAULT_BZIP2_LEVEL: u32 = 9;

/// The most files a day can have: the file number in a CAT file name has six digits.
const MAX_FILES: usize = 999_999;

/// Text of a file held in memory before the rest goes to a scratch file: the few files in
/// flight (one being serialised, one per compressing thread and one queued per thread) hold
/// at most this much each, however many records a file has.
const TEXT_IN_MEMORY: usize = 4 << 20;

/// Write the day's CAT files for one destination into `dir` from its `cat_order_events` rows;
/// returns each file's name and size, in name order.
///
/// Rows are turned into JSON lines as they stream in; each full file's text goes to a pool of
/// compressing threads (one per core; bzip2 is most of the time a report takes) that stream it
/// through bzip2 into the data file and write its meta file, at most one file per thread
/// waiting. A file's text beyond [`TEXT_IN_MEMORY`] waits in an unnamed scratch file in `dir`,
/// so memory holds a few megabytes however many events the day or a file has. Uniqueness of
/// firmROEID is checked by the caller, in SQL, before.
pub async fn write(
    rows: SendableRecordBatchStream,
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
) -> Result<Vec<(String, usize)>> {
    write_with(rows, dest, date, dir, TEXT_IN_MEMORY, MAX_FILES).await
}

/// [`write`] with the memory threshold and file limit as arguments, for tests.
async fn write_with(
    mut rows: SendableRecordBatchStream,
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
    in_memory: usize,
    max_files: usize,
) -> Result<Vec<(String, usize)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = std::sync::mpsc::sync_channel::<FileText>(threads);
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let rx = Arc::clone(&rx);
            let (dest, dir) = (dest.clone(), dir.to_path_buf());
            std::thread::spawn(move || -> Result<Vec<(String, usize)>> {
                let mut done = Vec::new();
                loop {
                    let next = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(text) = next else {
                        break;
                    };
                    done.extend(write_file(&dest, date, &dir, text)?);
                }
                Ok(done)
            })
        })
        .collect();
    drop(rx);
    let mut lines = Lines::new(dest, dir, in_memory, max_files);
    let mut emit = |text: FileText| {
        tx.send(text)
            .map_err(|_| Error::internal("a CAT compression thread stopped"))
    };
    let serialised = async {
        while let Some(batch) = rows.next().await {
            lines.push_batch(&batch?, &mut emit)?;
        }
        lines.finish(&mut emit)
    }
    .await;
    drop(tx);
    let mut files = Vec::new();
    let mut failed = None;
    for worker in workers {
        match worker.join() {
            Ok(Ok(done)) => files.extend(done),
            Ok(Err(e)) => failed = failed.or(Some(e)),
            Err(_) => {
                failed = failed.or(Some(Error::internal("a CAT compression thread panicked")))
            }
        }
    }
    // A thread's error (a full disk, say) is why the serialiser could not hand it a file.
    if let Some(e) = failed {
        return Err(e);
    }
    serialised?;
    files.sort();
    Ok(files)
}

/// The text of one data file, as the serialiser hands it to a compressing thread.
struct FileText {
    /// 0-based file number of the day.
    index: usize,
    records: usize,
    /// Text that did not fit in memory, in order, before `tail`.
    spilled: Option<std::fs::File>,
    tail: Vec<u8>,
}

/// Compress one file's text into its data file and write its meta file; returns both files'
/// names and sizes.
fn write_file(
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
    text: FileText,
) -> Result<[(String, usize); 2]> {
    let names = FileNames::new(dest, date, text.index);
    let data_path = dir.join(&names.data);
    let file = std::fs::File::create(&data_path).at(&data_path)?;
    let mut encoder = bzip2::write::BzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, HashingFile::new(file)),
        bzip2::Compression::new(dest.bzip2_level.unwrap_or(DEFAULT_BZIP2_LEVEL)),
    );
    if let Some(mut spilled) = text.spilled {
        spilled
            .seek(SeekFrom::Start(0))
            .and_then(|_| std::io::copy(&mut spilled, &mut encoder))
            .map_err(|e| Error::input(format!("CAT scratch text for {}: {e}", names.data)))?;
    }
    encoder.write_all(&text.tail).at(&data_path)?;
    let (hash, size) = encoder
        .finish()
        .at(&data_path)?
        .into_inner()
        .map_err(|e| Error::io(&data_path, e.into_error()))?
        .finish(&data_path)?;
    let meta = names.meta_json(&hash, text.records);
    let meta_path = dir.join(&names.meta);
    write_synced(&meta_path, meta.as_bytes())?;
    Ok([(names.data, size as usize), (names.meta, meta.len())])
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).at(path)?;
    file.write_all(bytes).at(path)?;
    file.sync_all().at(path)
}

/// The JSON lines of one destination's events, cut into files of at most `records_per_file`.
struct Lines<'a> {
    dest: &'a Destination,
    /// Where text beyond `in_memory` waits (in unnamed files) for its compressing thread.
    dir: &'a Path,
    per_file: usize,
    in_memory: usize,
    max_files: usize,
    files: usize,
    text: Vec<u8>,
    spilled: Option<std::fs::File>,
    in_file: usize,
}

impl<'a> Lines<'a> {
    fn new(dest: &'a Destination, dir: &'a Path, in_memory: usize, max_files: usize) -> Self {
        Lines {
            dest,
            dir,
            per_file: dest.records_per_file.unwrap_or(100_000).max(1) as usize,
            in_memory,
            max_files,
            files: 0,
            text: Vec::new(),
            spilled: None,
            in_file: 0,
        }
    }

    /// Serialise a batch of events; each file that fills up goes to `emit`.
    fn push_batch(
        &mut self,
        batch: &RecordBatch,
        emit: &mut impl FnMut(FileText) -> Result<()>,
    ) -> Result<()> {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut fields = Vec::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if f.name().starts_with('_') {
                    continue;
                }
                fields.push((f.name().as_str(), value_at(batch.column(i), row, f.name())?));
            }
            let e = Event { fields };
            if self.in_file == 0 && self.files == self.max_files {
                return Err(self.too_many_files());
            }
            e.write_line(&mut self.text);
            self.text.push(b'\n');
            self.in_file += 1;
            if self.in_file == self.per_file {
                self.emit_file(emit)?;
            } else if self.text.len() >= self.in_memory {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Move the text held so far to the file's scratch file.
    fn spill(&mut self) -> Result<()> {
        let dir = self.dir;
        let file = match &mut self.spilled {
            Some(file) => file,
            None => self.spilled.insert(tempfile::tempfile_in(dir).at(dir)?),
        };
        file.write_all(&self.text).at(dir)?;
        self.text.clear();
        Ok(())
    }

    fn too_many_files(&self) -> Error {
        Error::input_hint(
            format!(
                "destination {}: more than {} CAT files of {} records for one day; \
                 the file number in a CAT file name has six digits",
                self.dest.name, self.max_files, self.per_file
            ),
            format!(
                "raise records_per_file for destination {} in the config",
                self.dest.name
            ),
        )
    }

    fn emit_file(&mut self, emit: &mut impl FnMut(FileText) -> Result<()>) -> Result<()> {
        emit(FileText {
            index: self.files,
            records: self.in_file,
            spilled: self.spilled.take(),
            tail: std::mem::take(&mut self.text),
        })?;
        self.files += 1;
        self.in_file = 0;
        Ok(())
    }

    /// The last file.
    fn finish(&mut self, emit: &mut impl FnMut(FileText) -> Result<()>) -> Result<()> {
        if self.in_file > 0 {
            self.emit_file(emit)?;
        }
        Ok(())
    }
}

/// The names of data file `index` (0-based) of the day and its meta file, and the meta file's
/// header fields.
struct FileNames {
    data: String,
    meta: String,
    day: String,
    submitter: String,
    imid: String,
}

impl FileNames {
    fn new(dest: &Destination, date: NaiveDate, index: usize) -> Self {
        let submitter = dest.submitter_id.clone().unwrap_or_default();
        let imid = dest.reporter_imid.clone().unwrap_or_default();
        let group = dest.group.clone().unwrap_or_default();
        let day = date.format("%Y%m%d").to_string();
        let stem = format!(
            "{submitter}_{imid}_{day}_{group}_OrderEvents_{:06}",
            index + 1
        );
        FileNames {
            data: format!("{stem}.json.bz2"),
            meta: format!("{stem}.meta.json"),
            day,
            submitter,
            imid,
        }
    }

    /// The meta file's text for a data file with this SHA-256 and record count.
    fn meta_json(&self, hash: &str, records: usize) -> String {
        // Field order as in the published samples.
        format!(
            "{{\"type\":\"META\",\"doneForDay\":false,\"fileGenerationDate\":{},\
             \"submitter\":{},\"reporter\":{},\"fileVersion\":{},\"files\":[{{\
             \"fileName\":{},\"recordCount\":{},\"compressedHash\":{}}}]}}\n",
            json_str(&self.day),
            json_str(&self.submitter),
            json_str(&self.imid),
            json_str(FILE_VERSION),
            json_str(&self.data),
            records,
            json_str(hash)
        )
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use arrow::array::{ArrayRef, StringArray};
    use datafusion::physical_plan::memory::MemoryStream;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::lake::hex;

    fn destination(records_per_file: u64) -> Destination {
        toml::from_str(&format!(
            "name = \"cat\"\nreport = \"cat\"\nsubmitter_id = \"93010\"\n\
             reporter_imid = \"ID07\"\ngroup = \"G1\"\nrecords_per_file = {records_per_file}"
        ))
        .expect("a valid destination")
    }

    /// A column name and the value of row `i`.
    type Column = (&'static str, Box<dyn Fn(usize) -> String>);

    /// `n` cancel events (MEOC needs the fewest fields), as one batch per 10 rows.
    fn cancels(n: usize) -> SendableRecordBatchStream {
        let columns: Vec<Column> = vec![
            ("actionType", Box::new(|_| "NEW".into())),
            ("firmROEID", Box::new(|i| format!("20261119_{i}"))),
            ("type", Box::new(|_| "MEOC".into())),
            ("symbol", Box::new(|i| format!("SYM{}", i % 7))),
            (
                "eventTimestamp",
                Box::new(|i| format!("20261119 09:30:{:02}.000", i % 60)),
            ),
            ("manualFlag", Box::new(|_| "false".into())),
            ("orderKeyDate", Box::new(|_| "20261119 09:30:00.000".into())),
            ("orderID", Box::new(|i| format!("O{i}"))),
            ("cancelQty", Box::new(|i| format!("{}", 100 + i))),
            ("leavesQty", Box::new(|_| "0".into())),
            ("initiator", Box::new(|_| "C".into())),
        ];
        let batches: Vec<RecordBatch> = (0..n)
            .step_by(10)
            .map(|start| {
                let rows = start..(start + 10).min(n);
                let arrays = columns.iter().map(|(name, value)| {
                    let array: ArrayRef =
                        Arc::new(StringArray::from_iter_values(rows.clone().map(value)));
                    (*name, array)
                });
                RecordBatch::try_from_iter(arrays).expect("a batch")
            })
            .collect();
        let schema = batches[0].schema();
        Box::pin(MemoryStream::try_new(batches, schema, None).expect("a stream"))
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 19).expect("a date")
    }

    fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the output folder")
            .map(|e| {
                let path = e.expect("an entry").path();
                let name = path.file_name().expect("a name").to_string_lossy().into();
                (name, std::fs::read(&path).expect("a file"))
            })
            .collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn text_beyond_the_memory_share_gives_the_same_files() {
        let dest = destination(25);
        let (held, spilled) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = write_with(
            cancels(60),
            &dest,
            date(),
            held.path(),
            usize::MAX,
            MAX_FILES,
        )
        .await
        .unwrap();
        // 100 bytes: every event after the first goes through the scratch file.
        let b = write_with(cancels(60), &dest, date(), spilled.path(), 100, MAX_FILES)
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 6, "3 data files and their meta files: {a:?}");
        let (held, spilled) = (contents(held.path()), contents(spilled.path()));
        assert_eq!(
            held, spilled,
            "no scratch file is left beside the data files"
        );

        let mut records = Vec::new();
        for (name, bytes) in &held {
            let Some(stem) = name.strip_suffix(".json.bz2") else {
                continue;
            };
            let mut text = String::new();
            bzip2::read::BzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let meta = held
                .iter()
                .find(|(n, _)| *n == format!("{stem}.meta.json"))
                .map(|(_, m)| serde_json::from_slice::<serde_json::Value>(m).unwrap())
                .expect("a meta file");
            let file = &meta["files"][0];
            assert_eq!(file["recordCount"], lines.len());
            assert_eq!(file["compressedHash"], hex(&Sha256::digest(bytes)));
            records.extend(lines.into_iter().map(|l| l["orderID"].clone()));
        }
        let expected: Vec<serde_json::Value> = (0..60).map(|i| format!("O{i}").into()).collect();
        assert_eq!(records, expected, "every event once, in order, 25 per file");
    }

    #[tokio::test]
    async fn bzip2_level_changes_the_bytes_not_the_events() {
        let mut fast = destination(1_000);
        fast.bzip2_level = Some(1);
        let best = destination(1_000);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // Enough text for more than one 100k block, so level 1 (100k blocks) and level 9
        // (900k blocks) cut it differently.
        write(cancels(1_000), &fast, date(), a.path())
            .await
            .unwrap();
        write(cancels(1_000), &best, date(), b.path())
            .await
            .unwrap();
        let (a, b) = (contents(a.path()), contents(b.path()));
        let names =
            |files: &[(String, Vec<u8>)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        let text = |bytes: &[u8]| {
            let mut text = String::new();
            bzip2::read::BzDecoder::new(bytes)
                .read_to_string(&mut text)
                .unwrap();
            text
        };
        let data = |files: &[(String, Vec<u8>)]| {
            files
                .iter()
                .find(|(n, _)| n.ends_with(".json.bz2"))
                .map(|(_, b)| b.clone())
                .unwrap()
        };
        let (fast_bytes, best_bytes) = (data(&a), data(&b));
        assert!(
            text(&best_bytes).len() > 100_000,
            "the test text spans blocks"
        );
        assert_eq!(text(&fast_bytes), text(&best_bytes));
        assert_ne!(fast_bytes, best_bytes, "the level reaches the encoder");
        let meta = |files: &[(String, Vec<u8>)]| {
            let m = files
                .iter()
                .find(|(n, _)| n.ends_with(".meta.json"))
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&m.1).unwrap()
        };
        assert_eq!(
            meta(&a)["files"][0]["compressedHash"],
            hex(&Sha256::digest(&fast_bytes)),
            "the meta file hashes what was written"
        );
    }

    #[tokio::test]
    async fn more_files_than_a_name_can_number_is_an_error() {
        let dest = destination(3);
        let dir = tempfile::tempdir().unwrap();
        // 2 files of 3 hold 6 events; the 7th needs a third.
        let err = write_with(cancels(7), &dest, date(), dir.path(), usize::MAX, 2)
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("more than 2 CAT files of 3 records"),
            "{message}"
        );
        let hint = err.hint().unwrap_or_default();
        assert!(hint.contains("raise records_per_file"), "{hint}");
        let dir = tempfile::tempdir().unwrap();
        let ok = write_with(cancels(6), &dest, date(), dir.path(), usize::MAX, 2).await;
        assert_eq!(ok.unwrap().len(), 4, "6 events fill exactly 2 files");
    }
}
