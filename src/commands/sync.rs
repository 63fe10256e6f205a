//! `ordertrail sync`: dump the configured replica tables' window for one trade date into the
//! lake, verify each against the replica, and print a summary. The work is in [`crate::sync`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, NaiveTime};

use crate::args::SyncArgs;
use crate::error::{EXIT_OK, Error, Result};
use crate::lake::Lake;
use crate::sync::{self, Progress, Replicas, SyncConfig, Window};

use crate::project::default_path;

/// Load the sync configuration and the source declarations (default `sql/sources.sql` in
/// the project), and plan the tables to sync or verify (shared by `sync` and `verify`).
pub fn plan(
    config: &std::path::Path,
    sources: Option<&std::path::Path>,
    tables: &[String],
) -> Result<(SyncConfig, Vec<sync::TableJob>)> {
    let sources = sources
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| default_path("sql/sources.sql"));
    sync::load_plan(config, &sources, tables)
}

pub async fn run(args: SyncArgs) -> Result<i32> {
    let (config, jobs) = plan(&args.config, args.sources.as_deref(), &args.tables)?;
    let window = window(&args)?;
    let lake = Lake::new(&args.lake);
    lake.ensure_writable()?;
    let replicas = Replicas::new(&config)?;

    let progress = Arc::new(Progress::default());
    let ticker = spawn_progress(progress.clone());
    let started = Instant::now();
    let results = sync::sync(&config, &replicas, &lake, &jobs, window, &progress).await;
    ticker.abort();
    replicas.close().await;

    println!(
        "{:<24} {:<12} {:>10} {:>12} {:>8} {:>8}  verified",
        "table", "window", "rows", "bytes", "seconds", "attempts"
    );
    let mut failed = Vec::new();
    for (job, result) in jobs.iter().zip(&results) {
        match result {
            Ok(s) => {
                let kept = if s.window.is_whole_day() {
                    String::new()
                } else {
                    format!(" ({} rows outside the window kept)", s.kept_rows)
                };
                println!(
                    "{:<24} {:<12} {:>10} {:>12} {:>8.2} {:>8}  ok{kept}",
                    s.table,
                    s.window.to_string(),
                    s.rows,
                    s.bytes,
                    s.seconds,
                    s.attempts
                )
            }
            Err(e) => {
                println!(
                    "{:<24} {:<12} {:>10} {:>12} {:>8} {:>8}  FAILED",
                    job.name(),
                    window.to_string(),
                    "-",
                    "-",
                    "-",
                    "-"
                );
                failed.push(e.to_string());
            }
        }
    }
    let rows: u64 = results.iter().flatten().map(|s| s.rows).sum();
    let bytes: u64 = results.iter().flatten().map(|s| s.bytes).sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "total: {} tables, {rows} rows, {bytes} bytes, {seconds:.2} s ({:.0} rows/s), {} failed",
        jobs.len(),
        rows as f64 / seconds.max(1e-9),
        failed.len()
    );
    if !failed.is_empty() {
        return Err(Error::input_hint(
            format!(
                "sync of {} table(s) failed; their partitions are unchanged:\n  {}",
                failed.len(),
                failed.join("\n  ")
            ),
            "fix the cause and run the same sync again: it replaces whole partitions, so reruns are safe",
        ));
    }
    Ok(EXIT_OK)
}

/// The window from `--date`, narrowed by `--from` / `--to` (times of day; `--to 24:00`).
fn window(args: &SyncArgs) -> Result<Window> {
    if args.from.is_none() && args.to.is_none() {
        return Ok(Window::day(args.date));
    }
    let day = Window::day(args.date);
    let parse = |s: &str, flag: &str| -> Result<NaiveDateTime> {
        if s == "24:00" || s == "24:00:00" {
            return Ok(day.to);
        }
        ["%H:%M:%S%.f", "%H:%M"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(s, f).ok())
            .map(|t| args.date.and_time(t))
            .ok_or_else(|| {
                Error::input_hint(
                    format!("{flag} {s}: not a time of day"),
                    "write HH:MM, HH:MM:SS or HH:MM:SS.ffffff (UTC); --to may be 24:00",
                )
            })
    };
    let from = match &args.from {
        Some(s) => parse(s, "--from")?,
        None => day.from,
    };
    let to = match &args.to {
        Some(s) => parse(s, "--to")?,
        None => day.to,
    };
    Window::within(args.date, from, to)
}

/// Progress (see `crate::progress`): tables done of all, rows so far.
fn spawn_progress(progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let shown = crate::progress::Progress::new("sync", 0, "tables");
        loop {
            shown.set_total(progress.tables_total.load(Ordering::Relaxed) as u64);
            shown.set_position(progress.tables_done.load(Ordering::Relaxed) as u64);
            shown.set_message(format!("{} rows", progress.rows.load(Ordering::Relaxed)));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}
