//! The whole pipeline on the fixture day: golden outputs, reruns, parameters, Parquet types.

use arrow::datatypes::DataType;

use crate::common::*;

/// Every stage's output on every fixture date matches its reviewed golden file.
#[tokio::test]
async fn stage_outputs_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    for (d, stage_runs) in &runs {
        for run in stage_runs {
            let actual = to_ndjson(&read_stage(&lake, &run.stage, *d));
            let golden = repo()
                .join("tests/golden/v1")
                .join(&run.stage)
                .join(format!("{d}.ndjson"));
            assert_golden(&golden, &actual);
        }
    }
}

/// Running the same day twice replaces partitions: identical bytes, no duplicated rows, and
/// nothing left in the staging area.
#[tokio::test]
async fn rerun_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let first = run_all(&lake, &sql_dir()).await;
    let snapshot = |lake: &ordertrail::lake::Lake| {
        first
            .iter()
            .flat_map(|(d, runs)| runs.iter().map(move |r| (r.stage.clone(), *d)))
            .map(|(s, d)| (s.clone(), d, stage_bytes(lake, &s, d)))
            .collect::<Vec<_>>()
    };
    let before = snapshot(&lake);
    let second = run_all(&lake, &sql_dir()).await;
    let after = snapshot(&lake);
    assert_eq!(before.len(), after.len());
    for ((stage, d, a), (_, _, b)) in before.iter().zip(&after) {
        assert!(a == b, "{stage} {d}: bytes differ between runs");
    }
    // The digest the writer computes as it writes is the partition's digest read back
    // (interval state compares the two).
    for (d, runs) in &second {
        for r in runs {
            let part = stage_part(&lake, &r.stage, *d);
            assert_eq!(
                r.sha256,
                ordertrail::intervals::fingerprint::partition_digest(&part).unwrap(),
                "{} {d}",
                r.stage
            );
        }
    }
    let rows = |runs: &Vec<(chrono::NaiveDate, Vec<ordertrail::pipeline::StageRun>)>| {
        runs.iter()
            .flat_map(|(_, r)| r.iter().map(|r| r.rows))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&first), rows(&second));
    let leftovers: Vec<_> = std::fs::read_dir(lake.root().join(".tmp"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "spill")
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging area not empty: {leftovers:?}"
    );
}

/// `$trade_date` is bound as a DATE value: each date's run sees only its own rows, and a stage
/// output partition holds exactly the messages created on that date.
#[tokio::test]
async fn trade_date_parameter_selects_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    for (d, _) in &runs {
        let batches = read_stage(&lake, "flow", *d);
        let json = to_ndjson(&batches);
        let prefix = format!("\"create_time\":\"{d}T");
        assert!(!json.is_empty());
        for line in json.lines() {
            assert!(line.contains(&prefix), "{d}: row from another date: {line}");
        }
    }
    // the parameter is a typed DATE value, not text pasted into SQL
    match ordertrail::pipeline::stage_params(date("2026-11-19")) {
        datafusion::common::ParamValues::Map(m) => {
            let v = &m.get("trade_date").expect("trade_date bound").value;
            assert_eq!(v.data_type(), DataType::Date32);
            assert_eq!(v.to_string(), "2026-11-19");
        }
        other => panic!("expected named parameters, got {other:?}"),
    }
}

/// Money and quantity columns are Decimal128 in every stage output, never floats.
#[tokio::test]
async fn money_columns_are_decimal() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    let money = [
        "price",
        "qty",
        "last_qty",
        "last_px",
        "cum_qty",
        "leaves_qty",
        "avg_px",
        "order_qty",
        "order_price",
    ];
    let mut checked = 0;
    for (d, stage_runs) in &runs {
        for run in stage_runs {
            let batches = read_stage(&lake, &run.stage, *d);
            let Some(batch) = batches.first() else {
                continue;
            };
            for field in batch.schema().fields() {
                assert!(
                    !matches!(field.data_type(), DataType::Float32 | DataType::Float64),
                    "{}.{} is a float",
                    run.stage,
                    field.name()
                );
                if money.contains(&field.name().as_str()) {
                    assert!(
                        matches!(field.data_type(), DataType::Decimal128(_, _)),
                        "{}.{} is {}",
                        run.stage,
                        field.name(),
                        field.data_type()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked > 20,
        "expected many money columns, checked {checked}"
    );
}

/// A malformed FIX message is kept with its parse error, not dropped and not a failed run.
#[tokio::test]
async fn malformed_fix_is_kept_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    run_all(&lake, &sql_dir()).await;
    let json = to_ndjson(&read_stage(&lake, "lifecycle", date("2026-11-19")));
    let broken: Vec<&str> = json
        .lines()
        .filter(|l| l.contains("\"parse_error\""))
        .collect();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("has no '='"), "{}", broken[0]);
    assert!(broken[0].contains("\"event_status\":4"), "{}", broken[0]);
}

/// Every source message ends up in flow or flow_quarantine.
#[tokio::test]
async fn every_message_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    for (d, stage_runs) in &runs {
        let rows = |name: &str| stage_runs.iter().find(|r| r.stage == name).unwrap().rows;
        assert_eq!(
            rows("stg_fix_msg"),
            rows("flow") + rows("flow_quarantine"),
            "{d}"
        );
        assert_eq!(rows("flow"), rows("lifecycle"), "{d}");
    }
}

/// The plans a stage falls back to when it runs out of memory (sort-merge joins, small
/// batches; see `engine::with_spilling_fallback`) write the same bytes as the default plans.
#[tokio::test]
async fn spilling_plans_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let fast = fixture_lake(&dir.path().join("fast"));
    let runs = run_all(&fast, &sql_dir()).await;

    let spilling = fixture_lake(&dir.path().join("spilling"));
    let (sources, graph) = (sources(), graph(&sql_dir()));
    let ctx =
        ordertrail::project::context_for(&spilling, &sources, &graph, &config(), &small_engine())
            .await
            .unwrap();
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        let options = state.config_mut().options_mut();
        options.optimizer.prefer_hash_join = false;
        options.execution.batch_size = "100".parse().unwrap();
    }
    for (d, _) in &runs {
        ordertrail::pipeline::run(&ctx, &spilling, &sources, &graph, *d, &[])
            .await
            .unwrap();
    }
    // The setting took: the lifecycle stage's joins are sort-merge joins.
    let lifecycle = graph.stages.iter().find(|s| s.name == "lifecycle").unwrap();
    let plan = plan_text(&ctx, &lifecycle.sql, runs[0].0).await;
    assert!(plan.contains("SortMergeJoin"), "{plan}");
    assert!(!plan.contains("HashJoinExec"), "{plan}");

    for (d, stage_runs) in &runs {
        for r in stage_runs {
            let a = stage_bytes(&fast, &r.stage, *d);
            let b = stage_bytes(&spilling, &r.stage, *d);
            assert!(
                a == b,
                "{} {d}: spilling plans wrote different bytes",
                r.stage
            );
        }
    }
}

/// The chain stages are written as bucket partitions and run per bucket: a lake of 3 buckets
/// holds the same rows as a lake of 1, every row is in the folder of its `bucket_by` value's
/// bucket, and the files are readable as hive partitions (`bucket` is a column). Checked on
/// the fixture days and on a generated day.
#[tokio::test]
async fn bucket_partitions_hold_the_rows_of_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let generated = |name: &str| {
        let lake = ordertrail::lake::Lake::new(dir.path().join(name));
        let opts = ordertrail::synth::GenOptions {
            orders: 1500,
            date: date("2026-11-19"),
            days: 1,
            seed: 3,
        };
        ordertrail::synth::generate(&lake, &sources(), &opts).unwrap();
        lake
    };
    let days = [
        (
            fixture_lake(&dir.path().join("fixtures-1")),
            fixture_lake(&dir.path().join("fixtures-3")),
            fixture_dates(),
        ),
        (
            generated("gen-1"),
            generated("gen-3"),
            vec![date("2026-11-19")],
        ),
    ];
    let with_buckets = |n| ordertrail::engine::EngineOptions {
        buckets: Some(n),
        ..small_engine()
    };
    let graph = graph(&sql_dir());
    for (one, three, dates) in &days {
        let a = run_dates_with(one, &sql_dir(), dates, &with_buckets(1)).await;
        let b = run_dates_with(three, &sql_dir(), dates, &with_buckets(3)).await;
        let mut per_bucket = std::collections::BTreeSet::new();
        for ((d, runs_a), (_, runs_b)) in a.iter().zip(&b) {
            for (ra, rb) in runs_a.iter().zip(runs_b) {
                assert_eq!(ra.buckets, 1, "{}", ra.stage);
                if rb.buckets == 3 {
                    per_bucket.insert(rb.stage.clone());
                }
                assert_eq!(ra.rows, rb.rows, "{} {d}", ra.stage);
                assert!(
                    to_ndjson(&read_stage(one, &ra.stage, *d))
                        == to_ndjson(&read_stage(three, &rb.stage, *d)),
                    "{} {d}: 3 buckets hold other rows than 1",
                    ra.stage
                );
                let stage = graph.get(&rb.stage).unwrap();
                let Some(key) = &stage.bucket_by else {
                    continue;
                };
                // Every file is in the bucket folder of its rows' key.
                let part = stage_part(three, &rb.stage, *d);
                for (rel, file) in ordertrail::lake::partition_files(&part).unwrap() {
                    let bucket = ordertrail::lake::bucket_of_path(&file)
                        .unwrap_or_else(|| panic!("{} {d}: {rel} is not in a bucket", rb.stage));
                    assert!(bucket < 3, "{rel}");
                    for batch in read_parquet(&file) {
                        let keys = batch.column_by_name(key).unwrap();
                        ordertrail::udf::bucket::for_each_bucket(keys, 3, |b| {
                            assert_eq!(b.unwrap_or(0) as usize, bucket, "{} {d} {rel}", rb.stage)
                        })
                        .unwrap();
                    }
                }
            }
        }
        let per_bucket: Vec<_> = per_bucket.into_iter().collect();
        assert_eq!(
            per_bucket,
            [
                "business_fill",
                "flow_complete",
                "lifecycle",
                "order_events",
                "session_fill"
            ],
            "stages run per bucket"
        );
        // Nothing is left of the runs aside.
        let left = walk_files(&three.root().join(".tmp"));
        assert!(left.is_empty(), "left in the lake's .tmp: {left:?}");
        // The lake records its count, and refuses another.
        let ctx = ordertrail::project::context_for(
            three,
            &sources(),
            &graph,
            &config(),
            &with_buckets(4),
        )
        .await;
        let err = ctx
            .err()
            .expect("a lake of 3 buckets opened as 4")
            .to_string();
        assert!(err.contains("written in 3 buckets, not 4"), "{err}");
    }
}

/// Every file under `dir`, at any depth.
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The physical plan of `sql` for `date`, as text.
async fn plan_text(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    date: chrono::NaiveDate,
) -> String {
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .with_param_values(ordertrail::pipeline::stage_params(date))
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(false)
        .to_string()
}

/// A stage whose joins are as written (`-- join_order: as_written`) collects each join's first
/// side and probes it with its records in their order: no hash repartition of the records, and
/// `session_fill`, which reads `flow_complete` in its output order, merges at the end instead
/// of sorting its records.
#[tokio::test]
async fn joins_as_written_probe_the_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    let (sources, graph) = (sources(), graph(&sql_dir()));
    let ctx = ordertrail::project::context_for(&lake, &sources, &graph, &config(), &small_engine())
        .await
        .unwrap();
    // business_fill reads its bucket of session_fill, one file written in its order (a chain
    // bucket of flow_complete holds one file per ClOrdID bucket, so session_fill sorts).
    let stage = graph.get("business_fill").unwrap();
    assert!(stage.join_order_as_written);
    // As if every input were big (the fixture day's are tiny; the engine's own choice would
    // collect them anyway).
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        let optimizer = &mut state.config_mut().options_mut().optimizer;
        optimizer.hash_join_single_partition_threshold = 0;
        optimizer.hash_join_single_partition_threshold_rows = 0;
    }
    let top_two = |plan: &str| {
        plan.lines()
            .take(2)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
    };

    ordertrail::engine::set_joins_as_written(&ctx, true);
    let plan = plan_text(&ctx, &stage.sql, runs[0].0).await;
    assert!(plan.contains("HashJoinExec: mode=CollectLeft"), "{plan}");
    assert!(!plan.contains("mode=Partitioned"), "{plan}");
    let top = top_two(&plan);
    assert!(
        top.starts_with("SortPreservingMergeExec") && !top.contains("SortExec"),
        "{plan}"
    );

    // The engine's own choice hash-repartitions the records and sorts them at the end.
    ordertrail::engine::set_joins_as_written(&ctx, false);
    let plan = plan_text(&ctx, &stage.sql, runs[0].0).await;
    assert!(plan.contains("mode=Partitioned"), "{plan}");
    assert!(top_two(&plan).contains("SortExec"), "{plan}");
}

/// Stage files are written in their `ORDER BY` and the engine is told: a stage that reads
/// another in that order (`flow` reads `stg_fix_msg` by gateway, src_id) merges instead of
/// sorting the whole day.
#[tokio::test]
async fn reading_a_stage_in_its_order_does_not_sort() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let runs = run_all(&lake, &sql_dir()).await;
    let (sources, graph) = (sources(), graph(&sql_dir()));
    let ctx = ordertrail::project::context_for(&lake, &sources, &graph, &config(), &small_engine())
        .await
        .unwrap();
    let date = runs[0].0;
    let flow = graph.stages.iter().find(|s| s.name == "flow").unwrap();
    assert_eq!(
        flow.output_order.as_deref(),
        Some(&["gateway".to_string(), "src_id".to_string()][..])
    );
    let plan = plan_text(&ctx, &flow.sql, date).await;
    assert!(!plan.contains("SortExec"), "{plan}");
    // Another order still sorts.
    let plan = plan_text(&ctx, "select * from flow order by create_time", date).await;
    assert!(plan.contains("SortExec"), "{plan}");

    // The order comes from the files, not from today's SQL: after kline_bars' ORDER BY is
    // edited (and the stage not rerun), its files are still read in their written order.
    let summary = graph.get("kline_bars").unwrap();
    let written = summary.output_order.clone().unwrap();
    let sql = dir.path().join("v1");
    copy_dir(&sql_dir(), &sql);
    let file = sql.join("reports/kline_bars.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    let order_by = format!("order by {}", written.join(", "));
    assert!(text.contains(&order_by), "{order_by}");
    let edited: Vec<String> = written.iter().rev().cloned().collect();
    std::fs::write(
        &file,
        text.replace(&order_by, &format!("order by {}", edited.join(", "))),
    )
    .unwrap();
    let graph = ordertrail::stages::StageGraph::load(&sql, &sources).unwrap();
    assert_eq!(
        graph.get("kline_bars").unwrap().output_order,
        Some(edited.clone())
    );
    let ctx = ordertrail::project::context_for(&lake, &sources, &graph, &config(), &small_engine())
        .await
        .unwrap();
    let in_order = |order: &[String]| {
        format!(
            "select * from kline_bars where trade_date = $trade_date order by {}",
            order.join(", ")
        )
    };
    let plan = plan_text(&ctx, &in_order(&written), date).await;
    assert!(!plan.contains("SortExec"), "{plan}");
    let plan = plan_text(&ctx, &in_order(&edited), date).await;
    assert!(plan.contains("SortExec"), "{plan}");
}
