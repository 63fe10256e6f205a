//! Correctness checks: the clean fixture day passes every check; the defect day
//! (data-fixtures/defects/) fails each check on exactly the rows planted for it; a dropped row
//! is caught by conservation; failures set the exit code and reach the report and the alert.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use ordertrail::checks::{self, Status};

use crate::common::*;

/// Failing keys per check.
fn failing_keys(results: Vec<checks::CheckResult>) -> BTreeMap<String, Vec<String>> {
    results.into_iter().map(|r| (r.check, r.keys)).collect()
}

/// Every check's result, after running the pipeline on `fixtures` for `dates` in a lake of
/// `buckets` buckets.
async fn results_in(
    dir: &Path,
    fixtures: &Path,
    sql: &Path,
    d: NaiveDate,
    dates: &[NaiveDate],
    recon: Option<&Path>,
    buckets: usize,
) -> (Vec<checks::CheckResult>, Vec<checks::Check>) {
    let lake = lake_from(dir, fixtures);
    let engine = ordertrail::engine::EngineOptions {
        buckets: Some(buckets),
        ..small_engine()
    };
    run_dates_with(&lake, sql, dates, &engine).await;
    let graph = graph(sql);
    let list = checks::load(&sql.join("checks")).unwrap();
    assert!(list.len() >= 18, "{} checks", list.len());
    let ctx = ordertrail::project::context_for(&lake, &sources(), &graph, &config(), &engine)
        .await
        .unwrap();
    ordertrail::engine::register_recon(&ctx, recon).unwrap();
    (checks::run(&ctx, &list, d).await.unwrap(), list)
}

/// Every check's result, after running the pipeline on `fixtures` for `dates` (in 3 buckets:
/// the bucketed checks run once per bucket).
async fn check_results(
    dir: &Path,
    fixtures: &Path,
    sql: &Path,
    d: NaiveDate,
    dates: &[NaiveDate],
    recon: Option<&Path>,
) -> Vec<checks::CheckResult> {
    let (results, list) = results_in(dir, fixtures, sql, d, dates, recon, 3).await;
    for r in &results {
        // status follows the count, the threshold and the severity
        let expected = if r.failing <= r.threshold {
            Status::Pass
        } else if r.severity == checks::Severity::Error {
            Status::Fail
        } else {
            Status::Warn
        };
        assert_eq!(r.status, expected, "{}", r.check);
        let check = list.iter().find(|c| c.name == r.check).unwrap();
        // Checks keyed by `bucket(key, ...)` alone run in fewer, larger buckets than the lake's.
        let keyed_only = ["conservation", "source_order_validity"].contains(&r.check.as_str());
        let runs = match (check.bucketed, keyed_only) {
            (false, _) => 1,
            (true, false) => 3,
            (true, true) => checks::key_runs(3),
        };
        assert_eq!(r.buckets, runs, "{}", r.check);
    }
    let bucketed: Vec<_> = list
        .iter()
        .filter(|c| c.bucketed)
        .map(|c| &c.name)
        .collect();
    assert_eq!(
        bucketed,
        [
            "conservation",
            "referential_integrity",
            "sequencing",
            "source_order_validity"
        ],
        "checks run in buckets"
    );
    results
}

/// A check run per bucket finds the same failing rows, in the same order, as in a lake of one
/// bucket (on the defect day, where most checks fail): in a lake of 3 buckets, where the checks
/// keyed by `bucket(key, ...)` alone run in 2 of their own.
#[tokio::test]
async fn checks_in_three_buckets_find_what_one_bucket_finds() {
    let fixtures = repo().join("data-fixtures/defects");
    let d = date("2026-11-18");
    let recon = fixtures.join("recon.csv");
    let one = tempfile::tempdir().unwrap();
    let (a, _) = results_in(one.path(), &fixtures, &sql_dir(), d, &[d], Some(&recon), 1).await;
    assert!(
        a.iter().filter(|r| r.failing > 0).count() >= 10,
        "the defect day fails checks"
    );
    for buckets in [3] {
        let dir = tempfile::tempdir().unwrap();
        let (b, _) = results_in(
            dir.path(),
            &fixtures,
            &sql_dir(),
            d,
            &[d],
            Some(&recon),
            buckets,
        )
        .await;
        let runs: Vec<usize> = b.iter().map(|r| r.buckets).collect();
        assert!(
            runs.contains(&checks::key_runs(buckets)) && runs.contains(&buckets),
            "in {buckets} buckets, checks ran in {runs:?}"
        );
        same_results(&a, &b, buckets);
    }
}

fn same_results(a: &[checks::CheckResult], b: &[checks::CheckResult], buckets: usize) {
    for (r, b) in a.iter().zip(b) {
        let strip = |r: &checks::CheckResult| {
            let mut v = serde_json::to_value(r).unwrap();
            for k in ["millis", "peak_rss_kib", "buckets"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(strip(r), strip(b), "{} in {buckets} buckets", r.check);
    }
}

#[tokio::test]
async fn clean_day_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let recon = repo().join("data-fixtures/recon/2026-11-19.csv");
    let dates = fixture_dates();
    let keys = failing_keys(
        check_results(
            dir.path(),
            &repo().join("data-fixtures"),
            &sql_dir(),
            dates[0],
            &dates,
            Some(&recon),
        )
        .await,
    );
    let failing: Vec<_> = keys.iter().filter(|(_, k)| !k.is_empty()).collect();
    assert!(failing.is_empty(), "clean day fails: {failing:#?}");
    // The overnight fill's day too.
    let dir = tempfile::tempdir().unwrap();
    let keys = failing_keys(
        check_results(
            dir.path(),
            &repo().join("data-fixtures"),
            &sql_dir(),
            dates[1],
            &dates,
            None,
        )
        .await,
    );
    let failing: Vec<_> = keys.iter().filter(|(_, k)| !k.is_empty()).collect();
    assert!(failing.is_empty(), "2026-11-20 fails: {failing:#?}");
}

/// Dropping a row in a stage is caught by conservation, and only the dropped row is named.
#[tokio::test]
async fn conservation_catches_a_dropped_row() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("sql/v1");
    copy_dir(&sql_dir(), &sql);
    let flow = sql.join("intermediate/flow.sql");
    let text = std::fs::read_to_string(&flow).unwrap();
    let broken = text.replace(
        "where msg_type is not null or parse_error is not null",
        "where (msg_type is not null or parse_error is not null)\n      and not (gateway = 'outbound' and src_id = 3)",
    );
    assert_ne!(text, broken);
    std::fs::write(&flow, broken).unwrap();
    let d = date("2026-11-19");
    let keys = failing_keys(
        check_results(
            dir.path(),
            &repo().join("data-fixtures"),
            &sql,
            d,
            &[d],
            None,
        )
        .await,
    );
    assert_eq!(keys["conservation"], ["outbound:3"]);
}

/// `run` on the clean day exits 0 and writes the results next to the lake.
#[test]
fn clean_run_exits_zero_with_results() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let root = lake.root().to_str().unwrap();
    let (code, stdout, stderr) = ordertrail(&["run", "--lake", root, "--date", "2026-11-19"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("checks for 2026-11-19: 19 passed, 0 failed"),
        "{stdout}"
    );
    let results = lake
        .root()
        .join("checks/v1/trade_date=2026-11-19/check_results.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(json["passed"], true);
    // Without the pipeline for a day, check refuses instead of passing on nothing.
    let (code, _, stderr) = ordertrail(&["check", "--lake", root, "--date", "2026-11-20"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no stage output for trade date 2026-11-20"),
        "{stderr}"
    );
    // --check runs the named checks only, and leaves the day's results as they were.
    let only = |names: &[&str]| {
        let mut args = vec!["check", "--lake", root, "--date", "2026-11-19"];
        for name in names {
            args.extend(["--check", *name]);
        }
        ordertrail(&args)
    };
    let before = std::fs::read(&results).unwrap();
    let (code, stdout, stderr) = only(&["sequencing", "overfill"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("checks for 2026-11-19: 2 passed, 0 failed, 0 warned\n  ok   overfill"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   sequencing"), "{stdout}");
    assert!(stdout.contains("not written"), "{stdout}");
    assert_eq!(std::fs::read(&results).unwrap(), before);
    let (code, _, stderr) = only(&["sequense"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no check named sequense") && stderr.contains("sequencing"),
        "{stderr}"
    );
}

/// The defect day: each check fails on exactly the keys planted for it
/// (data-fixtures/defects/README.md), and the checks with nothing planted pass.
#[tokio::test]
async fn defect_day_fails_each_check_on_exactly_its_planted_rows() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("data-fixtures/defects");
    let d = date("2026-11-18");
    let keys = failing_keys(
        check_results(
            dir.path(),
            &fixtures,
            &sql_dir(),
            d,
            &[d],
            Some(&fixtures.join("recon.csv")),
        )
        .await,
    );
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("anomalies", vec!["outbound:37", "outbound:40"]),
        ("bounce_limit", vec!["ORD-0045"]),
        ("conservation", vec![]),
        ("duplicates", vec!["E0039-2"]),
        ("fund_balance_arithmetic", vec!["30"]),
        ("fund_change_fields", vec!["29"]),
        ("fund_negative_balance", vec!["35"]),
        ("fund_pool_balance", vec!["TRF-0032"]),
        ("fund_running_balance", vec!["31"]),
        ("overfill", vec!["E0035-3", "E0036-1", "ORD-0034"]),
        ("referential_integrity", vec!["ORD-0999"]),
        ("reported_orders", vec![]),
        ("required_fields", vec!["C0031 1"]),
        ("sequencing", vec!["ORD-0032"]),
        ("source_order_validity", vec!["O0033-2", "O0999-1"]),
        ("state_transitions", vec!["ORD-0037", "ORD-0038"]),
        ("tick_lot_size", vec!["C0043-1"]),
        ("totals", vec!["turnover"]),
        ("trade_replay", vec!["E0044-2"]),
    ]);
    let actual: BTreeMap<&str, Vec<&str>> = keys
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(|s| s.as_str()).collect()))
        .collect();
    assert_eq!(actual, expected);
}

/// trade_replay's other two findings (the defect day plants a wrong amount): a fill whose
/// TRADE entry names another execution, and that entry without its fill; a TRADE entry with
/// no reference at all is reported under "(null)", not taken for a fill without an entry.
#[tokio::test]
async fn trade_replay_pairs_fills_and_entries_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    copy_dir(&repo().join("data-fixtures"), &fixtures);
    let ledger = fixtures.join("fund/ledger.csv");
    let text = std::fs::read_to_string(&ledger).unwrap();
    for reference in [",TRADE,E0002-3,", ",TRADE,E0002-4,"] {
        assert_eq!(
            text.matches(reference).count(),
            1,
            "{reference} in the fixture"
        );
    }
    let broken = text
        .replace(",TRADE,E0002-3,", ",TRADE,E9999-9,")
        .replace(",TRADE,E0002-4,", ",TRADE,,");
    std::fs::write(&ledger, broken).unwrap();
    let d = date("2026-11-19");
    let results = check_results(dir.path(), &fixtures, &sql_dir(), d, &[d], None).await;
    let result = results.iter().find(|r| r.check == "trade_replay").unwrap();
    let rows: Vec<(&str, &str)> = result
        .sample
        .iter()
        .map(|row| {
            (
                row["check_key"].as_str().unwrap(),
                row["problem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("(null)", "TRADE entry without a fill"),
            ("E0002-3", "fill has no TRADE entry in the ledger"),
            ("E0002-4", "fill has no TRADE entry in the ledger"),
            ("E9999-9", "TRADE entry without a fill"),
        ]
    );
}

/// An error-level failure: `check` exits 1, the report lists the failing keys, the alert
/// command receives the summary.
#[test]
fn failing_checks_exit_one_report_and_alert() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("data-fixtures/defects");
    let lake = lake_from(dir.path(), &fixtures);
    let root = lake.root().to_str().unwrap();
    let (code, _, stderr) =
        ordertrail(&["run", "--lake", root, "--date", "2026-11-18", "--no-checks"]);
    assert_eq!(code, Some(0), "{stderr}");

    let alert_file = dir.path().join("alert.txt");
    let config = dir.path().join("alert.toml");
    let text = std::fs::read_to_string(repo().join("config/ordertrail.toml")).unwrap();
    let text = text.replace(
        "# alert_command = \"...\"",
        &format!("alert_command = \"cat > '{}'\"", alert_file.display()),
    );
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("results");
    let recon = fixtures.join("recon.csv");
    let (code, stdout, stderr) = ordertrail(&[
        "check",
        "--lake",
        root,
        "--date",
        "2026-11-18",
        "--config",
        config.to_str().unwrap(),
        "--recon",
        recon.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAIL overfill"), "{stdout}");
    let report = std::fs::read_to_string(out.join("check_report.md")).unwrap();
    assert!(
        report.starts_with("# ordertrail checks, trade date 2026-11-18\n\n**Result: FAIL**"),
        "{report}"
    );
    assert!(
        report.contains("Failing keys: `E0035-3`, `E0036-1`, `ORD-0034`"),
        "{report}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("check_results.json")).unwrap())
            .unwrap();
    assert_eq!(json["passed"], false);
    let overfill = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "overfill")
        .unwrap();
    assert_eq!(overfill["status"], "fail");
    assert_eq!(overfill["failing"], 3);
    assert_eq!(overfill["sample"].as_array().unwrap().len(), 3);
    let alert = std::fs::read_to_string(&alert_file).unwrap();
    assert!(
        alert.starts_with("checks for 2026-11-18: 2 passed, 16 failed, 1 warned"),
        "{alert}"
    );
    // The alert links to the HTML report, which shows each failing check with its rows.
    let html_path = out.join("check_report.html");
    assert!(
        alert.contains(&format!("report: {}", html_path.display())),
        "{alert}"
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("id=\"check-overfill\""), "{html}");
    assert!(
        html.contains("<code class=\"failing-key\">ORD-0034</code>"),
        "{html}"
    );
}

/// An order that reached the street cannot vanish from the reports: a malformed client new
/// order (no MsgType) for an order that was then accepted, routed and filled fails the day's
/// checks instead of turning the order invalid without a word (issue: silent wrong answers).
#[tokio::test]
async fn a_routed_order_whose_client_message_is_malformed_fails_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    copy_dir(&repo().join("data-fixtures"), &fixtures);
    let messages = fixtures.join("inbound/fix_msg.csv");
    let text = std::fs::read_to_string(&messages).unwrap();
    let new_order = "|35=D|49=CLIENT1|56=BRKR|34=2|";
    let line = text
        .lines()
        .find(|l| l.contains("11=C0001-1|") && l.contains("|35=D|"))
        .expect("C0001's new order in the fixture");
    assert!(line.contains(new_order), "{line}");
    let broken = text.replace(line, &line.replace("|35=D|", "|"));
    std::fs::write(&messages, broken).unwrap();
    let d = date("2026-11-19");
    let results = check_results(dir.path(), &fixtures, &sql_dir(), d, &[d], None).await;
    let result = results
        .iter()
        .find(|r| r.check == "reported_orders")
        .unwrap();
    assert_eq!(result.status, Status::Fail);
    assert_eq!(result.keys, ["ORD-0001"], "{:?}", result.sample);
    let problem = result.sample[0]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with("executed upstream (O0001-1)"),
        "{problem}"
    );
}
