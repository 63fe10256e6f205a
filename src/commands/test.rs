//! `ordertrail test`: the SQL unit tests of the project (see `sqltest`).

use crate::args::TestArgs;
use crate::error::{EXIT_CHECKS_FAILED, EXIT_OK, Error, Result};
use crate::sqltest::{Suite, discover};

pub async fn run(args: TestArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let cases = discover(&project.graph.dir, &args.stages)?;
    if cases.is_empty() {
        return Err(Error::input_hint(
            format!(
                "no test cases under {}{}",
                project.graph.dir.join("tests").display(),
                if args.stages.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", args.stages.join(", "))
                }
            ),
            "a case is <sql>/tests/<stage or check>/<case>.toml (see `ordertrail test --help`)",
        ));
    }
    let suite = Suite::new(&project.graph, &project.sources, &project.config)?;
    let mut failed = 0;
    for case in &cases {
        let outcome = suite.run(case).await?;
        match &outcome.failure {
            None => println!(
                "ok    {:<48} {:>5} ms  {}",
                outcome.case.name, outcome.millis, outcome.description
            ),
            Some(diff) => {
                failed += 1;
                println!(
                    "FAIL  {:<48} {:>5} ms  {}\n{diff}",
                    outcome.case.name, outcome.millis, outcome.description
                );
            }
        }
    }
    println!(
        "\n{} cases: {} passed, {failed} failed",
        cases.len(),
        cases.len() - failed
    );
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_CHECKS_FAILED
    })
}
