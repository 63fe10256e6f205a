//! The scheduler (issue #6): with a controllable clock it runs the expected ticks in order,
//! caps concurrency, starts critical work first, and catches up after an outage; on the
//! fixture lake the intraday and nightly jobs produce the whole-day bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDateTime;
use ordertrail::error::Result;
use ordertrail::schedule::executor::PipelineExecutor;
use ordertrail::schedule::{self, Executor, History, Job, ManualClock, ScheduleConfig, Until};

use crate::common::*;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn config(dir: &Path, text: &str) -> ScheduleConfig {
    let path = dir.join("schedule.toml");
    std::fs::write(&path, text).unwrap();
    ScheduleConfig::load(&path).unwrap()
}

/// Records what ran, and how many jobs ran at once.
#[derive(Default)]
struct Recorder {
    ran: Mutex<Vec<(String, String)>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Executor for Recorder {
    async fn execute(&self, job: &Job, tick: NaiveDateTime) -> Result<String> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.ran
            .lock()
            .unwrap()
            .push((job.name.clone(), tick.format("%m-%d %H:%M").to_string()));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(format!("{} at {tick}", job.name))
    }
}

const JOBS: &str = r#"
[scheduler]
lake = "lake"
max_concurrent = MAX

[[job]]
name = "intraday"
kind = "window"
cron = "0,30 9-23 * * *"
priority = 1

[[job]]
name = "nightly"
kind = "day"
cron = "0 2 * * *"
"#;

#[tokio::test]
async fn ticks_run_in_order_and_missed_ones_are_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &JOBS.replace("MAX", "2"));
    let rec = Recorder::default();
    let clock = ManualClock::new(t("2026-11-19 08:55"));

    schedule::run(&config, &clock, &rec, Until::Time(t("2026-11-19 10:30")))
        .await
        .unwrap();
    let ticks = |rec: &Recorder| {
        rec.ran
            .lock()
            .unwrap()
            .iter()
            .map(|(j, t)| format!("{j} {t}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ticks(&rec),
        [
            "intraday 11-19 09:00",
            "intraday 11-19 09:30",
            "intraday 11-19 10:00",
            "intraday 11-19 10:30"
        ]
    );

    // The scheduler is down from 10:30 until 12:10; a new one catches up first, oldest first.
    rec.ran.lock().unwrap().clear();
    clock.set(t("2026-11-19 12:10"));
    let entries = schedule::run(&config, &clock, &rec, Until::Time(t("2026-11-19 13:00")))
        .await
        .unwrap();
    assert_eq!(
        ticks(&rec),
        [
            "intraday 11-19 11:00",
            "intraday 11-19 11:30",
            "intraday 11-19 12:00",
            "intraday 11-19 12:30",
            "intraday 11-19 13:00"
        ]
    );
    let caught_up: Vec<bool> = entries.iter().map(|e| e.catch_up).collect();
    assert_eq!(caught_up, [true, true, true, false, false]);

    // Through midnight: the last window, then the nightly batch at 02:00, then nothing until 09:00.
    rec.ran.lock().unwrap().clear();
    clock.set(t("2026-11-19 23:10"));
    schedule::run(&config, &clock, &rec, Until::Time(t("2026-11-20 08:59")))
        .await
        .unwrap();
    let ran = ticks(&rec);
    assert_eq!(
        ran.first().map(String::as_str),
        Some("intraday 11-19 13:30"),
        "catch-up from 13:30"
    );
    assert_eq!(
        ran.iter().filter(|r| r.starts_with("intraday")).count(),
        21,
        "13:30..23:30"
    );
    assert_eq!(ran.last().map(String::as_str), Some("nightly 11-20 02:00"));

    // The history is persistent and complete: every tick once.
    let history = History {
        path: config.history_path(),
    }
    .read()
    .unwrap();
    let mut per_tick = BTreeMap::new();
    for e in &history {
        *per_tick.entry((e.job.clone(), e.tick.clone())).or_insert(0) += 1;
    }
    assert_eq!(per_tick.len(), 4 + 5 + 22);
    assert!(per_tick.values().all(|n| *n == 1), "no tick ran twice");
}

#[tokio::test]
async fn concurrency_is_capped_and_priority_decides_who_starts() {
    let dir = tempfile::tempdir().unwrap();
    // Both jobs are due at 02:00 on a window boundary... make them both every 30 minutes.
    let text = JOBS
        .replace("MAX", "1")
        .replace("cron = \"0 2 * * *\"", "every = \"30m\"")
        .replace("cron = \"0,30 9-23 * * *\"", "every = \"30m\"");
    let config = config(dir.path(), &text);
    let rec = Recorder::default();
    let clock = ManualClock::new(t("2026-11-19 09:59"));
    schedule::run(&config, &clock, &rec, Until::Time(t("2026-11-19 11:00")))
        .await
        .unwrap();
    assert_eq!(
        rec.max_running.load(Ordering::SeqCst),
        1,
        "max_concurrent = 1 holds"
    );
    let ran = rec.ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 6);
    for pair in ran.chunks(2) {
        assert_eq!(pair[0].1, pair[1].1, "ticks in order");
        assert_eq!(
            pair[0].0, "intraday",
            "the higher-priority job starts first"
        );
    }

    let config = config_with_max(dir.path(), &text, 2);
    let rec = Recorder::default();
    let clock = ManualClock::new(t("2026-11-19 09:59"));
    schedule::run(&config, &clock, &rec, Until::Time(t("2026-11-19 10:00")))
        .await
        .unwrap();
    assert_eq!(
        rec.max_running.load(Ordering::SeqCst),
        2,
        "two jobs may run at once"
    );
}

fn config_with_max(dir: &Path, text: &str, max: usize) -> ScheduleConfig {
    let sub = dir.join(format!("max{max}"));
    std::fs::create_dir_all(&sub).unwrap();
    config(
        &sub,
        &text.replace("max_concurrent = 1", &format!("max_concurrent = {max}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intraday_and_nightly_jobs_on_the_fixture_day() {
    // The reference: one whole-day run.
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = fixture_lake(whole_dir.path());
    run_dates(&whole, &sql_dir(), &[date("2026-11-19")]).await;

    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let config = config(
        dir.path(),
        r#"
[scheduler]
lake = "lake"

[[job]]
name = "intraday"
kind = "window"
cron = "0,30 13-23 * * *"

[[job]]
name = "nightly"
kind = "day"
cron = "0 2,6 * * *"
reports = [
    { destination = "daily_summary", priority = 3 },
    { destination = "finra_cat", priority = 1 },
]
"#,
    );
    let project = project();
    let executor = PipelineExecutor {
        project: &project,
        config: &config,
        options: small_engine(),
    };
    let clock = ManualClock::new(t("2026-11-19 12:59"));
    schedule::run(
        &config,
        &clock,
        &executor,
        Until::Time(t("2026-11-19 14:00")),
    )
    .await
    .unwrap();
    // Down from 14:00 to 15:40, then on until 16:00.
    clock.set(t("2026-11-19 15:40"));
    let entries = schedule::run(
        &config,
        &clock,
        &executor,
        Until::Time(t("2026-11-19 16:00")),
    )
    .await
    .unwrap();
    let ticks: Vec<_> = entries
        .iter()
        .map(|e| (e.tick[11..16].to_string(), e.catch_up, e.ok))
        .collect();
    assert_eq!(
        ticks,
        [
            ("14:30".into(), true, true),
            ("15:00".into(), true, true),
            ("15:30".into(), true, true),
            ("16:00".into(), false, true)
        ]
    );
    // The windows were processed in order, each once, up to 16:00.
    let state = ordertrail::intervals::state::StateDir::new(&lake, "v1", date("2026-11-19"));
    let log = state.read_log().unwrap();
    let stg: Vec<_> = log
        .iter()
        .filter(|e| e.stage == "stg_fix_msg")
        .map(|e| e.start.clone())
        .collect();
    let mut sorted = stg.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(stg, sorted, "in order, once each");
    assert!(stg.last().unwrap().ends_with("15:30:00"), "{stg:?}");

    // At 02:00 UTC the evening of 11-19 Eastern Time is not over: CAT files would miss it.
    clock.set(t("2026-11-20 01:59"));
    let entries = schedule::run(
        &config,
        &clock,
        &executor,
        Until::Time(t("2026-11-20 02:00")),
    )
    .await
    .unwrap();
    let early = entries
        .iter()
        .find(|e| e.job == "nightly")
        .expect("nightly ran");
    assert!(
        !early.ok && early.detail.contains("midnight Eastern Time"),
        "{}",
        early.detail
    );
    assert!(!config.reports.join("2026-11-19").join("finra_cat").exists());

    // At 06:00 the nightly job finishes the day, checks it and writes the reports, CAT first.
    clock.set(t("2026-11-20 05:59"));
    let entries = schedule::run(
        &config,
        &clock,
        &executor,
        Until::Time(t("2026-11-20 06:00")),
    )
    .await
    .unwrap();
    let nightly = entries
        .iter()
        .find(|e| e.job == "nightly")
        .expect("nightly ran");
    assert!(nightly.ok, "{}", nightly.detail);
    let cat = nightly.detail.find("finra_cat written").unwrap();
    let summary = nightly.detail.find("daily_summary written").unwrap();
    assert!(cat < summary, "critical report first: {}", nightly.detail);
    assert!(nightly.detail.contains("checks passed"));

    for stage in [
        "stg_fix_msg",
        "lifecycle",
        "cat_order_events",
        "daily_summary",
    ] {
        let a = stage_bytes(&whole, stage, date("2026-11-19"));
        let b = stage_bytes(&lake, stage, date("2026-11-19"));
        assert!(
            a == b,
            "{stage}: scheduled windows + nightly equal the whole-day run: {}",
            differing_files(&a, &b)
        );
    }
    // The nightly's CAT files are those `run` of both dates and `report` write: the evening
    // of 11-19 Eastern Time is in trade date 11-20, which the nightly processed that far.
    assert!(
        nightly.detail.contains("2026-11-20 up to 05:00"),
        "{}",
        nightly.detail
    );
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = fixture_lake(reference_dir.path());
    let ctx = project.context(&reference, &small_engine()).await.unwrap();
    for d in ["2026-11-19", "2026-11-20"] {
        let req = ordertrail::intervals::RangeRequest::day(date(d));
        ordertrail::intervals::run_range(&ctx, &reference, &project.intervals().unwrap(), &req)
            .await
            .unwrap();
    }
    let out = reference_dir.path().join("reports");
    ordertrail::day::write_reports(&ctx, &project, &reference, date("2026-11-19"), &out)
        .await
        .unwrap();
    let cat = |root: &Path| files_below(&root.join("2026-11-19").join("finra_cat"));
    let (a, b) = (cat(&out), cat(&config.reports));
    assert!(!a.is_empty());
    assert!(a == b, "nightly CAT files: {}", differing_files(&a, &b));
}

/// A nightly job fed by the real-time feed: CAT files of 11-19 need 11-20 up to midnight
/// Eastern Time (05:00 UTC); with the feed landed only up to 03:00 the job fails, naming both,
/// and writes no CAT file (the next tick retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_waits_for_the_feed_to_land_the_evening_of_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let mut state = ordertrail::ingest::FeedState {
        feed: "main".into(),
        caught_up_at: Some(chrono::DateTime::from_naive_utc_and_offset(
            t("2026-11-20 03:00"),
            chrono::Utc,
        )),
        ..Default::default()
    };
    state.closed_dates.insert(date("2026-11-19"));
    let path = ordertrail::ingest::FeedState::path(&lake, "main");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
    let config = config(
        dir.path(),
        r#"
[scheduler]
lake = "lake"

[[job]]
name = "nightly"
kind = "day"
cron = "0 6 * * *"
feed = "main"
checks = false
reports = [{ destination = "finra_cat", priority = 1 }]
"#,
    );
    let project = project();
    let executor = PipelineExecutor {
        project: &project,
        config: &config,
        options: small_engine(),
    };
    let clock = ManualClock::new(t("2026-11-20 05:59"));
    let entries = schedule::run(
        &config,
        &clock,
        &executor,
        Until::Time(t("2026-11-20 06:00")),
    )
    .await
    .unwrap();
    let nightly = entries.iter().find(|e| e.job == "nightly").expect("ran");
    assert!(!nightly.ok, "{}", nightly.detail);
    assert!(
        nightly
            .detail
            .contains("feed main has landed up to 2026-11-20 03:00")
            && nightly.detail.contains("2026-11-20 05:00:00 UTC"),
        "{}",
        nightly.detail
    );
    assert!(!config.reports.join("2026-11-19").join("finra_cat").exists());
}
