//! `ordertrail diff`: a trade date on two sides (see `diff`).

use crate::args::DiffArgs;
use crate::diff::{Side, diff};
use crate::error::{EXIT_CHECKS_FAILED, EXIT_OK, Result};

pub async fn run(args: DiffArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let version_a = args
        .version_a
        .clone()
        .unwrap_or_else(|| project.graph.version.clone());
    let a = Side {
        lake: args.lake_a.clone(),
        version: version_a.clone(),
        reports: args.reports_a.clone(),
    };
    let b = Side {
        lake: args.lake_b.clone().unwrap_or_else(|| args.lake_a.clone()),
        version: args.version_b.clone().unwrap_or(version_a),
        reports: args.reports_b.clone(),
    };
    let d = diff(&project.graph, args.date, &a, &b).await?;
    print!("{}", d.to_text());
    Ok(if d.differs() {
        EXIT_CHECKS_FAILED
    } else {
        EXIT_OK
    })
}
