//! What the console shows, read from the lake: days, each stage's windows judged as `status`
//! judges them, stage timings, check results, report files with their hashes and the CAT
//! validation of each CAT destination. Read-only: nothing here writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};

use crate::checks::CheckResult;
use crate::config::{Config, ReportKind};
use crate::error::Result;
use crate::intervals::judge::JudgedDay;
use crate::intervals::plan::Verdict;
use crate::intervals::state::{Status, parse_time};
use crate::lake::{Lake, PARTITION_COLUMN};
use crate::reports::cat_validate::Validation;
use crate::sources::Sources;
use crate::stages::StageGraph;
use crate::window::Window;

/// A window's (or a stage's, or a day's) state, as coloured on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Done,
    Pending,
    Stale,
    Running,
    Failed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Pending => "pending",
            State::Stale => "stale",
            State::Running => "running",
            State::Failed => "failed",
        }
    }
}

/// A span of the day in one state: a processed window, or the time not processed yet.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Minutes since midnight.
    pub start: u32,
    pub end: u32,
    pub state: State,
    /// Why (stale, failed), or what (rows and time).
    pub detail: String,
}

/// One stage's day.
#[derive(Debug, Clone)]
pub struct StageDay {
    pub name: String,
    pub rel_path: String,
    pub incremental: bool,
    pub cells: Vec<Cell>,
    /// The worst state of its cells (a failure outranks a run, a run a stale window ...).
    pub state: State,
    /// The first reason it is not done, if any.
    pub why: String,
    pub rows: u64,
    pub ms: u64,
    pub peak_rss_kib: Option<u64>,
    pub windows: usize,
}

/// A day as the console shows it.
#[derive(Debug, Clone)]
pub struct DayView {
    pub date: NaiveDate,
    pub stages: Vec<StageDay>,
    pub state: State,
    /// `who (pid on host), processing from-to, heartbeat N s ago`.
    pub claim: Option<String>,
    pub altered: Vec<(String, String)>,
}

/// Turn a judged day into cells: every record with its verdict, then what is not processed.
pub fn day_view(graph: &StageGraph, judged: &JudgedDay) -> Result<DayView> {
    let day = Window::day(judged.date);
    let minutes = |t: NaiveDateTime| ((t - day.start).num_minutes().clamp(0, 1440)) as u32;
    let live = judged.claim_live;
    let mut stages = Vec::new();
    for stage in &graph.stages {
        let records = judged.today.records(&stage.name);
        let verdicts = judged
            .plans
            .get(&stage.name)
            .map(|p| p.verdicts.as_slice())
            .unwrap_or(&[]);
        let mut cells = Vec::new();
        let mut cursor = 0;
        for (i, r) in records.iter().enumerate() {
            let (start, end) = (minutes(parse_time(&r.start)?), minutes(parse_time(&r.end)?));
            let verdict = verdicts.get(i).cloned().unwrap_or(Verdict::Fresh);
            let (state, detail) = match (r.status, verdict) {
                (Status::Failed, _) => (
                    State::Failed,
                    r.error.clone().unwrap_or_else(|| "failed".into()),
                ),
                (Status::Running, _) if live => (State::Running, "running".into()),
                (Status::Running, _) => (
                    State::Stale,
                    "stopped mid-window (its run is gone); the next run redoes it".into(),
                ),
                (_, Verdict::Stale(why)) => (State::Stale, why),
                (Status::Stale, Verdict::Fresh) => (
                    State::Stale,
                    r.error.clone().unwrap_or_else(|| "marked stale".into()),
                ),
                (Status::Done, Verdict::Fresh) => (
                    State::Done,
                    format!("{} rows in {}", r.rows, crate::html::fmt_ms(r.elapsed_ms)),
                ),
            };
            if start > cursor {
                cells.push(pending(cursor, start, live));
            }
            cells.push(Cell {
                start,
                end: end.max(start + 1),
                state,
                detail,
            });
            cursor = cursor.max(end);
        }
        if cursor < 1440 {
            cells.push(pending(cursor, 1440, live));
        }
        let state = cells
            .iter()
            .map(|c| c.state)
            .max()
            .unwrap_or(State::Pending);
        let why = cells
            .iter()
            .find(|c| c.state != State::Done)
            .map(|c| format!("{}: {}", clock_span(c.start, c.end), c.detail))
            .unwrap_or_default();
        stages.push(StageDay {
            name: stage.name.clone(),
            rel_path: stage.rel_path.clone(),
            incremental: stage.is_incremental(),
            state,
            why,
            rows: records.iter().map(|r| r.rows).sum(),
            ms: records.iter().map(|r| r.elapsed_ms).sum(),
            peak_rss_kib: records.iter().filter_map(|r| r.peak_rss_kib).max(),
            windows: records.len(),
            cells,
        });
    }
    let state = stages
        .iter()
        .map(|s| s.state)
        .max()
        .unwrap_or(State::Pending);
    let claim = judged.claim.as_ref().map(|(o, age)| {
        let what = if live {
            "Running"
        } else {
            "A run that stopped left its claim (the next run takes it over)"
        };
        format!(
            "{what}: {} (pid {} on {}), processing {} to {}, heartbeat {} s ago",
            o.id,
            o.pid,
            o.host,
            o.from,
            o.to,
            age.as_secs()
        )
    });
    Ok(DayView {
        date: judged.date,
        stages,
        state,
        claim,
        altered: judged.altered.clone(),
    })
}

fn pending(start: u32, end: u32, live: bool) -> Cell {
    Cell {
        start,
        end,
        state: State::Pending,
        detail: if live {
            "not processed yet (a run holds the day)".into()
        } else {
            "not processed".into()
        },
    }
}

/// `09:30-10:00`, with the day's end as `24:00`.
pub fn clock_span(start: u32, end: u32) -> String {
    let clock = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{}-{}", clock(start), clock(end))
}

/// Every trade date the lake knows of: landed raw data, interval state, stage outputs, check
/// results, or report files; newest first.
pub fn days(
    lake: &Lake,
    graph: &StageGraph,
    sources: &Sources,
    reports: &Path,
) -> Result<Vec<NaiveDate>> {
    let mut dates = BTreeSet::new();
    for t in &sources.tables {
        dates.extend(Lake::partition_dates(&lake.raw_table_dir(&t.db, &t.name))?);
    }
    for s in &graph.stages {
        dates.extend(Lake::partition_dates(
            &lake.stage_table_dir(&graph.version, &s.name),
        )?);
    }
    for dir in [
        lake.root().join("state").join(&graph.version),
        lake.root().join("checks").join(&graph.version),
    ] {
        dates.extend(Lake::partition_dates(&dir)?);
    }
    if let Ok(entries) = std::fs::read_dir(reports) {
        for e in entries.flatten() {
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
            {
                dates.insert(d);
            }
        }
    }
    Ok(dates.into_iter().rev().collect())
}

/// Where a day's check results are: `<lake>/checks/<version>/trade_date=D`.
pub fn checks_dir(lake: &Lake, version: &str, date: NaiveDate) -> PathBuf {
    lake.root()
        .join("checks")
        .join(version)
        .join(format!("{PARTITION_COLUMN}={date}"))
}

/// The check results of a day, if written.
pub fn checks(lake: &Lake, version: &str, date: NaiveDate) -> Result<Option<Vec<CheckResult>>> {
    Ok(crate::checks::read(&checks_dir(lake, version, date))?.map(|(_, r)| r))
}

/// One report file.
#[derive(Debug, Clone)]
pub struct ReportFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One destination's files for a day.
#[derive(Debug, Clone)]
pub struct DestinationFiles {
    pub name: String,
    /// `cat`, `oats`, ... from the configuration; `None` for a folder no destination names.
    pub kind: Option<ReportKind>,
    pub dir: PathBuf,
    pub files: Vec<ReportFile>,
    /// CAT destinations: the files validated against the CAT IM Tech Specs.
    pub validation: Option<std::result::Result<Validation, String>>,
}

/// A folder's files as (name, size, modification time in ns).
type Listing = Vec<(String, u64, i128)>;

/// Hashes and validations, kept while the files they were computed from are unchanged.
#[derive(Default)]
pub struct FileCache {
    sha: HashMap<PathBuf, ((u64, i128), String)>,
    validations: HashMap<PathBuf, (Listing, Validation)>,
}

/// The report files of `date` under `reports`, per destination folder (configured ones
/// first, in the configuration's order).
pub fn report_files(
    reports: &Path,
    config: &Config,
    date: NaiveDate,
    cache: &mut FileCache,
) -> Result<Vec<DestinationFiles>> {
    let day = reports.join(date.to_string());
    let mut names: Vec<String> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&day) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && !name.starts_with('.') {
                names.push(name);
            }
        }
    }
    let order = |n: &String| {
        config
            .destinations
            .iter()
            .position(|d| &d.name == n)
            .unwrap_or(usize::MAX)
    };
    names.sort_by(|a, b| order(a).cmp(&order(b)).then(a.cmp(b)));
    let mut out = Vec::new();
    for name in names {
        let dir = day.join(&name);
        let kind = config
            .destinations
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.report);
        let mut files = Vec::new();
        let mut listing = Vec::new();
        for (rel, path) in crate::lake::partition_files(&dir)? {
            if rel.contains('/') || rel.starts_with('.') {
                continue;
            }
            let Some(st) = crate::lake::file_stamp(&path) else {
                continue;
            };
            let sha256 = match cache.sha.get(&path) {
                Some((s, sha)) if *s == st => sha.clone(),
                _ => {
                    let sha = crate::lake::file_sha256(&path)?;
                    cache.sha.insert(path.clone(), (st, sha.clone()));
                    sha
                }
            };
            listing.push((rel.clone(), st.0, st.1));
            files.push(ReportFile {
                name: rel,
                bytes: st.0,
                sha256,
            });
        }
        let validation = (kind == Some(ReportKind::Cat) && !files.is_empty())
            .then(|| validate(&dir, reports, date, &name, listing, cache));
        out.push(DestinationFiles {
            name,
            kind,
            dir,
            files,
            validation,
        });
    }
    Ok(out)
}

/// A CAT destination's files validated (with the day before as context), from the cache
/// while they are unchanged.
fn validate(
    dir: &Path,
    reports: &Path,
    date: NaiveDate,
    name: &str,
    listing: Listing,
    cache: &mut FileCache,
) -> std::result::Result<Validation, String> {
    if let Some((l, v)) = cache.validations.get(dir)
        && *l == listing
    {
        return Ok(v.clone());
    }
    let context: Vec<PathBuf> = date
        .pred_opt()
        .map(|d| reports.join(d.to_string()).join(name))
        .filter(|d| d.is_dir())
        .into_iter()
        .collect();
    let options = crate::reports::cat_validate::Options::default();
    match crate::reports::cat_validate::validate(&[dir.to_path_buf()], &context, &options) {
        Ok(v) => {
            cache
                .validations
                .insert(dir.to_path_buf(), (listing, v.clone()));
            Ok(v)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Per day: rows and time per stage, and check failures, for the trends page.
#[derive(Debug, Clone)]
pub struct DayTotals {
    pub date: NaiveDate,
    pub stage_ms: BTreeMap<String, u64>,
    pub stage_rows: BTreeMap<String, u64>,
    /// Error-level checks that failed, and all failing rows.
    pub checks_failed: Option<(usize, u64)>,
}

/// What the trends page charts for `date`, from its state records and check results.
pub fn day_totals(lake: &Lake, graph: &StageGraph, date: NaiveDate) -> Result<DayTotals> {
    let state = crate::intervals::state::StateDir::new(lake, &graph.version, date).load()?;
    let mut stage_ms = BTreeMap::new();
    let mut stage_rows = BTreeMap::new();
    for (stage, records) in &state.stages {
        stage_ms.insert(stage.clone(), records.iter().map(|r| r.elapsed_ms).sum());
        stage_rows.insert(stage.clone(), records.iter().map(|r| r.rows).sum());
    }
    let checks_failed = checks(lake, &graph.version, date)?.map(|results| {
        (
            results
                .iter()
                .filter(|r| r.status == crate::checks::Status::Fail)
                .count(),
            results.iter().map(|r| r.failing).sum(),
        )
    });
    Ok(DayTotals {
        date,
        stage_ms,
        stage_rows,
        checks_failed,
    })
}
