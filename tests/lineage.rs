//! `ordertrail lineage`: column lineage read off the logical plans.

use crate::common::ordertrail;

fn lineage(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["lineage"];
    all.extend(args);
    ordertrail(&all)
}

#[test]
fn a_column_is_traced_to_raw_columns_and_fix_tags_and_to_what_reads_it() {
    let (code, out, err) = lineage(&["stg_fix_msg.fix_msg_type"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(
            "from:     inbound.fix_msg.fix (FIX tag 35), outbound.fix_msg.fix (FIX tag 35)\n"
        ),
        "{out}"
    );
    assert!(out.contains("flow.msg_type"), "{out}");

    // Through three stages to the price tag; read by both regulators' reports.
    let (code, out, err) = lineage(&["order_events.price", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let col = &json[0];
    assert_eq!(col["column"], "order_events.price");
    assert_eq!(col["direct"][0]["table"], "lifecycle");
    let raw: Vec<String> = col["raw"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}.{} {}", s["table"], s["column"], s["fix_tag"]))
        .collect();
    assert_eq!(
        raw,
        [
            "\"inbound.fix_msg\".\"fix\" 44",
            "\"outbound.fix_msg\".\"fix\" 44"
        ],
        "{out}"
    );
    let read_by: Vec<&str> = col["read_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(read_by.contains(&"cat_order_events.price"), "{read_by:?}");
    assert!(read_by.contains(&"oats_order_events.price"), "{read_by:?}");

    // Checks read columns too: the symbol a request names is in tick_lot_size's problem text.
    let (code, out, _) = lineage(&["lifecycle.order_symbol"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("check:tick_lot_size.problem"), "{out}");
}

#[test]
fn lineage_draws_hops_as_dot_and_the_dag_as_svg_and_names_bad_targets() {
    let (code, out, _) = lineage(&["order_events.price", "--format", "dot"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("digraph lineage {"), "{out}");
    assert!(
        out.contains("\"lifecycle.price\" -> \"order_events.price\";"),
        "{out}"
    );
    assert!(
        out.contains("\"order_events.price\" -> \"cat_order_events.price\";"),
        "{out}"
    );

    let (code, svg, _) = lineage(&["--format", "svg"]);
    assert_eq!(code, Some(0));
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.contains("<style>"), "standalone");
    for stage in crate::common::graph(&crate::common::sql_dir()).stages {
        assert!(
            svg.contains(&format!("data-node=\"{}\"", stage.name)),
            "{}",
            stage.name
        );
    }

    let (code, _, err) = lineage(&["lifecycle.no_such_column"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("stage lifecycle has no column no_such_column"),
        "{err}"
    );
    assert!(err.contains("event_status"), "lists the columns: {err}");
}
