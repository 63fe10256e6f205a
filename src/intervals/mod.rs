//! Time windows and interval state: running a trade date window by window, resuming where it
//! stopped, processing every window exactly once, and knowing what went stale.
//!
//! A run over `[from, to)` of a date claims the date (`claim`), judges what is already done
//! (`plan`: same SQL, same inputs, upstream good), and processes the first window that is not,
//! then the next, in order, until `to`. Incremental stages (`-- unique_key:`) run per window;
//! stages computed once per day run before the windows when they read no incremental stage
//! (reference data) and after the last window of the day otherwise (reports). Every record is
//! written to the lake's state files as it changes, so a crash leaves a state the next run
//! recovers from.

pub mod claim;
pub mod fingerprint;
pub mod judge;
pub mod plan;
pub mod state;

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::pipeline::{self, StageRun};
use crate::signal::{SHUTDOWN, crash_point};
use crate::sources::Sources;
use crate::stages::{Stage, StageGraph};
use crate::window::{Window, grid, next_window};
use claim::{Claim, Claimed, Owner};
use fingerprint::{Fingerprints, partition_digest};
use plan::{StagePlan, plan, sql_hash};
use state::{DayState, LogEntry, Record, StateDir, Status, fmt_time};

/// What to process.
#[derive(Debug, Clone)]
pub struct RangeRequest {
    pub date: NaiveDate,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    /// Window length; one day processes the range in one go.
    pub step: chrono::Duration,
    /// Reprocess `[from, to)` even where it is done.
    pub restate: bool,
    /// A claim older than this (no heartbeat) is taken over.
    pub claim_timeout: Duration,
    /// Take over a damaged claim, or one held from another host, without waiting for the
    /// timeout (see [`Claim::acquire`]).
    pub take_over: bool,
}

impl RangeRequest {
    /// The whole trade date in one window.
    pub fn day(date: NaiveDate) -> RangeRequest {
        let day = Window::day(date);
        RangeRequest {
            date,
            from: day.start,
            to: day.end,
            step: chrono::Duration::days(1),
            restate: false,
            claim_timeout: claim::DEFAULT_TIMEOUT,
            take_over: false,
        }
    }
}

/// One stage window processed.
#[derive(Debug, Clone)]
pub struct Processed {
    pub window: Window,
    pub run: StageRun,
}

/// What a range run did.
#[derive(Debug, Default)]
pub struct RangeOutcome {
    pub processed: Vec<Processed>,
    /// Another live run held the date, or the day before it (which this date reads): nothing
    /// was done.
    pub held_by: Option<Owner>,
    /// The date `held_by` holds.
    pub held_date: Option<NaiveDate>,
    /// A crashed run's claim that was taken over.
    pub recovered: Option<Owner>,
    /// Every stage is done for the whole day.
    pub day_complete: bool,
    /// Stopped early by SIGTERM (after a whole window).
    pub interrupted: bool,
    /// The day before, which this date reads, is not processed to its end (and why): nothing
    /// was done.
    pub previous_incomplete: Option<(NaiveDate, String)>,
}

/// What a range run needs of the project (`Project::intervals` in project.rs makes one).
pub struct ProjectRef<'a> {
    pub graph: &'a StageGraph,
    pub sources: &'a Sources,
    /// Hash of the configuration file (stages reading `config.*` depend on it).
    pub config_hash: String,
}

/// Whether `stage`'s partition for `date` is what a run left for the whole day and still
/// current, so that `report` need not compute it again: the stage's records are done from
/// midnight to midnight without a gap, the last one with the stage's SQL as it is now and the
/// same input fingerprint (so the same configuration and upstream records), and the stage's
/// partition and those of the stages it reads hash to what the state recorded (nothing
/// rewrote them outside the state).
/// `digests` caches partition hashes between calls; pass the same map for one day.
pub async fn day_is_current(
    lake: &Lake,
    graph: &StageGraph,
    stage: &Stage,
    date: NaiveDate,
    (today, yesterday): (&DayState, &DayState),
    prints: &mut Fingerprints<'_>,
    digests: &mut std::collections::HashMap<String, String>,
) -> Result<bool> {
    let day = Window::day(date);
    let Some(last) = today.records(&stage.name).last() else {
        return Ok(false);
    };
    if today.done_until(&stage.name, day.start) != day.end
        || !last.is_done_with(
            &sql_hash(&stage.sql),
            &prints.input(stage, date, day.end, today, yesterday).await?,
        )
    {
        return Ok(false);
    }
    let mut expected = vec![(stage.name.as_str(), last.output_digest.as_str())];
    for dep in &stage.deps {
        match today.covering(dep, day.end) {
            Some(r) => expected.push((dep, r.output_digest.as_str())),
            None => return Ok(false),
        }
    }
    for (name, recorded) in expected {
        let part = Lake::partition_dir(&lake.stage_table_dir(&graph.version, name), date);
        if cached_digest(digests, name, &part)? != recorded {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The digest of `stage`'s partition `part`, from `digests` or computed once into it.
fn cached_digest(
    digests: &mut std::collections::HashMap<String, String>,
    stage: &str,
    part: &std::path::Path,
) -> Result<String> {
    if let Some(d) = digests.get(stage) {
        return Ok(d.clone());
    }
    let d = partition_digest(part)?;
    digests.insert(stage.to_string(), d.clone());
    Ok(d)
}

/// The lake is checked, not trusted: a stage whose last record is done but whose partition is
/// missing, or hashes to other than the record's digest (deleted or rewritten outside the
/// pipeline), has all its records marked stale in `today` (in memory), with the reason; what
/// reads it turns stale with it when planned. Returns the stages and reasons. `digests`
/// caches partition hashes of `date` by stage (as [`day_is_current`] does).
pub fn mark_altered_partitions(
    lake: &Lake,
    graph: &StageGraph,
    date: NaiveDate,
    today: &mut DayState,
    digests: &mut std::collections::HashMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut altered = Vec::new();
    for stage in &graph.stages {
        let Some(records) = today.stages.get_mut(&stage.name) else {
            continue;
        };
        let Some(last) = records.last() else {
            continue;
        };
        if last.status != Status::Done || last.output_digest.is_empty() {
            continue;
        }
        let part = Lake::partition_dir(&lake.stage_table_dir(&graph.version, &stage.name), date);
        let reason = if !part.exists() {
            if last.output_digest == "empty" {
                continue;
            }
            format!("its partition {} is missing", part.display())
        } else if cached_digest(digests, &stage.name, &part)? != last.output_digest {
            format!(
                "its partition {} changed outside the pipeline",
                part.display()
            )
        } else {
            continue;
        };
        for r in records.iter_mut() {
            r.status = Status::Stale;
            r.error = Some(reason.clone());
        }
        altered.push((stage.name.clone(), reason));
    }
    Ok(altered)
}

/// Mark the date's stages whose partitions are missing or altered stale (and what depends on
/// them, through their input fingerprints), remove those partitions (nothing of an untrusted
/// partition is merged into the new one) and save the state. The caller holds the claim.
fn remove_altered_partitions(
    lake: &Lake,
    graph: &StageGraph,
    date: NaiveDate,
    dir: &StateDir,
    today: &mut DayState,
) -> Result<Vec<(String, String)>> {
    let altered = mark_altered_partitions(
        lake,
        graph,
        date,
        today,
        &mut std::collections::HashMap::new(),
    )?;
    for (stage, why) in &altered {
        tracing::warn!("{stage} of {date} is redone: {why}");
        eprintln!("ordertrail: {stage} of {date} is redone: {why}");
        let part = Lake::partition_dir(&lake.stage_table_dir(&graph.version, stage), date);
        if part.exists() {
            std::fs::remove_dir_all(&part).map_err(|e| Error::io(&part, e))?;
        }
    }
    if !altered.is_empty() {
        dir.save(today)?;
    }
    Ok(altered)
}

/// Before a run of `req.date` can even open the lake (a damaged file stops the engine from
/// reading its table's schema): claim the date and remove its altered partitions, as
/// [`run_range`] does first. Whether any was removed; false when the date is held.
pub fn repair_date(lake: &Lake, graph: &StageGraph, req: &RangeRequest) -> Result<bool> {
    let dir = StateDir::new(lake, &graph.version, req.date);
    let owner = Owner::current();
    let _claim = match Claim::acquire(&dir.claim_path(), &owner, req.claim_timeout, req.take_over)?
    {
        Claimed::Mine(c) => c,
        Claimed::Held(_) => return Ok(false),
    };
    let mut today = dir.load()?;
    Ok(!remove_altered_partitions(lake, graph, req.date, &dir, &mut today)?.is_empty())
}

/// Process `req` for its date: claim it, then run what is missing, failed or stale in
/// `[from, to)`, window by window, in order (earlier windows of the day first if they are not
/// done: a window needs the state before it).
pub async fn run_range(
    ctx: &SessionContext,
    lake: &Lake,
    project: &ProjectRef<'_>,
    req: &RangeRequest,
) -> Result<RangeOutcome> {
    let graph = project.graph;
    let date = req.date;
    let day = Window::day(date);
    if req.from < day.start || req.to > day.end || req.from >= req.to {
        return Err(Error::input_hint(
            format!(
                "window [{}, {}) is not within trade date {date}",
                req.from, req.to
            ),
            "--from and --to are times of the trade date (UTC), from < to, up to 24:00",
        ));
    }
    if req.step.num_seconds() % 60 != 0 {
        return Err(Error::input(
            "the window length must be a whole number of minutes",
        ));
    }
    lake.ensure_writable()?;
    let all: Vec<&Stage> = graph.stages.iter().collect();
    pipeline::check_inputs(lake, project.sources, &all, date)?;
    let dir = StateDir::new(lake, &graph.version, date);
    let owner = Owner {
        from: fmt_time(req.from),
        to: fmt_time(req.to),
        step_minutes: req.step.num_minutes(),
        ..Owner::current()
    };
    let claim = match Claim::acquire(&dir.claim_path(), &owner, req.claim_timeout, req.take_over)? {
        Claimed::Mine(c) => c,
        Claimed::Held(holder) => {
            return Ok(RangeOutcome {
                held_by: Some(holder),
                held_date: Some(date),
                ..Default::default()
            });
        }
    };
    // What this date reads of the day before (its lookback) must not change under it: the
    // day before is claimed too while this date runs, so that two dates run at once give what
    // one after the other gives. A run of that day meanwhile finds it held (exit 3), and so
    // does this one when that day is being processed.
    let _previous_claim = match date.pred_opt() {
        Some(prev) => {
            let prev_dir = StateDir::new(lake, &graph.version, prev);
            match Claim::acquire(
                &prev_dir.claim_path(),
                &owner,
                req.claim_timeout,
                req.take_over,
            )? {
                Claimed::Mine(c) => Some(c),
                Claimed::Held(holder) => {
                    return Ok(RangeOutcome {
                        held_by: Some(holder),
                        held_date: Some(prev),
                        ..Default::default()
                    });
                }
            }
        }
        None => None,
    };
    // This date reads the day before: if that day has data but is not processed to its end
    // (never run, stopped, stale, a partition missing), this date's outputs would be computed
    // without it and silently differ. Nothing is done until it is.
    if let Some(prev) = date.pred_opt() {
        let prev_state = StateDir::new(lake, &graph.version, prev).load()?;
        let why = if prev_state.stages.values().all(|r| r.is_empty()) {
            has_raw_data(lake, project.sources, prev)
                .then(|| "it has raw data but was never run".to_string())
        } else {
            let end = Window::day(prev).end;
            incomplete(ctx, lake, project, prev, end, &mut Default::default()).await?
        };
        if let Some(why) = why {
            return Ok(RangeOutcome {
                previous_incomplete: Some((prev, why)),
                ..Default::default()
            });
        }
    }
    let mut out = RangeOutcome {
        recovered: claim.recovered.clone(),
        ..Default::default()
    };
    let mut today = dir.load()?;
    let yesterday = match date.pred_opt() {
        Some(prev) => StateDir::new(lake, &graph.version, prev).load()?,
        None => DayState::default(),
    };
    if req.restate {
        let from = fmt_time(req.from);
        for records in today.stages.values_mut() {
            for r in records.iter_mut().filter(|r| r.end > from) {
                r.status = Status::Stale;
            }
        }
        dir.save(&today)?;
    }
    remove_altered_partitions(lake, graph, date, &dir, &mut today)?;
    let mut prints = Fingerprints::new(ctx, lake, project.sources, project.config_hash.clone());
    // Windows of the day up to `to` (earlier ones not done yet run first): progress counts
    // those that end before the window being processed.
    let windows = grid(day.start, req.to, req.step);
    let progress =
        crate::progress::Progress::new(format!("run {date}"), windows.len() as u64, "windows");
    let mut runner = Runner {
        ctx,
        lake,
        graph,
        dir: &dir,
        owner: &owner,
        claim: &claim,
        progress: &progress,
    };

    // Reference stages first: incremental stages may read them.
    for stage in graph.stages.iter().filter(|s| !s.is_incremental()) {
        let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
        if !has_incremental_upstream(graph, stage) && !plans[&stage.name].complete(date) {
            let p = runner
                .process(stage, day, &mut today, &yesterday, &mut prints)
                .await?;
            out.processed.extend(p);
        }
    }

    let mut last_start = None;
    loop {
        if SHUTDOWN.load(Ordering::Relaxed) {
            out.interrupted = true;
            break;
        }
        claim.ensure_held()?;
        let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
        let start = graph
            .stages
            .iter()
            .filter(|s| s.is_incremental())
            .map(|s| plans[&s.name].valid_until)
            .filter(|t| *t < req.to)
            .min();
        let Some(start) = start else { break };
        let window = next_window(start, req.step, req.to);
        progress.set_position(windows.iter().filter(|w| w.end <= window.start).count() as u64);
        let mut ran = false;
        for stage in graph.stages.iter().filter(|s| s.is_incremental()) {
            if plans[&stage.name].valid_until <= window.start {
                let p = runner
                    .process(stage, window, &mut today, &yesterday, &mut prints)
                    .await?;
                ran |= p.is_some();
                out.processed.extend(p);
            }
        }
        if !ran && last_start == Some(start) {
            return Err(Error::input(format!(
                "interval state of {date} does not converge at {} (a bug): \
                 rerun with --restate to rebuild the day",
                window.label()
            )));
        }
        last_start = Some(start);
    }

    if !out.interrupted && req.to == day.end {
        // The day's windows are done: the stages computed once per day (reports).
        for stage in graph.stages.iter().filter(|s| !s.is_incremental()) {
            let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
            if !plans[&stage.name].complete(date) && deps_complete(&plans, stage, date) {
                let p = runner
                    .process(stage, day, &mut today, &yesterday, &mut prints)
                    .await?;
                out.processed.extend(p);
            }
        }
    }
    let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
    out.day_complete = plans.values().all(|p| p.complete(date));
    if !out.interrupted {
        progress.set_position(windows.len() as u64);
    }
    drop(claim);
    Ok(out)
}

fn deps_complete(
    plans: &std::collections::BTreeMap<String, StagePlan>,
    stage: &Stage,
    date: NaiveDate,
) -> bool {
    stage.deps.iter().all(|d| plans[d].complete(date))
}

/// Why `date` is not processed until `until` (UTC), judged against the lake: the first
/// pipeline stage (reports aside) whose done windows end earlier, are stale, or whose
/// partition is missing or altered. `None` when it is processed, or when the date has no
/// interval state at all (it was never run through `run`).
pub async fn incomplete(
    ctx: &SessionContext,
    lake: &Lake,
    project: &ProjectRef<'_>,
    date: NaiveDate,
    until: NaiveDateTime,
    digests: &mut std::collections::HashMap<String, String>,
) -> Result<Option<String>> {
    let graph = project.graph;
    let mut today = StateDir::new(lake, &graph.version, date).load()?;
    if today.stages.values().all(|r| r.is_empty()) {
        return Ok(None);
    }
    mark_altered_partitions(lake, graph, date, &mut today, digests)?;
    let yesterday = match date.pred_opt() {
        Some(prev) => StateDir::new(lake, &graph.version, prev).load()?,
        None => DayState::default(),
    };
    let mut prints = Fingerprints::new(ctx, lake, project.sources, project.config_hash.clone());
    let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
    for stage in graph
        .stages
        .iter()
        .filter(|s| !s.rel_path.starts_with("reports"))
    {
        let Some(p) = plans.get(&stage.name) else {
            continue;
        };
        if p.valid_until < until {
            let why = p
                .verdicts
                .iter()
                .find_map(|v| match v {
                    plan::Verdict::Stale(r) => Some(format!(" ({r})")),
                    plan::Verdict::Fresh => None,
                })
                .unwrap_or_default();
            return Ok(Some(format!(
                "stage {} is done until {} UTC{why}",
                stage.name, p.valid_until
            )));
        }
    }
    Ok(None)
}

/// Whether the lake holds raw data of `date` for any source table.
pub fn has_raw_data(lake: &Lake, sources: &Sources, date: NaiveDate) -> bool {
    sources
        .tables
        .iter()
        .any(|t| Lake::partition_dir(&lake.raw_table_dir(&t.db, &t.name), date).exists())
}

/// Whether any stage `stage` reads, directly or not, is incremental.
pub fn has_incremental_upstream(graph: &StageGraph, stage: &Stage) -> bool {
    let mut todo: Vec<&str> = stage.deps.iter().map(|s| s.as_str()).collect();
    while let Some(name) = todo.pop() {
        if let Some(s) = graph.get(name) {
            if s.is_incremental() {
                return true;
            }
            todo.extend(s.deps.iter().map(|d| d.as_str()));
        }
    }
    false
}

struct Runner<'a> {
    ctx: &'a SessionContext,
    lake: &'a Lake,
    graph: &'a StageGraph,
    dir: &'a StateDir,
    owner: &'a Owner,
    claim: &'a Claim,
    progress: &'a crate::progress::Progress,
}

impl Runner<'_> {
    /// Run one stage window, recording it as running, then done or failed. A window whose
    /// record was stale only because an upstream stage was, and whose input came out the same
    /// when that stage was redone, is kept as it is (early cutoff).
    async fn process(
        &mut self,
        stage: &Stage,
        window: Window,
        today: &mut DayState,
        yesterday: &DayState,
        prints: &mut Fingerprints<'_>,
    ) -> Result<Option<Processed>> {
        self.claim.ensure_held()?;
        let date = window.date();
        let input_fp = prints
            .input(stage, date, window.end, today, yesterday)
            .await?;
        let sql_hash = sql_hash(&stage.sql);
        let (start, end) = (fmt_time(window.start), fmt_time(window.end));
        let unchanged = today
            .records(&stage.name)
            .iter()
            .any(|r| r.start == start && r.end == end && r.is_done_with(&sql_hash, &input_fp));
        if unchanged {
            return Ok(None);
        }
        // The partition as the previous window of this stage left it (the empty-window shortcut
        // below keeps it, and its digest with it).
        let previous_digest = today
            .records(&stage.name)
            .iter()
            .find(|r| r.end == start && r.status == Status::Done)
            .map(|r| r.output_digest.clone());
        let mut record = Record {
            start,
            end,
            status: Status::Running,
            sql_hash,
            input_fp,
            output_digest: String::new(),
            rows: 0,
            elapsed_ms: 0,
            peak_rss_kib: None,
            owner: self.owner.id.clone(),
            finished_at: String::new(),
            error: None,
        };
        today.put(&stage.name, record.clone());
        self.dir.save(today)?;
        let part = Lake::partition_dir(
            &self.lake.stage_table_dir(&self.graph.version, &stage.name),
            date,
        );
        // A window in which no input has a row changes nothing, provided the partition holds
        // nothing from this window on (left by an earlier, longer run): record it as done.
        if let Some(inc) = &stage.incremental
            && !window.starts_the_day()
            && prints
                .window_is_empty(&self.graph.sources_upstream(stage), window)
                .await?
            && crate::lake::partition_max_timestamp(&part, &inc.event_time)
                .is_some_and(|t| t < window.start.and_utc().timestamp_micros())
        {
            record.status = Status::Done;
            record.output_digest = match previous_digest {
                Some(d) => d,
                None => partition_digest(&part)?,
            };
            record.finished_at = fmt_time(chrono::Utc::now().naive_utc());
            today.put(&stage.name, record.clone());
            self.dir.save(today)?;
            self.log(stage, &record)?;
            return Ok(Some(Processed {
                window,
                run: StageRun {
                    stage: stage.name.clone(),
                    rows: 0,
                    bytes: 0,
                    sha256: record.output_digest.clone(),
                    elapsed: Duration::ZERO,
                    buckets: 0,
                    peak_rss_kib: None,
                    cpu: None,
                },
            }));
        }
        tracing::info!(stage = %stage.name, window = %window.label(), "window started");
        let k = self
            .graph
            .stages
            .iter()
            .position(|s| s.name == stage.name)
            .map_or(0, |i| i + 1);
        self.progress.set_message(format!(
            "{} {} (stage {k}/{})",
            stage.name,
            window.label(),
            self.graph.stages.len()
        ));
        let result = pipeline::run_stage(self.ctx, self.lake, self.graph, stage, window).await;
        let now = fmt_time(chrono::Utc::now().naive_utc());
        record.finished_at = now.clone();
        match result {
            Ok(run) => {
                record.status = Status::Done;
                record.output_digest = run.sha256.clone();
                record.rows = run.rows;
                record.elapsed_ms = run.elapsed.as_millis() as u64;
                record.peak_rss_kib = run.peak_rss_kib;
                tracing::info!(
                    stage = %stage.name, window = %window.label(), rows = run.rows,
                    ms = record.elapsed_ms, buckets = run.buckets,
                    peak_rss_mib = run.peak_rss_kib.map(|k| k / 1024), "window done"
                );
                today.put(&stage.name, record.clone());
                self.dir.save(today)?;
                self.log(stage, &record)?;
                crash_point(&stage.name, window, "after_state");
                Ok(Some(Processed { window, run }))
            }
            Err(e) => {
                record.status = Status::Failed;
                record.error = Some(e.to_string());
                today.put(&stage.name, record.clone());
                self.dir.save(today)?;
                self.log(stage, &record)?;
                Err(e)
            }
        }
    }

    fn log(&self, stage: &Stage, r: &Record) -> Result<()> {
        self.dir.log(&LogEntry {
            stage: stage.name.clone(),
            start: r.start.clone(),
            end: r.end.clone(),
            owner: r.owner.clone(),
            status: r.status,
            rows: r.rows,
            elapsed_ms: r.elapsed_ms,
            at: r.finished_at.clone(),
        })
    }
}
