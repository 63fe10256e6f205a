//! `ordertrail run`: run stages for one trade date.

use crate::cli::RunArgs;
use crate::error::{EXIT_OK, Result};
use crate::lake::Lake;
use crate::pipeline::{self, StageRun};

use super::{Project, engine_options};

pub async fn run(args: RunArgs) -> Result<i32> {
    let project = Project::load(&args.sql)?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    let runs = pipeline::run(
        &ctx,
        &lake,
        &project.sources,
        &project.graph,
        args.date,
        &args.stages,
    )
    .await?;
    print_runs(&runs);
    if args.no_checks || !args.stages.is_empty() {
        return Ok(EXIT_OK);
    }
    println!();
    let results = super::check::run_and_write(&ctx, &project, &lake, args.date, None).await?;
    Ok(super::check::exit_code(&results))
}

/// One line per stage: name, rows, time.
pub fn print_runs(runs: &[StageRun]) {
    for run in runs {
        println!(
            "{:<24} {:>10} rows {:>8.1} ms",
            run.stage,
            run.rows,
            run.elapsed.as_secs_f64() * 1000.0
        );
    }
}
