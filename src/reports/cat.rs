//! FINRA CAT order event files: newline-delimited JSON, bzip2-compressed, split into files of
//! at most `records_per_file` events, each with its `.meta.json`.
//!
//! The rows and fields come from the `cat_order_events` stage; this module only checks that
//! every event has the fields CAT requires for its type, and serialises. Nothing is written
//! when an event is incomplete: the error lists the events and their order ids.

use std::collections::BTreeSet;
use std::io::Write;

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::values::{Value, value_at};
use crate::config::Destination;
use crate::error::{Error, Result};
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
struct Event {
    fields: Vec<(String, Value)>,
}

impl Event {
    fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .filter(|v| v.to_json().is_some())
    }

    fn text(&self, name: &str) -> String {
        self.get(name).map(|v| v.to_text()).unwrap_or_default()
    }

    fn to_line(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .filter_map(|(k, v)| {
                v.to_json()
                    .map(|j| format!("{}:{j}", serde_json::Value::String(k.clone())))
            })
            .collect();
        format!("{{{}}}", parts.join(","))
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

/// Build the day's CAT files for one destination from its `cat_order_events` rows.
///
/// Rows are turned into JSON lines one at a time; each full file's text goes to a pool of
/// compressing threads (one per core; bzip2 is most of the time a report takes), at most one
/// file per thread waiting, so memory holds a few files' text, not every event of the day. An
/// incomplete event is an error listing every one of them; nothing is written then.
pub fn build(batches: &[RecordBatch], dest: &Destination, date: NaiveDate) -> Result<Vec<OutFile>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, String)>(threads);
    let rx = std::sync::Mutex::new(rx);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let next = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((index, text)) = next else { break };
                        done.push((index, bzip2_bytes(text.as_bytes())));
                    }
                    done
                })
            })
            .collect();
        let texts = json_lines(batches, dest, |index, text| {
            tx.send((index, text))
                .map_err(|_| Error::input("a CAT compression thread stopped"))
        });
        drop(tx);
        let mut compressed = Vec::new();
        for worker in workers {
            compressed.extend(
                worker
                    .join()
                    .map_err(|_| Error::input("a CAT compression thread panicked"))?,
            );
        }
        let counts = texts?;
        compressed.sort_by_key(|(index, _)| *index);
        let mut files = Vec::with_capacity(2 * counts.len());
        for ((index, bytes), records) in compressed.into_iter().zip(counts) {
            files.extend(file_pair(dest, date, index, bytes?, records));
        }
        Ok(files)
    })
}

/// Serialise the events into files of at most `records_per_file` lines, handing each full
/// file's text to `emit` with its index; returns the record count of each file.
fn json_lines(
    batches: &[RecordBatch],
    dest: &Destination,
    mut emit: impl FnMut(usize, String) -> Result<()>,
) -> Result<Vec<usize>> {
    let per_file = dest.records_per_file.unwrap_or(100_000).max(1) as usize;
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut counts = Vec::new();
    let mut text = String::new();
    let mut in_file = 0usize;
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut fields = Vec::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if f.name().starts_with('_') {
                    continue;
                }
                fields.push((f.name().clone(), value_at(batch.column(i), row, f.name())?));
            }
            let e = Event { fields };
            let missing = missing_fields(&e);
            if !missing.is_empty() {
                let id = e
                    .get("orderID")
                    .or_else(|| e.get("fulfillmentID"))
                    .map(|v| v.to_text())
                    .unwrap_or_else(|| "?".into());
                problems.push(format!(
                    "{} {} (order {id}): missing {}",
                    e.text("type"),
                    e.text("firmROEID"),
                    missing.join(", ")
                ));
                continue;
            }
            let key = (e.text("firmROEID"), e.text("type"));
            if !seen.insert(key.clone()) {
                return Err(Error::input(format!(
                    "destination {}: firmROEID {} is not unique for the event date",
                    dest.name, key.0
                )));
            }
            if problems.is_empty() {
                text.push_str(&e.to_line());
                text.push('\n');
                in_file += 1;
                if in_file == per_file {
                    emit(counts.len(), std::mem::take(&mut text))?;
                    counts.push(in_file);
                    in_file = 0;
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::input_hint(
            format!(
                "destination {}: {} CAT events lack required fields:\n  {}",
                dest.name,
                problems.len(),
                problems.join("\n  ")
            ),
            "fix the mapping in sql/v1/reports/cat_order_events.sql or the destination's \
             upstream mappings in the config, then run `ordertrail report` again",
        ));
    }
    if in_file > 0 {
        emit(counts.len(), text)?;
        counts.push(in_file);
    }
    Ok(counts)
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
