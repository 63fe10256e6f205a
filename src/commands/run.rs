//! `ordertrail run`: process a trade date, whole or window by window, resuming where it stopped.

use crate::args::RunArgs;
use crate::error::{EXIT_NOT_DONE, EXIT_OK, Result};
use crate::intervals::{self, RangeRequest};
use crate::lake::Lake;
use crate::metrics::Metrics;
use crate::pipeline::{self, StageRun};
use crate::window::{self, Window};

use super::engine_options;

pub async fn run(args: RunArgs) -> Result<i32> {
    let started = std::time::Instant::now();
    let mut metrics = Metrics::new("run");
    let code = run_with(&args, &mut metrics).await?;
    if let Some(path) = &args.metrics {
        metrics.total = started.elapsed();
        metrics.write(path)?;
    }
    Ok(code)
}

async fn run_with(args: &RunArgs, metrics: &mut Metrics) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = match project.context(&lake, &options).await {
        // A damaged partition of this date stops the engine from opening its table: redo it.
        Err(e)
            if args.stages.is_empty()
                && range_request(args)
                    .and_then(|req| intervals::repair_date(&lake, &project.graph, &req))
                    .is_ok_and(|repaired| repaired) =>
        {
            tracing::debug!("retrying after removing altered partitions: {e}");
            project.context(&lake, &options).await?
        }
        other => other?,
    };
    if !args.stages.is_empty() {
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
        metrics.stages = runs;
        return Ok(EXIT_OK);
    }

    let req = range_request(args)?;
    install_sigterm_handler();
    let outcome = match intervals::run_range(&ctx, &lake, &project.intervals()?, &req).await {
        Err(e @ crate::error::Error::Interrupted { .. }) => {
            eprintln!("ordertrail: {e}; rerun to continue");
            return Ok(EXIT_NOT_DONE);
        }
        other => other?,
    };
    if let Some(holder) = &outcome.held_by {
        let held = outcome.held_date.unwrap_or(args.date);
        let why = if held == args.date {
            String::new()
        } else {
            format!(" (trade date {} reads it)", args.date)
        };
        eprintln!(
            "ordertrail: trade date {held} is being processed by {} (pid {} on {}){why}; \
             nothing done, run it again when that run has finished",
            holder.id, holder.pid, holder.host
        );
        return Ok(EXIT_NOT_DONE);
    }
    if let Some((prev, why)) = &outcome.previous_incomplete {
        eprintln!(
            "ordertrail: trade date {} reads {prev}, which is not processed to its end: {why}; \
             nothing done\nhint: run `ordertrail run --lake {} --date {prev}` first, then this \
             date again",
            args.date,
            lake.root().display()
        );
        return Ok(EXIT_NOT_DONE);
    }
    if let Some(dead) = &outcome.recovered {
        eprintln!(
            "ordertrail: took over the claim of a run that stopped ({}); resuming its work",
            dead.id
        );
    }
    if outcome.processed.is_empty() {
        println!("trade date {}: up to date, nothing to process", args.date);
    }
    for p in &outcome.processed {
        let label = if p.window.is_whole_day() {
            "day".to_string()
        } else {
            p.window.label()
        };
        println!(
            "{label:<12} {:<24} {:>10} rows {:>8.1} ms",
            p.run.stage,
            p.run.rows,
            p.run.elapsed.as_secs_f64() * 1000.0
        );
    }
    if outcome.interrupted {
        // Work is left undone: not 0, so `run && report` does not report a partial day.
        eprintln!("ordertrail: stopped by SIGTERM after a whole window; rerun to continue");
        return Ok(EXIT_NOT_DONE);
    }
    metrics.stages = outcome.processed.iter().map(|p| p.run.clone()).collect();
    if args.no_checks || !outcome.day_complete {
        return Ok(EXIT_OK);
    }
    println!();
    let results = crate::day::run_checks(&ctx, &project, &lake, args.date, None).await?;
    metrics.add_checks(&results);
    Ok(super::check::exit_code(&results))
}

fn range_request(args: &RunArgs) -> Result<RangeRequest> {
    let day = Window::day(args.date);
    let windowed = args.from.is_some() || args.to.is_some();
    let from = match &args.from {
        Some(t) => window::at(args.date, t)?,
        None => day.start,
    };
    let to = match &args.to {
        Some(t) => window::at(args.date, t)?,
        None => day.end,
    };
    let step = match &args.window {
        Some(w) => window::parse_duration(w)?,
        None if windowed => chrono::Duration::minutes(30),
        None => chrono::Duration::days(1),
    };
    let claim_timeout = window::parse_duration(&args.claim_timeout)?
        .to_std()
        .unwrap_or(intervals::claim::DEFAULT_TIMEOUT);
    Ok(RangeRequest {
        date: args.date,
        from,
        to,
        step,
        restate: args.restate,
        claim_timeout,
        take_over: args.take_over,
    })
}

/// SIGTERM asks the run to stop after the window in progress.
pub fn install_sigterm_handler() {
    tokio::spawn(async {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            eprintln!("ordertrail: SIGTERM: finishing the current window, then stopping");
            crate::signal::SHUTDOWN.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
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
