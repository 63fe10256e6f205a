//! `ordertrail extract`: one order's raw rows as a fixture directory (see `extract`).

use crate::cli::ExtractArgs;
use crate::engine::EngineOptions;
use crate::error::{EXIT_OK, Error, Result};
use crate::lake::Lake;

use super::Project;

pub async fn run(args: ExtractArgs) -> Result<i32> {
    let project = Project::load(&args.sql)?;
    if !args.lake.is_dir() {
        return Err(Error::input_hint(
            format!("no lake at {}", args.lake.display()),
            "pass the lake the order is in with --lake",
        ));
    }
    let lake = Lake::new(&args.lake);
    let ctx = project.context(&lake, &EngineOptions::default()).await?;
    let e = crate::extract::extract(
        &ctx,
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
