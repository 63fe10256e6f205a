//! `ordertrail stages`: the stage DAG as derived from the SQL.

use crate::args::StagesArgs;
use crate::error::{EXIT_OK, Result};

pub fn run(args: StagesArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let graph = &project.graph;
    println!(
        "{} stages in {} (dependency order; [b]: runs once per bucket; bucket_by: written in \
         bucket partitions of that column)",
        graph.stages.len(),
        graph.dir.display()
    );
    for (i, stage) in graph.stages.iter().enumerate() {
        let mut reads: Vec<String> = stage.deps.clone();
        reads.extend(stage.sources.iter().cloned());
        reads.extend(stage.config.iter().cloned());
        let split = match &stage.bucket_by {
            Some(col) => format!("  bucket_by: {col}"),
            None => String::new(),
        };
        println!(
            "{:>3}. {:<24} {:<40} reads: {}{split}",
            i + 1,
            stage.name,
            format!(
                "{}{}",
                stage.rel_path,
                if stage.bucketed { " [b]" } else { "" }
            ),
            if reads.is_empty() {
                "-".to_string()
            } else {
                reads.join(", ")
            }
        );
    }
    let checks = crate::checks::load(&graph.dir.join("checks"))?;
    println!(
        "\n{} checks in {} (run after the stages)",
        checks.len(),
        graph.dir.join("checks").display(),
    );
    for check in &checks {
        println!(
            "     {:<24} {:<40} reads: {}",
            check.name,
            format!(
                "checks/{}.sql{}",
                check.name,
                if check.bucketed { " [b]" } else { "" }
            ),
            check.reads.join(", ")
        );
    }
    Ok(EXIT_OK)
}
