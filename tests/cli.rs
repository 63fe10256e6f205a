//! Whole invocations of the binary: exit codes, stdout and the error messages users see.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn ordertrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ordertrail"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run ordertrail")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn demo_runs_every_stage_and_shows_all_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let out = ordertrail(&["demo", "--out", p(&out_dir)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for name in [
        "NORMAL",
        "OUTBOUND_NOT_SEND_FIX_REQ",
        "OUTBOUND_NOT_RECV_FIX_RSP",
        "REJ_BY_UPSTREAM",
        "INVALID_REQ",
        "EVENT_STATUS_ENDED",
        "REJ_BY_RMS",
        "HOLD_BY_RMS",
    ] {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
    assert!(stdout.contains("lifecycle"), "{stdout}");
    // A second demo into the same directory replaces the first.
    let again = ordertrail(&["demo", "--out", p(&out_dir)]);
    assert_eq!(again.status.code(), Some(0), "{:?}", text(&again));
}

#[test]
fn stages_lists_the_dag() {
    let out = ordertrail(&["stages"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("lifecycle"), "{stdout}");
    assert!(
        stdout.contains("reads: business_fill, chain_activity, event_status, oms.rms_event"),
        "{stdout}"
    );
    // Checks too, with what they read; [b] marks what may run in buckets.
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().take(2).any(|t| t == name))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_string()
    };
    assert!(line("lifecycle").contains("lifecycle.sql [b]"), "{stdout}");
    // Where the day is split: flow by ClOrdID, flow_complete on by chain.
    assert!(line("flow").ends_with("bucket_by: cl_ord_id"), "{stdout}");
    assert!(
        line("flow_complete").ends_with("bucket_by: chain_id"),
        "{stdout}"
    );
    assert!(
        line("lifecycle").ends_with("bucket_by: chain_id"),
        "{stdout}"
    );
    assert!(
        line("sequencing").contains("checks/sequencing.sql [b]"),
        "{stdout}"
    );
    assert!(line("sequencing").ends_with("reads: lifecycle"), "{stdout}");
    assert!(!line("overfill").contains("[b]"), "{stdout}");
}

#[test]
fn broken_sql_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let sql = dir.path().join("sql/v1");
    copy_dir(&sql_dir(), &sql);
    let file = sql.join("intermediate/flow_complete.sql");
    let original = std::fs::read_to_string(&file).unwrap();
    // Line of the first `c.sid,` in the final select; break the column name there.
    let (line_no, line) = original
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim() == "c.sid,")
        .unwrap();
    let column = line.find("c.sid").unwrap() + 1;
    std::fs::write(
        &file,
        original.replacen("        c.sid,\n", "        c.sidd,\n", 1),
    )
    .unwrap();
    let sources = repo().join("sql/sources.sql");
    let out = ordertrail(&[
        "run",
        "--lake",
        p(lake.root()),
        "--date",
        "2026-11-19",
        "--sql",
        p(&sql),
        "--sources",
        p(&sources),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = format!("flow_complete.sql:{}:{column}", line_no + 1);
    assert!(stderr.contains(&expected), "want {expected} in:\n{stderr}");
    assert!(stderr.starts_with("ordertrail: "), "{stderr}");
    // Nothing of the failed stage was written.
    assert!(!stage_part(&lake, "flow_complete", date("2026-11-19")).exists());

    // A parse error also carries its position.
    std::fs::write(&file, "select\n  a,, b\nfrom flow order by 1").unwrap();
    let out = ordertrail(&["stages", "--sql", p(&sql), "--sources", p(&sources)]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("flow_complete.sql:2:"), "{stderr}");
}

#[test]
fn stage_without_order_by_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let sql = dir.path().join("sql/v1");
    copy_dir(&sql_dir(), &sql);
    let file = sql.join("reference/event_status.sql");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("order by event_status", "")).unwrap();
    let out = ordertrail(&[
        "run",
        "--lake",
        p(lake.root()),
        "--date",
        "2026-11-19",
        "--sql",
        p(&sql),
        "--sources",
        p(&repo().join("sql/sources.sql")),
        "--stage",
        "event_status",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("event_status.sql: the query has no final ORDER BY"),
        "{stderr}"
    );
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let root = p(lake.root());

    let out = ordertrail(&[
        "run",
        "--lake",
        root,
        "--date",
        "2026-11-19",
        "--stage",
        "nope",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown stage nope") && stderr.contains("hint:"),
        "{stderr}"
    );

    // A day that was never synced.
    let out = ordertrail(&["run", "--lake", root, "--date", "2026-11-24"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("has no data for trade date 2026-11-24"),
        "{stderr}"
    );
    assert!(
        stderr.contains("dates present: 2026-11-19, 2026-11-20"),
        "{stderr}"
    );

    // A day that was synced but has no rows anywhere (empty partitions for every table).
    for table in &sources().tables {
        let dir = lake.raw_table_dir(&table.db, &table.name);
        let w = lake
            .partition_writer(&dir, date("2026-11-21"), &table.schema())
            .unwrap();
        w.commit().unwrap();
    }
    let out = ordertrail(&["run", "--lake", root, "--date", "2026-11-21"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("trade date 2026-11-21 is empty"),
        "{stderr}"
    );

    // A lake with no raw tables at all.
    let empty = dir.path().join("empty-lake");
    let out = ordertrail(&["run", "--lake", p(&empty), "--date", "2026-11-19"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("raw table") && stderr.contains("is missing from the lake"),
        "{stderr}"
    );

    // A lake that cannot be written.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = ordertrail(&[
        "run",
        "--lake",
        p(&file.join("lake")),
        "--date",
        "2026-11-19",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("cannot write to lake"), "{stderr}");

    // A bad date is refused by argument parsing.
    let out = ordertrail(&["run", "--lake", root, "--date", "2026-13-01"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn malformed_fixture_csv_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    copy_dir(&repo().join("data-fixtures"), &fixtures);
    let csv = fixtures.join("oms/orders.csv");
    let text_in = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text_in.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(",100,", ",1O0,", 1);
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let out = ordertrail(&[
        "load",
        "--lake",
        p(&dir.path().join("lake")),
        "--fixtures",
        p(&fixtures),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("orders.csv"), "{stderr}");
    assert!(stderr.contains("1O0"), "{stderr}");
}

/// A stage's text pasted into `query` (`explain analyze` after its header comment) is planned
/// as the runner plans it: `-- join_order: as_written` turns the engine's join reordering off.
#[test]
fn query_honours_a_join_order_header() {
    let dir = tempfile::tempdir().unwrap();
    let setting = "select value from information_schema.df_settings \
                   where name = 'datafusion.optimizer.join_reordering'";
    for (header, reordering) in [("", "true"), ("-- join_order: as_written\n", "false")] {
        let query = format!("{header}{setting}");
        let out = ordertrail(&["query", "--lake", p(dir.path()), "--", &query]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!("| {reordering}")),
            "{query}:\n{stdout}"
        );
    }
}

/// Schema drift is an error: a nullable column missing from a raw partition is not filled with
/// NULLs without a word (the reroute fields of the lifecycle would be wrong); the message names
/// the table, the column and the file.
#[test]
fn a_raw_column_missing_from_the_lake_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture_lake(dir.path());
    let part = ordertrail::lake::Lake::partition_dir(
        &lake.raw_table_dir("ems", "route"),
        date("2026-11-19"),
    );
    let file = part.join(ordertrail::lake::PART_FILE);
    let batches = read_parquet(&file);
    let index = batches[0].schema().index_of("parent_route_id").unwrap();
    let dropped: Vec<_> = batches
        .into_iter()
        .map(|mut b| {
            b.remove_column(index);
            b
        })
        .collect();
    write_parquet(&file, &dropped);

    let out = ordertrail(&[
        "run",
        "--lake",
        p(lake.root()),
        "--date",
        "2026-11-19",
        "--no-checks",
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("raw table ems.route: column parent_route_id")
            && err.contains("is missing from")
            && err.contains("hint:"),
        "{err}"
    );
}

/// Bad values in source files are refused with the file (and line or column) they are in:
/// text in a decimal column, an empty NOT NULL key, bytes that are not UTF-8 (issue: silent
/// wrong answers, errors that name no file).
#[test]
fn bad_source_values_name_their_file() {
    type Edit = dyn Fn(&[u8]) -> Vec<u8>;
    let cases: [(&str, &str, &Edit, &[&str]); 3] = [
        (
            "decimal",
            "oms/orders.csv",
            &|b| {
                String::from_utf8_lossy(b)
                    .replacen(",30,186.9", ",30,abc", 1)
                    .into_bytes()
            },
            &["orders.csv", "abc"],
        ),
        (
            "null key",
            "oms/orders.csv",
            &|b| {
                String::from_utf8_lossy(b)
                    .replacen(",ORD-0020,", ",,", 1)
                    .into_bytes()
            },
            &["orders.csv:2", "order_id", "NOT NULL"],
        ),
        (
            "not utf-8",
            "inbound/fix_msg.csv",
            &|b| {
                let text = String::from_utf8_lossy(b);
                let at = text.find("55=AAPL").unwrap() + 3;
                let mut bytes = b.to_vec();
                bytes[at] = 0xff;
                bytes
            },
            &["fix_msg.csv"],
        ),
    ];
    for (name, file, edit, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("fixtures");
        copy_dir(&repo().join("data-fixtures"), &fixtures);
        let path = fixtures.join(file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, edit(&bytes)).unwrap();
        let out = ordertrail(&[
            "load",
            "--lake",
            p(&dir.path().join("lake")),
            "--fixtures",
            p(&fixtures),
        ]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{name}: no {e:?} in: {stderr}");
        }
    }
}

/// In a log (stderr not a terminal), long commands print where they stand every
/// `ORDERTRAIL_PROGRESS_SECS`; `--quiet` silences them.
#[test]
fn long_commands_print_progress_lines_in_logs_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let with_period = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ordertrail"))
            .args(args)
            .current_dir(repo())
            .env("ORDERTRAIL_PROGRESS_SECS", "0.05")
            .output()
            .expect("run ordertrail")
    };
    let generated = with_period(&[
        "gen",
        "--orders",
        "30000",
        "--date",
        "2026-11-19",
        "--lake",
        p(&lake),
    ]);
    assert!(generated.status.success(), "{}", text(&generated).1);
    let (_, err) = text(&generated);
    assert!(err.contains("progress: gen: "), "{err}");
    assert!(err.contains("/30000 orders"), "{err}");

    let run = with_period(&[
        "run",
        "--lake",
        p(&lake),
        "--date",
        "2026-11-19",
        "--from",
        "01:00",
        "--to",
        "02:00",
    ]);
    assert!(run.status.success(), "{}", text(&run).1);
    let (_, err) = text(&run);
    let line = err
        .lines()
        .find(|l| l.starts_with("progress: run 2026-11-19: "))
        .unwrap_or_else(|| panic!("no progress line: {err}"));
    assert!(
        line.contains("/4 windows") && line.contains("(stage "),
        "{line}"
    );

    let quiet = with_period(&[
        "-q",
        "run",
        "--lake",
        p(&lake),
        "--date",
        "2026-11-19",
        "--to",
        "03:00",
    ]);
    assert!(quiet.status.success(), "{}", text(&quiet).1);
    assert!(!text(&quiet).1.contains("progress:"), "{}", text(&quiet).1);
}

/// An installed binary needs no checkout: `init` writes a project from the files built into
/// it, and the binary reads the project it runs in (or `--project`), nothing else.
#[test]
fn init_makes_a_project_that_runs_without_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    // The binary away from the build, as `cargo install` leaves it.
    let bin = dir.path().join("bin/ordertrail");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_ordertrail"), &bin).unwrap();
    let run_in = |cwd: &Path, args: &[&str]| {
        Command::new(&bin)
            .args(args)
            .current_dir(cwd)
            .env_remove("ORDERTRAIL_MYSQL_URL")
            .output()
            .expect("run ordertrail")
    };

    // Outside a project: a clear error that says what to do.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run_in(&empty, &["stages"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("ordertrail init DIR"),
        "{}",
        text(&out).1
    );

    let out = run_in(dir.path(), &["init", "proj"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let proj = dir.path().join("proj");
    for file in [
        "sql/sources.sql",
        "sql/v1/intermediate/lifecycle.sql",
        "config/ordertrail.toml",
    ] {
        assert_eq!(
            std::fs::read(proj.join(file)).unwrap(),
            std::fs::read(repo().join(file)).unwrap(),
            "{file}"
        );
    }
    // The project's own SQL is what runs: a check removed from it is gone.
    std::fs::remove_file(proj.join("sql/v1/checks/bounce_limit.sql")).unwrap();
    std::fs::remove_dir_all(proj.join("sql/v1/tests/bounce_limit")).unwrap();
    let out = run_in(&proj, &["-q", "demo"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("event_status distribution"), "{stdout}");
    assert!(!stdout.contains("bounce_limit"), "{stdout}");
    assert!(proj.join("out/demo/reports/2026-11-19/finra_cat").is_dir());
    let out = run_in(&proj, &["test"]);
    assert!(out.status.success(), "{}", text(&out).0);
    // --project from anywhere.
    let out = run_in(&empty, &["--project", p(&proj), "stages"]);
    assert!(out.status.success(), "{}", text(&out).1);
    // A project is not overwritten.
    let out = run_in(dir.path(), &["init", "proj"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("is not empty"), "{}", text(&out).1);
}
