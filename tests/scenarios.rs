//! Each fixture scenario gets the event_status and reportable flag the design gives it
//! (data-fixtures/README.md lists the scenarios).

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use ordertrail::pipeline;

use crate::common::*;

/// (client request, event_status, reportable), one row per client request of the fixture day.
const EXPECTED: &[(&str, i64, bool)] = &[
    ("C0001-1", 0, true), // full fill
    ("C0002-1", 0, true), // partial fills
    ("C0003-1", 0, true), // cancel: the order
    ("C0003-2", 0, true), // cancel: the cancel request
    ("C0004-1", 0, true), // cancel-replace chain
    ("C0004-2", 0, true),
    ("C0004-3", 0, true),
    ("C0004-4", 0, true),
    ("C0005-1", 0, true),  // replace rejected: the order fills
    ("C0005-2", 3, true),  // the replace the upstream rejected (cxl_rej)
    ("C0006-1", 4, false), // session-level reject by inbound
    ("C0007-1", 4, false), // invalid inbound request
    ("C0008-1", 6, true),  // RMS reject
    ("C0009-1", 0, true),  // RMS hold then release
    ("C0010-1", 7, true),  // RMS hold, still held
    ("C0011-1", 1, false), // never routed to outbound
    ("C0012-1", 2, true),  // routed, no upstream response
    ("C0013-1", 3, true),  // upstream reject
    ("C0014-1", 0, true),  // reroute: the second route succeeded
    ("C0015-1", 0, true),  // multi-leg
    ("C0016-1", 0, true),  // fractional
    ("C0017-1", 0, true),  // overnight, across midnight
    ("C0018-1", 0, true),  // full fill ...
    ("C0018-2", 5, false), // ... then a cancel after the lifecycle ended
    ("C0020-1", 0, true),  // pre-market
    ("BROKEN", 4, false),  // malformed FIX from a client
];

async fn query(
    lake: &ordertrail::lake::Lake,
    d: &str,
    sql: &str,
) -> Vec<arrow::array::RecordBatch> {
    let graph = graph(&sql_dir());
    let ctx =
        ordertrail::project::context_for(lake, &sources(), &graph, &config(), &small_engine())
            .await
            .unwrap();
    ctx.sql(sql)
        .await
        .unwrap()
        .with_param_values(pipeline::stage_params(date(d)))
        .unwrap()
        .collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_client_request_gets_its_event_status() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    run_all(&lake, &sql_dir()).await;
    let batches = query(
        &lake,
        "2026-11-19",
        "select req_cl_ord_id, event_status, reportable from lifecycle \
         where trade_date = $trade_date and base_kind in ('in_new_req', 'in_req') \
         order by req_cl_ord_id",
    )
    .await;
    let mut actual = Vec::new();
    for b in &batches {
        let ids = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let ids = ids.as_string::<i32>();
        let status = b.column(1).as_primitive::<Int64Type>();
        let reportable = b.column(2).as_boolean();
        for i in 0..b.num_rows() {
            actual.push((
                ids.value(i).to_string(),
                status.value(i),
                reportable.value(i),
            ));
        }
    }
    let mut expected: Vec<(String, i64, bool)> = EXPECTED
        .iter()
        .map(|(id, s, r)| (id.to_string(), *s, *r))
        .collect();
    expected.sort();
    assert_eq!(actual, expected);
    // All eight statuses occur on the fixture day.
    let mut statuses: Vec<i64> = EXPECTED.iter().map(|e| e.1).collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(statuses, (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn special_business_fields() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    run_all(&lake, &sql_dir()).await;
    let one = |batches: Vec<arrow::array::RecordBatch>| {
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    };
    // Reroute: the first route is linked to its reroute, and the order is marked rerouted.
    let reroute = one(query(
        &lake,
        "2026-11-19",
        "select route_id, parent_route_id, first_route_id, is_reroute from lifecycle \
             where trade_date = $trade_date and order_id = 'ORD-0014' and direction = 'send' \
             and gateway = 'outbound' order by route_id",
    )
    .await);
    assert!(
        reroute.contains("| R0014-1  |                 | R0014-1        | false      |"),
        "{reroute}"
    );
    assert!(
        reroute.contains("| R0014-2  | R0014-1         | R0014-1        | true       |"),
        "{reroute}"
    );
    // Multi-leg: two legs routed separately; fractional quantity stays exact.
    let flags = one(
        query(
            &lake,
            "2026-11-19",
            "select order_id, bool_or(is_multi_leg) as multi_leg, max(leg_count) as legs, \
             bool_or(is_fractional) as fractional, min(order_qty) as qty, \
             min(trading_session) as session \
             from lifecycle where trade_date = $trade_date \
             and order_id in ('ORD-0015', 'ORD-0016', 'ORD-0020') group by order_id order by order_id",
        )
        .await,
    );
    assert!(
        flags.contains("| ORD-0015 | true      | 2    | false      |"),
        "{flags}"
    );
    assert!(
        flags.contains("| ORD-0016 | false     | 0    | true       | 0.500000 "),
        "{flags}"
    );
    assert!(flags.contains("PRE"), "{flags}");
    // Overnight: the fill on the next trade date is filled from the order of the day before.
    let overnight = one(query(
        &lake,
        "2026-11-20",
        "select gateway, account_num, root_cl_ord_id, carried_in, event_status from lifecycle \
             where trade_date = $trade_date order by gateway",
    )
    .await);
    assert!(
        overnight
            .contains("| inbound  | ACC-105     | C0017-1        | true       | 0            |"),
        "{overnight}"
    );
    assert!(
        overnight
            .contains("| outbound | ACC-105     | C0017-1        | true       | 0            |"),
        "{overnight}"
    );
}
