//! FINRA CAT order event files: newline-delimited JSON, bzip2-compressed, split into files of
//! at most `records_per_file` events, each with its `.meta.json`.
//!
//! The rows and fields come from the `cat_order_events` stage; this module only checks that
//! every event has the fields CAT requires for its type, and serialises. Nothing is written
//! when an event is incomplete: the error lists the events and their order ids.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::values::{Value, value_at, write_members};
use crate::config::Destination;
use crate::error::{Error, IoContext, Result};
use crate::lake::hex;

/// CAT file version written into meta files.
const FILE_VERSION: &str = "2.2.1";

/// Fields every event needs.
const COMMON: &[&str] = &[
    "actionType",
    "firmROEID",
    "type",
    "symbol",
    "eventTimestamp",
    "manualFlag",
];

/// Fields required per event type (shared/reference/cat.md). Conditional requirements
/// (price for LMT, session for exchange routes) are checked in [`missing_fields`].
fn required(event_type: &str) -> Option<&'static [&'static str]> {
    Some(match event_type {
        "MENO" => &[
            "orderKeyDate",
            "orderID",
            "electronicDupFlag",
            "deptType",
            "solicitationFlag",
            "side",
            "quantity",
            "orderType",
            "timeInForce",
            "tradingSession",
            "custDspIntrFlag",
            "firmDesignatedID",
            "accountHolderType",
            "affiliateFlag",
            "negotiatedTradeFlag",
            "representativeInd",
        ],
        "MEOR" => &[
            "orderKeyDate",
            "orderID",
            "electronicDupFlag",
            "destination",
            "destinationType",
            "routedOrderID",
            "side",
            "quantity",
            "orderType",
            "timeInForce",
            "tradingSession",
            "affiliateFlag",
            "isoInd",
            "routeRejectedFlag",
            "dupROIDCond",
            "multiLegInd",
        ],
        "MEIR" => &[
            "orderKeyDate",
            "orderID",
            "deptType",
            "receivingDeskType",
            "side",
            "quantity",
            "orderType",
            "timeInForce",
            "tradingSession",
        ],
        "MEOM" => &[
            "orderKeyDate",
            "orderID",
            "electronicDupFlag",
            "initiator",
            "side",
            "quantity",
            "leavesQty",
            "orderType",
            "timeInForce",
            "tradingSession",
            "isoInd",
            "custDspIntrFlag",
            "representativeInd",
        ],
        "MEOC" => &[
            "orderKeyDate",
            "orderID",
            "cancelQty",
            "leavesQty",
            "initiator",
        ],
        "MEOF" => &[
            "fillKeyDate",
            "fulfillmentID",
            "fulfillmentLinkType",
            "cancelFlag",
            "quantity",
            "price",
            "capacity",
            "clientDetails",
        ],
        _ => return None,
    })
}

/// One event: its fields in column order.
struct Event<'a> {
    fields: Vec<(&'a str, Value)>,
}

impl Event<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .filter(|v| v.is_present())
    }

    fn text(&self, name: &str) -> String {
        self.get(name).map(|v| v.to_text()).unwrap_or_default()
    }

    /// The event as one JSON object (NULL fields left out), appended to `out`.
    fn write_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        write_members(self.fields.iter().map(|(k, v)| (*k, v)), out);
        out.push(b'}');
    }
}

fn missing_fields(e: &Event) -> Vec<String> {
    let event_type = e.text("type");
    let Some(req) = required(&event_type) else {
        return vec![format!("type (unknown event type '{event_type}')")];
    };
    let mut missing: Vec<String> = COMMON
        .iter()
        .chain(req.iter())
        .filter(|f| e.get(f).is_none())
        .map(|f| f.to_string())
        .collect();
    if matches!(event_type.as_str(), "MENO" | "MEOR" | "MEOM")
        && e.text("orderType") == "LMT"
        && e.get("price").is_none()
    {
        missing.push("price (required for LMT)".into());
    }
    if event_type == "MEOR" && e.text("destinationType") == "E" && e.get("session").is_none() {
        missing.push("session (required when destinationType is E)".into());
    }
    missing
}

/// A file to write: name and bytes.
pub struct OutFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Problem lines an error lists before it only counts the rest.
const MAX_PROBLEMS_LISTED: usize = 100;

/// Write the day's CAT files for one destination into `dir` from its `cat_order_events` rows;
/// returns each file's name and size, in name order.
///
/// Rows are turned into JSON lines as they stream in; each full file's text goes to a pool of
/// compressing threads (one per core; bzip2 is most of the time a report takes) that write the
/// data file and its meta file, at most one file per thread waiting. Memory holds a few files'
/// text, however many events the day has. An incomplete event is an error listing the events
/// (the first [`MAX_PROBLEMS_LISTED`], then a count); the caller discards `dir` then.
/// Uniqueness of firmROEID is checked by the caller, in SQL, before.
pub async fn write(
    mut rows: SendableRecordBatchStream,
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
) -> Result<Vec<(String, usize)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>, usize)>(threads);
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
                    let Ok((index, text, records)) = next else {
                        break;
                    };
                    let compressed = bzip2_bytes(&text)?;
                    drop(text);
                    for file in file_pair(&dest, date, index, compressed, records) {
                        let path = dir.join(&file.name);
                        write_synced(&path, &file.bytes)?;
                        done.push((file.name, file.bytes.len()));
                    }
                }
                Ok(done)
            })
        })
        .collect();
    drop(rx);
    let mut lines = Lines::new(dest);
    let mut emit = |index: usize, text: Vec<u8>, records: usize| {
        tx.send((index, text, records))
            .map_err(|_| Error::input("a CAT compression thread stopped"))
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
            Err(_) => failed = failed.or(Some(Error::input("a CAT compression thread panicked"))),
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

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).at(path)?;
    file.write_all(bytes).at(path)?;
    file.sync_all().at(path)
}

/// The JSON lines of one destination's events, cut into files of at most `records_per_file`.
struct Lines<'a> {
    dest: &'a Destination,
    per_file: usize,
    /// Events lacking a required field: the first ones listed, and how many in all.
    problems: Vec<String>,
    problem_count: usize,
    files: usize,
    text: Vec<u8>,
    in_file: usize,
}

impl<'a> Lines<'a> {
    fn new(dest: &'a Destination) -> Self {
        Lines {
            dest,
            per_file: dest.records_per_file.unwrap_or(100_000).max(1) as usize,
            problems: Vec::new(),
            problem_count: 0,
            files: 0,
            text: Vec::new(),
            in_file: 0,
        }
    }

    /// Serialise a batch of events; each file that fills up goes to `emit` with its index and
    /// record count.
    fn push_batch(
        &mut self,
        batch: &RecordBatch,
        emit: &mut impl FnMut(usize, Vec<u8>, usize) -> Result<()>,
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
            let missing = missing_fields(&e);
            if !missing.is_empty() {
                self.problem_count += 1;
                if self.problems.len() < MAX_PROBLEMS_LISTED {
                    let id = e
                        .get("orderID")
                        .or_else(|| e.get("fulfillmentID"))
                        .map(|v| v.to_text())
                        .unwrap_or_else(|| "?".into());
                    self.problems.push(format!(
                        "{} {} (order {id}): missing {}",
                        e.text("type"),
                        e.text("firmROEID"),
                        missing.join(", ")
                    ));
                }
                continue;
            }
            if self.problem_count == 0 {
                e.write_line(&mut self.text);
                self.text.push(b'\n');
                self.in_file += 1;
                if self.in_file == self.per_file {
                    self.emit_file(emit)?;
                }
            }
        }
        Ok(())
    }

    fn emit_file(
        &mut self,
        emit: &mut impl FnMut(usize, Vec<u8>, usize) -> Result<()>,
    ) -> Result<()> {
        emit(self.files, std::mem::take(&mut self.text), self.in_file)?;
        self.files += 1;
        self.in_file = 0;
        Ok(())
    }

    /// The last file, or the error listing the incomplete events.
    fn finish(&mut self, emit: &mut impl FnMut(usize, Vec<u8>, usize) -> Result<()>) -> Result<()> {
        if self.problem_count > 0 {
            let more = self.problem_count - self.problems.len();
            let tail = match more {
                0 => String::new(),
                n => format!("\n  ... and {n} more"),
            };
            return Err(Error::input_hint(
                format!(
                    "destination {}: {} CAT events lack required fields:\n  {}{tail}",
                    self.dest.name,
                    self.problem_count,
                    self.problems.join("\n  ")
                ),
                "fix the mapping in sql/v1/reports/cat_order_events.sql or the destination's \
                 upstream mappings in the config, then run `ordertrail report` again",
            ));
        }
        if self.in_file > 0 {
            self.emit_file(emit)?;
        }
        Ok(())
    }
}

fn bzip2_bytes(text: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    encoder
        .write_all(text)
        .and_then(|_| encoder.try_finish())
        .map_err(|e| Error::input(format!("bzip2 failed: {e}")))?;
    encoder
        .finish()
        .map_err(|e| Error::input(format!("bzip2 failed: {e}")))
}

/// The data file `index` (0-based) of the day and its meta file.
fn file_pair(
    dest: &Destination,
    date: NaiveDate,
    index: usize,
    compressed: Vec<u8>,
    records: usize,
) -> [OutFile; 2] {
    let submitter = dest.submitter_id.clone().unwrap_or_default();
    let imid = dest.reporter_imid.clone().unwrap_or_default();
    let group = dest.group.clone().unwrap_or_default();
    let day = date.format("%Y%m%d").to_string();
    let stem = format!(
        "{submitter}_{imid}_{day}_{group}_OrderEvents_{:06}",
        index + 1
    );
    let hash = hex(&Sha256::digest(&compressed));
    let data_name = format!("{stem}.json.bz2");
    // Field order as in the published samples.
    let meta = format!(
        "{{\"type\":\"META\",\"doneForDay\":false,\"fileGenerationDate\":{},\
         \"submitter\":{},\"reporter\":{},\"fileVersion\":{},\"files\":[{{\
         \"fileName\":{},\"recordCount\":{},\"compressedHash\":{}}}]}}",
        json_str(&day),
        json_str(&submitter),
        json_str(&imid),
        json_str(FILE_VERSION),
        json_str(&data_name),
        records,
        json_str(&hash)
    );
    [
        OutFile {
            name: data_name,
            bytes: compressed,
        },
        OutFile {
            name: format!("{stem}.meta.json"),
            bytes: format!("{meta}\n").into_bytes(),
        },
    ]
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}
