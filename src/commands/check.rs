//! `ordertrail check`: run the correctness checks for a day the pipeline has processed, write
//! the results, alert, and exit 1 when an error-level check fails.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use crate::checks::{self, CheckResult};
use crate::cli::CheckArgs;
use crate::error::{EXIT_CHECKS_FAILED, EXIT_OK, Error, Result};
use crate::lake::{Lake, PARTITION_COLUMN};
use crate::pipeline;

use super::{Project, engine_options};

pub async fn run(args: CheckArgs) -> Result<i32> {
    let project = Project::load(&args.sql)?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    checks::register_recon(&ctx, args.recon.as_deref())?;
    let results = match args.checks.is_empty() {
        true => run_and_write(&ctx, &project, &lake, args.date, args.out.as_deref()).await?,
        false => run_some(&ctx, &project, &lake, &args).await?,
    };
    Ok(exit_code(&results))
}

/// `--check NAME ...`: run those checks only; their results go to `--out` if given, never to
/// the day's results folder, which holds every check's.
async fn run_some(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    args: &CheckArgs,
) -> Result<Vec<CheckResult>> {
    let dir = project.graph.dir.join("checks");
    let all = checks::load(&dir)?;
    if let Some(name) = args
        .checks
        .iter()
        .find(|n| !all.iter().any(|c| &c.name == *n))
    {
        return Err(Error::input_hint(
            format!("no check named {name} in {}", dir.display()),
            format!(
                "the checks are: {}",
                all.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let list: Vec<_> = all
        .into_iter()
        .filter(|c| args.checks.contains(&c.name))
        .collect();
    run_list(ctx, project, lake, args.date, &list, args.out.as_deref()).await
}

/// Run `list` for `date`, print the summary, write the results to `out` (if any), alert.
async fn run_list(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    list: &[checks::Check],
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
fn require_inputs(
    project: &Project,
    lake: &Lake,
    list: &[checks::Check],
    date: NaiveDate,
) -> Result<()> {
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
pub fn results_dir(lake: &Lake, project: &Project, date: NaiveDate) -> PathBuf {
    lake.root()
        .join("checks")
        .join(&project.graph.version)
        .join(format!("{PARTITION_COLUMN}={date}"))
}

/// Run every check of the SQL version for `date`, print the summary, write results (to `out`,
/// or the day's results folder), alert.
pub async fn run_and_write(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    out: Option<&Path>,
) -> Result<Vec<CheckResult>> {
    let list = checks::load(&project.graph.dir.join("checks"))?;
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => results_dir(lake, project, date),
    };
    run_list(ctx, project, lake, date, &list, Some(&dir)).await
}

pub fn exit_code(results: &[CheckResult]) -> i32 {
    if checks::any_failed(results) {
        EXIT_CHECKS_FAILED
    } else {
        EXIT_OK
    }
}
