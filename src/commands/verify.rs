//! `ordertrail verify`: compare the lake's raw partitions for one trade date with the replicas
//! (row count and checksum per table, design 5.4). The work is in [`crate::sync::verify`].

use crate::args::VerifyArgs;
use crate::error::{EXIT_OK, Error, Result};
use crate::lake::Lake;
use crate::sync::{self, Replicas};

pub async fn run(args: VerifyArgs) -> Result<i32> {
    let (config, jobs) = super::sync::plan(&args.config, args.sources.as_deref(), &args.tables)?;
    let lake = Lake::new(&args.lake);
    let replicas = Replicas::new(&config)?;
    let results = sync::verify(&config, &replicas, &lake, &jobs, args.date).await;
    replicas.close().await;

    let mut problems = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        match result {
            Ok(v) if v.ok() => println!("{:<24} {}  ok ({})", v.table, v.window, v.replica),
            Ok(v) => {
                let lake = match v.lake {
                    Some(c) => c.to_string(),
                    None => "no partition".to_string(),
                };
                println!(
                    "{:<24} {}  MISMATCH (replica {}, lake {lake})",
                    v.table, v.window, v.replica
                );
                problems.push(format!(
                    "{} window {}: replica has {}, lake has {lake}",
                    v.table, v.window, v.replica
                ));
            }
            Err(e) => {
                println!("{:<24} {}  ERROR", job.name(), args.date);
                problems.push(e.to_string());
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::input_hint(
            format!(
                "verify {}: {} table(s) differ from the replica:\n  {}",
                args.date,
                problems.len(),
                problems.join("\n  ")
            ),
            format!(
                "run `ordertrail sync --date {}` for those tables to land them again",
                args.date
            ),
        ));
    }
    Ok(EXIT_OK)
}
