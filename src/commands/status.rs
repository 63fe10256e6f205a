//! `ordertrail status`: a trade date's windows by stage, readable in a terminal.
//!
//! ```text
//! trade date 2026-11-19 in out/demo (sql v1): 8 of 14 stages done for the day
//!
//!  #  stage                kind         through   windows       rows      time  state
//!  1  stg_fix_msg          incremental  24:00     48/48          402    1.2 s  done
//!  7  lifecycle            incremental  09:30     19/48          310    0.9 s  stale from 09:30: intermediate/lifecycle.sql changed
//!
//! window        1 2 3 4 5 6 7 8       rows        ms
//! 09:00-09:30   ✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓        120       310
//! 09:30-10:00   ✓ ✓ ✓ ✓ ✓ ✓ ~ ~         96       290
//! ```

use std::collections::BTreeMap;

use crate::args::StatusArgs;
use crate::engine::EngineOptions;
use crate::error::{EXIT_OK, Result};
use crate::intervals::claim::read_claim;
use crate::intervals::judge::{JudgeCache, judge_day};
use crate::intervals::plan::Verdict;
use crate::intervals::state::{DayState, Record, StateDir, Status, parse_time};
use crate::lake::Lake;
use crate::window::Window;

pub async fn run(args: StatusArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    let graph = &project.graph;
    let dir = StateDir::new(&lake, &graph.version, args.date);
    let ctx = project.context(&lake, &EngineOptions::default()).await?;
    let ip = project.intervals()?;
    let judged = judge_day(&ctx, &lake, &ip, args.date, &mut JudgeCache::default()).await?;
    let (today, plans) = (&judged.today, &judged.plans);
    print!("{}", render(&args, graph, today, plans, &dir)?);
    for feed in crate::ingest::FeedState::load_all(&lake)? {
        println!("{}", feed_line(&feed, args.date, chrono::Utc::now()));
    }
    if args.log {
        println!("\nlog (every attempt):");
        for e in dir.read_log()? {
            println!(
                "  {}  {:<22} {}-{}  {:<8} {:>8} rows {:>8} ms  {}",
                e.at,
                e.stage,
                e.start.get(11..16).unwrap_or(&e.start),
                end_clock(&e.end),
                format!("{:?}", e.status).to_lowercase(),
                e.rows,
                e.elapsed_ms,
                e.owner
            );
        }
    }
    Ok(EXIT_OK)
}

fn fmt(t: chrono::NaiveDateTime) -> String {
    crate::intervals::state::fmt_time(t)
}

fn end_clock(end: &str) -> &str {
    // a window ending at the next midnight ends the day
    if end.ends_with("T00:00:00") {
        "24:00"
    } else {
        end.get(11..16).unwrap_or(end)
    }
}

fn render(
    args: &StatusArgs,
    graph: &crate::stages::StageGraph,
    today: &DayState,
    plans: &BTreeMap<String, crate::intervals::plan::StagePlan>,
    dir: &StateDir,
) -> Result<String> {
    use std::fmt::Write;
    let day = Window::day(args.date);
    let mut out = String::new();
    let done = plans.values().filter(|p| p.complete(args.date)).count();
    let _ = writeln!(
        out,
        "trade date {} in {} (sql {}): {done} of {} stages done for the day",
        args.date,
        args.lake.display(),
        graph.version,
        graph.stages.len()
    );
    let claim = read_claim(&dir.claim_path()).ok();
    if let Some((owner, age)) = &claim {
        let _ = writeln!(
            out,
            "claimed by {} (pid {} on {}) for {} to {}, last heartbeat {} s ago",
            owner.id,
            owner.pid,
            owner.host,
            owner.from,
            owner.to,
            age.as_secs()
        );
    }
    let _ = writeln!(
        out,
        "\n {:>2}  {:<22} {:<12} {:<8} {:>8} {:>10} {:>9}  state",
        "#", "stage", "kind", "through", "windows", "rows", "time"
    );
    for (i, stage) in graph.stages.iter().enumerate() {
        let records = today.records(&stage.name);
        let p = &plans[&stage.name];
        let fresh = p.verdicts.iter().filter(|v| **v == Verdict::Fresh).count();
        let rows: u64 = records.iter().map(|r| r.rows).sum();
        let ms: u64 = records.iter().map(|r| r.elapsed_ms).sum();
        let state = match p.verdicts.iter().position(|v| *v != Verdict::Fresh) {
            Some(at) => {
                let reason = match &p.verdicts[at] {
                    Verdict::Stale(r) => r.clone(),
                    Verdict::Fresh => String::new(),
                };
                let w = records[at].window()?;
                format!("stale from {}: {reason}", w.clock(w.start))
            }
            None if p.complete(args.date) => "done".into(),
            None if records.is_empty() => "not run".into(),
            None => "partial".into(),
        };
        let _ = writeln!(
            out,
            " {:>2}  {:<22} {:<12} {:<8} {:>8} {:>10} {:>7.1} s  {state}",
            i + 1,
            stage.name,
            if stage.is_incremental() {
                "incremental"
            } else {
                "day"
            },
            if p.valid_until > day.start {
                day.clock(p.valid_until)
            } else {
                "-".into()
            },
            format!("{fresh}/{}", records.len()),
            rows,
            ms as f64 / 1000.0,
        );
    }

    // Windows by stage: one column per stage number.
    // (start, end) -> stage number -> (record, fresh)
    type Cells<'r> = BTreeMap<usize, (&'r Record, bool)>;
    let mut windows: BTreeMap<(String, String), Cells> = BTreeMap::new();
    for (i, stage) in graph.stages.iter().enumerate() {
        let p = &plans[&stage.name];
        for (r, v) in today.records(&stage.name).iter().zip(&p.verdicts) {
            windows
                .entry((r.start.clone(), r.end.clone()))
                .or_default()
                .insert(i, (r, *v == Verdict::Fresh));
        }
    }
    // Windows a live claim covers that are not done yet: pending.
    let pending = claim
        .as_ref()
        .and_then(|(o, _)| {
            let from = parse_time(&o.from).ok()?;
            let to = parse_time(&o.to).ok()?;
            let step = chrono::Duration::minutes(o.step_minutes.max(1));
            Some(crate::window::grid(from, to, step))
        })
        .unwrap_or_default();
    for w in pending {
        let key = (fmt(w.start), fmt(w.end));
        windows.entry(key).or_default();
    }
    if windows.is_empty() {
        let _ = writeln!(out, "\nno windows processed yet");
        return Ok(out);
    }
    let cols: String = (1..=graph.stages.len())
        .map(|i| format!("{:>3}", i))
        .collect();
    let _ = writeln!(out, "\nwindow       {cols} {:>10} {:>9}", "rows", "ms");
    for ((start, end), cells) in &windows {
        let w = Window {
            start: parse_time(start).unwrap_or(day.start),
            end: parse_time(end).unwrap_or(day.end),
        };
        let marks: String = (0..graph.stages.len())
            .map(|i| {
                let m = match cells.get(&i) {
                    None if cells.is_empty() && graph.stages[i].is_incremental() => "·",
                    None => " ",
                    Some((r, fresh)) => match r.status {
                        Status::Done if *fresh => "✓",
                        Status::Done | Status::Stale => "~",
                        Status::Failed => "✗",
                        Status::Running => "…",
                    },
                };
                format!("{m:>3}")
            })
            .collect();
        let rows: u64 = cells.values().map(|(r, _)| r.rows).sum();
        let ms: u64 = cells.values().map(|(r, _)| r.elapsed_ms).sum();
        let _ = writeln!(out, "{:<12} {marks} {rows:>10} {ms:>9}", w.label());
    }
    let _ = writeln!(
        out,
        "\n✓ done  ~ stale  ✗ failed  … running (or left by a crashed run)  · pending"
    );
    for (r, stage) in graph
        .stages
        .iter()
        .flat_map(|s| today.records(&s.name).iter().map(move |r| (r, s)))
    {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "failed: {} {}-{}: {e}", stage.name, r.start, r.end);
        }
    }
    Ok(out)
}

/// One line per feed: what is pending and how far behind it is, and whether the date is
/// complete in the lake.
fn feed_line(
    feed: &crate::ingest::FeedState,
    date: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let lag = match feed.caught_up_at {
        Some(t) => format!(
            "caught up at {} ({} s ago)",
            t.format("%Y-%m-%d %H:%M:%S UTC"),
            (now - t).num_seconds().max(0)
        ),
        None => "never caught up".into(),
    };
    let day = if feed.closed_dates.contains(&date) {
        "closed (every table landed)"
    } else if feed.open_dates.contains(&date) {
        "open (rows may still come)"
    } else {
        "no rows from the feed"
    };
    format!(
        "\nfeed {} ({}): {} pending, {lag}; {} rows landed, {} repeats skipped, {} quarantined; {date}: {day}",
        feed.feed, feed.source, feed.pending, feed.rows, feed.duplicates, feed.quarantined
    )
}
