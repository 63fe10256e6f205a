//! `ordertrail extract`: one order's raw rows as a fixture directory (see `extract`).

use crate::args::ExtractArgs;
use crate::engine::EngineOptions;
use crate::error::{EXIT_OK, Error, Result};
use crate::intervals::judge::{JudgeCache, judge_day};
use crate::intervals::plan::Verdict;
use crate::lake::Lake;

pub async fn run(args: ExtractArgs) -> Result<i32> {
    let project = args.sql.project()?;
    if !args.lake.is_dir() {
        return Err(Error::input_hint(
            format!("no lake at {}", args.lake.display()),
            "pass the lake the order is in with --lake",
        ));
    }
    let lake = Lake::new(&args.lake);
    let ctx = project.context(&lake, &EngineOptions::default()).await?;
    // The chain is read from flow_complete: refuse rows that a run did not leave current (a
    // partition rewritten or missing, the SQL or the raw data changed since).
    let ip = project.intervals()?;
    let mut cache = JudgeCache::default();
    for date in [args.date.pred_opt(), Some(args.date)]
        .into_iter()
        .flatten()
    {
        let judged = judge_day(&ctx, &lake, &ip, date, &mut cache).await?;
        let ran = !judged.today.records("flow_complete").is_empty();
        if date < args.date && !ran {
            continue; // no run of the day before: the order began on the date
        }
        if let Some(plan) = judged.plans.get("flow_complete")
            && !plan.complete(date)
        {
            let why = plan
                .verdicts
                .iter()
                .find_map(|v| match v {
                    Verdict::Stale(why) => Some(why.clone()),
                    Verdict::Fresh => None,
                })
                .unwrap_or_else(|| "not processed to the end of the day".into());
            return Err(Error::input_hint(
                format!(
                    "flow_complete of {date} in {} is not current ({why}): the order's chain \
                     would be read from rows a run did not leave",
                    lake.root().display()
                ),
                format!(
                    "run the date first: ordertrail run --lake {} --date {date}",
                    lake.root().display()
                ),
            ));
        }
    }
    let e = crate::extract::extract(
        &ctx,
        &project.graph.dir,
        &project.sources,
        args.date,
        &args.order,
        &args.out,
        args.pseudonymise,
    )
    .await?;
    let total: usize = e.rows.values().sum();
    println!(
        "order {} (chain {}): {total} raw rows in {} tables written to {}{}",
        args.order,
        e.chains.join(", "),
        e.rows.len(),
        args.out.display(),
        if args.pseudonymise {
            format!(", {} account numbers pseudonymised", e.replaced)
        } else {
            String::new()
        }
    );
    for (table, rows) in &e.rows {
        println!("  {table:<20} {rows:>6}");
    }
    Ok(EXIT_OK)
}
