//! The stage DAG comes from the SQL: change what a file reads and the order changes.

use ordertrail::stages::StageGraph;

use crate::common::*;

fn order(graph: &StageGraph) -> Vec<String> {
    graph.stages.iter().map(|s| s.name.clone()).collect()
}

fn position(graph: &StageGraph, name: &str) -> usize {
    graph.stages.iter().position(|s| s.name == name).unwrap()
}

#[test]
fn dependencies_come_from_table_references() {
    let g = graph(&sql_dir());
    let lifecycle = g.get("lifecycle").unwrap();
    assert_eq!(
        lifecycle.deps,
        vec!["business_fill", "chain_activity", "event_status"]
    );
    assert_eq!(lifecycle.sources, vec!["oms.rms_event"]);
    for stage in &g.stages {
        for dep in &stage.deps {
            assert!(
                position(&g, dep) < position(&g, &stage.name),
                "{} before {dep}",
                stage.name
            );
        }
    }
    // CTE names are not tables.
    assert!(g.get("session_fill").unwrap().deps == vec!["chain_activity", "flow_complete"]);
}

#[test]
fn editing_a_reference_reorders_the_dag() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("v1");
    copy_dir(&sql_dir(), &sql);
    let before = graph(&sql);
    assert!(position(&before, "flow_quarantine") < position(&before, "flow_complete"));
    // Make flow_quarantine read lifecycle: it must now come after it.
    let path = sql.join("intermediate/flow_quarantine.sql");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "where parse_error is null",
        "where parse_error is null and src_id not in (select src_id from lifecycle)",
    );
    std::fs::write(&path, text).unwrap();
    let after = graph(&sql);
    assert!(position(&after, "flow_quarantine") > position(&after, "lifecycle"));
    assert_ne!(order(&before), order(&after));
}

#[test]
fn closure_runs_what_a_stage_needs() {
    let g = graph(&sql_dir());
    let names: Vec<String> = g
        .closure(&["flow_complete".to_string()])
        .unwrap()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        names,
        vec!["stg_fix_msg", "flow", "reject_refs", "flow_complete"]
    );
    let err = g.closure(&["nope".to_string()]).unwrap_err().to_string();
    assert!(err.contains("unknown stage nope"), "{err}");
}

#[test]
fn unknown_table_and_cycles_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("v1");
    std::fs::create_dir_all(&sql).unwrap();
    std::fs::write(sql.join("a.sql"), "select * from missing_table order by 1").unwrap();
    let err = StageGraph::load(&sql, &sources()).unwrap_err();
    assert!(
        err.to_string()
            .contains("a.sql: stage a reads unknown table missing_table"),
        "{err}"
    );

    std::fs::write(sql.join("a.sql"), "select * from b order by 1").unwrap();
    std::fs::write(sql.join("b.sql"), "select * from a order by 1").unwrap();
    let err = StageGraph::load(&sql, &sources()).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

#[test]
fn incremental_stages_declare_key_and_order_by_it() {
    let g = graph(&sql_dir());
    let incremental: Vec<_> = g
        .stages
        .iter()
        .filter(|s| s.is_incremental())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        incremental,
        [
            "stg_fix_msg",
            "flow",
            "flow_quarantine",
            "reject_refs",
            "flow_complete",
            "chain_activity",
            "session_fill",
            "business_fill",
            "lifecycle"
        ]
    );
    assert!(!g.get("cat_order_events").unwrap().is_incremental());

    // Ordering an incremental stage by anything but its key is refused, naming the file.
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("v1");
    copy_dir(&sql_dir(), &sql);
    let file = sql.join("intermediate/flow.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("order by gateway, src_id", "order by src_id"),
    )
    .unwrap();
    let err = StageGraph::load(&sql, &sources()).unwrap_err().to_string();
    assert!(
        err.contains("flow.sql") && err.contains("unique key (gateway, src_id)"),
        "{err}"
    );

    // A key without an event time is refused too.
    std::fs::write(&file, text.replace("-- event_time: create_time\n", "")).unwrap();
    let err = StageGraph::load(&sql, &sources()).unwrap_err().to_string();
    assert!(
        err.contains("both `-- unique_key:` and `-- event_time:`"),
        "{err}"
    );
}

#[test]
fn bucketed_stages_use_bucket_and_order_by_columns() {
    let g = graph(&sql_dir());
    let bucketed: Vec<_> = g
        .stages
        .iter()
        .filter(|s| s.bucketed)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        bucketed,
        [
            "flow_complete",
            "session_fill",
            "business_fill",
            "lifecycle",
            "order_events"
        ]
    );

    // Buckets are merged in the stage's order: it must be plain columns. A comment naming
    // $bucket does not make a stage bucketed.
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("v1");
    copy_dir(&sql_dir(), &sql);
    let file = sql.join("reports/bucket_probe.sql");
    std::fs::write(
        &file,
        "-- reads $bucket in a comment only\nselect chain_id from chain_activity order by lower(chain_id)",
    )
    .unwrap();
    let g = StageGraph::load(&sql, &sources()).unwrap();
    assert!(!g.get("bucket_probe").unwrap().bucketed);
    std::fs::write(
        &file,
        "select chain_id from chain_activity where bucket(chain_id, $buckets) = $bucket \
         order by lower(chain_id)",
    )
    .unwrap();
    let err = StageGraph::load(&sql, &sources()).unwrap_err().to_string();
    assert!(
        err.contains("bucket_probe.sql") && err.contains("uses $bucket"),
        "{err}"
    );
}
