//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use ordertrail::engine::EngineOptions;
use ordertrail::fixtures;
use ordertrail::lake::Lake;
use ordertrail::pipeline::{self, StageRun};
use ordertrail::sources::Sources;
use ordertrail::stages::StageGraph;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sql_dir() -> PathBuf {
    repo().join("sql").join("v1")
}

pub fn fixture_dates() -> Vec<NaiveDate> {
    vec![date("2026-11-19"), date("2026-11-20")]
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

pub fn sources() -> Sources {
    Sources::load(&repo().join("sql").join("sources.sql")).expect("sources.sql loads")
}

pub fn graph(sql: &Path) -> StageGraph {
    StageGraph::load(sql, &sources()).expect("stage graph loads")
}

pub fn config() -> ordertrail::config::Config {
    ordertrail::config::Config::load(&repo().join("data-fixtures/ordertrail.toml"))
        .expect("config loads")
}

/// The repository's project (sql/v1, sources, config), as the commands load it.
pub fn project() -> ordertrail::project::Project {
    ordertrail::project::Project::load(None, None, None).expect("project loads")
}

pub fn small_engine() -> EngineOptions {
    EngineOptions {
        memory_limit: 512 << 20,
        target_partitions: 2,
        // The fixture config's count, for lakes that the project's own config (8) would
        // otherwise start: lakes compared byte for byte must have the same count.
        buckets: Some(
            config()
                .lake
                .buckets
                .expect("data-fixtures/ordertrail.toml names the lake's bucket count"),
        ),
        jobs: 2,
        // ORDERTRAIL_TEST_CLUSTER=HOST:PORT runs the library tests' queries on that cluster.
        cluster: std::env::var("ORDERTRAIL_TEST_CLUSTER").ok(),
    }
}

/// A lake with the fixture day loaded.
pub fn fixture_lake(dir: &Path) -> Lake {
    lake_from(dir, &repo().join("data-fixtures"))
}

/// A lake with the fixture directory `fixtures` loaded.
pub fn lake_from(dir: &Path, fixtures: &Path) -> Lake {
    let lake = Lake::new(dir.join("lake"));
    fixtures::load_dir(&lake, &sources(), fixtures).expect("fixtures load");
    lake
}

/// Run every stage for every fixture date, in date order.
pub async fn run_all(lake: &Lake, sql: &Path) -> Vec<(NaiveDate, Vec<StageRun>)> {
    run_dates(lake, sql, &fixture_dates()).await
}

/// Run every stage for each of `dates`, in order.
pub async fn run_dates(
    lake: &Lake,
    sql: &Path,
    dates: &[NaiveDate],
) -> Vec<(NaiveDate, Vec<StageRun>)> {
    run_dates_with(lake, sql, dates, &small_engine()).await
}

/// Run every stage for each of `dates`, in order, with these engine options.
pub async fn run_dates_with(
    lake: &Lake,
    sql: &Path,
    dates: &[NaiveDate],
    options: &EngineOptions,
) -> Vec<(NaiveDate, Vec<StageRun>)> {
    let sources = sources();
    let graph = graph(sql);
    let ctx = ordertrail::project::context_for(lake, &sources, &graph, &config(), options)
        .await
        .expect("context");
    let mut out = Vec::new();
    for &d in dates {
        let runs = pipeline::run(&ctx, lake, &sources, &graph, d, &[])
            .await
            .unwrap_or_else(|e| panic!("run {d}: {e}"));
        out.push((d, runs));
    }
    out
}

/// A stage's partition folder for `d`.
pub fn stage_part(lake: &Lake, stage: &str, d: NaiveDate) -> PathBuf {
    Lake::partition_dir(&lake.stage_table_dir("v1", stage), d)
}

/// Every file of a stage's partition for `d` (bucket folders too), by path within it.
pub fn stage_bytes(
    lake: &Lake,
    stage: &str,
    d: NaiveDate,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let part = stage_part(lake, stage, d);
    assert!(part.exists(), "{} is missing", part.display());
    files_below(&part)
}

/// The files that differ between two sets of partition files (by name, then by bytes).
pub fn differing_files(
    a: &std::collections::BTreeMap<String, Vec<u8>>,
    b: &std::collections::BTreeMap<String, Vec<u8>>,
) -> String {
    let mut out: Vec<String> = a
        .keys()
        .filter(|k| !b.contains_key(*k))
        .map(|k| format!("only first: {k}"))
        .collect();
    out.extend(
        b.keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| format!("only second: {k}")),
    );
    out.extend(
        a.iter()
            .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| format!("bytes differ: {k}")),
    );
    out.join(", ")
}

/// All rows of a stage's partition: in file order when it is one file; from bucket files, in
/// the stage's `order by` (the order one file of the whole day would have).
pub fn read_stage(lake: &Lake, stage: &str, d: NaiveDate) -> Vec<RecordBatch> {
    let part = stage_part(lake, stage, d);
    let files: Vec<_> = ordertrail::lake::partition_files(&part)
        .unwrap_or_else(|e| panic!("{}: {e}", part.display()));
    let batches: Vec<RecordBatch> = files.iter().flat_map(|(_, f)| read_parquet(f)).collect();
    if files.len() == 1 || batches.is_empty() {
        return batches;
    }
    let schema = batches[0].schema();
    let all = arrow::compute::concat_batches(&schema, &batches).expect("concat");
    let graph = graph(&sql_dir());
    let order = graph
        .get(stage)
        .and_then(|s| s.output_order.clone())
        .unwrap_or_else(|| panic!("{stage} is written in several files but has no plain order"));
    let columns: Vec<_> = order
        .iter()
        .map(|c| arrow::compute::SortColumn {
            values: all.column_by_name(c).expect("order column").clone(),
            options: Some(arrow::compute::SortOptions {
                descending: false,
                nulls_first: false,
            }),
        })
        .collect();
    let indices = arrow::compute::lexsort_to_indices(&columns, None).expect("sort");
    vec![arrow::compute::take_record_batch(&all, &indices).expect("take")]
}

/// Rows as newline-delimited JSON objects (stable, reviewable, handles lists).
pub fn to_ndjson(batches: &[RecordBatch]) -> String {
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        for b in batches {
            writer.write(b).expect("json");
        }
        writer.finish().expect("json");
    }
    String::from_utf8(buf).expect("utf8")
}

/// Compare `actual` with the golden file, or rewrite it when ORDERTRAIL_BLESS is set.
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("ORDERTRAIL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "golden file {} is missing; run ORDERTRAIL_BLESS=1 cargo test and review it",
            path.display()
        )
    });
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(3)
            .map(|(i, (e, a))| format!("line {}:\n  expected {e}\n  actual   {a}", i + 1))
            .collect();
        panic!(
            "{} differs from the stage output ({} expected lines, {} actual)\n{}\n\
             If the change is intended, run ORDERTRAIL_BLESS=1 cargo test and review the diff.",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// Run the binary in the repository with `args`: exit code, stdout, stderr.
pub fn ordertrail(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordertrail"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run ordertrail");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copy a directory tree (for tests that edit SQL).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file below `root`, by path relative to it.
pub fn files_below(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The record batches of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Overwrite `path` with `batches` as Parquet (to alter a lake file as someone else would).
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}
