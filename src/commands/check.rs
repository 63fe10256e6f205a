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
    let results = run_and_write(&ctx, &project, &lake, args.date, args.out.as_deref()).await?;
    Ok(exit_code(&results))
}

/// Default results directory: `<lake>/checks/<version>/trade_date=D`.
pub fn results_dir(lake: &Lake, project: &Project, date: NaiveDate) -> PathBuf {
    lake.root()
        .join("checks")
        .join(&project.graph.version)
        .join(format!("{PARTITION_COLUMN}={date}"))
}

/// Run every check of the SQL version for `date`, print the summary, write results, alert.
pub async fn run_and_write(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    date: NaiveDate,
    out: Option<&Path>,
) -> Result<Vec<CheckResult>> {
    let missing = pipeline::missing_outputs(lake, &project.graph, date);
    if !missing.is_empty() {
        return Err(Error::input_hint(
            format!(
                "no stage output for trade date {date} in {} ({})",
                lake.root().display(),
                missing.join(", ")
            ),
            format!(
                "run the pipeline first: ordertrail run --lake {} --date {date}",
                lake.root().display()
            ),
        ));
    }
    let list = checks::load(&project.graph.dir.join("checks"))?;
    let results = checks::run(ctx, lake, &project.graph, &list, date).await?;
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => results_dir(lake, project, date),
    };
    checks::write(&dir, date, &results)?;
    let summary = checks::summary(date, &results);
    print!("{summary}");
    println!("check results: {}", dir.display());
    if checks::any_failed(&results)
        && let Some(command) = &project.config.checks.alert_command
    {
        checks::alert(command, &summary)?;
    }
    Ok(results)
}

pub fn exit_code(results: &[CheckResult]) -> i32 {
    if checks::any_failed(results) {
        EXIT_CHECKS_FAILED
    } else {
        EXIT_OK
    }
}
