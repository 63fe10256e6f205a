//! The SQL unit tests under sql/v1/tests/ (`ordertrail test`): every case passes, and a case
//! whose expectation is wrong fails with the differing cells marked.

use std::process::Command;

use crate::common::{copy_dir, repo, sql_dir};

#[tokio::test]
async fn every_sql_unit_test_passes() {
    let project = crate::common::project();
    let cases = ordertrail::sqltest::discover(&sql_dir(), &[]).unwrap();
    assert!(cases.len() >= 3, "{} cases", cases.len());
    let suite =
        ordertrail::sqltest::Suite::new(&project.graph, &project.sources, &project.config).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = suite
            .run(case)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        if let Some(diff) = outcome.failure {
            failures.push(format!("{}\n{diff}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_expectation_fails_with_the_cell_marked() {
    // A copy of the SQL version with one expectation changed.
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("v1");
    copy_dir(&sql_dir(), &sql);
    std::fs::copy(
        repo().join("sql/sources.sql"),
        dir.path().join("sources.sql"),
    )
    .unwrap();
    let case = sql.join("tests/lifecycle/status_precedence.toml");
    let text = std::fs::read_to_string(&case).unwrap();
    std::fs::write(
        &case,
        text.replace("status_name = \"HOLD_BY_RMS\"", "status_name = \"NORMAL\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ordertrail"))
        .args(["test", "--stage", "lifecycle", "--sql"])
        .arg(&sql)
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  lifecycle/status_precedence"),
        "{stdout}"
    );
    assert!(stdout.contains("| 4      | NORMAL*"), "{stdout}");
    assert!(stdout.contains("| 4      | HOLD_BY_RMS*"), "{stdout}");
    assert!(stdout.contains("2 cases: 1 passed, 1 failed"), "{stdout}");
}
