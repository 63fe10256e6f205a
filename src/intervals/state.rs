//! Interval state: per trade date, which windows each stage has processed, with what SQL and
//! inputs, and what it wrote. Kept in the lake as JSON, rewritten atomically (write aside,
//! rename), and only by the run holding the date's claim.
//!
//! `<lake>/state/<version>/trade_date=D/windows.json`  the records
//! `<lake>/state/<version>/trade_date=D/log.jsonl`     every processing attempt, appended
//! `<lake>/state/<version>/trade_date=D/claim.json`    the live claim (see `claim`)

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::lake::Lake;
use crate::window::Window;

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Done,
    Failed,
    /// Marked for reprocessing (`--restate`).
    Stale,
}

/// One stage's processing of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub start: String,
    pub end: String,
    pub status: Status,
    /// SHA-256 of the stage's SQL file when it ran.
    pub sql_hash: String,
    /// Fingerprint of everything the stage read up to the window's end (see `fingerprint`).
    pub input_fp: String,
    /// SHA-256 of the day's partition after this window was merged in.
    #[serde(default)]
    pub output_digest: String,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub elapsed_ms: u64,
    /// The process's peak resident memory while the window ran (KiB), when sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Record {
    pub fn window(&self) -> Result<Window> {
        Ok(Window {
            start: parse_time(&self.start)?,
            end: parse_time(&self.end)?,
        })
    }

    /// Whether this window is done and ran with this SQL (`sql_hash`) on these inputs
    /// (`input_fp`): running it again would write the same rows.
    pub fn is_done_with(&self, sql_hash: &str, input_fp: &str) -> bool {
        self.status == Status::Done && self.sql_hash == sql_hash && self.input_fp == input_fp
    }
}

pub fn fmt_time(t: NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Parse a time written by [`fmt_time`].
pub fn parse_time(s: &str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, TIME_FORMAT).map_err(|e| {
        Error::data(
            format!("bad time '{s}' in interval state: {e}"),
            "the lake's state files are damaged: restate the date (run --restate)",
        )
    })
}

/// All records of one trade date, by stage, each list sorted by window start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DayState {
    pub stages: BTreeMap<String, Vec<Record>>,
}

/// Where a date's state files live.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    pub fn new(lake: &Lake, version: &str, date: NaiveDate) -> StateDir {
        StateDir {
            dir: lake
                .root()
                .join("state")
                .join(version)
                .join(format!("trade_date={date}")),
        }
    }

    pub fn records_path(&self) -> PathBuf {
        self.dir.join("windows.json")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    pub fn claim_path(&self) -> PathBuf {
        self.dir.join("claim.json")
    }

    pub fn load(&self) -> Result<DayState> {
        let path = self.records_path();
        if !path.exists() {
            return Ok(DayState::default());
        }
        let text = std::fs::read_to_string(&path).at(&path)?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input_hint(
                format!("{}: unreadable interval state: {e}", path.display()),
                "restore it, or delete it and rerun with --restate to rebuild the day",
            )
        })
    }

    pub fn save(&self, state: &DayState) -> Result<()> {
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| Error::internal(format!("cannot encode interval state: {e}")))?;
        write_atomic(&self.records_path(), text.as_bytes())
    }

    /// Append one line to the date's processing log.
    pub fn log(&self, entry: &LogEntry) -> Result<()> {
        append_jsonl(&self.log_path(), entry)
    }

    pub fn read_log(&self) -> Result<Vec<LogEntry>> {
        read_jsonl(&self.log_path())
    }
}

/// One processing attempt of a stage window, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub stage: String,
    pub start: String,
    pub end: String,
    pub owner: String,
    pub status: Status,
    pub rows: u64,
    pub elapsed_ms: u64,
    pub at: String,
}

impl DayState {
    pub fn records(&self, stage: &str) -> &[Record] {
        self.stages.get(stage).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Put `record` in place of any records its window overlaps, and drop every record after
    /// it: later windows were computed from a state that no longer holds.
    pub fn put(&mut self, stage: &str, record: Record) {
        let list = self.stages.entry(stage.to_string()).or_default();
        list.retain(|r| r.end <= record.start);
        list.push(record);
        list.sort_by(|a, b| a.start.cmp(&b.start));
    }

    /// The end of `stage`'s done records, contiguous from `midnight` (their status only; the
    /// planner also judges whether they are current).
    pub fn done_until(&self, stage: &str, midnight: NaiveDateTime) -> NaiveDateTime {
        let mut cursor = midnight;
        for r in self.records(stage) {
            match r.window() {
                Ok(w) if w.start == cursor && r.status == Status::Done => cursor = w.end,
                _ => break,
            }
        }
        cursor
    }

    /// The last done record of `stage` that starts before `t`.
    pub fn covering(&self, stage: &str, t: NaiveDateTime) -> Option<&Record> {
        let t = fmt_time(t);
        self.records(stage)
            .iter()
            .rfind(|r| r.status == Status::Done && r.start < t)
    }
}

/// Append `entry` as one JSON line to `path` (created with its folder when missing).
pub fn append_jsonl<T: Serialize>(path: &Path, entry: &T) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let mut line = serde_json::to_string(entry)
        .map_err(|e| Error::internal(format!("cannot encode a line of {}: {e}", path.display())))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .at(path)?;
    file.write_all(line.as_bytes()).at(path)?;
    Ok(())
}

/// Every line of a JSON-lines file (none when it does not exist).
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).at(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                Error::data(
                    format!("{}:{}: bad line: {e}", path.display(), i + 1),
                    "the file is damaged: remove that line (or the file, for a log) and \
                         run again",
                )
            })
        })
        .collect()
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("bad state path {}", path.display())))?;
    std::fs::create_dir_all(dir).at(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    std::fs::rename(&tmp, path).at(path)?;
    Ok(())
}
