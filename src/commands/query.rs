//! `ordertrail query`: run ad-hoc SQL over a lake, with the UDFs and tables stages see.
//! For analysts exploring data and engineers reproducing a problem.

use arrow::util::pretty::pretty_format_batches;

use crate::args::QueryArgs;
use crate::error::{EXIT_OK, Result};
use crate::lake::Lake;
use crate::pipeline;
use crate::stages;

use super::engine_options;

pub async fn run(args: QueryArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    let options = engine_options(&args.engine);
    let ctx = project.context(&lake, &options).await?;
    // A stage's text pasted as the query (`explain analyze` after its header comment) is
    // planned as the runner plans it.
    let as_written =
        stages::header_value(&args.query, "join_order:").as_deref() == Some("as_written");
    crate::engine::set_joins_as_written(&ctx, as_written);
    let mut df = ctx.sql(&args.query).await?;
    if let Some(date) = args.date {
        df = df.with_param_values(pipeline::stage_params(date))?;
    }
    // From a cluster, rows come back in the query's `order by` only once sorted here.
    let ordering = crate::engine::query_ordering(&ctx, &df)?;
    let batches: Vec<_> = futures::TryStreamExt::try_collect(
        crate::engine::execute_in_order(&ctx, df, ordering.as_ref()).await?,
    )
    .await?;
    println!("{}", pretty_format_batches(&batches)?);
    Ok(EXIT_OK)
}
