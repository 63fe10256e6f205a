//! The scheduler: runs jobs from a config file on cron expressions or intervals, with a cap on
//! concurrent jobs, a persistent history, catch-up of ticks missed while it was down, and a
//! clean stop on SIGTERM (the window in progress is finished first).
//!
//! A job's tick `T` means: a `window` job processes the window `[T - window, T)` (sync first
//! when configured) and, through the interval state, any earlier window of that day not done
//! yet; a `day` job processes the trade date before `T`'s date whole, runs its checks, and
//! writes its reports in priority order, critical first, only when the checks pass.
//!
//! Time comes from a [`Clock`], so tests drive the scheduler through a simulated day.

pub mod config;
pub mod cron;
pub mod executor;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::intervals::state::{append_jsonl, fmt_time, parse_time, read_jsonl};
use crate::signal::SHUTDOWN;
pub use config::{Job, JobKind, ScheduleConfig, Trigger};

/// Where the scheduler gets the time from.
pub trait Clock: Sync {
    fn now(&self) -> NaiveDateTime;
    /// Return at `t` (or at once when stopping).
    fn sleep_until(&self, t: NaiveDateTime) -> impl Future<Output = ()> + Send;
}

/// Wall-clock UTC.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        chrono::Utc::now().naive_utc()
    }

    async fn sleep_until(&self, t: NaiveDateTime) {
        while !SHUTDOWN.load(Ordering::Relaxed) {
            let left = t - self.now();
            if left <= Duration::zero() {
                return;
            }
            let nap = left
                .to_std()
                .unwrap_or_default()
                .min(std::time::Duration::from_secs(1));
            tokio::time::sleep(nap).await;
        }
    }
}

/// A clock that jumps: sleeping moves it forward at once. For tests and dry runs.
pub struct ManualClock {
    now: Mutex<NaiveDateTime>,
}

impl ManualClock {
    pub fn new(t: NaiveDateTime) -> ManualClock {
        ManualClock { now: Mutex::new(t) }
    }

    pub fn set(&self, t: NaiveDateTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn sleep_until(&self, t: NaiveDateTime) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if t > *now {
            *now = t;
        }
    }
}

/// Runs one job tick.
pub trait Executor: Sync {
    /// Do the job's work for `tick`; the `Ok` text goes to the history.
    fn execute(
        &self,
        job: &Job,
        tick: NaiveDateTime,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// One job run, as kept in the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub job: String,
    pub tick: String,
    pub started: String,
    pub finished: String,
    pub ok: bool,
    pub detail: String,
    /// Run after the tick had passed while the scheduler was down.
    #[serde(default)]
    pub catch_up: bool,
}

/// The append-only job history.
pub struct History {
    pub path: PathBuf,
}

impl History {
    pub fn read(&self) -> Result<Vec<HistoryEntry>> {
        read_jsonl(&self.path)
    }

    fn append(&self, entry: &HistoryEntry) -> Result<()> {
        append_jsonl(&self.path, entry)
    }

    /// The latest tick each job has run (ok or not).
    fn last_ticks(&self) -> Result<BTreeMap<String, NaiveDateTime>> {
        let mut out: BTreeMap<String, NaiveDateTime> = BTreeMap::new();
        for e in self.read()? {
            if let Ok(t) = parse_time(&e.tick) {
                let slot = out.entry(e.job).or_insert(t);
                *slot = (*slot).max(t);
            }
        }
        Ok(out)
    }
}

/// How long the scheduler runs.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Until SIGTERM.
    Forever,
    /// Run what is due now (including missed ticks), then stop.
    Once,
    /// Until the clock passes this time (tests, dry runs).
    Time(NaiveDateTime),
}

/// Run the scheduler loop.
pub async fn run<C: Clock, E: Executor>(
    config: &ScheduleConfig,
    clock: &C,
    executor: &E,
    until: Until,
) -> Result<Vec<HistoryEntry>> {
    let history = History {
        path: config.history_path(),
    };
    let started_at = clock.now();
    let horizon = started_at - config.catch_up;
    let mut last = history.last_ticks()?;
    let mut ran = Vec::new();
    let permits = tokio::sync::Semaphore::new(config.max_concurrent.max(1));
    loop {
        if SHUTDOWN.load(Ordering::Relaxed) {
            break;
        }
        let now = clock.now();
        // Ticks due per job, oldest first; a job never seen starts from the scheduler's start.
        let mut queues: Vec<(&Job, Vec<NaiveDateTime>)> = Vec::new();
        for job in &config.jobs {
            let from = last
                .get(&job.name)
                .copied()
                .unwrap_or(started_at - Duration::seconds(1))
                .max(horizon - Duration::seconds(1));
            let mut ticks = Vec::new();
            let mut t = from;
            while let Some(next) = job.trigger.next_after(t) {
                if next > now {
                    break;
                }
                ticks.push(next);
                t = next;
            }
            if !ticks.is_empty() {
                queues.push((job, ticks));
            }
        }
        // Higher-priority jobs start first when several are due.
        queues.sort_by_key(|(job, ticks)| (ticks[0], -job.priority, job.name.clone()));
        let runs = queues.into_iter().map(|(job, ticks)| {
            let history = &history;
            let permits = &permits;
            async move {
                let mut entries = Vec::new();
                for tick in ticks {
                    if SHUTDOWN.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(_permit) = permits.acquire().await else {
                        break;
                    };
                    let started = clock.now();
                    let result = executor.execute(job, tick).await;
                    let entry = HistoryEntry {
                        job: job.name.clone(),
                        tick: fmt_time(tick),
                        started: fmt_time(started),
                        finished: fmt_time(clock.now()),
                        ok: result.is_ok(),
                        detail: match &result {
                            Ok(d) => d.clone(),
                            Err(e) => e.to_string(),
                        },
                        catch_up: tick < now,
                    };
                    match &result {
                        Ok(d) => tracing::info!(job = %job.name, tick = %entry.tick, "{d}"),
                        Err(e) => {
                            tracing::error!(job = %job.name, tick = %entry.tick, "failed: {e}")
                        }
                    }
                    history.append(&entry)?;
                    entries.push(entry);
                }
                Ok::<_, Error>(entries)
            }
        });
        for entries in futures::future::join_all(runs).await {
            for e in entries? {
                if let Ok(t) = parse_time(&e.tick) {
                    last.insert(e.job.clone(), t);
                }
                ran.push(e);
            }
        }
        let next = config
            .jobs
            .iter()
            .filter_map(|j| {
                j.trigger
                    .next_after(clock.now().max(*last.get(&j.name).unwrap_or(&now)))
            })
            .min();
        match (until, next) {
            (Until::Once, _) | (_, None) => break,
            (Until::Time(end), Some(n)) if n > end => break,
            (_, Some(n)) => clock.sleep_until(n).await,
        }
    }
    Ok(ran)
}
