//! Report files on the fixture day: formats, per-scenario CAT event sequences, determinism,
//! and the errors users get.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ordertrail::reports;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;

/// Run the pipeline and write every destination's files for both fixture dates under `out`.
async fn fixture_reports(dir: &Path, out: &Path) {
    let lake = fixture_lake(dir);
    run_all(&lake, &sql_dir()).await;
    let graph = graph(&sql_dir());
    let config = config();
    let ctx = ordertrail::project::context_for(&lake, &sources(), &graph, &config, &small_engine())
        .await
        .unwrap();
    for d in fixture_dates() {
        reports::write_all(&ctx, &config, d, out, false)
            .await
            .unwrap();
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn cat_lines(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    bzip2::read::BzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn is_cat_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 22
        && s.as_bytes()[8] == b'T'
        && s.as_bytes()[15] == b'.'
        && s.chars()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15) || c.is_ascii_digit())
}

#[tokio::test]
async fn report_files_follow_their_formats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    fixture_reports(dir.path(), &out).await;

    let data = files(&out, ".json.bz2");
    assert!(data.len() >= 2, "{data:?}");
    // Every file meets the CAT IM Tech Specs as spec/cat/fields.toml has them.
    let v = reports::cat_validate::validate(std::slice::from_ref(&out), &[], &Default::default())
        .unwrap();
    assert!(v.is_ok() && v.warnings == 0, "{}", v.to_text());
    assert_eq!(v.events, 53);
    // Files are compressed in parallel but numbered in event order: 1..n, all full but the last.
    let by_day = data
        .iter()
        .fold(BTreeMap::<String, Vec<_>>::new(), |mut m, p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let (day, n) = name.split_once("_OrderEvents_").unwrap();
            m.entry(day.to_string())
                .or_default()
                .push((n.to_string(), cat_lines(p).len()));
            m
        });
    for (day, mut numbered) in by_day {
        numbered.sort();
        for (i, (n, records)) in numbered.iter().enumerate() {
            assert_eq!(n, &format!("{:06}.json.bz2", i + 1), "{day}");
            assert!(
                i + 1 == numbered.len() || *records == 40,
                "{day} {n}: {records}"
            );
        }
    }
    let mut roe_ids = BTreeSet::new();
    for path in &data {
        let lines = cat_lines(path);
        // The meta file matches its data file.
        let meta_path = PathBuf::from(path.to_string_lossy().replace(".json.bz2", ".meta.json"));
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
        assert_eq!(meta["type"], "META");
        let entry = &meta["files"][0];
        assert_eq!(
            entry["fileName"],
            path.file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(entry["recordCount"], lines.len());
        let hash: String = Sha256::digest(std::fs::read(path).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(entry["compressedHash"], hash);
        assert!(lines.len() <= 40, "split at records_per_file");
        // File name: <submitter>_<imid>_<YYYYMMDD>_<group>_OrderEvents_<NNNNNN>.json.bz2
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("93010_BRKR_202611") && name.contains("_1_OrderEvents_00000"),
            "{name}"
        );

        for e in &lines {
            let t = e["type"].as_str().unwrap();
            assert_eq!(e["actionType"], "NEW");
            assert_eq!(e["CATReporterIMID"], "BRKR");
            assert!(is_cat_time(&e["eventTimestamp"]), "{e}");
            let roe = e["firmROEID"].as_str().unwrap();
            let event_date = &e["eventTimestamp"].as_str().unwrap()[..8];
            assert!(
                roe.starts_with(&format!("{event_date}_")),
                "firmROEID date: {e}"
            );
            assert!(roe_ids.insert(roe.to_string()), "duplicate firmROEID {roe}");
            if let Some(side) = e["side"].as_str() {
                assert!(["B", "SL", "SS", "SX"].contains(&side), "{e}");
            }
            if let Some(ot) = e["orderType"].as_str() {
                assert!(["MKT", "LMT"].contains(&ot), "{e}");
                if ot == "LMT" && t != "MEIR" {
                    assert!(e["price"].is_number(), "LMT needs a price: {e}");
                }
                assert!(e["timeInForce"].is_object(), "{e}");
            }
            if let Some(s) = e["tradingSession"].as_str() {
                assert!(
                    [
                        "FOR", "PRE", "PREREG", "REG", "REGPOST", "POST", "PREPOST", "ALL"
                    ]
                    .contains(&s),
                    "{e}"
                );
            }
            if e["destinationType"] == "E" {
                assert!(e["session"].is_string(), "{e}");
            }
            for key in ["quantity", "price", "leavesQty", "cancelQty"] {
                if !e[key].is_null() {
                    assert!(e[key].is_number(), "{key} must be a JSON number: {e}");
                }
            }
        }
    }

    // OATS: the trailer counts the records.
    for path in files(&out, ".fore") {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("#HD#,"), "{}", lines[0]);
        let records = lines.iter().filter(|l| l.starts_with("#OE#,")).count();
        assert_eq!(lines.last().unwrap(), &format!("#TR#,{records}"));
        assert!(records > 0);
    }

    // Summary CSV and Parquet, bars Parquet.
    let csv = files(&out, ".csv");
    assert_eq!(csv.len(), 2);
    let summary = std::fs::read_to_string(&csv[0]).unwrap();
    assert!(
        summary
            .starts_with("level,symbol,account_num,orders,fills,shares,notional,cancels,rejects")
    );
    assert!(summary.contains("\nfirm,,,"), "{summary}");
    assert_eq!(files(&out, ".parquet").len(), 4);
}

/// The CAT events each scenario yields, grouped by client order (ClOrdID prefix), in order.
#[tokio::test]
async fn cat_event_sequence_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    fixture_reports(dir.path(), &out).await;
    let mut by_order: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for path in files(&out.join("2026-11-19"), ".json.bz2") {
        for e in cat_lines(&path) {
            let id = e["orderID"]
                .as_str()
                .or(e["clientDetails"][0]["orderID"].as_str())
                .unwrap()
                .to_string();
            by_order.entry(id[..5].to_string()).or_default().push(e);
        }
    }
    let types = |k: &str| -> String {
        by_order
            .get(k)
            .map(|v| {
                v.iter()
                    .map(|e| e["type"].as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    assert_eq!(types("C0001"), "MENO,MEOR,MEOF");
    assert_eq!(types("C0002"), "MENO,MEOR,MEOF,MEOF,MEOF");
    assert_eq!(types("C0003"), "MENO,MEOR,MEOC");
    // Upstream replaces modify the route (MEMR) of the order in force.
    assert_eq!(types("C0004"), "MENO,MEOR,MEOM,MEMR,MEOM,MEMR,MEOF,MEOC");
    assert_eq!(types("C0005"), "MENO,MEOR,MEMR,MEOF");
    assert_eq!(types("C0008"), "MENO"); // RMS reject is reported
    assert_eq!(types("C0009"), "MENO,MEOR,MEOF");
    assert_eq!(types("C0010"), "MENO"); // RMS hold is reported
    assert_eq!(types("C0012"), "MENO,MEOR");
    assert_eq!(types("C0013"), "MENO,MEOR");
    assert_eq!(types("C0014"), "MENO,MEOR,MEOR,MEOF");
    // The multi-leg order: MLNO, a route and a fill per leg.
    assert_eq!(types("C0015"), "MLNO,MEOR,MEOR,MEOF,MEOF");
    assert_eq!(types("C0016"), "MENO,MEIR,MEOF");
    // The fill at 19:10 ET is in trade date 2026-11-20 (UTC) and filed under 2026-11-19 (ET).
    assert_eq!(types("C0017"), "MENO,MEOR,MEOF");
    assert_eq!(types("C0018"), "MENO,MEOR,MEOF"); // the cancel after the fill: nothing
    assert_eq!(types("C0020"), "MENO,MEOR,MEOF");
    // Not reportable: invalid requests, never routed, malformed.
    for k in ["C0006", "C0007", "C0011", "BROKE"] {
        assert!(
            !by_order.contains_key(k),
            "{k} must yield no events: {:?}",
            by_order.get(k)
        );
    }

    // The cancel-replace chain: each MEOM names the order it replaces, with its key date.
    let chain = &by_order["C0004"];
    let meom: Vec<&Value> = chain.iter().filter(|e| e["type"] == "MEOM").collect();
    assert_eq!(meom[0]["orderID"], "C0004-2");
    assert_eq!(meom[0]["priorOrderID"], "C0004-1");
    assert_eq!(meom[0]["priorOrderKeyDate"], chain[0]["orderKeyDate"]);
    assert_eq!(meom[1]["orderID"], "C0004-3");
    assert_eq!(meom[1]["priorOrderID"], "C0004-2");
    assert_eq!(meom[1]["priorOrderKeyDate"], meom[0]["orderKeyDate"]);
    assert_eq!(meom[1]["quantity"], 200);
    let routes: Vec<(&str, &str)> = chain
        .iter()
        .filter(|e| e["type"] == "MEOR" || e["type"] == "MEMR")
        .map(|e| {
            let id = |f: &str| e[f].as_str().unwrap_or("");
            (id("orderID"), id("routedOrderID"))
        })
        .collect();
    // Each replace was accepted on receipt: its route is under the new id.
    assert_eq!(
        routes,
        [
            ("C0004-1", "O0004-1"),
            ("C0004-2", "O0004-2"),
            ("C0004-3", "O0004-3")
        ]
    );
    let memr: Vec<&Value> = chain.iter().filter(|e| e["type"] == "MEMR").collect();
    assert_eq!(memr[0]["priorRoutedOrderID"], "O0004-1");
    // A refused replace: its route stays under the order in force, which the fill names.
    let c5 = &by_order["C0005"];
    assert_eq!(c5[2]["type"], "MEMR");
    assert_eq!(c5[2]["orderID"], "C0005-1");
    assert_eq!(c5[3]["clientDetails"][0]["orderID"], "C0005-1");
    let meoc = chain.iter().find(|e| e["type"] == "MEOC").unwrap();
    assert_eq!(meoc["orderID"], "C0004-3");
    assert_eq!(meoc["cancelQty"], 150);
    assert_eq!(meoc["leavesQty"], 0);
    // Rejected routes are flagged; the reroute's second route is not.
    let flags = |k: &str| -> Vec<bool> {
        by_order[k]
            .iter()
            .filter(|e| e["type"] == "MEOR" || e["type"] == "MEMR")
            .map(|e| e["routeRejectedFlag"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(flags("C0005"), [false, true]);
    assert_eq!(flags("C0013"), [true]);
    assert_eq!(flags("C0014"), [true, false]);
    assert!(
        by_order["C0015"]
            .iter()
            .filter(|e| e["type"] == "MEOR")
            .all(|e| e["multiLegInd"] == true)
    );
    let mlno = &by_order["C0015"][0];
    assert_eq!(mlno["numberOfLegs"], 2);
    assert!(mlno.get("symbol").is_none(), "{mlno}");
    let legs: Vec<(&str, &str)> = mlno["legDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["symbol"].as_str().unwrap(), l["side"].as_str().unwrap()))
        .collect();
    assert_eq!(legs, [("AAPL", "B"), ("MSFT", "SL")]);
    let fills: Vec<(&str, &str)> = by_order["C0015"]
        .iter()
        .filter(|e| e["type"] == "MEOF")
        .map(|e| {
            (
                e["symbol"].as_str().unwrap(),
                e["clientDetails"][0]["side"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(fills.len(), 2, "one fill per leg: {fills:?}");
    // Fractional quantity stays exact.
    assert_eq!(by_order["C0016"][0]["quantity"].to_string(), "0.5");
    // The overnight fill is dated by its Eastern-Time date: 2026-11-19's file, not 2026-11-20's.
    let late = by_order["C0017"].last().unwrap();
    assert!(
        late["eventTimestamp"]
            .as_str()
            .unwrap()
            .starts_with("20261119T19"),
        "{late}"
    );
    let next: Vec<Value> = files(&out.join("2026-11-20"), ".json.bz2")
        .iter()
        .flat_map(|p| cat_lines(p))
        .collect();
    assert!(next.is_empty(), "{next:?}");
}

#[tokio::test]
async fn two_runs_write_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fixture_reports(&dir.path().join("one"), &a).await;
    fixture_reports(&dir.path().join("two"), &b).await;
    let hashes = |root: &Path| -> Vec<(String, String)> {
        files(root, "")
            .iter()
            .map(|p| {
                let h: String = Sha256::digest(std::fs::read(p).unwrap())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                (
                    p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                    h,
                )
            })
            .collect()
    };
    let ha = hashes(&a);
    assert!(ha.len() >= 10, "{ha:?}");
    assert_eq!(ha, hashes(&b));
}

fn ordertrail(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ordertrail"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn report_errors_are_clear_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let root = lake.root().to_str().unwrap().to_string();
    let out = dir.path().join("reports");
    let out_s = out.to_str().unwrap();

    // A weekend is refused unless forced.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-21",
        "--out",
        out_s,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("not a trading day: 2026-11-21 is a Saturday") && err.contains("--force"),
        "{err}"
    );
    // Thanksgiving too.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-26",
        "--out",
        out_s,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("Thanksgiving"), "{err}");

    // The pipeline has not run for the day.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("reads lifecycle, which has no output for trade date 2026-11-19"),
        "{err}"
    );
    assert!(err.contains("ordertrail run"), "{err}");

    run_all(&lake, &sql_dir()).await;

    // An unknown destination.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
        "--destination",
        "sec",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown destination sec") && err.contains("finra_cat"),
        "{err}"
    );

    // An upstream the CAT destination does not map: the routes lack `destination`; the error
    // lists the orders and no file is written.
    let text = std::fs::read_to_string(repo().join("config/ordertrail.toml")).unwrap();
    let broken = text.replace(
        "[destinations.upstreams.ARCA]\ndestination = \"ARCA\"\ndestination_type = \"E\"\n",
        "",
    );
    assert_ne!(broken, text);
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, broken).unwrap();
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("fail validation against the CAT IM Tech Specs"),
        "{err}"
    );
    assert!(
        err.contains("destinationType: required field missing"),
        "{err}"
    );
    assert!(
        !out.join("2026-11-19").exists(),
        "no partial report may be left behind"
    );
    // --force is the only way past: the failing files are kept.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
        "--config",
        config.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let kept = out.join("2026-11-19/finra_cat");
    let v = reports::cat_validate::validate(std::slice::from_ref(&kept), &[], &Default::default())
        .unwrap();
    assert!(v.count("syntax.required") > 0, "{}", v.to_text());
    std::fs::remove_dir_all(out.join("2026-11-19")).unwrap();

    // A config error names the key and the file.
    std::fs::write(&config, text.replace("submitter_id = \"93010\"", "")).unwrap();
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("broken.toml: destinations[0] (finra_cat).submitter_id is required"),
        "{err}"
    );

    // And the real thing works.
    let (code, err) = ordertrail(&[
        "report",
        "--lake",
        &root,
        "--date",
        "2026-11-19",
        "--out",
        out_s,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.join("2026-11-19/finra_cat").is_dir());
}

/// Name and SHA-256 of every file under `root`, relative to it.
fn tree_hashes(root: &Path) -> Vec<(String, String)> {
    files(root, "")
        .iter()
        .map(|p| {
            let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (
                name,
                ordertrail::lake::hex(&Sha256::digest(std::fs::read(p).unwrap())),
            )
        })
        .collect()
}

#[tokio::test]
async fn report_reuses_the_stages_run_left_current() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let root = lake.root().to_str().unwrap().to_string();
    let day = "2026-11-19";
    // The next trade date too: it holds the evening of 2026-11-19 Eastern Time.
    for d in [day, "2026-11-20"] {
        let (code, err) = ordertrail(&["run", "--lake", &root, "--date", d, "--no-checks"]);
        assert_eq!(code, Some(0), "{err}");
    }
    let report = |out: &Path, metrics: &Path, config: &Path| {
        let (code, err) = ordertrail(&[
            "report",
            "--lake",
            &root,
            "--date",
            day,
            "--out",
            out.to_str().unwrap(),
            "--metrics",
            metrics.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        let m: Value = serde_json::from_slice(&std::fs::read(metrics).unwrap()).unwrap();
        let names = |key: &str, field: &str| -> Vec<String> {
            m[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| match field {
                    "" => v.as_str().unwrap().to_string(),
                    f => v[f].as_str().unwrap().to_string(),
                })
                .collect()
        };
        // A stage computed for both days (cat_order_events also runs for the next trade date,
        // which holds the evening of this one in Eastern Time) counts once.
        let mut computed = names("stages", "stage");
        computed.sort();
        computed.dedup();
        (names("reused_stages", ""), computed)
    };
    let report_stages: Vec<String> = graph(&sql_dir())
        .stages
        .iter()
        .filter(|s| s.rel_path.starts_with("reports"))
        .map(|s| s.name.clone())
        .collect();
    assert!(report_stages.len() >= 3, "{report_stages:?}");

    // Nothing changed since `run`: every report stage is used as it is.
    let config = repo().join("config/ordertrail.toml");
    let (reused, computed) = report(&dir.path().join("a"), &dir.path().join("a.json"), &config);
    assert_eq!(reused, report_stages);
    assert!(computed.is_empty(), "{computed:?}");

    // A changed configuration file: the stages that read it are computed again, and what
    // reads them; the files come out the same when the change does not touch a mapping.
    let edited = dir.path().join("edited.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&edited, format!("# edited\n{text}")).unwrap();
    let (reused, computed) = report(&dir.path().join("b"), &dir.path().join("b.json"), &edited);
    assert!(
        !computed.is_empty(),
        "a changed config recomputes: {reused:?}"
    );
    assert_eq!(
        reused.len() + computed.len(),
        report_stages.len(),
        "{reused:?} {computed:?}"
    );
    assert_eq!(
        tree_hashes(&dir.path().join("a")),
        tree_hashes(&dir.path().join("b"))
    );

    // Those were rewritten with the same bytes: with the original config all are current.
    let (reused, _) = report(&dir.path().join("c"), &dir.path().join("c.json"), &config);
    assert_eq!(reused, report_stages);

    // A changed mapping rewrites the CAT stage with other rows; back on the original config,
    // that partition no longer matches the state and is computed again.
    let arca = "[destinations.upstreams.ARCA]\ndestination = \"ARCA\"\ndestination_type = \"E\"";
    assert!(text.contains(arca));
    std::fs::write(
        &edited,
        text.replace(arca, &arca.replace("= \"ARCA\"", "= \"NYSE\"")),
    )
    .unwrap();
    let (_, computed) = report(&dir.path().join("d"), &dir.path().join("d.json"), &edited);
    assert!(
        computed.contains(&"cat_order_events".to_string()),
        "{computed:?}"
    );
    assert_ne!(
        tree_hashes(&dir.path().join("a")),
        tree_hashes(&dir.path().join("d"))
    );
    let (reused, again) = report(&dir.path().join("e"), &dir.path().join("e.json"), &config);
    assert!(
        again.contains(&"cat_order_events".to_string()),
        "{reused:?}"
    );
    assert_eq!(
        tree_hashes(&dir.path().join("a")),
        tree_hashes(&dir.path().join("e"))
    );
}

/// A killed report leaves its half-written files aside in `<out>/.tmp/`; the next report
/// removes them (those of processes that are gone), and never another live one's.
#[tokio::test]
async fn a_killed_reports_scratch_is_removed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let dead = out
        .join(".tmp")
        .join(format!("{}-1-0", ordertrail::lake::scratch_prefix(pid)));
    let alive = out
        .join(".tmp")
        .join(format!("{}-1-0", ordertrail::lake::scratch_prefix(1)));
    for d in [&dead, &alive] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(
            d.join("93010_BRKR_20261119_1_OrderEvents_000001.json.bz2"),
            b"half",
        )
        .unwrap();
    }
    fixture_reports(dir.path(), &out).await;
    assert!(!dead.exists(), "the dead report's scratch is removed");
    assert!(alive.exists(), "a live process's scratch is kept");
}
