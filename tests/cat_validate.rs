//! `validate-cat` against a corpus of broken CAT files: a valid day, and one file per rule
//! family with one defect, each flagged with its rule.

use std::io::Write;
use std::path::{Path, PathBuf};

use ordertrail::reports::cat_validate::{Options, Validation, validate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A small valid day: a limit order, its route, a fill; a multi-leg order, its leg routes and a
/// fill per leg; a replace and a cancel.
fn valid_day() -> Vec<Value> {
    let tif = json!({"DAY": 20261119});
    vec![
        json!({"actionType":"NEW","firmROEID":"20261119_1","type":"MENO","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T093000.100000","orderID":"C1","symbol":"TSLA",
            "eventTimestamp":"20261119T093000.100000","manualFlag":false,"electronicDupFlag":false,
            "deptType":"A","solicitationFlag":false,"side":"B","price":250.5,"quantity":50,
            "orderType":"LMT","timeInForce":tif,"tradingSession":"REG","custDspIntrFlag":false,
            "firmDesignatedID":"ACC-1","accountHolderType":"I","affiliateFlag":false,
            "negotiatedTradeFlag":false,"representativeInd":"N"}),
        json!({"actionType":"NEW","firmROEID":"20261119_2","type":"MEOR","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T093000.100000","orderID":"C1","symbol":"TSLA",
            "eventTimestamp":"20261119T093000.200000","manualFlag":false,"electronicDupFlag":false,
            "destination":"NSDQ","destinationType":"E","routedOrderID":"O1","session":"REG",
            "side":"B","price":250.5,"quantity":50,"orderType":"LMT","timeInForce":tif,
            "tradingSession":"REG","affiliateFlag":false,"isoInd":"NA","routeRejectedFlag":false,
            "dupROIDCond":false,"multiLegInd":false}),
        json!({"actionType":"NEW","firmROEID":"20261119_3","type":"MEOF","CATReporterIMID":"BRKR",
            "fillKeyDate":"20261119T093001.000000","fulfillmentID":"E1","symbol":"TSLA",
            "eventTimestamp":"20261119T093001.000000","manualFlag":false,
            "fulfillmentLinkType":"Y","cancelFlag":false,"quantity":20,"price":250.5,
            "capacity":"A",
            "clientDetails":[{"orderKeyDate":"20261119T093000.100000","orderID":"C1","side":"B"}],
            "firmDetails":[{"side":"SL","firmDesignatedID":"FIRM","accountHolderType":"P"}]}),
        json!({"actionType":"NEW","firmROEID":"20261119_4","type":"MEOM","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T093002.000000","orderID":"C2","symbol":"TSLA",
            "priorOrderKeyDate":"20261119T093000.100000","priorOrderID":"C1",
            "eventTimestamp":"20261119T093002.500000","manualFlag":false,"electronicDupFlag":false,
            "initiator":"C","side":"B","price":251,"quantity":40,"leavesQty":20,"orderType":"LMT",
            "timeInForce":tif,"tradingSession":"REG","isoInd":"NA","custDspIntrFlag":false,
            "representativeInd":"N"}),
        json!({"actionType":"NEW","firmROEID":"20261119_5","type":"MEOC","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T093002.000000","orderID":"C2","symbol":"TSLA",
            "eventTimestamp":"20261119T093003.000000","manualFlag":false,"cancelQty":20,
            "leavesQty":0,"initiator":"C"}),
        json!({"actionType":"NEW","firmROEID":"20261119_6","type":"MLNO","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T100000.000000","orderID":"C3",
            "eventTimestamp":"20261119T100000.000000","manualFlag":false,"electronicDupFlag":false,
            "deptType":"A","quantity":100,"orderType":"MKT","timeInForce":tif,
            "tradingSession":"REG","firmDesignatedID":"ACC-2","accountHolderType":"A",
            "affiliateFlag":false,"representativeInd":"N","solicitationFlag":false,
            "numberOfLegs":2,"legDetails":[
                {"symbol":"AAPL","side":"B","legRatioQuantity":1},
                {"symbol":"MSFT","side":"SL","legRatioQuantity":1}]}),
        json!({"actionType":"NEW","firmROEID":"20261119_7","type":"MEOR","CATReporterIMID":"BRKR",
            "orderKeyDate":"20261119T100000.000000","orderID":"C3","symbol":"AAPL",
            "eventTimestamp":"20261119T100000.100000","manualFlag":false,"electronicDupFlag":false,
            "senderIMID":"99999:BRKR","destination":"12345:BOAT","destinationType":"F",
            "routedOrderID":"O3","side":"B","quantity":100,"orderType":"MKT","timeInForce":tif,
            "tradingSession":"REG","affiliateFlag":false,"isoInd":"NA","routeRejectedFlag":false,
            "dupROIDCond":false,"multiLegInd":true}),
        json!({"actionType":"NEW","firmROEID":"20261119_8","type":"MEOF","CATReporterIMID":"BRKR",
            "fillKeyDate":"20261119T100001.000000","fulfillmentID":"E3","symbol":"AAPL",
            "eventTimestamp":"20261119T100001.000000","manualFlag":false,
            "fulfillmentLinkType":"Y","cancelFlag":false,"quantity":100,"price":187.61,
            "capacity":"A",
            "clientDetails":[{"orderKeyDate":"20261119T100000.000000","orderID":"C3","side":"B"}],
            "firmDetails":[{"side":"SL"}]}),
        json!({"actionType":"NEW","firmROEID":"20261119_9","type":"MEOF","CATReporterIMID":"BRKR",
            "fillKeyDate":"20261119T100001.100000","fulfillmentID":"E4","symbol":"MSFT",
            "eventTimestamp":"20261119T100001.100000","manualFlag":false,
            "fulfillmentLinkType":"Y","cancelFlag":false,"quantity":100,"price":421.87,
            "capacity":"A",
            "clientDetails":[{"orderKeyDate":"20261119T100000.000000","orderID":"C3","side":"SL"}],
            "firmDetails":[{"side":"B"}]}),
    ]
}

const NAME: &str = "93010_BRKR_20261119_1_OrderEvents_000001";

/// Write `events` as a CAT data file and its meta file in `dir`; returns the data file.
fn write_day(dir: &Path, events: &[Value]) -> PathBuf {
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    write_text(dir, &text, events.len())
}

fn write_text(dir: &Path, text: &str, records: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let data = dir.join(format!("{NAME}.json.bz2"));
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
    enc.write_all(text.as_bytes()).unwrap();
    let bytes = enc.finish().unwrap();
    std::fs::write(&data, &bytes).unwrap();
    let meta = json!({"type":"META","doneForDay":false,"fileGenerationDate":"20261119",
        "submitter":"93010","reporter":"BRKR","fileVersion":"2.2.1",
        "files":[{"fileName":format!("{NAME}.json.bz2"),"recordCount":records,
        "compressedHash":ordertrail::lake::hex(&Sha256::digest(&bytes))}]});
    std::fs::write(dir.join(format!("{NAME}.meta.json")), meta.to_string()).unwrap();
    data
}

fn check(dir: &Path) -> Validation {
    validate(&[dir.to_path_buf()], &[], &Options::default()).unwrap()
}

#[test]
fn the_valid_day_has_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path(), &valid_day());
    let v = check(dir.path());
    assert!(v.is_ok(), "{}", v.to_text());
    assert_eq!(
        (v.files, v.events, v.warnings),
        (1, 9, 0),
        "{}",
        v.to_text()
    );
}

/// One defect per case: the event it changes (index into the valid day) and the change.
type Edit = Box<dyn Fn(&mut Vec<Value>)>;

fn set(i: usize, field: &str, value: Value) -> Edit {
    let field = field.to_string();
    Box::new(move |day| day[i][&field] = value.clone())
}

fn remove(i: usize, field: &str) -> Edit {
    let field = field.to_string();
    Box::new(move |day| {
        day[i].as_object_mut().unwrap().remove(&field);
    })
}

#[test]
fn every_broken_file_is_flagged_with_its_rule() {
    let cases: Vec<(&str, Edit)> = vec![
        ("syntax.required", remove(0, "side")),
        ("syntax.type", set(0, "quantity", json!("50"))),
        (
            "syntax.type",
            set(2, "clientDetails", json!({"orderID":"C1","side":"B"})),
        ),
        ("syntax.value", set(0, "side", json!("X"))),
        ("syntax.unknown_field", set(0, "isoInd", json!("NA"))),
        ("syntax.conditional_required", remove(0, "price")),
        ("syntax.conditional_required", remove(1, "session")),
        ("syntax.conditional_required", remove(2, "firmDetails")),
        (
            "syntax.conditional_required",
            remove(3, "priorOrderKeyDate"),
        ),
        ("syntax.required", remove(5, "legDetails")),
        ("syntax.count", set(5, "numberOfLegs", json!(3))),
        ("syntax.precision", set(0, "price", json!(250.123456789))),
        ("syntax.length", set(0, "symbol", json!("X".repeat(23)))),
        (
            "syntax.timestamp",
            set(0, "orderKeyDate", json!("2026-11-19")),
        ),
        ("syntax.not_above", set(3, "leavesQty", json!(41))),
        ("syntax.form", set(6, "destination", json!("BOAT"))),
        ("syntax.value", set(1, "destination", json!("NOPE"))),
        ("syntax.not_allowed", set(0, "errorROEID", json!(1))),
        ("syntax.event_type", set(0, "type", json!("MEXX"))),
        ("linkage.orphan", set(1, "orderID", json!("C9"))),
        ("linkage.orphan", {
            // A replace naming an order no event created.
            set(3, "priorOrderID", json!("C9"))
        }),
        (
            "linkage.out_of_sequence",
            set(1, "eventTimestamp", json!("20261119T092959.000000")),
        ),
        (
            "linkage.duplicate_firmROEID",
            set(1, "firmROEID", json!("20261119_1")),
        ),
        ("linkage.duplicate_order_key", {
            Box::new(|day: &mut Vec<Value>| {
                let again = day[0].clone();
                let mut again = again;
                again["firmROEID"] = json!("20261119_99");
                day.push(again);
            })
        }),
        ("linkage.duplicate_routedOrderID", {
            Box::new(|day: &mut Vec<Value>| {
                let mut again = day[1].clone();
                again["firmROEID"] = json!("20261119_98");
                day.push(again);
            })
        }),
        ("linkage.overfill", set(2, "quantity", json!(51))),
        ("linkage.fill_symbol", set(7, "symbol", json!("NVDA"))),
        (
            "time.misdated",
            set(2, "eventTimestamp", json!("20261120T093001.000000")),
        ),
        (
            "time.firmROEID_date",
            set(2, "firmROEID", json!("20261118_3")),
        ),
    ];
    for (rule, edit) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut day = valid_day();
        edit(&mut day);
        write_day(dir.path(), &day);
        let v = check(dir.path());
        assert!(
            v.count(rule) >= 1 && !v.is_ok(),
            "expected {rule}:\n{}",
            v.to_text()
        );
    }
}

#[test]
fn file_rules_flag_the_meta_file_and_the_name() {
    // Record count and hash of the meta file.
    let dir = tempfile::tempdir().unwrap();
    let data = write_day(dir.path(), &valid_day());
    let meta_path = dir.path().join(format!("{NAME}.meta.json"));
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["files"][0]["recordCount"] = json!(8);
    meta["files"][0]["compressedHash"] = json!("0".repeat(64));
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let v = check(dir.path());
    assert_eq!(v.count("file.record_count"), 1, "{}", v.to_text());
    assert_eq!(v.count("file.hash"), 1, "{}", v.to_text());

    // No meta file; a name CAT would not take.
    std::fs::remove_file(&meta_path).unwrap();
    let renamed = dir.path().join("events.json.bz2");
    std::fs::rename(&data, &renamed).unwrap();
    let v = check(dir.path());
    assert_eq!(v.count("file.meta_missing"), 1, "{}", v.to_text());
    assert_eq!(v.count("file.name"), 1, "{}", v.to_text());

    // Text that is not JSON, and a repeated member.
    let dir = tempfile::tempdir().unwrap();
    let mut text: String = valid_day().iter().map(|e| format!("{e}\n")).collect();
    text.push_str("{\"type\":\"MENO\",\"type\":\"MENO\"}\nnot json\n");
    write_text(dir.path(), &text, 11);
    let v = check(dir.path());
    assert_eq!(v.count("syntax.json"), 2, "{}", v.to_text());
}

#[test]
fn an_order_of_an_earlier_day_resolves_with_that_day_as_context() {
    let dir = tempfile::tempdir().unwrap();
    let day = valid_day();
    // Yesterday: the order. Today: a cancel of it.
    let mut yesterday = day[0].clone();
    yesterday["firmROEID"] = json!("20261118_1");
    yesterday["eventTimestamp"] = json!("20261118T093000.100000");
    yesterday["orderKeyDate"] = json!("20261118T093000.100000");
    let mut cancel = day[4].clone();
    cancel["orderKeyDate"] = json!("20261118T093000.100000");
    cancel["orderID"] = json!("C1");
    cancel["leavesQty"] = json!(0);
    cancel["cancelQty"] = json!(50);
    let prev = dir.path().join("prev");
    let prev_file = prev.join(format!("{}.json", NAME.replace("20261119", "20261118")));
    std::fs::create_dir_all(&prev).unwrap();
    std::fs::write(&prev_file, format!("{yesterday}\n")).unwrap();
    let today = dir.path().join("today");
    write_day(&today, &[cancel]);

    let alone = validate(std::slice::from_ref(&today), &[], &Options::default()).unwrap();
    assert!(alone.is_ok(), "{}", alone.to_text());
    assert_eq!(
        alone.count("linkage.origin_not_given"),
        1,
        "{}",
        alone.to_text()
    );
    let with = validate(&[today], &[prev], &Options::default()).unwrap();
    assert!(with.is_ok() && with.warnings == 0, "{}", with.to_text());
}

#[test]
fn files_submitted_after_the_deadline_are_late() {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path(), &valid_day());
    let at = |s: &str| Options {
        submitted_at: Some(s.parse().unwrap()),
        ..Options::default()
    };
    let on_time = validate(&[dir.path().into()], &[], &at("2026-11-20T07:59:59")).unwrap();
    assert_eq!(on_time.count("time.late"), 0);
    let late = validate(&[dir.path().into()], &[], &at("2026-11-20T08:00:01")).unwrap();
    assert_eq!(late.count("time.late"), 9, "{}", late.to_text());
    assert!(late.is_ok(), "late is a warning");
}

/// A file's text is decompressed in blocks of 4 MiB beside the checks: an event across the end
/// of a block reads as from the file; a file cut short is flagged.
#[test]
fn events_across_decompressed_blocks_and_a_cut_file() {
    let dir = tempfile::tempdir().unwrap();
    let events = valid_day();
    let first = format!("{}\n", events[0]);
    // Blank lines (skipped) up to ten bytes before the first block ends: the first event
    // starts in one block and ends in the next.
    let mut text = "\n".repeat((4 << 20) - 10);
    text.push_str(&first);
    for e in &events[1..] {
        text.push_str(&format!("{e}\n"));
    }
    let data = write_text(dir.path(), &text, events.len());
    let v = check(dir.path());
    assert!(v.is_ok(), "{}", v.to_text());
    assert_eq!(v.events, events.len(), "{}", v.to_text());

    // The same file cut in half: it cannot be read to its end.
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, &bytes[..bytes.len() / 2]).unwrap();
    let v = check(dir.path());
    assert_eq!(v.count("file.compression"), 1, "{}", v.to_text());
}
