//! `ordertrail check`: run the correctness checks for a day the pipeline has processed, write
//! the results, alert, and exit 1 when an error-level check fails.

use datafusion::prelude::SessionContext;

use crate::args::CheckArgs;
use crate::checks::{self, CheckResult};
use crate::error::{EXIT_CHECKS_FAILED, EXIT_OK, Error, Result};
use crate::lake::Lake;

use super::engine_options;
use crate::project::Project;

pub async fn run(args: CheckArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    crate::engine::register_recon(&ctx, args.recon.as_deref())?;
    let results = match args.checks.is_empty() {
        true => {
            crate::day::run_checks(&ctx, &project, &lake, args.date, args.out.as_deref()).await?
        }
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
    crate::day::run_check_list(ctx, project, lake, args.date, &list, args.out.as_deref()).await
}

pub fn exit_code(results: &[CheckResult]) -> i32 {
    if checks::any_failed(results) {
        EXIT_CHECKS_FAILED
    } else {
        EXIT_OK
    }
}
