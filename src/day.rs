//! A trade date's work after its stages' windows (`intervals::run_range`): its checks (run,
//! written, alerted) and its report files (completeness, report stages, the next trade
//! date's early events for CAT, the files). One implementation for `run`, `check`, `demo`,
//! `report` and the scheduler, so that they cannot drift apart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone};
use datafusion::prelude::SessionContext;

use crate::checks::{self, Check, CheckResult};
use crate::error::{Error, Result};
use crate::intervals::{self, fingerprint::Fingerprints, state::DayState, state::StateDir};
use crate::lake::{Lake, PARTITION_COLUMN};
use crate::metrics::Metrics;
use crate::pipeline;
use crate::project::Project;
use crate::reports::{self, Written};
use crate::stages::Stage;

/// Run every check of the SQL version for `date`, print the summary, write results (to `out`,
/// or the day's results folder), alert.
pub async fn run_checks(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    out: Option<&Path>,
) -> Result<Vec<CheckResult>> {
    let list = checks::load(&project.graph.dir.join("checks"))?;
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => check_results_dir(lake, project, date),
    };
    run_check_list(ctx, project, lake, date, &list, Some(&dir)).await
}

/// Run `list` for `date`, print the summary, write the results to `out` (if any), alert.
pub async fn run_check_list(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    list: &[Check],
    out: Option<&Path>,
) -> Result<Vec<CheckResult>> {
    require_inputs(project, lake, list, date)?;
    let results = checks::run(ctx, list, date).await?;
    let summary = checks::summary(date, &results);
    print!("{summary}");
    let mut alert_text = summary.clone();
    match out {
        Some(dir) => {
            checks::write(dir, date, &results)?;
            println!("check results: {}", dir.display());
            // The alert links to the page with the failing rows.
            alert_text.push_str(&format!(
                "report: {}\n",
                dir.join("check_report.html").display()
            ));
        }
        None => println!("check results: not written (--out DIR keeps them)"),
    }
    if checks::any_failed(&results)
        && let Some(command) = &project.config.checks.alert_command
    {
        checks::alert(command, &alert_text)?;
    }
    Ok(results)
}

/// Fail unless every stage that `list` reads has an output for `date`.
fn require_inputs(project: &Project, lake: &Lake, list: &[Check], date: NaiveDate) -> Result<()> {
    let read: std::collections::BTreeSet<&str> = list
        .iter()
        .flat_map(|c| c.reads.iter().map(String::as_str))
        .collect();
    let missing: Vec<String> = pipeline::missing_outputs(lake, &project.graph, date)
        .into_iter()
        .filter(|stage| read.contains(stage.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::input_hint(
        format!(
            "no stage output for trade date {date} in {} ({})",
            lake.root().display(),
            missing.join(", ")
        ),
        format!(
            "run the pipeline first: ordertrail run --lake {} --date {date}",
            lake.root().display()
        ),
    ))
}

/// Default results directory: `<lake>/checks/<version>/trade_date=D`.
pub fn check_results_dir(lake: &Lake, project: &Project, date: NaiveDate) -> PathBuf {
    lake.root()
        .join("checks")
        .join(&project.graph.version)
        .join(format!("{PARTITION_COLUMN}={date}"))
}

/// Refuse weekends and exchange holidays unless forced.
pub fn check_trading_day(project: &Project, date: NaiveDate, force: bool) -> Result<()> {
    if let Some(reason) = project.config.calendar().non_trading_reason(date) {
        if force {
            tracing::warn!("writing reports for a non-trading day: {reason}");
        } else {
            return Err(Error::input_hint(
                format!("not a trading day: {reason}"),
                format!(
                    "pass --force to report it anyway, or add it to calendar.trading_days in {}",
                    project.config.path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Run the stages under `reports/` and write the files.
pub async fn write_reports(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    out: &Path,
) -> Result<Vec<Written>> {
    let mut metrics = Metrics::new("report");
    let mode = ReportMode {
        reuse_stages: true,
        force: false,
    };
    write_reports_measured(ctx, project, lake, date, out, mode, &mut metrics).await
}

/// How the reports may proceed.
#[derive(Debug, Clone, Copy)]
pub struct ReportMode {
    /// Use report stages `run` left current (every destination is reported).
    pub reuse_stages: bool,
    /// Keep CAT files that fail validation, and report without the next trade date.
    pub force: bool,
}

/// [`write_reports`], recording each report stage's run and the time to write the files.
pub async fn write_reports_measured(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    out: &Path,
    ReportMode {
        reuse_stages,
        force,
    }: ReportMode,
    metrics: &mut Metrics,
) -> Result<Vec<Written>> {
    let report_stages: Vec<_> = project
        .graph
        .stages
        .iter()
        .filter(|s| s.rel_path.starts_with("reports"))
        .collect();
    // Partition digests of the day, computed once for the completeness check and the reuse
    // of report stages.
    let mut digests = HashMap::new();
    let day_end = crate::window::Window::day(date).end;
    if let Some(why) = intervals::incomplete(
        ctx,
        lake,
        &project.intervals()?,
        date,
        day_end,
        &mut digests,
    )
    .await?
    {
        let message = format!("trade date {date} is not completely processed: {why}");
        if !force {
            return Err(Error::NotDone {
                message,
                hint: format!(
                    "run it first: ordertrail run --lake {} --date {date} (or pass --force to \
                     report what there is)",
                    lake.root().display(),
                ),
            });
        }
        tracing::warn!("{message}; reporting it anyway (--force)");
    }
    let reused = compute_stages(
        ctx,
        project,
        lake,
        date,
        &report_stages,
        reuse_stages.then_some(&mut digests),
        metrics,
    )
    .await?;
    metrics.reused.extend(reused);
    next_day_events(ctx, project, lake, date, reuse_stages, force, metrics).await?;
    let started = std::time::Instant::now();
    let written = reports::write_all(ctx, &project.config, date, out, force).await?;
    metrics.report_files = Some(started.elapsed());
    Ok(written)
}

/// Compute `stages` for `date`, in order, unless current; returns the names of those reused.
///
/// A report stage `run` left current (same SQL, configuration and inputs) is not computed
/// again; one that is not is, and so, in order, is what reads a changed output of it. Stages
/// are only reused when every destination is reported (`reuse` is `Some`, with the day's
/// partition digests known so far): with --destinations they are computed for those alone.
async fn compute_stages(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    stages: &[&Stage],
    reuse: Option<&mut HashMap<String, String>>,
    metrics: &mut Metrics,
) -> Result<Vec<String>> {
    let graph = &project.graph;
    let state = StateDir::new(lake, &graph.version, date);
    let today = state.load()?;
    let yesterday = match date.pred_opt() {
        Some(prev) => StateDir::new(lake, &graph.version, prev).load()?,
        None => DayState::default(),
    };
    let config_hash = project.intervals()?.config_hash;
    let mut prints = Fingerprints::new(ctx, lake, &project.sources, config_hash);
    let mut reused = Vec::new();
    let mut reuse = reuse;
    for stage in stages {
        let current = match reuse.as_deref_mut() {
            Some(digests) => {
                intervals::day_is_current(
                    lake,
                    graph,
                    stage,
                    date,
                    (&today, &yesterday),
                    &mut prints,
                    digests,
                )
                .await?
            }
            None => false,
        };
        if current {
            tracing::info!(stage = %stage.name, %date, "report stage is current; not computed again");
            reused.push(stage.name.clone());
            continue;
        }
        if let Some(digests) = reuse.as_deref_mut() {
            digests.remove(&stage.name);
        }
        metrics
            .stages
            .extend(pipeline::run_exact(ctx, lake, graph, date, &[stage]).await?);
    }
    Ok(reused)
}

/// Where trade date `date`'s CAT events end, in UTC: midnight Eastern Time after `date`
/// (04:00 or 05:00 UTC on the next trade date).
pub fn cat_day_end(date: NaiveDate) -> chrono::NaiveDateTime {
    let next = date.succ_opt().unwrap_or(date);
    chrono_tz::America::New_York
        .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(crate::window::Window::day(next).end)
}

/// CAT files an event under its Eastern-Time date, and the lake's trade_date is the UTC date:
/// the evening of ET day D (from 19:00 or 20:00 ET) is in trade date D+1. Compute the report
/// stages of D+1 from what the pipeline wrote for it. When the pipeline has not processed D+1
/// but the lake has its raw data, D's CAT files would miss those events: refuse (exit 3)
/// unless forced. When the lake has nothing of D+1 at all, say so and go on.
async fn next_day_events(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    reuse_stages: bool,
    force: bool,
    metrics: &mut Metrics,
) -> Result<()> {
    let has_cat = project
        .config
        .destinations
        .iter()
        .any(|d| d.report == crate::config::ReportKind::Cat);
    let Some(next) = date.succ_opt().filter(|_| has_cat) else {
        return Ok(());
    };
    let graph = &project.graph;
    // The CAT report stage and the report stages it reads, as the DAG has them.
    let cat_stage = reports::stage_for(crate::config::ReportKind::Cat).to_string();
    let stages: Vec<_> = graph
        .closure(std::slice::from_ref(&cat_stage))?
        .into_iter()
        .filter(|s| s.rel_path.starts_with("reports"))
        .collect();
    let processed = stages.iter().flat_map(|s| s.deps.iter()).all(|dep| {
        stages.iter().any(|s| &s.name == dep)
            || Lake::partition_dir(&lake.stage_table_dir(&graph.version, dep), next).exists()
    });
    // The events of `date` in trade date `next` are those before midnight Eastern Time.
    let et_midnight = cat_day_end(date);
    let mut digests = HashMap::new();
    if processed {
        if let Some(why) = intervals::incomplete(
            ctx,
            lake,
            &project.intervals()?,
            next,
            et_midnight,
            &mut digests,
        )
        .await?
        {
            let message = format!(
                "CAT files of {date} need trade date {next} processed until {et_midnight} UTC \
                 (midnight Eastern Time): {why}"
            );
            if !force {
                return Err(Error::NotDone {
                    message,
                    hint: format!(
                        "run it that far: ordertrail run --lake {} --date {next} --to {} \
                         (or pass --force to write {date} without those events)",
                        lake.root().display(),
                        et_midnight.format("%H:%M")
                    ),
                });
            }
            tracing::warn!("{message}; reporting without them (--force)");
        }
        compute_stages(
            ctx,
            project,
            lake,
            next,
            &stages,
            reuse_stages.then_some(&mut digests),
            metrics,
        )
        .await?;
        return Ok(());
    }
    let raw_next = project
        .sources
        .tables
        .iter()
        .any(|t| Lake::partition_dir(&lake.raw_table_dir(&t.db, &t.name), next).exists());
    if !raw_next {
        tracing::warn!(
            "the lake has no data for trade date {next}: CAT files of {date} hold no events \
             after 00:00 UTC ({next}); if the sources had any, sync and run {next}, then \
             report {date} again"
        );
        return Ok(());
    }
    if force {
        tracing::warn!(
            "trade date {next} is not processed: CAT files of {date} miss its events \
             before midnight Eastern Time (--force)"
        );
        return Ok(());
    }
    Err(Error::NotDone {
        message: format!(
            "CAT files of {date} need the events of trade date {next} before midnight Eastern \
             Time, and the pipeline has not processed {next}"
        ),
        hint: format!(
            "run it first: ordertrail run --lake {} --date {next} (or pass --force to write \
             {date} without them)",
            lake.root().display()
        ),
    })
}
