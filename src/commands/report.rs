//! `ordertrail report`: run the report stages for a day the pipeline has processed, then
//! write every configured destination's files (the work is in [`crate::day`]).

use crate::args::ReportArgs;
use crate::day;
use crate::error::{EXIT_OK, Error, Result};
use crate::lake::Lake;
use crate::metrics::Metrics;
use crate::reports::Written;

use super::engine_options;

pub async fn run(args: ReportArgs) -> Result<i32> {
    let started = std::time::Instant::now();
    let mut project = args.sql.project()?;
    if !args.destinations.is_empty() {
        for name in &args.destinations {
            if project.config.destination(name).is_none() {
                return Err(Error::input_hint(
                    format!("unknown destination {name}"),
                    format!(
                        "destinations in {}: {}",
                        project.config.path.display(),
                        project
                            .config
                            .destinations
                            .iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        project
            .config
            .destinations
            .retain(|d| args.destinations.contains(&d.name));
    }
    day::check_trading_day(&project, args.date, args.force)?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    let mut metrics = Metrics::new("report");
    let all_destinations = args.destinations.is_empty();
    let written = day::write_reports_measured(
        &ctx,
        &project,
        &lake,
        args.date,
        &args.out,
        day::ReportMode {
            reuse_stages: all_destinations,
            force: args.force,
        },
        &mut metrics,
    )
    .await?;
    print_written(&written);
    if let Some(path) = &args.metrics {
        metrics.total = started.elapsed();
        metrics.write(path)?;
    }
    Ok(EXIT_OK)
}

pub fn print_written(written: &[Written]) {
    for w in written {
        println!(
            "{:<16} {:<8} {} ({} files)",
            w.destination,
            w.kind.as_str(),
            w.dir.display(),
            w.files.len()
        );
    }
}
