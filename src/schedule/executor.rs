//! The real work behind a job tick: sync, the window or day run, checks, reports.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::{Executor, Job, JobKind, ScheduleConfig};
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::intervals::state::{DayState, StateDir};
use crate::intervals::{self, RangeRequest};
use crate::lake::Lake;
use crate::project::Project;
use crate::window::Window;

pub struct PipelineExecutor<'a> {
    pub project: &'a Project,
    pub config: &'a ScheduleConfig,
    pub options: EngineOptions,
}

impl PipelineExecutor<'_> {
    async fn window(&self, job: &Job, tick: NaiveDateTime) -> Result<String> {
        let start = tick - job.window;
        let date = start.date();
        let lake = Lake::new(&self.config.lake);
        let mut detail = String::new();
        if let Some(sync_config) = &job.sync {
            // From where processing of the day stands, so that windows missed while the
            // scheduler was down (or before the first tick of the day) are synced too.
            let state = StateDir::new(&lake, &self.project.graph.version, date).load()?;
            let from = processed_until(self.project, &state, date).min(start);
            detail.push_str(&sync_window(sync_config, &lake, date, from, tick).await?);
        }
        let day = Window::day(date);
        let mut to = tick.min(day.end);
        let mut from = start;
        if let Some(feed) = &job.feed {
            // Only windows the feed has landed to their end; the rest wait for a later tick
            // (a window not done is processed by the next run, in order).
            let landed = feed_landed_until(&lake, feed)?;
            if landed < to {
                let step = job.window.num_seconds().max(1);
                let whole = day.start
                    + Duration::seconds((landed - day.start).num_seconds().max(0) / step * step);
                let waits = format!(
                    "feed {feed} has landed {date} up to {}; ",
                    if landed < day.start {
                        "nothing of it".to_string()
                    } else {
                        day.clock(landed.min(day.end))
                    }
                );
                if whole <= day.start {
                    return Ok(format!("{waits}window {} waits", day.clock(start)));
                }
                detail.push_str(&waits);
                to = whole;
                from = (whole - job.window).max(day.start);
            }
        }
        let ctx = self.project.context(&lake, &self.options).await?;
        let req = RangeRequest {
            from,
            to,
            step: job.window,
            ..RangeRequest::day(date)
        };
        let out = intervals::run_range(&ctx, &lake, &self.project.intervals()?, &req).await?;
        if let Some(holder) = out.held_by {
            return Ok(format!(
                "{date} is being processed by {}; skipped",
                holder.id
            ));
        }
        if let Some((prev, why)) = out.previous_incomplete {
            return Ok(format!(
                "{date} reads {prev}, which is not processed to its end ({why}); skipped until it is"
            ));
        }
        let windows: std::collections::BTreeSet<_> =
            out.processed.iter().map(|p| p.window.label()).collect();
        detail.push_str(&format!(
            "{date} up to {}: {} stage windows in {} windows processed",
            day.clock(req.to),
            out.processed.len(),
            windows.len()
        ));
        Ok(detail)
    }

    async fn day(&self, job: &Job, tick: NaiveDateTime) -> Result<String> {
        let date = (tick - Duration::days(1)).date();
        let lake = Lake::new(&self.config.lake);
        let mut synced = String::new();
        if let Some(sync_config) = &job.sync {
            let day = Window::day(date);
            synced = sync_window(sync_config, &lake, date, day.start, day.end).await?;
        }
        if let Some(feed) = &job.feed {
            let closed = crate::ingest::FeedState::load(&lake, feed)?
                .is_some_and(|s| s.closed_dates.contains(&date));
            if !closed {
                let landed = feed_landed_until(&lake, feed)?;
                return Err(Error::input_hint(
                    format!(
                        "{date} is not complete in the lake: feed {feed} has not closed it \
                         (landed up to {landed})"
                    ),
                    "is `ordertrail ingest` running and caught up? The nightly run retries",
                ));
            }
        }
        let ctx = self.project.context(&lake, &self.options).await?;
        let out = intervals::run_range(
            &ctx,
            &lake,
            &self.project.intervals()?,
            &RangeRequest::day(date),
        )
        .await?;
        if let Some(holder) = out.held_by {
            return Err(Error::input(format!(
                "{date} is being processed by {}; the nightly run will retry",
                holder.id
            )));
        }
        if let Some((prev, why)) = out.previous_incomplete {
            return Err(Error::input(format!(
                "{date} reads {prev}, which is not processed to its end ({why}); \
                 the nightly run will retry"
            )));
        }
        if !out.day_complete {
            return Err(Error::input(format!(
                "{date} is not complete after the run"
            )));
        }
        let mut detail = format!(
            "{synced}{date}: {} stage windows processed",
            out.processed.len()
        );
        if job.checks {
            let results = crate::day::run_checks(&ctx, self.project, &lake, date, None).await?;
            if crate::checks::any_failed(&results) {
                return Err(Error::input(format!(
                    "{date}: checks failed; reports withheld (see the check report in the lake)"
                )));
            }
            detail.push_str(", checks passed");
        }
        let mut reports = job.reports.clone();
        reports.sort_by_key(|r| r.priority);
        if reports.iter().any(|r| self.reports_cat(&r.destination)) {
            let end = crate::day::cat_day_end(date);
            if tick < end {
                return Err(Error::input_hint(
                    format!(
                        "job {}: CAT files of {date} hold its events up to midnight Eastern \
                         Time ({end} UTC), and this tick ({tick}) is before it",
                        job.name
                    ),
                    "schedule the day job after 05:00 UTC (e.g. cron \"0 6 * * *\"; the CAT \
                     deadline is 08:00 Eastern Time)",
                ));
            }
            // CAT files of `date` hold its events up to midnight Eastern Time, which are in the
            // next trade date's first hours: process those as `report` requires.
            detail.push_str(
                &self
                    .next_day_until_et_midnight(&ctx, &lake, job, date)
                    .await?,
            );
        }
        for r in &reports {
            let mut project = self.project.clone();
            project
                .config
                .destinations
                .retain(|d| d.name == r.destination);
            if project.config.destinations.is_empty() {
                return Err(Error::input(format!(
                    "job {}: no destination {} in {}",
                    job.name,
                    r.destination,
                    self.project.config.path.display()
                )));
            }
            let mode = crate::day::ReportMode {
                reuse_stages: true,
                force: false,
            };
            let mut metrics = crate::metrics::Metrics::new("report");
            crate::day::write_reports_measured(
                &ctx,
                &project,
                &lake,
                date,
                &self.config.reports,
                mode,
                &mut metrics,
            )
            .await?;
            detail.push_str(&format!(", {} written", r.destination));
        }
        Ok(detail)
    }
}

impl PipelineExecutor<'_> {
    /// Whether `destination` is a CAT destination of the project.
    fn reports_cat(&self, destination: &str) -> bool {
        self.project
            .config
            .destination(destination)
            .is_some_and(|d| d.report == crate::config::ReportKind::Cat)
    }

    /// Sync (when the job syncs) and process the next trade date's windows up to midnight
    /// Eastern Time after `date`, where the lake has that date's raw rows.
    async fn next_day_until_et_midnight(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        lake: &Lake,
        job: &Job,
        date: NaiveDate,
    ) -> Result<String> {
        let Some(next) = date.succ_opt() else {
            return Ok(String::new());
        };
        let until = crate::day::cat_day_end(date);
        let mut detail = String::new();
        if let Some(sync_config) = &job.sync {
            let start = Window::day(next).start;
            detail = sync_window(sync_config, lake, next, start, until).await?;
        }
        if let Some(feed) = &job.feed {
            // Rows the feed has not landed yet would be missing from the CAT files.
            let landed = feed_landed_until(lake, feed)?;
            if landed < until {
                return Err(Error::input_hint(
                    format!(
                        "CAT files of {date} need {next} up to {until} UTC (midnight Eastern \
                         Time); feed {feed} has landed up to {landed}"
                    ),
                    "is `ordertrail ingest` running and caught up? The nightly run retries",
                ));
            }
        }
        let raw_next = self
            .project
            .sources
            .tables
            .iter()
            .any(|t| Lake::partition_dir(&lake.raw_table_dir(&t.db, &t.name), next).exists());
        if !raw_next {
            return Ok(detail);
        }
        let req = RangeRequest {
            to: until,
            ..RangeRequest::day(next)
        };
        let out = intervals::run_range(ctx, lake, &self.project.intervals()?, &req).await?;
        if let Some(holder) = out.held_by {
            return Err(Error::input(format!(
                "{next} is being processed by {}; the nightly run will retry",
                holder.id
            )));
        }
        Ok(format!(
            "{detail}, {next} up to {}: {} stage windows processed",
            Window::day(next).clock(until),
            out.processed.len()
        ))
    }
}

impl Executor for PipelineExecutor<'_> {
    async fn execute(&self, job: &Job, tick: NaiveDateTime) -> Result<String> {
        match job.kind {
            JobKind::Window => self.window(job, tick).await,
            JobKind::Day => self.day(job, tick).await,
        }
    }
}

/// Up to when `feed` has landed everything (its `caught_up_at`); an error when the lake has
/// no such feed.
fn feed_landed_until(lake: &Lake, feed: &str) -> Result<NaiveDateTime> {
    let state = crate::ingest::FeedState::load(lake, feed)?.ok_or_else(|| {
        Error::input_hint(
            format!(
                "the lake {} has no feed {feed} ({} is missing)",
                lake.root().display(),
                crate::ingest::FeedState::path(lake, feed).display()
            ),
            "start `ordertrail ingest --config FILE --lake DIR` with name = that feed",
        )
    })?;
    Ok(state
        .caught_up_at
        .map(|t| t.naive_utc())
        .unwrap_or(NaiveDateTime::MIN))
}

/// The end of the windows every incremental stage has done, contiguously from midnight.
fn processed_until(project: &Project, state: &DayState, date: NaiveDate) -> NaiveDateTime {
    let midnight = Window::day(date).start;
    project
        .graph
        .stages
        .iter()
        .filter(|s| s.is_incremental())
        .map(|s| state.done_until(&s.name, midnight))
        .min()
        .unwrap_or(midnight)
}

/// Sync the replicas' rows of `[from, to)` into the lake (see `ordertrail sync`).
async fn sync_window(
    config: &std::path::Path,
    lake: &Lake,
    date: chrono::NaiveDate,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<String> {
    use crate::sync;
    let sources = crate::project::default_path("sql/sources.sql");
    let (config, jobs) = sync::load_plan(config, &sources, &[])?;
    let replicas = sync::Replicas::new(&config)?;
    let progress = std::sync::Arc::new(sync::Progress::default());
    let window = sync::Window::within(date, from, to)?;
    let results = sync::sync(&config, &replicas, lake, &jobs, window, &progress).await;
    replicas.close().await;
    let mut rows = 0;
    for (job, r) in jobs.iter().zip(results) {
        match r {
            Ok(s) => rows += s.rows,
            Err(e) => {
                return Err(Error::input(format!("sync of {} failed: {e}", job.name())));
            }
        }
    }
    Ok(format!("synced {rows} rows; "))
}
