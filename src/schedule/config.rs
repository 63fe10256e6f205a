//! The scheduler's configuration file (see `config/schedule.example.toml`).

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime, NaiveTime};
use serde::Deserialize;

use super::cron::Cron;
use crate::error::{Error, IoContext, Result};
use crate::window::parse_duration;

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub path: PathBuf,
    pub lake: PathBuf,
    /// Jobs running at the same time, at most.
    pub max_concurrent: usize,
    /// How far back missed ticks are made up after downtime.
    pub catch_up: Duration,
    /// Where report files go (`<reports>/<date>/<destination>/...`).
    pub reports: PathBuf,
    pub history: Option<PathBuf>,
    pub jobs: Vec<Job>,
}

impl ScheduleConfig {
    pub fn history_path(&self) -> PathBuf {
        self.history.clone().unwrap_or_else(|| {
            self.lake
                .join("state")
                .join("schedule")
                .join("history.jsonl")
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Sync (if configured) and process the window that just closed.
    Window,
    /// Process the previous trade date whole, check it, write its reports.
    Day,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    Cron(Cron),
    /// Every `n` since midnight (UTC), e.g. every 30 minutes on the half hour.
    Every(Duration),
}

impl Trigger {
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Trigger::Cron(c) => c.next_after(t),
            Trigger::Every(d) => {
                let midnight = t.date().and_time(NaiveTime::MIN);
                let step = d.num_seconds().max(1);
                let since = (t - midnight).num_seconds();
                Some(midnight + Duration::seconds((since / step + 1) * step))
            }
        }
    }
}

/// A report destination and its priority (lower runs first: 1 is critical).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPriority {
    pub destination: String,
    #[serde(default = "default_priority")]
    pub priority: i32,
}

fn default_priority() -> i32 {
    5
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub kind: JobKind,
    pub trigger: Trigger,
    /// Window length for `window` jobs.
    pub window: Duration,
    /// Sync configuration: a `window` job syncs from where the day's processing stands up to
    /// the tick; a `day` job re-syncs the whole day.
    pub sync: Option<PathBuf>,
    /// A feed (`ordertrail ingest`'s `name`) the job reads from instead of a sync: a window is
    /// processed once the feed has landed everything up to its end, a day once the feed has
    /// closed it.
    pub feed: Option<String>,
    /// Run the checks after a whole day (`day` jobs).
    pub checks: bool,
    /// Reports of a `day` job, in the order they are written.
    pub reports: Vec<ReportPriority>,
    /// Which job starts first when several are due at once (higher first).
    pub priority: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scheduler: SchedulerSection,
    #[serde(default)]
    job: Vec<JobSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerSection {
    lake: PathBuf,
    #[serde(default = "default_max_concurrent")]
    max_concurrent: usize,
    #[serde(default = "default_catch_up")]
    catch_up: String,
    reports: Option<PathBuf>,
    history: Option<PathBuf>,
}

fn default_max_concurrent() -> usize {
    2
}

fn default_catch_up() -> String {
    "2d".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSection {
    name: String,
    kind: JobKind,
    cron: Option<String>,
    every: Option<String>,
    window: Option<String>,
    sync: Option<PathBuf>,
    feed: Option<String>,
    #[serde(default = "yes")]
    checks: bool,
    #[serde(default)]
    reports: Vec<ReportPriority>,
    #[serde(default)]
    priority: i32,
}

fn yes() -> bool {
    true
}

impl ScheduleConfig {
    pub fn load(path: &Path) -> Result<ScheduleConfig> {
        let text = std::fs::read_to_string(path).at(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ScheduleConfig> {
        let file: File = toml::from_str(text).map_err(|e| {
            Error::input_hint(
                crate::config::toml_error(path, text, &e),
                "see config/schedule.example.toml for the keys",
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let lake = rel(&file.scheduler.lake);
        let mut jobs = Vec::new();
        for j in file.job {
            let at =
                |why: String| Error::input(format!("{}: job {}: {why}", path.display(), j.name));
            let trigger = match (&j.cron, &j.every) {
                (Some(c), None) => Trigger::Cron(Cron::parse(c).map_err(|e| at(e.to_string()))?),
                (None, Some(e)) => {
                    Trigger::Every(parse_duration(e).map_err(|e| at(e.to_string()))?)
                }
                _ => {
                    return Err(at(
                        "give exactly one of cron = \"...\" or every = \"30m\"".into()
                    ));
                }
            };
            let window = match &j.window {
                Some(w) => parse_duration(w).map_err(|e| at(e.to_string()))?,
                None => Duration::minutes(30),
            };
            if j.sync.is_some() && j.feed.is_some() {
                return Err(at(
                    "give sync = \"...\" or feed = \"...\", not both: rows come one way".into(),
                ));
            }
            if jobs.iter().any(|x: &Job| x.name == j.name) {
                return Err(at("another job has this name".into()));
            }
            jobs.push(Job {
                name: j.name,
                kind: j.kind,
                trigger,
                window,
                sync: j.sync.as_deref().map(rel),
                feed: j.feed,
                checks: j.checks,
                reports: j.reports,
                priority: j.priority,
            });
        }
        Ok(ScheduleConfig {
            path: path.to_path_buf(),
            reports: file
                .scheduler
                .reports
                .as_deref()
                .map(rel)
                .unwrap_or_else(|| lake.join("reports")),
            lake,
            max_concurrent: file.scheduler.max_concurrent,
            catch_up: parse_duration(&file.scheduler.catch_up)?,
            history: file.scheduler.history.as_deref().map(rel),
            jobs,
        })
    }
}
