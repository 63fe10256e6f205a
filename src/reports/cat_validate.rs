//! `ordertrail validate-cat`: check CAT order-event files against the IM Technical
//! Specifications as data ([`super::cat_spec`]), ours or another system's.
//!
//! Three families, as CAT groups its feedback:
//! - **syntax/format**: JSON, event types, unknown fields, required and conditional fields,
//!   types, lengths, number precision, allowed values, timestamps, name/value objects, arrays;
//! - **linkage**: every secondary event resolves to an origin event (or to the new key of an
//!   earlier modification), no event before its origin, order keys, firmROEID and routedOrderID
//!   unique, fulfillments link to client orders and do not overfill them;
//! - **timeliness**: an event's Eastern-Time date is its file's date and its firmROEID's date;
//!   files submitted after 08:00 ET on T+1 are late;
//!
//! plus **file** rules: the file name, the meta file's record count and hash, the size limit.
//!
//! Files of earlier days may be given as context: their orders resolve links, and nothing is
//! reported about them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cat_spec::{FieldSpec, FieldType, Presence, Spec};
use super::json_text::{self, Json};
use crate::error::{Error, IoContext, Result};
use crate::lake::hex;

/// Examples kept per rule.
const EXAMPLES_PER_RULE: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    File,
    Syntax,
    Linkage,
    Timeliness,
}

impl Family {
    fn title(self) -> &'static str {
        match self {
            Family::File => "file",
            Family::Syntax => "syntax/format",
            Family::Linkage => "linkage",
            Family::Timeliness => "timeliness",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub family: Family,
    pub severity: Severity,
    pub rule: &'static str,
    pub file: String,
    /// 1-based line of the event in the data file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

/// What to check beyond the files themselves.
#[derive(Debug, Clone)]
pub struct Options {
    /// When the files are (or were) submitted, Eastern Time: events of day T submitted after
    /// 08:00 ET on T+1 are late. None: not checked.
    pub submitted_at: Option<NaiveDateTime>,
    /// Largest compressed data file accepted.
    pub max_file_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            submitted_at: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Largest compressed data file accepted by default: 1 GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;

/// The outcome: counts per rule and the first examples of each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validation {
    pub spec_version: String,
    pub files: usize,
    pub events: usize,
    pub errors: usize,
    pub warnings: usize,
    pub rules: Vec<RuleCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCount {
    pub family: Family,
    pub severity: Severity,
    pub rule: &'static str,
    pub count: usize,
    pub examples: Vec<Finding>,
}

impl Validation {
    pub fn is_ok(&self) -> bool {
        self.errors == 0
    }

    /// The count of a rule's findings (0 when none).
    pub fn count(&self, rule: &str) -> usize {
        self.rules
            .iter()
            .filter(|r| r.rule == rule)
            .map(|r| r.count)
            .sum()
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "CAT IM Tech Specs {}: {} files, {} events: {} errors, {} warnings\n",
            self.spec_version, self.files, self.events, self.errors, self.warnings
        );
        let mut family = None;
        for r in &self.rules {
            if family != Some(r.family) {
                family = Some(r.family);
                out.push_str(&format!("{}\n", r.family.title()));
            }
            let severity = match r.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.push_str(&format!("  {severity:<7} {:<34} {:>8}\n", r.rule, r.count));
            for e in &r.examples {
                let mut at = e.file.clone();
                if let Some(line) = e.line {
                    at.push_str(&format!(":{line}"));
                }
                let mut what = String::new();
                if let Some(f) = &e.field {
                    what.push_str(&format!(" {f}"));
                }
                if let Some(v) = &e.value {
                    what.push_str(&format!(" = {v}"));
                }
                out.push_str(&format!("          {at}{what}: {}\n", e.message));
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Collects findings into counts and examples.
#[derive(Default)]
struct Sink {
    counts: BTreeMap<(Family, Severity, &'static str), (usize, Vec<Finding>)>,
    /// Reading context files (earlier days): nothing about them is reported.
    muted: bool,
}

impl Sink {
    fn add(&mut self, f: Finding) {
        if self.muted {
            return;
        }
        let entry = self
            .counts
            .entry((f.family, f.severity, f.rule))
            .or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES_PER_RULE {
            entry.1.push(f);
        }
    }
}

/// Where a finding is: file and line.
#[derive(Clone)]
struct At<'a> {
    file: &'a str,
    line: Option<usize>,
}

impl At<'_> {
    fn finding(
        &self,
        family: Family,
        rule: &'static str,
        field: Option<&str>,
        value: Option<&Json>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            family,
            severity: Severity::Error,
            rule,
            file: self.file.to_string(),
            line: self.line,
            field: field.map(str::to_string),
            value: value.map(|v| {
                let t = v.text();
                if t.chars().count() > 80 {
                    format!("{}...", t.chars().take(80).collect::<String>())
                } else {
                    t
                }
            }),
            message: message.into(),
        }
    }
}

/// An order key as linkage keeps it: orderKeyDate (ns of the ET wall clock) and a 64-bit hash
/// of the orderID, so that a day of millions of orders holds no order id text.
type Key = (i64, u64);

/// A 64-bit hash of text, stable within a run.
fn h64(seed: u8, parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// A 128-bit hash for sets where a collision would be a false error (firmROEID, routes).
fn h128(parts: &[&str]) -> u128 {
    (u128::from(h64(1, parts)) << 64) | u128::from(h64(2, parts))
}

fn ns(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_nanos_opt().unwrap_or(i64::MIN)
}

/// An order reference as an event writes it: the key and the text, for messages.
#[derive(Clone)]
struct Named {
    key: Key,
    date: NaiveDateTime,
    id: String,
}

impl Named {
    fn text(&self) -> String {
        format!("{} {}", self.date.format("%Y%m%dT%H%M%S%.f"), self.id)
    }
}

/// What linkage needs of one event, while it is read.
struct Ev {
    event_type: String,
    ts: NaiveDateTime,
    key: Option<Named>,
    prior: Option<Named>,
    parent: Option<Named>,
    /// Orders named in arrays: (array, order).
    links: Vec<(String, Named)>,
    symbol: Option<String>,
    quantity: Option<Decimal>,
    /// legDetails: (symbol hash, legRatioQuantity).
    legs: Vec<(u64, Decimal)>,
    /// Hash of (day, destination, session, routedOrderID) of a route without dupROIDCond, and
    /// its text.
    route: Option<(u128, String)>,
}

/// An order known to linkage.
struct Order {
    ts: i64,
    /// The first key of its chain of replacements.
    root: Key,
    symbol: u64,
    legs: Vec<(u64, Decimal)>,
}

/// A reference not resolved when read (its order later in the files, or never created).
struct Pending {
    at: (usize, usize),
    ts: i64,
    field: String,
    order: Named,
    /// A fulfillment's quantity and symbol, to add up once the order is known.
    fill: Option<(Decimal, String)>,
}

/// Linkage across the files, fed one event at a time in file order (earlier days' files
/// first): orders are kept as they are created, references resolved at once or kept pending
/// until the end. Memory grows with the orders, not with the events.
struct Links<'s> {
    spec: &'s Spec,
    orders: HashMap<Key, Order>,
    /// The most quantity a chain's keys were given, by root.
    chain_qty: HashMap<Key, Decimal>,
    filled: HashMap<(Key, u64), Decimal>,
    routes: HashSet<u128>,
    pending: Vec<Pending>,
    /// The earliest day of the files checked: an order keyed before it may be in files not given.
    earliest_day: Option<NaiveDate>,
}

/// Data files given: path and whether only context (earlier days' files).
struct DataFile {
    path: PathBuf,
    context: bool,
}

/// Validate the CAT data files under `paths` (files or directories, searched recursively for
/// `*.json.bz2` and `*.json` other than `*.meta.json`). `context`: files of earlier days whose
/// orders may be named by events of `paths`; they are read for linkage only.
pub fn validate(paths: &[PathBuf], context: &[PathBuf], options: &Options) -> Result<Validation> {
    let spec = Spec::builtin()?;
    let mut files = Vec::new();
    for p in paths {
        collect(p, false, &mut files)?;
    }
    for p in context {
        collect(p, true, &mut files)?;
    }
    if files.iter().all(|f| f.context) {
        return Err(Error::input_hint(
            format!(
                "no CAT data files (*.json.bz2, *.json) in {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "pass the folder `ordertrail report` wrote (<out>/<date>/<destination>) or the files",
        ));
    }
    // Earlier days (context) first, then by name: by day and file number.
    files.sort_by(|a, b| (!a.context, &a.path).cmp(&(!b.context, &b.path)));
    files.dedup_by(|a, b| a.path == b.path);
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let mut sink = Sink::default();
    let mut links = Links {
        spec,
        orders: HashMap::new(),
        chain_qty: HashMap::new(),
        filled: HashMap::new(),
        routes: HashSet::new(),
        pending: Vec::new(),
        earliest_day: files
            .iter()
            .filter(|f| !f.context)
            .filter_map(|f| file_date(&f.path.file_name()?.to_string_lossy()))
            .min(),
    };
    let mut roeids: HashSet<u128> = HashSet::new();
    let mut events = 0;
    for (i, f) in files.iter().enumerate() {
        sink.muted = f.context;
        let count = check_file(
            spec,
            i,
            &f.path,
            &names[i],
            options,
            &mut sink,
            &mut links,
            &mut roeids,
        )?;
        if !f.context {
            events += count;
        }
    }
    sink.muted = false;
    links.finish(&names, &mut sink);

    let mut v = Validation {
        spec_version: spec.version.clone(),
        files: files.iter().filter(|f| !f.context).count(),
        events,
        ..Default::default()
    };
    for ((family, severity, rule), (count, examples)) in sink.counts {
        match severity {
            Severity::Error => v.errors += count,
            Severity::Warning => v.warnings += count,
        }
        v.rules.push(RuleCount {
            family,
            severity,
            rule,
            count,
            examples,
        });
    }
    Ok(v)
}

fn is_data_file(name: &str) -> bool {
    name.ends_with(".json.bz2") || (name.ends_with(".json") && !name.ends_with(".meta.json"))
}

fn collect(path: &Path, context: bool, out: &mut Vec<DataFile>) -> Result<()> {
    let meta = std::fs::metadata(path).at(path)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .at(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .at(path)?;
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if e.is_dir() {
                collect(&e, context, out)?;
            } else if is_data_file(&e.file_name().unwrap_or_default().to_string_lossy()) {
                out.push(DataFile { path: e, context });
            }
        }
    } else {
        out.push(DataFile {
            path: path.to_path_buf(),
            context,
        });
    }
    Ok(())
}

/// The parts of a CAT data file name:
/// `<CATSubmitterID>_<CATReporterIMID>_<YYYYMMDD>_<Group>_OrderEvents_<NNNNNN>.json[.bz2]`.
fn file_date(name: &str) -> Option<NaiveDate> {
    let stem = name
        .strip_suffix(".json.bz2")
        .or_else(|| name.strip_suffix(".json"))?;
    let parts: Vec<&str> = stem.split('_').collect();
    if parts.len() != 6 || parts[4] != "OrderEvents" {
        return None;
    }
    let alnum = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !alnum(parts[0]) || !alnum(parts[1]) || !alnum(parts[3]) {
        return None;
    }
    if parts[5].len() != 6 || !parts[5].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if parts[2].len() != 8 {
        return None;
    }
    NaiveDate::parse_from_str(parts[2], "%Y%m%d").ok()
}

/// Check one data file and its meta file, feeding its events to `links`. Returns the number
/// of events. The file is read as a stream (its hash while it is decompressed): memory holds
/// a line, not the file.
#[allow(clippy::too_many_arguments)]
fn check_file(
    spec: &Spec,
    index: usize,
    path: &Path,
    name: &str,
    options: &Options,
    sink: &mut Sink,
    links: &mut Links,
    roeids: &mut HashSet<u128>,
) -> Result<usize> {
    let at = At {
        file: name,
        line: None,
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let date = file_date(&base);
    if date.is_none() {
        sink.add(at.finding(
            Family::File,
            "file.name",
            None,
            None,
            "the name is not <SubmitterID>_<ReporterIMID>_<YYYYMMDD>_<Group>_OrderEvents_<NNNNNN>.json.bz2",
        ));
    }
    let size = std::fs::metadata(path).at(path)?.len();
    if size > options.max_file_bytes {
        sink.add(at.finding(
            Family::File,
            "file.size",
            None,
            None,
            format!(
                "{size} bytes compressed, more than the limit of {}",
                options.max_file_bytes
            ),
        ));
    }
    let compressed = base.ends_with(".bz2");
    let file = std::fs::File::open(path).at(path)?;
    let mut reader: Box<dyn BufRead> = if compressed {
        Box::new(Decompressed::spawn(file).at(path)?)
    } else {
        Box::new(std::io::BufReader::with_capacity(1 << 20, file))
    };
    let mut records = 0;
    let mut line = Vec::new();
    let mut line_no = 0;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                sink.add(at.finding(
                    Family::File,
                    "file.compression",
                    None,
                    None,
                    format!(
                        "cannot be read as {}: {e}",
                        if compressed { "bzip2" } else { "text" }
                    ),
                ));
                return Ok(records);
            }
        }
        line_no += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        records += 1;
        let at = At {
            file: name,
            line: Some(line_no),
        };
        let parsed = std::str::from_utf8(text)
            .map_err(|e| e.to_string())
            .and_then(json_text::parse);
        let event = match parsed {
            Ok(Json::Object(m)) => Json::Object(m),
            Ok(other) => {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.json",
                    None,
                    None,
                    format!("an event is a JSON object, not {}", other.kind()),
                ));
                continue;
            }
            Err(e) => {
                sink.add(at.finding(Family::Syntax, "syntax.json", None, None, e));
                continue;
            }
        };
        if let Some(ev) = check_event(spec, &event, date, options, &at, sink, roeids) {
            links.add(ev, (index, line_no), &at, sink);
        }
    }
    drop(reader);
    // The meta file's hash is of the compressed bytes: a second, plain read.
    let hash = if compressed {
        let mut h = Sha256::new();
        let mut f = std::fs::File::open(path).at(path)?;
        std::io::copy(&mut f, &mut h).at(path)?;
        Some(hex(&h.finalize()))
    } else {
        None
    };
    check_meta(path, &base, hash.as_deref(), records, &at, sink);
    Ok(records)
}

/// A bzip2 file's text, decompressed on a thread of its own a few blocks ahead of the reader,
/// so that bzip2 runs beside the checks: decompressing is about half of validating a file,
/// and the report validates its files after writing them, while the other cores are idle.
struct Decompressed {
    blocks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Decompressed {
    /// Decompressed text handed over in blocks of this many bytes (ending anywhere).
    const BLOCK: usize = 4 << 20;
    /// Blocks decompressed ahead of the reader.
    const AHEAD: usize = 4;

    fn spawn(file: std::fs::File) -> std::io::Result<Self> {
        let (tx, blocks) = std::sync::mpsc::sync_channel(Self::AHEAD);
        let thread = std::thread::Builder::new()
            .name("bunzip2".into())
            .spawn(move || {
                let mut decoder = bzip2::read::MultiBzDecoder::new(
                    std::io::BufReader::with_capacity(1 << 20, file),
                );
                loop {
                    let mut block = vec![0; Self::BLOCK];
                    let mut filled = 0;
                    while filled < block.len() {
                        match decoder.read(&mut block[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                // The text before the fault is read, as from the file itself.
                                block.truncate(filled);
                                let _ = tx.send(Ok(block));
                                let _ = tx.send(Err(e));
                                return;
                            }
                        }
                    }
                    block.truncate(filled);
                    // Nothing more, or a reader that stopped reading.
                    if filled == 0 || tx.send(Ok(block)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            blocks,
            block: Vec::new(),
            at: 0,
            thread: Some(thread),
        })
    }
}

impl Read for Decompressed {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(out.len());
            out[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Decompressed {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.at >= self.block.len() {
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    self.block = block;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The thread is done: the end of the text, unless it panicked.
                Err(_) => {
                    if self.thread.take().is_some_and(|t| t.join().is_err()) {
                        return Err(std::io::Error::other("the decompressing thread panicked"));
                    }
                    return Ok(&[]);
                }
            }
        }
        Ok(&self.block[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

/// The meta file of a data file: present, lists the file, its record count and (for a
/// compressed file, whose SHA-256 is `hash`) its hash.
fn check_meta(
    path: &Path,
    base: &str,
    hash: Option<&str>,
    records: usize,
    at: &At,
    sink: &mut Sink,
) {
    let stem = base
        .strip_suffix(".json.bz2")
        .or_else(|| base.strip_suffix(".json"))
        .unwrap_or(base);
    let meta_path = path.with_file_name(format!("{stem}.meta.json"));
    let Ok(meta_text) = std::fs::read_to_string(&meta_path) else {
        sink.add(at.finding(
            Family::File,
            "file.meta_missing",
            None,
            None,
            format!("no meta file {}", meta_path.display()),
        ));
        return;
    };
    let meta = match json_text::parse(meta_text.trim()) {
        Ok(m) => m,
        Err(e) => {
            sink.add(at.finding(
                Family::File,
                "file.meta_invalid",
                None,
                None,
                format!("{}: {e}", meta_path.display()),
            ));
            return;
        }
    };
    let entry = match meta.get("files") {
        Some(Json::Array(files)) => files
            .iter()
            .find(|f| f.get("fileName").and_then(Json::as_str) == Some(base)),
        _ => None,
    };
    let Some(entry) = entry else {
        sink.add(at.finding(
            Family::File,
            "file.meta_invalid",
            Some("files"),
            None,
            format!("{} does not list {base}", meta_path.display()),
        ));
        return;
    };
    let count = entry.get("recordCount");
    if count.map(Json::text) != Some(records.to_string()) {
        sink.add(at.finding(
            Family::File,
            "file.record_count",
            Some("recordCount"),
            count,
            format!("the data file holds {records} records"),
        ));
    }
    if let Some(hash) = hash {
        let given = entry.get("compressedHash");
        if given.and_then(Json::as_str) != Some(hash) {
            sink.add(at.finding(
                Family::File,
                "file.hash",
                Some("compressedHash"),
                given,
                format!("the data file's SHA-256 is {hash}"),
            ));
        }
    }
}

/// A date or timestamp written as CAT allows: `YYYYMMDD`, `YYYYMMDD HHMMSS[.f{1,9}]`,
/// `YYYYMMDDTHHMMSS[.f{1,9}]` (Eastern Time), or nanoseconds since the epoch.
fn parse_sn(v: &Json) -> Option<NaiveDateTime> {
    match v {
        Json::String(s) => parse_sn_text(s),
        Json::Number(n) => {
            let ns: i64 = n.parse().ok()?;
            let utc = chrono::DateTime::from_timestamp_nanos(ns);
            Some(
                chrono_tz::America::New_York
                    .from_utc_datetime(&utc.naive_utc())
                    .naive_local(),
            )
        }
        _ => None,
    }
}

fn parse_sn_text(s: &str) -> Option<NaiveDateTime> {
    let date = NaiveDate::parse_from_str(s.get(0..8)?, "%Y%m%d").ok()?;
    if !s.is_char_boundary(8) || !s[..8].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = &s[8..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    let rest = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T'))?;
    let (hms, frac) = match rest.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (rest, None),
    };
    if hms.len() != 6 || !hms.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| hms[r].parse::<u32>().ok();
    let mut nanos = 0;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        nanos = f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32);
    }
    let time = NaiveTime::from_hms_nano_opt(num(0..2)?, num(2..4)?, num(4..6)?, nanos)?;
    Some(date.and_time(time))
}

/// The digits of a JSON number before and after the point, or None when it has an exponent.
fn number_digits(n: &str) -> Option<(usize, usize)> {
    if n.contains(['e', 'E']) {
        return None;
    }
    let n = n.trim_start_matches('-');
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let int = int.trim_start_matches('0');
    Some((int.len(), frac.len()))
}

fn decimal(v: &Json) -> Option<Decimal> {
    match v {
        Json::Number(n) => n
            .parse::<Decimal>()
            .ok()
            .or_else(|| Decimal::from_scientific(n).ok()),
        _ => None,
    }
}

/// The text a condition compares: strings bare, booleans `true`/`false`, numbers as written.
fn cond_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.clone()),
        _ => None,
    }
}

fn holds(cond: &BTreeMap<String, Vec<String>>, obj: &Json) -> bool {
    cond.iter().all(|(field, values)| match obj.get(field) {
        None | Some(Json::Null) => false,
        Some(v) => values
            .iter()
            .any(|want| want == "*" || cond_text(v).as_deref() == Some(want.as_str())),
    })
}

fn describe(cond: &BTreeMap<String, Vec<String>>) -> String {
    cond.iter()
        .map(|(f, v)| match v.as_slice() {
            [one] if one == "*" => format!("{f} is present"),
            [one] => format!("{f} is {one}"),
            many => format!("{f} is one of {}", many.join(", ")),
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// CRD:IMID, e.g. `12345:BRKB`.
fn is_crd_imid(s: &str) -> bool {
    match s.split_once(':') {
        Some((crd, imid)) => {
            !crd.is_empty()
                && crd.len() <= 10
                && crd.chars().all(|c| c.is_ascii_digit())
                && !imid.is_empty()
                && imid.len() <= 7
                && imid.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// Check the fields of one object (an event or an array element) against `fields`.
fn check_fields(
    spec: &Spec,
    fields: &BTreeMap<String, FieldSpec>,
    elements: &BTreeMap<String, BTreeMap<String, FieldSpec>>,
    obj: &Json,
    prefix: &str,
    at: &At,
    sink: &mut Sink,
) {
    let Json::Object(members) = obj else {
        return;
    };
    let path = |name: &str| format!("{prefix}{name}");
    for (name, value) in members {
        if !fields.contains_key(name) {
            sink.add(at.finding(
                Family::Syntax,
                "syntax.unknown_field",
                Some(&path(name)),
                Some(value),
                "the spec has no such field for this event type",
            ));
        }
    }
    for (name, f) in fields {
        let value = obj.get(name).filter(|v| !matches!(v, Json::Null));
        let Some(value) = value else {
            if f.p == Presence::R {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.required",
                    Some(&path(name)),
                    None,
                    "required field missing",
                ));
            } else if let Some(cond) = f.required_when.as_ref().filter(|c| holds(c, obj)) {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.conditional_required",
                    Some(&path(name)),
                    None,
                    format!("required when {}", describe(cond)),
                ));
            } else if let Some(other) = f.with.as_ref().filter(|o| obj.get(o).is_some()) {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.conditional_required",
                    Some(&path(name)),
                    None,
                    format!("required with {other}"),
                ));
            }
            continue;
        };
        if let Some(cond) = f.only_when.as_ref().filter(|c| !holds(c, obj)) {
            sink.add(at.finding(
                Family::Syntax,
                "syntax.not_allowed",
                Some(&path(name)),
                Some(value),
                format!("allowed only when {}", describe(cond)),
            ));
        }
        check_value(spec, name, f, value, elements, obj, &path(name), at, sink);
    }
}

#[allow(clippy::too_many_arguments)]
fn check_value(
    spec: &Spec,
    name: &str,
    f: &FieldSpec,
    value: &Json,
    elements: &BTreeMap<String, BTreeMap<String, FieldSpec>>,
    obj: &Json,
    path: &str,
    at: &At,
    sink: &mut Sink,
) {
    let empty = |sink: &mut Sink, what: &str| {
        sink.add(at.finding(
            Family::Syntax,
            "syntax.empty",
            Some(path),
            Some(value),
            format!("an empty {what}: leave the field out instead"),
        ));
    };
    let wrong_type = |sink: &mut Sink, want: &str| {
        sink.add(at.finding(
            Family::Syntax,
            "syntax.type",
            Some(path),
            Some(value),
            format!("must be {want}, not {}", value.kind()),
        ));
    };
    match f.t {
        FieldType::S => {
            let Json::String(s) = value else {
                return wrong_type(sink, "a string");
            };
            if let Some(len) = f.len.filter(|len| s.chars().count() > *len) {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.length",
                    Some(path),
                    Some(value),
                    format!("longer than {len} characters"),
                ));
            }
            if s.is_empty() {
                empty(sink, "string");
            }
            check_allowed(spec, name, f, s, obj, path, value, at, sink);
        }
        FieldType::N => {
            let Json::Number(n) = value else {
                return wrong_type(sink, "a number");
            };
            match (number_digits(n), f.digits()) {
                (None, _) => sink.add(at.finding(
                    Family::Syntax,
                    "syntax.precision",
                    Some(path),
                    Some(value),
                    "write numbers without an exponent",
                )),
                (Some((int, frac)), Some((max_int, max_frac)))
                    if int > max_int || frac > max_frac =>
                {
                    sink.add(at.finding(
                        Family::Syntax,
                        "syntax.precision",
                        Some(path),
                        Some(value),
                        format!("more than {max_int} digits before or {max_frac} after the point"),
                    ))
                }
                _ => {}
            }
            if let Some(other) = &f.not_above
                && let (Some(a), Some(b)) = (decimal(value), obj.get(other).and_then(decimal))
                && a > b
            {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.not_above",
                    Some(path),
                    Some(value),
                    format!("greater than {other} ({b})"),
                ));
            }
            if let Some(array) = &f.count_of {
                let len = match obj.get(array) {
                    Some(Json::Array(items)) => items.len(),
                    _ => 0,
                };
                if n != &len.to_string() {
                    sink.add(at.finding(
                        Family::Syntax,
                        "syntax.count",
                        Some(path),
                        Some(value),
                        format!("{array} has {len} elements"),
                    ));
                }
            }
        }
        FieldType::B => {
            if !matches!(value, Json::Bool(_)) {
                wrong_type(sink, "true or false");
            }
        }
        FieldType::SN => {
            if parse_sn(value).is_none() {
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.timestamp",
                    Some(path),
                    Some(value),
                    "not YYYYMMDD, YYYYMMDD HHMMSS.fff..., YYYYMMDDTHHMMSS.fff... or \
                     nanoseconds since the epoch",
                ));
            }
        }
        FieldType::O => {
            let Json::Object(members) = value else {
                return wrong_type(sink, "an object of name/value pairs");
            };
            if members.is_empty() {
                empty(sink, "object");
            }
            if let Some(names) = spec.objects.get(name) {
                for (k, v) in members {
                    let ok = match names.get(k).map(String::as_str) {
                        Some("date") => match v {
                            Json::Number(n) | Json::String(n) => {
                                n.len() == 8 && NaiveDate::parse_from_str(n, "%Y%m%d").is_ok()
                            }
                            _ => false,
                        },
                        Some("true") => v == &Json::Bool(true),
                        Some(_) => true,
                        None => {
                            sink.add(at.finding(
                                Family::Syntax,
                                "syntax.object_name",
                                Some(&format!("{path}.{k}")),
                                Some(v),
                                format!(
                                    "not a {name} name (allowed: {})",
                                    names.keys().cloned().collect::<Vec<_>>().join(", ")
                                ),
                            ));
                            continue;
                        }
                    };
                    if !ok {
                        sink.add(at.finding(
                            Family::Syntax,
                            "syntax.type",
                            Some(&format!("{path}.{k}")),
                            Some(v),
                            format!("a {name}.{k} value is a {}", names[k]),
                        ));
                    }
                }
            } else {
                for (k, v) in members {
                    if !matches!(v, Json::Bool(_) | Json::String(_) | Json::Number(_)) {
                        sink.add(at.finding(
                            Family::Syntax,
                            "syntax.type",
                            Some(&format!("{path}.{k}")),
                            Some(v),
                            "a name/value pair's value is a flag, text or number",
                        ));
                    }
                }
            }
        }
        FieldType::A => {
            let Json::Array(items) = value else {
                return wrong_type(sink, "an array");
            };
            if items.is_empty() {
                empty(sink, "array");
            }
            let element_fields = elements.get(name);
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                if !matches!(item, Json::Object(_)) {
                    sink.add(at.finding(
                        Family::Syntax,
                        "syntax.type",
                        Some(&item_path),
                        Some(item),
                        format!("an element of {name} is an object, not {}", item.kind()),
                    ));
                    continue;
                }
                if let Some(fields) = element_fields {
                    let prefix = format!("{item_path}.");
                    check_fields(spec, fields, &BTreeMap::new(), item, &prefix, at, sink);
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_allowed(
    spec: &Spec,
    name: &str,
    f: &FieldSpec,
    s: &str,
    obj: &Json,
    path: &str,
    value: &Json,
    at: &At,
    sink: &mut Sink,
) {
    let mut form = f.form.clone();
    let mut list = None;
    if let Some(by) = &f.values_by {
        for (field, choices) in by {
            let chosen = obj
                .get(field)
                .and_then(cond_text)
                .and_then(|v| choices.get(&v));
            match chosen.map(String::as_str) {
                Some("@crd_imid") => form = Some("crd_imid".into()),
                Some(l) => list = spec.values.get(l).map(|v| (l, v.as_slice())),
                None => {}
            }
        }
    } else if let Some(values) = spec.values_of(name, f) {
        list = Some((f.values.as_deref().unwrap_or(name), values));
    }
    if let Some((list_name, values)) = list
        && !values.iter().any(|v| v == s)
    {
        sink.add(at.finding(
            Family::Syntax,
            "syntax.value",
            Some(path),
            Some(value),
            format!("not an allowed {list_name} value"),
        ));
    }
    if form.as_deref() == Some("crd_imid") && !is_crd_imid(s) {
        sink.add(at.finding(
            Family::Syntax,
            "syntax.form",
            Some(path),
            Some(value),
            "must be CRD:IMID (e.g. 12345:BRKB)",
        ));
    }
}

/// Syntax and timeliness of one event; what linkage needs of it.
fn check_event(
    spec: &Spec,
    event: &Json,
    file_date: Option<NaiveDate>,
    options: &Options,
    at: &At,
    sink: &mut Sink,
    roeids: &mut HashSet<u128>,
) -> Option<Ev> {
    let type_value = event.get("type");
    let event_type = type_value.and_then(Json::as_str).unwrap_or_default();
    let Some(es) = spec.events.get(event_type) else {
        let message = match type_value {
            None => "the event has no type".to_string(),
            Some(_) => format!(
                "not an event type of the spec ({})",
                spec.events.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        sink.add(at.finding(
            Family::Syntax,
            "syntax.event_type",
            Some("type"),
            type_value,
            message,
        ));
        return None;
    };
    check_fields(spec, &es.fields, &es.elements, event, "", at, sink);

    let ts = event.get("eventTimestamp").and_then(parse_sn)?;
    if let Some(date) = file_date {
        if ts.date() != date {
            sink.add(at.finding(
                Family::Timeliness,
                "time.misdated",
                Some("eventTimestamp"),
                event.get("eventTimestamp"),
                format!(
                    "the event's Eastern-Time date is {}, the file's {}",
                    ts.date().format("%Y%m%d"),
                    date.format("%Y%m%d")
                ),
            ));
        }
        if let Some(submitted) = options.submitted_at {
            let deadline = (date + chrono::Days::new(1)).and_hms_opt(8, 0, 0)?;
            if submitted > deadline {
                let late = Finding {
                    severity: Severity::Warning,
                    ..at.finding(
                        Family::Timeliness,
                        "time.late",
                        None,
                        None,
                        format!("submitted {submitted}, after the deadline {deadline} ET"),
                    )
                };
                sink.add(late);
            }
        }
    }
    if let Some(roeid) = event.get("firmROEID").and_then(Json::as_str) {
        let prefix = roeid.split_once('_').map(|(d, _)| d);
        let roeid_date = prefix.and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
        if roeid_date != Some(ts.date()) || prefix.map(str::len) != Some(8) {
            sink.add(at.finding(
                Family::Timeliness,
                "time.firmROEID_date",
                Some("firmROEID"),
                event.get("firmROEID"),
                format!(
                    "must start with the event date {}_",
                    ts.date().format("%Y%m%d")
                ),
            ));
        }
        if !roeids.insert(h128(&[&ts.date().to_string(), roeid])) {
            sink.add(at.finding(
                Family::Linkage,
                "linkage.duplicate_firmROEID",
                Some("firmROEID"),
                event.get("firmROEID"),
                "firmROEID is not unique for the event date",
            ));
        }
    }

    let named = |obj: &Json, date: &str, id: &str| -> Option<Named> {
        let d = obj.get(date).and_then(parse_sn)?;
        let id = obj.get(id).and_then(Json::as_str)?;
        Some(Named {
            key: (ns(d), h64(0, &[id])),
            date: d,
            id: id.to_string(),
        })
    };
    let mut links = Vec::new();
    for array in &spec.linkage.order_arrays {
        if let Some(Json::Array(items)) = event.get(array) {
            for item in items {
                if let Some(n) = named(item, "orderKeyDate", "orderID") {
                    links.push((array.clone(), n));
                }
            }
        }
    }
    let legs = match event.get("legDetails") {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|l| {
                let s = l.get("symbol").and_then(Json::as_str)?;
                let r = l.get("legRatioQuantity").and_then(decimal)?;
                Some((h64(0, &[s]), r))
            })
            .collect(),
        _ => Vec::new(),
    };
    let route = if spec.linkage.routes.iter().any(|r| r == event_type)
        && event.get("dupROIDCond") != Some(&Json::Bool(true))
    {
        let text = |f: &str| event.get(f).map(Json::text).unwrap_or_default();
        event.get("routedOrderID").and_then(Json::as_str).map(|id| {
            let (dest, session) = (text("destination"), text("session"));
            let day = ts.date().to_string();
            (
                h128(&[&day, &dest, &session, id]),
                format!("{id} to {dest} {session}"),
            )
        })
    } else {
        None
    };
    Some(Ev {
        event_type: event_type.to_string(),
        ts,
        key: named(event, "orderKeyDate", "orderID"),
        prior: named(event, "priorOrderKeyDate", "priorOrderID"),
        parent: named(event, "parentOrderKeyDate", "parentOrderID"),
        links,
        symbol: event
            .get("symbol")
            .and_then(Json::as_str)
            .map(str::to_string),
        quantity: event.get("quantity").and_then(decimal),
        legs,
        route,
    })
}

impl Links<'_> {
    fn is(list: &[String], t: &str) -> bool {
        list.iter().any(|x| x == t)
    }

    /// Take in one event: create the order it creates, resolve what it names (or keep it
    /// pending), add up fulfillments, check route ids.
    fn add(&mut self, ev: Ev, at_index: (usize, usize), at: &At, sink: &mut Sink) {
        let linkage = &self.spec.linkage;
        let origin = Self::is(&linkage.origin, &ev.event_type);
        let replacing = Self::is(&linkage.replaces, &ev.event_type) && ev.prior.is_some();
        let ts = ns(ev.ts);
        let mut named: Vec<(&str, &Named)> = Vec::new();
        if let Some(k) = ev.key.as_ref().filter(|_| !origin && !replacing) {
            named.push(("orderID", k));
        }
        if let Some(p) = &ev.prior {
            named.push(("priorOrderID", p));
        }
        if let Some(p) = &ev.parent {
            named.push(("parentOrderID", p));
        }
        for (array, k) in &ev.links {
            named.push((array.as_str(), k));
        }
        for (field, order) in named {
            self.resolve(field, order, ts, at_index, at, sink);
        }
        // The order this event creates.
        if let Some(key) = ev.key.as_ref().filter(|_| origin || replacing) {
            if self.orders.contains_key(&key.key) {
                if !Self::is(&linkage.may_keep_key, &ev.event_type) {
                    sink.add(at.finding(
                        Family::Linkage,
                        "linkage.duplicate_order_key",
                        Some("orderID"),
                        Some(&Json::String(key.id.clone())),
                        format!("order key {} was created before", key.text()),
                    ));
                }
            } else {
                let prior = ev.prior.as_ref().and_then(|p| self.orders.get(&p.key));
                let root = prior.map_or(key.key, |o| o.root);
                let legs = match (prior, ev.legs.is_empty()) {
                    (Some(p), true) => p.legs.clone(),
                    _ => ev.legs.clone(),
                };
                if let Some(q) = ev.quantity {
                    let e = self.chain_qty.entry(root).or_insert(q);
                    *e = (*e).max(q);
                }
                self.orders.insert(
                    key.key,
                    Order {
                        ts,
                        root,
                        symbol: ev.symbol.as_deref().map_or(0, |s| h64(0, &[s])),
                        legs,
                    },
                );
            }
        }
        // Fulfillments add up against their client orders.
        if Self::is(&linkage.fulfillments, &ev.event_type) {
            for (array, order) in &ev.links {
                let (Some(q), Some(sym)) = (ev.quantity, &ev.symbol) else {
                    continue;
                };
                if array != "clientDetails" {
                    continue;
                }
                if self.orders.contains_key(&order.key) {
                    self.fill(order, q, sym, at, sink);
                } else if let Some(p) = self
                    .pending
                    .iter_mut()
                    .rev()
                    .find(|p| p.at == at_index && p.order.key == order.key && p.fill.is_none())
                {
                    p.fill = Some((q, sym.clone()));
                }
            }
        }
        if let Some((route, text)) = &ev.route
            && !self.routes.insert(*route)
        {
            sink.add(at.finding(
                Family::Linkage,
                "linkage.duplicate_routedOrderID",
                Some("routedOrderID"),
                None,
                format!("{text} was routed before on this day"),
            ));
        }
    }

    /// A reference to an order: resolved now (and after its origin in time), or kept pending.
    fn resolve(
        &mut self,
        field: &str,
        order: &Named,
        ts: i64,
        at_index: (usize, usize),
        at: &At,
        sink: &mut Sink,
    ) {
        match self.orders.get(&order.key) {
            Some(o) if o.ts > ts => sink.add(at.finding(
                Family::Linkage,
                "linkage.out_of_sequence",
                Some(field),
                Some(&Json::String(order.id.clone())),
                format!(
                    "the event is timestamped before its order {} was created",
                    order.text()
                ),
            )),
            Some(_) => {}
            None if !sink.muted => self.pending.push(Pending {
                at: at_index,
                ts,
                field: field.to_string(),
                order: order.clone(),
                fill: None,
            }),
            None => {}
        }
    }

    /// Add a fulfillment of `order` in `symbol`; an error when it fills more than the order
    /// (times the leg's ratio) or is in a symbol the order does not have.
    fn fill(&mut self, order: &Named, q: Decimal, symbol: &str, at: &At, sink: &mut Sink) {
        let Some(o) = self.orders.get(&order.key) else {
            return;
        };
        let sym = h64(0, &[symbol]);
        let limit = if o.legs.is_empty() {
            if o.symbol != sym {
                sink.add(at.finding(
                    Family::Linkage,
                    "linkage.fill_symbol",
                    Some("symbol"),
                    Some(&Json::String(symbol.to_string())),
                    format!("order {} is for another symbol", order.id),
                ));
                return;
            }
            self.chain_qty.get(&o.root).copied()
        } else {
            let Some((_, ratio)) = o.legs.iter().find(|(s, _)| *s == sym) else {
                sink.add(at.finding(
                    Family::Linkage,
                    "linkage.fill_symbol",
                    Some("symbol"),
                    Some(&Json::String(symbol.to_string())),
                    format!("multi-leg order {} has no leg in {symbol}", order.id),
                ));
                return;
            };
            self.chain_qty.get(&o.root).map(|q| q * ratio)
        };
        let total = self.filled.entry((o.root, sym)).or_default();
        *total += q;
        if let Some(limit) = limit.filter(|limit| *total > *limit) {
            sink.add(at.finding(
                Family::Linkage,
                "linkage.overfill",
                Some("quantity"),
                Some(&Json::Number(q.to_string())),
                format!(
                    "fills of order {} in {symbol} add up to {total}, more than its {limit}",
                    order.id
                ),
            ));
        }
    }

    /// The references still pending once every file is read: orders created later in the
    /// files (then in time?), on an earlier day not given, or never.
    fn finish(&mut self, names: &[String], sink: &mut Sink) {
        for p in std::mem::take(&mut self.pending) {
            let at = At {
                file: &names[p.at.0],
                line: Some(p.at.1),
            };
            let id = Some(Json::String(p.order.id.clone()));
            match self.orders.get(&p.order.key) {
                Some(o) if o.ts > p.ts => sink.add(at.finding(
                    Family::Linkage,
                    "linkage.out_of_sequence",
                    Some(&p.field),
                    id.as_ref(),
                    format!(
                        "the event is timestamped before its order {} was created",
                        p.order.text()
                    ),
                )),
                Some(_) => {
                    if let Some((q, symbol)) = &p.fill {
                        self.fill(&p.order, *q, symbol, &at, sink);
                    }
                }
                None if self.earliest_day.is_some_and(|d| p.order.date.date() < d) => {
                    sink.add(Finding {
                        severity: Severity::Warning,
                        ..at.finding(
                            Family::Linkage,
                            "linkage.origin_not_given",
                            Some(&p.field),
                            id.as_ref(),
                            format!(
                                "order {} was created on an earlier day whose files were not \
                                 given; pass them as context to check the link",
                                p.order.text()
                            ),
                        )
                    });
                }
                None => sink.add(at.finding(
                    Family::Linkage,
                    "linkage.orphan",
                    Some(&p.field),
                    id.as_ref(),
                    format!("no event created order {}", p.order.text()),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_form_cat_allows() {
        let t = |s: &str| parse_sn(&Json::String(s.into()));
        assert!(t("20261119").is_some());
        assert!(t("20261119 093000.123").is_some());
        assert!(t("20261119T093000.123456789").is_some());
        assert!(t("20261119T093000").is_some());
        assert!(t("20261119T09:30:00").is_none());
        assert!(t("20261319").is_none());
        assert!(t("20261119T093000.").is_none());
        assert!(t("20261119T093000.1234567890").is_none());
        // 2026-11-19 14:30:00 UTC is 09:30 ET.
        let ns = Json::Number("1795098600000000000".into());
        assert_eq!(
            parse_sn(&ns).map(|d| d.to_string()).as_deref(),
            Some("2026-11-19 09:30:00")
        );
    }

    #[test]
    fn file_names_give_the_date() {
        assert_eq!(
            file_date("93010_BRKR_20261119_1_OrderEvents_000001.json.bz2"),
            NaiveDate::from_ymd_opt(2026, 11, 19)
        );
        assert_eq!(
            file_date("93010_BRKR_20261119_1_Orders_000001.json.bz2"),
            None
        );
        assert_eq!(
            file_date("93010_BRKR_20261119_1_OrderEvents_1.json.bz2"),
            None
        );
    }

    #[test]
    fn number_digits_count_both_sides() {
        assert_eq!(number_digits("187.25"), Some((3, 2)));
        assert_eq!(number_digits("0.5"), Some((0, 1)));
        assert_eq!(number_digits("-100"), Some((3, 0)));
        assert_eq!(number_digits("1e3"), None);
        assert!(is_crd_imid("12345:BRKB"));
        assert!(!is_crd_imid("BOAT"));
    }
}
