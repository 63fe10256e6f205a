//! `ordertrail diff` and `ordertrail test` on a deliberately changed rule: a copy of the SQL
//! as version v2 where risk management's HOLD no longer counts.

use crate::common::{copy_dir, ordertrail, repo, sql_dir};

#[test]
fn a_changed_rule_fails_its_unit_test_and_diff_names_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let p = |path: &std::path::Path| path.to_str().unwrap().to_string();
    let v2 = dir.path().join("sql/v2");
    copy_dir(&sql_dir(), &v2);
    std::fs::copy(
        repo().join("sql/sources.sql"),
        dir.path().join("sql/sources.sql"),
    )
    .unwrap();
    let rule = v2.join("intermediate/lifecycle.sql");
    let text = std::fs::read_to_string(&rule).unwrap();
    let changed = text.replace(
        "            when d.rms_action = 'HOLD' then 'HOLD_BY_RMS'\n",
        "",
    );
    assert_ne!(text, changed, "the rule is in lifecycle.sql");
    std::fs::write(&rule, changed).unwrap();

    // The unit test that states the rule fails, showing the cell.
    let (code, stdout, _) = ordertrail(&["test", "--stage", "lifecycle", "--sql", &p(&v2)]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("| HOLD_BY_RMS*"), "{stdout}");
    assert!(stdout.contains("| OUTBOUND_NOT_SEND_FIX_REQ*"), "{stdout}");

    // Both versions on one lake, each with its reports.
    let out = dir.path().join("demo");
    let (code, _, err) = ordertrail(&["-q", "demo", "--out", &p(&out)]);
    assert_eq!(code, Some(0), "{err}");
    let lake = p(&out.join("lake"));
    let config = ["--config", "data-fixtures/ordertrail.toml"];
    for date in ["2026-11-19", "2026-11-20"] {
        let mut args = vec!["-q", "run", "--lake", &lake, "--date", date, "--no-checks"];
        let sql = p(&v2);
        args.extend(["--sql", &sql]);
        args.extend(config);
        let (code, _, err) = ordertrail(&args);
        assert_eq!(code, Some(0), "{err}");
    }
    let reports_b = p(&dir.path().join("reports-v2"));
    let sql = p(&v2);
    let mut args = vec!["-q", "report", "--lake", &lake, "--date", "2026-11-19"];
    args.extend(["--sql", &sql, "--out", &reports_b]);
    args.extend(config);
    let (code, _, err) = ordertrail(&args);
    assert_eq!(code, Some(0), "{err}");

    let reports_a = p(&out.join("reports"));
    let mut args = vec!["diff", "--date", "2026-11-19", "--lake-a", &lake];
    args.extend([
        "--version-b",
        "v2",
        "--reports-a",
        &reports_a,
        "--reports-b",
        &reports_b,
    ]);
    args.extend(config);
    let (code, stdout, err) = ordertrail(&args);
    assert_eq!(code, Some(1), "{stdout}{err}");
    assert!(
        stdout.contains("DIFFERENT: 4 of 17 stages differ"),
        "{stdout}"
    );
    let line = |stage: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{stage} ")))
            .unwrap_or_else(|| panic!("no line for {stage}: {stdout}"))
            .to_string()
    };
    assert!(line("lifecycle").ends_with("DIFFERS"), "{stdout}");
    assert!(!line("business_fill").ends_with("DIFFERS"), "{stdout}");
    // The row that changed, keyed, with the columns that changed.
    assert!(
        stdout.contains("== lifecycle (key gateway, src_id): 0 only in A, 0 only in B, 1 changed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("status_name (A)=HOLD_BY_RMS status_name (B)=OUTBOUND_NOT_SEND_FIX_REQ")
    );
    // The order's reportable events are gone from CAT and OATS: those files differ.
    assert!(
        stdout.contains("only in A: _destination=finra_cat"),
        "{stdout}"
    );
    let differing: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with("DIFFERS") && l.contains('/'))
        .collect();
    assert!(
        differing.iter().any(|l| l.starts_with("finra_cat/")),
        "{stdout}"
    );
    assert!(
        differing.iter().any(|l| l.starts_with("partner_oats/")),
        "{stdout}"
    );
    assert!(
        !differing.iter().any(|l| l.starts_with("daily_summary/")),
        "{stdout}"
    );

    // A side against itself: the same, exit 0.
    let mut args = vec!["diff", "--date", "2026-11-19", "--lake-a", &lake];
    args.extend(["--reports-a", &reports_a, "--reports-b", &reports_a]);
    args.extend(config);
    let (code, stdout, _) = ordertrail(&args);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("SAME: 0 of 17 stages differ, 0 of 8 report files differ"),
        "{stdout}"
    );
}
