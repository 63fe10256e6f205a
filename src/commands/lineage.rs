//! `ordertrail lineage`: column lineage from the logical plans (see `lineage`).

use crate::args::LineageArgs;
use crate::error::{EXIT_OK, Error, Result};
use crate::lineage::{Lineage, to_dot, to_text};
use crate::sqltest::Suite;

pub async fn run(args: LineageArgs) -> Result<i32> {
    let project = args.sql.project()?;
    if args.format == "svg" {
        println!(
            "{}",
            crate::console::dag::svg(&project.graph, None, true).into_string()
        );
        return Ok(EXIT_OK);
    }
    let Some(target) = &args.target else {
        return Err(Error::input_hint(
            "name a stage or a stage's column",
            "e.g. ordertrail lineage lifecycle.event_status (or --format svg for the DAG)",
        ));
    };
    let (stage, column) = match target.split_once('.') {
        Some((s, c)) => (s, Some(c)),
        None => (target.as_str(), None),
    };
    let suite = Suite::new(&project.graph, &project.sources, &project.config)?;
    let ctx = suite.planning_context().await?;
    let checks = crate::checks::load(&project.graph.dir.join("checks"))?;
    let date = "2026-11-19".parse().expect("valid date");
    let lineage = Lineage::build(&ctx, &project.graph, &checks, date).await?;
    let columns = lineage.columns(stage, column)?;
    match args.format.as_str() {
        "text" => print!("{}", to_text(&columns)),
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&columns)
                .map_err(|e| Error::input(format!("lineage as JSON: {e}")))?
        ),
        "dot" => print!("{}", to_dot(&columns)),
        other => {
            return Err(Error::input_hint(
                format!("unknown format {other}"),
                "--format text, json, dot or svg",
            ));
        }
    }
    Ok(EXIT_OK)
}
