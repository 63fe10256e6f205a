//! `ordertrail extract`: an order's raw rows as a fixture directory; `load` + `run` on it give
//! the order's stage rows and report lines again, exactly.

use std::path::Path;

use crate::common::ordertrail;

const CONFIG: [&str; 2] = ["--config", "data-fixtures/ordertrail.toml"];

/// The order's rows of every chain stage and report stage of `date`, as printed.
fn order_rows(lake: &Path, date: &str, chain: &str) -> Vec<String> {
    let lake = lake.to_str().unwrap();
    let by_chain = |stage: &str| {
        format!(
            "select * exclude (bucket) from {stage} where chain_id = '{chain}' \
             and trade_date = '{date}' order by gateway, src_id"
        )
    };
    let report = |stage: &str| {
        format!(
            "select r.* from {stage} r join (select distinct gateway, src_id from order_events \
             where chain_id = '{chain}') o on r._gateway = o.gateway and r._src_id = o.src_id \
             where r.trade_date = '{date}' order by r._gateway, r._src_id, r._destination"
        )
    };
    let queries = [
        by_chain("flow_complete"),
        by_chain("session_fill"),
        by_chain("business_fill"),
        by_chain("lifecycle"),
        by_chain("order_events"),
        report("cat_order_events"),
        report("oats_order_events"),
    ];
    queries
        .iter()
        .map(|q| {
            let (code, out, err) = ordertrail(&["query", "--lake", lake, q]);
            assert_eq!(code, Some(0), "{q}: {err}");
            out
        })
        .collect()
}

/// The lines of the OATS file that name one of `ids`.
fn oats_lines(reports: &Path, date: &str, ids: &[&str]) -> Vec<String> {
    let dir = reports.join(date).join("partner_oats");
    let mut lines = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| ids.iter().any(|id| l.contains(id)))
                .map(String::from),
        );
    }
    lines
}

#[test]
fn an_extracted_order_reproduces_its_rows_and_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = |path: &Path| path.to_str().unwrap().to_string();
    let demo = dir.path().join("demo");
    let (code, _, err) = ordertrail(&["-q", "demo", "--out", &p(&demo)]);
    assert_eq!(code, Some(0), "{err}");
    let lake = demo.join("lake");

    // A replaced and canceled order, a multi-leg one, and one that began the day before.
    for (order, date, client_ids) in [
        ("ORD-0004", "2026-11-19", vec!["C0004-"]),
        ("ORD-0015", "2026-11-19", vec!["C0015-"]),
        ("ORD-0017", "2026-11-20", vec!["C0017-"]),
    ] {
        let fixtures = dir.path().join(format!("extract-{order}"));
        let mut args = vec!["-q", "extract", "--lake"];
        let (lake_s, out_s) = (p(&lake), p(&fixtures));
        args.extend([
            lake_s.as_str(),
            "--date",
            date,
            "--order",
            order,
            "--out",
            &out_s,
        ]);
        args.extend(CONFIG);
        let (code, stdout, err) = ordertrail(&args);
        assert_eq!(code, Some(0), "{order}: {err}");
        assert!(
            stdout.contains(&format!("order {order} (chain {order})")),
            "{stdout}"
        );
        let readme = std::fs::read_to_string(fixtures.join("README.md")).unwrap();
        assert!(
            readme.contains("ordertrail load --lake lake --fixtures THIS_DIR"),
            "{readme}"
        );

        let small = dir.path().join(format!("lake-{order}"));
        let small_s = p(&small);
        let mut args = vec![
            "-q",
            "load",
            "--lake",
            small_s.as_str(),
            "--fixtures",
            &out_s,
        ];
        args.extend(CONFIG);
        let (code, _, err) = ordertrail(&args);
        assert_eq!(code, Some(0), "{order}: {err}");
        let dates: Vec<&str> = if date == "2026-11-20" {
            vec!["2026-11-19", "2026-11-20"]
        } else {
            vec![date]
        };
        for d in &dates {
            let mut args = vec![
                "-q",
                "run",
                "--lake",
                small_s.as_str(),
                "--date",
                d,
                "--no-checks",
            ];
            args.extend(CONFIG);
            let (code, _, err) = ordertrail(&args);
            assert_eq!(code, Some(0), "{order} {d}: {err}");
        }
        let want = order_rows(&lake, date, order);
        let got = order_rows(&small, date, order);
        assert!(
            want[3].lines().count() > 4,
            "{order} has lifecycle rows: {}",
            want[3]
        );
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g, "{order}: the extracted order's rows differ");
        }
        // Its report lines (OATS is text): the same.
        let reports = dir.path().join(format!("reports-{order}"));
        let reports_s = p(&reports);
        let mut args = vec!["-q", "report", "--lake", small_s.as_str(), "--date", date];
        args.extend(["--out", reports_s.as_str(), "--force"]);
        args.extend(CONFIG);
        let (code, _, err) = ordertrail(&args);
        assert_eq!(code, Some(0), "{order}: {err}");
        let ids: Vec<&str> = client_ids.iter().map(|s| s.as_ref()).collect();
        let want = oats_lines(&demo.join("reports"), date, &ids);
        assert!(!want.is_empty(), "{order} has OATS lines");
        assert_eq!(
            want,
            oats_lines(&reports, date, &ids),
            "{order}: OATS lines"
        );
    }
    an_order_takes_only_its_own_rows(dir.path(), &lake);
}

#[test]
fn pseudonymised_accounts_are_replaced_everywhere_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let p = |path: &Path| path.to_str().unwrap().to_string();
    let lake = dir.path().join("lake");
    let mut args = vec!["-q", "load", "--lake"];
    let lake_s = p(&lake);
    args.push(&lake_s);
    args.extend(CONFIG);
    assert_eq!(ordertrail(&args).0, Some(0));
    let mut args = vec![
        "-q",
        "run",
        "--lake",
        &lake_s,
        "--date",
        "2026-11-19",
        "--no-checks",
    ];
    args.extend(CONFIG);
    assert_eq!(ordertrail(&args).0, Some(0));
    let out = dir.path().join("x");
    let out_s = p(&out);
    let mut args = vec!["-q", "extract", "--lake", &lake_s, "--date", "2026-11-19"];
    args.extend(["--order", "ORD-0004", "--out", &out_s, "--pseudonymise"]);
    args.extend(CONFIG);
    let (code, stdout, err) = ordertrail(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("account numbers pseudonymised"), "{stdout}");
    let orders = std::fs::read_to_string(out.join("oms/orders.csv")).unwrap();
    let fix = std::fs::read_to_string(out.join("inbound/fix_msg.csv")).unwrap();
    assert!(
        !orders.contains("ACC-103") && !fix.contains("ACC-103"),
        "{orders}\n{fix}"
    );
    let alias = orders
        .split(',')
        .find(|v| v.starts_with("ACCT-"))
        .expect("an alias in oms.orders")
        .to_string();
    assert!(
        fix.contains(&format!("|1={alias}|")),
        "the same alias in FIX tag 1: {fix}"
    );
    // Still a day the pipeline runs.
    let small = p(&dir.path().join("small"));
    let mut args = vec!["-q", "load", "--lake", &small, "--fixtures", &out_s];
    args.extend(CONFIG);
    assert_eq!(ordertrail(&args).0, Some(0));
    let mut args = vec![
        "-q",
        "run",
        "--lake",
        &small,
        "--date",
        "2026-11-19",
        "--no-checks",
    ];
    args.extend(CONFIG);
    let (code, _, err) = ordertrail(&args);
    assert_eq!(code, Some(0), "{err}");

    // A chain is never read from rows a run did not leave: a deleted partition is refused.
    std::fs::remove_dir_all(lake.join("stages/v1/flow_complete/trade_date=2026-11-19")).unwrap();
    let again = p(&dir.path().join("again"));
    let mut args = vec!["-q", "extract", "--lake", &lake_s, "--date", "2026-11-19"];
    args.extend(["--order", "ORD-0004", "--out", &again]);
    args.extend(CONFIG);
    let (code, _, err) = ordertrail(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("flow_complete of 2026-11-19"), "{err}");
    assert!(err.contains("is missing"), "{err}");
    assert!(!dir.path().join("again").exists(), "nothing written");
}

/// An order that never went upstream or executed takes no outbound message and no ledger row
/// with it (its kinds apply and match nothing), and the reference data whole.
fn an_order_takes_only_its_own_rows(dir: &Path, lake: &Path) {
    let p = |path: &Path| path.to_str().unwrap().to_string();
    let out = dir.join("extract-ORD-0008");
    let (lake_s, out_s) = (p(lake), p(&out));
    let mut args = vec!["-q", "extract", "--lake", &lake_s, "--date", "2026-11-19"];
    args.extend(["--order", "ORD-0008", "--out", &out_s]);
    args.extend(CONFIG);
    let (code, _, err) = ordertrail(&args);
    assert_eq!(code, Some(0), "{err}");
    let rows = |table: &str| {
        let text = std::fs::read_to_string(out.join(format!("{table}.csv"))).unwrap();
        text.lines().count() - 1
    };
    assert!(rows("inbound/fix_msg") >= 2, "its request and the reject");
    assert_eq!(rows("outbound/fix_msg"), 0, "rejected by RMS: nothing sent");
    assert_eq!(rows("fund/ledger"), 0, "no execution");
    assert!(rows("oms/rms_event") >= 1, "the RMS decision");
    assert!(rows("refdata/symbol") > 1, "reference data whole");
}
