//! `ordertrail demo`: the fixture day end to end in a fresh lake, with a summary.

use std::path::Path;

use arrow::util::pretty::pretty_format_batches;

use crate::args::DemoArgs;
use crate::error::{EXIT_OK, Error, IoContext, Result};
use crate::fixtures;
use crate::intervals;
use crate::lake::Lake;
use crate::pipeline;

use super::engine_options;
use crate::project::fixtures_dir;

/// Marks a directory as written by the demo, so the next demo may replace it.
const MARKER: &str = ".ordertrail-demo";

pub async fn run(args: DemoArgs) -> Result<i32> {
    // The fixture days come with a config of their own (small CAT files) unless one is given.
    let mut sql = args.sql.clone();
    if sql.config.is_none() {
        let own = fixtures_dir(&args.fixtures).join("ordertrail.toml");
        sql.config = own.exists().then_some(own);
    }
    let project = sql.project()?;
    let lake_dir = args.out.join("lake");
    fresh_dir(&args.out)?;
    let lake = Lake::new(&lake_dir);
    lake.ensure_writable()?;
    let fixtures = fixtures_dir(&args.fixtures);
    let loaded = fixtures::load_dir(&lake, &project.sources, &fixtures)?;
    let dates: Vec<_> = loaded
        .first()
        .map(|t| t.dates.iter().map(|(d, _)| *d).collect())
        .unwrap_or_default();
    let raw_rows: u64 = loaded
        .iter()
        .flat_map(|t| t.dates.iter().map(|(_, w)| w.rows))
        .sum();
    println!(
        "loaded {} raw tables, {raw_rows} rows, from {} into {}",
        loaded.len(),
        fixtures.display(),
        lake_dir.display()
    );

    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    let mut checks_failed = false;
    for date in &dates {
        println!("\n== trade date {date}");
        // The day as `run` processes it, so its interval state is in the lake (`status` and
        // `serve` show it).
        let outcome = intervals::run_range(
            &ctx,
            &lake,
            &project.intervals()?,
            &intervals::RangeRequest::day(*date),
        )
        .await?;
        if !outcome.day_complete {
            return Err(Error::input(format!(
                "the demo did not complete trade date {date}: {outcome:?}"
            )));
        }
        let runs: Vec<_> = outcome.processed.into_iter().map(|p| p.run).collect();
        super::run::print_runs(&runs);
        if project.graph.get("lifecycle").is_some() {
            let df = ctx
                .sql(
                    "select event_status, status_name, reportable, count(*) as records \
                     from lifecycle where trade_date = $trade_date \
                     group by event_status, status_name, reportable \
                     order by event_status",
                )
                .await?
                .with_param_values(pipeline::stage_params(*date))?;
            let batches = df.collect().await?;
            println!("\nevent_status distribution (lifecycle records):");
            println!("{}", pretty_format_batches(&batches)?);
        }
        println!();
        let results = crate::day::run_checks(&ctx, &project, &lake, *date, None).await?;
        if crate::checks::any_failed(&results) {
            checks_failed = true;
        }
    }
    println!(
        "\nstage outputs: {}",
        lake.root()
            .join("stages")
            .join(&project.graph.version)
            .display()
    );
    let reports_dir = args.out.join("reports");
    println!("\nreports ({}):", reports_dir.display());
    for date in &dates {
        if let Some(reason) = project.config.calendar().non_trading_reason(*date) {
            println!("{date}: no reports, {reason}");
            continue;
        }
        let written = crate::day::write_reports(&ctx, &project, &lake, *date, &reports_dir).await?;
        super::report::print_written(&written);
    }
    // The configuration is part of the report stages' input: the console must read the same.
    println!(
        "\nthe console (windows, checks, report files): ordertrail serve --lake {} --reports {} \
         --config {}",
        lake.root().display(),
        reports_dir.display(),
        project.config.path.display()
    );
    if checks_failed {
        eprintln!("ordertrail: error-level checks failed; see the check results above");
        return Ok(crate::error::EXIT_CHECKS_FAILED);
    }
    Ok(EXIT_OK)
}

/// Create `dir`, or clear it if a previous demo wrote it. Refuse to clear anything else.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let is_empty = std::fs::read_dir(dir).at(dir)?.next().is_none();
        if !is_demo && !is_empty {
            return Err(Error::input_hint(
                format!("{} exists and was not written by the demo", dir.display()),
                "pass an empty or new directory with --out",
            ));
        }
        std::fs::remove_dir_all(dir).at(dir)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::input_hint(
            format!("cannot create {}: {e}", dir.display()),
            "pass a writable directory with --out",
        )
    })?;
    std::fs::write(dir.join(MARKER), "written by `ordertrail demo`\n").at(dir)?;
    Ok(())
}
