//! `ordertrail run`: run stages for one trade date.

use crate::cli::RunArgs;
use crate::error::{EXIT_OK, Result};
use crate::lake::Lake;
use crate::metrics::Metrics;
use crate::pipeline::{self, StageRun};

use super::{Project, engine_options};

pub async fn run(args: RunArgs) -> Result<i32> {
    let started = std::time::Instant::now();
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
    let mut metrics = Metrics::new("run");
    metrics.stages = runs;
    let mut code = EXIT_OK;
    if !args.no_checks && args.stages.is_empty() {
        println!();
        let results = super::check::run_and_write(&ctx, &project, &lake, args.date, None).await?;
        metrics.add_checks(&results);
        code = super::check::exit_code(&results);
    }
    if let Some(path) = &args.metrics {
        metrics.total = started.elapsed();
        metrics.write(path)?;
    }
    Ok(code)
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
