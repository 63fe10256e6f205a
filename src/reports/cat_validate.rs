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
use std::io::Read;
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
}

impl Sink {
    fn add(&mut self, f: Finding) {
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

/// An order key: orderKeyDate (as an ET wall-clock time) and orderID.
type Key = (NaiveDateTime, String);

/// What linkage needs of one event.
struct Linked {
    file: usize,
    line: usize,
    event_type: String,
    ts: NaiveDateTime,
    /// orderKeyDate + orderID of the event, when it has them.
    key: Option<Key>,
    /// priorOrderKeyDate + priorOrderID.
    prior: Option<Key>,
    /// parentOrderKeyDate + parentOrderID.
    parent: Option<Key>,
    /// Orders named in arrays: (array, key).
    links: Vec<(String, Key)>,
    symbol: Option<String>,
    quantity: Option<Decimal>,
    /// legDetails: (symbol, legRatioQuantity).
    legs: Vec<(String, Decimal)>,
    /// (destination, session, routedOrderID) of a route without dupROIDCond.
    route: Option<(String, String, String)>,
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
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let mut sink = Sink::default();
    let mut linked = Vec::new();
    let mut names = Vec::new();
    let mut events = 0;
    let mut roeids: HashSet<(String, String)> = HashSet::new();
    for (i, f) in files.iter().enumerate() {
        let name = f.path.display().to_string();
        names.push(name.clone());
        let mut file_sink = Sink::default();
        let count = check_file(
            spec,
            i,
            &f.path,
            &name,
            options,
            &mut file_sink,
            &mut linked,
            &mut roeids,
            f.context,
        )?;
        if !f.context {
            events += count;
            for ((family, severity, rule), (n, examples)) in std::mem::take(&mut file_sink.counts) {
                let entry = sink.counts.entry((family, severity, rule)).or_default();
                entry.0 += n;
                for e in examples {
                    if entry.1.len() < EXAMPLES_PER_RULE {
                        entry.1.push(e);
                    }
                }
            }
        }
    }
    let context: Vec<bool> = files.iter().map(|f| f.context).collect();
    check_linkage(spec, &linked, &names, &context, &mut sink);

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

/// Check one data file and its meta file; append its events' linkage to `linked`. Returns
/// the number of events.
#[allow(clippy::too_many_arguments)]
fn check_file(
    spec: &Spec,
    index: usize,
    path: &Path,
    name: &str,
    options: &Options,
    sink: &mut Sink,
    linked: &mut Vec<Linked>,
    roeids: &mut HashSet<(String, String)>,
    context: bool,
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
    let bytes = std::fs::read(path).at(path)?;
    if bytes.len() as u64 > options.max_file_bytes {
        sink.add(at.finding(
            Family::File,
            "file.size",
            None,
            None,
            format!(
                "{} bytes compressed, more than the limit of {}",
                bytes.len(),
                options.max_file_bytes
            ),
        ));
    }
    let compressed = base.ends_with(".bz2");
    let text = if compressed {
        let mut text = Vec::new();
        if let Err(e) = bzip2::read::MultiBzDecoder::new(&bytes[..]).read_to_end(&mut text) {
            sink.add(at.finding(
                Family::File,
                "file.compression",
                None,
                None,
                format!("not a bzip2 file: {e}"),
            ));
            return Ok(0);
        }
        text
    } else {
        bytes.clone()
    };
    let mut records = 0;
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        records += 1;
        let at = At {
            file: name,
            line: Some(line_no),
        };
        let parsed = std::str::from_utf8(line)
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
        if let Some(l) = check_event(spec, &event, date, options, &at, sink, roeids) {
            linked.push(Linked {
                file: index,
                line: line_no,
                ..l
            });
        }
    }
    if !context {
        check_meta(path, &base, &bytes, records, compressed, &at, sink);
    }
    Ok(records)
}

fn check_meta(
    path: &Path,
    base: &str,
    bytes: &[u8],
    records: usize,
    compressed: bool,
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
    if compressed {
        let hash = hex(&Sha256::digest(bytes));
        let given = entry.get("compressedHash");
        if given.and_then(Json::as_str) != Some(hash.as_str()) {
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
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.empty",
                    Some(path),
                    Some(value),
                    "an empty string: leave the field out instead",
                ));
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
            if let Some(other) = &f.not_above {
                if let (Some(a), Some(b)) = (decimal(value), obj.get(other).and_then(decimal)) {
                    if a > b {
                        sink.add(at.finding(
                            Family::Syntax,
                            "syntax.not_above",
                            Some(path),
                            Some(value),
                            format!("greater than {other} ({b})"),
                        ));
                    }
                }
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
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.empty",
                    Some(path),
                    Some(value),
                    "an empty object: leave the field out instead",
                ));
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
                sink.add(at.finding(
                    Family::Syntax,
                    "syntax.empty",
                    Some(path),
                    Some(value),
                    "an empty array: leave the field out instead",
                ));
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
    if let Some((list_name, values)) = list {
        if !values.iter().any(|v| v == s) {
            sink.add(at.finding(
                Family::Syntax,
                "syntax.value",
                Some(path),
                Some(value),
                format!("not an allowed {list_name} value"),
            ));
        }
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
    roeids: &mut HashSet<(String, String)>,
) -> Option<Linked> {
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
        if !roeids.insert((ts.date().to_string(), roeid.to_string())) {
            sink.add(at.finding(
                Family::Linkage,
                "linkage.duplicate_firmROEID",
                Some("firmROEID"),
                event.get("firmROEID"),
                "firmROEID is not unique for the event date",
            ));
        }
    }

    let key = |date: &str, id: &str| -> Option<Key> {
        let d = event.get(date).and_then(parse_sn)?;
        let id = event.get(id).and_then(Json::as_str)?;
        Some((d, id.to_string()))
    };
    let mut links = Vec::new();
    for array in &spec.linkage.order_arrays {
        if let Some(Json::Array(items)) = event.get(array) {
            for item in items {
                let d = item.get("orderKeyDate").and_then(parse_sn);
                let id = item.get("orderID").and_then(Json::as_str);
                if let (Some(d), Some(id)) = (d, id) {
                    links.push((array.clone(), (d, id.to_string())));
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
                Some((s.to_string(), r))
            })
            .collect(),
        _ => Vec::new(),
    };
    let route = if spec.linkage.routes.iter().any(|r| r == event_type)
        && event.get("dupROIDCond") != Some(&Json::Bool(true))
    {
        let text = |f: &str| event.get(f).map(Json::text).unwrap_or_default();
        event
            .get("routedOrderID")
            .and_then(Json::as_str)
            .map(|id| (text("destination"), text("session"), id.to_string()))
    } else {
        None
    };
    Some(Linked {
        file: 0,
        line: 0,
        event_type: event_type.to_string(),
        ts,
        key: key("orderKeyDate", "orderID"),
        prior: key("priorOrderKeyDate", "priorOrderID"),
        parent: key("parentOrderKeyDate", "parentOrderID"),
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

/// An order known to linkage: where it was created, its terms, and the first key of its chain.
struct Order {
    ts: NaiveDateTime,
    root: Key,
    symbol: Option<String>,
    quantity: Option<Decimal>,
    legs: Vec<(String, Decimal)>,
}

fn check_linkage(
    spec: &Spec,
    linked: &[Linked],
    names: &[String],
    context: &[bool],
    sink: &mut Sink,
) {
    let is = |list: &[String], t: &str| list.iter().any(|x| x == t);
    let at = |l: &Linked| At {
        file: &names[l.file],
        line: Some(l.line),
    };
    let key_text = |k: &Key| format!("{} {}", k.0.format("%Y%m%dT%H%M%S%.f"), k.1);
    // Events in time order: an origin is known before what follows it; ties by file and line.
    let mut order: Vec<&Linked> = linked.iter().collect();
    order.sort_by(|a, b| (a.ts, a.file, a.line).cmp(&(b.ts, b.file, b.line)));
    let earliest_file_day = linked
        .iter()
        .filter(|l| !context[l.file])
        .map(|l| l.ts.date())
        .min();

    // Pass 1: every key created, by origins and replacing modifications.
    let mut orders: HashMap<Key, Order> = HashMap::new();
    for l in &order {
        let creates = is(&spec.linkage.origin, &l.event_type)
            || (is(&spec.linkage.replaces, &l.event_type) && l.prior.is_some());
        let Some(key) = l.key.clone().filter(|_| creates) else {
            continue;
        };
        if orders.contains_key(&key) {
            // An internal route may keep the key of the order it routes.
            let keeps_key = is(&spec.linkage.may_keep_key, &l.event_type);
            if !context[l.file] && !keeps_key {
                sink.add(at(l).finding(
                    Family::Linkage,
                    "linkage.duplicate_order_key",
                    Some("orderID"),
                    Some(&Json::String(key.1.clone())),
                    format!("order key {} was created before", key_text(&key)),
                ));
            }
            continue;
        }
        let root = l
            .prior
            .as_ref()
            .and_then(|p| orders.get(p))
            .map(|o| o.root.clone())
            .unwrap_or_else(|| key.clone());
        let legs = match (&l.prior, l.legs.is_empty()) {
            (Some(p), true) => orders.get(p).map(|o| o.legs.clone()).unwrap_or_default(),
            _ => l.legs.clone(),
        };
        orders.insert(
            key,
            Order {
                ts: l.ts,
                root,
                symbol: l.symbol.clone(),
                quantity: l.quantity,
                legs,
            },
        );
    }

    // The most quantity any key of a chain was given: what its fills may add up to.
    let mut chain_qty: HashMap<&Key, Decimal> = HashMap::new();
    for o in orders.values() {
        if let Some(q) = o.quantity {
            let e = chain_qty.entry(&o.root).or_insert(q);
            *e = (*e).max(q);
        }
    }

    // Pass 2: what every event names resolves, and comes after it.
    let mut filled: HashMap<(Key, String), Decimal> = HashMap::new();
    let mut routes: HashSet<(NaiveDate, String, String, String)> = HashSet::new();
    for l in &order {
        if context[l.file] {
            continue;
        }
        let origin = is(&spec.linkage.origin, &l.event_type);
        let replacing = is(&spec.linkage.replaces, &l.event_type) && l.prior.is_some();
        let mut named: Vec<(&str, &Key)> = Vec::new();
        if !origin && !replacing {
            if let Some(k) = &l.key {
                named.push(("orderID", k));
            }
        }
        if let Some(p) = &l.prior {
            named.push(("priorOrderID", p));
        }
        if let Some(p) = &l.parent {
            named.push(("parentOrderID", p));
        }
        for (array, k) in &l.links {
            named.push((array.as_str(), k));
        }
        for (field, k) in named {
            match orders.get(k) {
                Some(o) if o.ts > l.ts => sink.add(at(l).finding(
                    Family::Linkage,
                    "linkage.out_of_sequence",
                    Some(field),
                    Some(&Json::String(k.1.clone())),
                    format!(
                        "the event is timestamped before its order {} was created",
                        key_text(k)
                    ),
                )),
                Some(_) => {}
                None if earliest_file_day.is_some_and(|d| k.0.date() < d) => {
                    sink.add(Finding {
                        severity: Severity::Warning,
                        ..at(l).finding(
                            Family::Linkage,
                            "linkage.origin_not_given",
                            Some(field),
                            Some(&Json::String(k.1.clone())),
                            format!(
                                "order {} was created on an earlier day whose files were not \
                                 given; pass them as context to check the link",
                                key_text(k)
                            ),
                        )
                    });
                }
                None => sink.add(at(l).finding(
                    Family::Linkage,
                    "linkage.orphan",
                    Some(field),
                    Some(&Json::String(k.1.clone())),
                    format!("no event created order {}", key_text(k)),
                )),
            }
        }
        // Fulfillments add up against their client orders.
        if is(&spec.linkage.fulfillments, &l.event_type) {
            for (array, k) in &l.links {
                if array != "clientDetails" {
                    continue;
                }
                let (Some(o), Some(q), Some(sym)) = (orders.get(k), l.quantity, &l.symbol) else {
                    continue;
                };
                let limit = if o.legs.is_empty() {
                    if o.symbol.as_ref() != Some(sym) {
                        sink.add(at(l).finding(
                            Family::Linkage,
                            "linkage.fill_symbol",
                            Some("symbol"),
                            Some(&Json::String(sym.clone())),
                            format!(
                                "order {} is for {}",
                                k.1,
                                o.symbol.clone().unwrap_or_default()
                            ),
                        ));
                        continue;
                    }
                    chain_qty.get(&o.root).copied()
                } else {
                    let Some((_, ratio)) = o.legs.iter().find(|(s, _)| s == sym) else {
                        sink.add(at(l).finding(
                            Family::Linkage,
                            "linkage.fill_symbol",
                            Some("symbol"),
                            Some(&Json::String(sym.clone())),
                            format!("multi-leg order {} has no leg in {sym}", k.1),
                        ));
                        continue;
                    };
                    chain_qty.get(&o.root).map(|q| q * ratio)
                };
                let total = filled.entry((o.root.clone(), sym.clone())).or_default();
                *total += q;
                if let Some(limit) = limit.filter(|limit| *total > *limit) {
                    sink.add(at(l).finding(
                        Family::Linkage,
                        "linkage.overfill",
                        Some("quantity"),
                        Some(&Json::Number(q.to_string())),
                        format!(
                            "fills of order {} in {sym} add up to {total}, more than its {limit}",
                            k.1
                        ),
                    ));
                }
            }
        }
        if let Some((dest, session, id)) = &l.route {
            if !routes.insert((l.ts.date(), dest.clone(), session.clone(), id.clone())) {
                sink.add(at(l).finding(
                    Family::Linkage,
                    "linkage.duplicate_routedOrderID",
                    Some("routedOrderID"),
                    Some(&Json::String(id.clone())),
                    format!("routed to {dest} {session} before on this day"),
                ));
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
