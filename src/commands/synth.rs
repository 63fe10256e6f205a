//! `ordertrail gen`: write a synthetic raw trading day into a lake (see [`crate::synth`]).

use std::time::Instant;

use crate::args::GenArgs;
use crate::error::{EXIT_OK, Result};
use crate::lake::Lake;
use crate::synth::{self, GenOptions};

pub fn run(args: GenArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    lake.ensure_writable()?;
    let opts = GenOptions {
        orders: args.orders,
        date: args.date,
        days: args.days,
        seed: args.seed,
    };
    let started = Instant::now();
    let summary = synth::generate(&lake, &project.sources, &opts)?;
    for (date, tables) in &summary.days {
        for (table, written) in tables {
            println!(
                "{table:<24} {date} {:>10} rows {:>12} bytes",
                written.rows, written.bytes
            );
        }
    }
    eprintln!(
        "generated {} orders a date for {} date(s) from {} (seed {}) in {:.1} s",
        opts.orders,
        opts.days,
        opts.date,
        opts.seed,
        started.elapsed().as_secs_f64()
    );
    if let Some(peak) = peak_rss() {
        eprintln!("peak memory (VmHWM): {peak}");
    }
    Ok(EXIT_OK)
}

/// The process's peak resident set size as the kernel reports it (Linux only).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().to_string())
}
