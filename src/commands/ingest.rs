//! `ordertrail ingest` and `ordertrail publish`: the real-time feed's two ends. The work is in
//! [`crate::ingest`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::args::{IngestArgs, PublishArgs};
use crate::error::{EXIT_OK, Error, Result};
use crate::ingest::publish::TableRows;
use crate::ingest::{self, IngestConfig};
use crate::lake::Lake;
use crate::sources::Sources;

use crate::project::default_path;

fn sources(path: Option<&PathBuf>) -> Result<Sources> {
    let path = path
        .cloned()
        .unwrap_or_else(|| default_path("sql/sources.sql"));
    Sources::load(&path)
}

pub async fn run(args: IngestArgs) -> Result<i32> {
    let config = IngestConfig::load(&args.config)?;
    let sources = sources(args.sources.as_ref())?;
    let lake = Lake::new(&args.lake);
    // SIGTERM and Ctrl-C finish the batch in progress (landed and acked), then stop.
    let stop = Arc::new(AtomicBool::new(false));
    for kind in [
        tokio::signal::unix::SignalKind::terminate(),
        tokio::signal::unix::SignalKind::interrupt(),
    ] {
        let stop = stop.clone();
        if let Ok(mut signal) = tokio::signal::unix::signal(kind) {
            tokio::spawn(async move {
                signal.recv().await;
                eprintln!("ordertrail: stopping after the batch in progress");
                stop.store(true, Ordering::Relaxed);
            });
        }
    }
    eprintln!(
        "ingest: {} into {}",
        config.describe(),
        lake.root().display()
    );
    let s = ingest::run(&config, &lake, &sources, args.once, &stop).await?;
    println!(
        "landed {} rows in {} batches ({} already landed, {} quarantined) in {:.1} s, {:.0} rows/s",
        s.rows,
        s.batches,
        s.duplicates,
        s.quarantined,
        s.seconds,
        (s.rows + s.duplicates + s.quarantined) as f64 / s.seconds.max(1e-9)
    );
    if s.quarantined > 0 {
        println!(
            "quarantined messages (with their reason and bytes): {}",
            ingest::land::quarantine_dir(&lake, &config.name).display()
        );
    }
    Ok(EXIT_OK)
}

pub async fn publish(args: PublishArgs) -> Result<i32> {
    let config = IngestConfig::load(&args.config)?;
    let sources = sources(args.sources.as_ref())?;
    let mut tables = Vec::new();
    match (&args.fixtures, &args.lake, args.date) {
        (Some(dir), None, _) => {
            for table in &sources.tables {
                let path = dir.join(&table.db).join(format!("{}.csv", table.name));
                let batch = crate::fixtures::read_csv(&path, table)?;
                tables.push(TableRows {
                    table: table.clone(),
                    batches: vec![batch],
                });
            }
        }
        (None, Some(lake), Some(date)) => {
            let lake = Lake::new(lake);
            for table in &sources.tables {
                let dir = Lake::partition_dir(&lake.raw_table_dir(&table.db, &table.name), date);
                tables.push(TableRows {
                    table: table.clone(),
                    batches: ingest::land::read_partition(&dir, &table.schema())?,
                });
            }
        }
        _ => {
            return Err(Error::input_hint(
                "publish needs rows: --fixtures DIR, or --lake DIR --date D",
                "e.g. ordertrail publish --config feed.toml --fixtures data-fixtures",
            ));
        }
    }
    let started = std::time::Instant::now();
    let n = ingest::publish::publish(&config, &tables, args.repeat_every, args.rate).await?;
    println!(
        "published {n} messages to {} in {:.1} s",
        config.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_OK)
}
