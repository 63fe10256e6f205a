//! Correctness checks: SQL files under `<sql version>/checks/`, each returning its failing rows.
//!
//! A check file is one query whose first column is `check_key` (what failed: an order id, an
//! ExecID, `gateway:id` ...); the other columns explain. Its leading comment declares
//! `-- severity: error|warn` and `-- threshold: N` (failing rows allowed, default 0). The check
//! fails when it returns more than `threshold` rows; a failing error-level check fails the run
//! (exit code 1). This module runs checks and writes their results; the rules are the SQL.
//!
//! A check whose joins grow with the day can run in buckets, like a stage (see `pipeline`,
//! "Bucketed stages"): its SQL filters every input on the keys it joins on, by the lake's
//! bucket partitions (`bucket = $bucket`) or by `bucket(key, $buckets) = $bucket`, so that each
//! failing row is found in exactly one bucket. The runner runs the query once per bucket and
//! merges the buckets' failing rows in the check's `order by`: the results are the same as one
//! piece's. A check that reads bucket partitions runs once per lake bucket, each run reading
//! its bucket's files; one keyed by `bucket(key, ...)` alone reads its inputs whole in every
//! run, so it runs in fewer, larger buckets ([`key_runs`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

pub mod html;

use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::collect;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use futures::TryStreamExt;

use crate::engine;
use crate::error::{Error, IoContext, Result};
use crate::pipeline::bucket_params;
use crate::stages::sql_error;
use crate::window::Window;

/// Failing rows kept per check in the results (the count is always exact).
pub const SAMPLE_ROWS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warn,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    pub description: String,
    pub severity: Severity,
    pub threshold: u64,
    /// The tables the query reads, as written (`lifecycle`, `inbound.fix_msg`).
    pub reads: Vec<String>,
    /// The SQL uses `$bucket` / `$buckets`: it may run once per bucket of its keys.
    pub bucketed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// The outcome of one check for one trade date.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub description: String,
    pub severity: Severity,
    pub status: Status,
    pub failing: u64,
    pub threshold: u64,
    /// Every failing `check_key`, distinct, sorted.
    pub keys: Vec<String>,
    /// The first failing rows, as JSON objects.
    pub sample: Vec<serde_json::Value>,
    /// Time the check took (shown in the summary, not stored: results stay reproducible).
    #[serde(skip)]
    pub millis: u128,
    /// The process's peak resident memory while the check ran, sampled (KiB; not stored).
    #[serde(skip)]
    pub peak_rss_kib: Option<u64>,
    /// Buckets the query ran in (1: in one piece; not stored).
    #[serde(skip)]
    pub buckets: usize,
}

/// Load every `*.sql` under `dir` (the `checks/` folder of a SQL version), sorted by name.
pub fn load(dir: &Path) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(checks),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    for path in paths {
        let sql = std::fs::read_to_string(&path).at(&path)?;
        checks.push(parse(&path, sql)?);
    }
    Ok(checks)
}

fn parse(path: &Path, sql: String) -> Result<Check> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let mut severity = None;
    let mut threshold = 0;
    let mut description = String::new();
    let mut in_description = true;
    for (i, line) in sql.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        // The first paragraph of the leading comment, up to the declarations, describes it.
        if comment.starts_with("severity:") || comment.starts_with("threshold:") {
            in_description = false;
        }
        if in_description {
            let text = if i == 0 {
                comment.strip_prefix(&format!("{name}:")).unwrap_or(comment)
            } else {
                comment
            };
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(text.trim());
        }
        if let Some(v) = comment.strip_prefix("severity:") {
            severity = Some(match v.trim() {
                "error" => Severity::Error,
                "warn" => Severity::Warn,
                other => {
                    return Err(Error::input(format!(
                        "{}:{}: severity must be error or warn, not '{other}'",
                        path.display(),
                        i + 1
                    )));
                }
            });
        }
        if let Some(v) = comment.strip_prefix("threshold:") {
            threshold = v.trim().parse().map_err(|_| {
                Error::input(format!(
                    "{}:{}: threshold must be a whole number of failing rows, not '{}'",
                    path.display(),
                    i + 1,
                    v.trim()
                ))
            })?;
        }
    }
    let (refs, order_by) = crate::stages::table_references(path, &sql)?;
    let reads = refs.iter().map(|r| r.to_string()).collect();
    let bucketed = crate::stages::uses_bucket_parameters(&sql);
    if bucketed && order_by.is_none() {
        return Err(Error::Sql {
            file: path.to_path_buf(),
            location: None,
            message: "a check that uses $bucket must end in `order by` of plain columns: its \
                      buckets' failing rows are merged in that order"
                .into(),
        });
    }
    let severity = severity.ok_or_else(|| {
        Error::input_hint(
            format!("{}: no `-- severity: error|warn` line", path.display()),
            "every check declares its severity in its leading comment",
        )
    })?;
    Ok(Check {
        name,
        path: path.to_path_buf(),
        sql,
        description,
        severity,
        threshold,
        reads,
        bucketed,
    })
}

/// Run every check for `date`. A check whose SQL uses `$bucket` runs once per bucket of the
/// lake, `jobs` buckets at a time (or in fewer buckets one at a time: see [`key_runs`]; runs
/// go through `engine::run_buckets`), and its buckets' rows are merged in its `order by`.
pub async fn run(
    ctx: &SessionContext,
    checks: &[Check],
    date: NaiveDate,
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::with_capacity(checks.len());
    let progress =
        crate::progress::Progress::new(format!("check {date}"), checks.len() as u64, "checks");
    for check in checks {
        progress.set_message(check.name.clone());
        let started = Instant::now();
        let rss = crate::resources::RssPeak::start();
        let rows =
            engine::with_spilling_fallback(ctx, &check.name, || failing_rows(ctx, check, date))
                .await?;
        let result = judge(check, &rows, started.elapsed().as_millis(), rss.kib())?;
        tracing::info!(
            check = %check.name, status = ?result.status, failing = result.failing,
            ms = result.millis as u64, buckets = result.buckets,
            peak_rss_mib = result.peak_rss_kib.map(|k| k / 1024), "check done"
        );
        results.push(result);
        progress.inc(1);
    }
    Ok(results)
}

/// A check's failing rows, in its `order by`, and the buckets it ran in.
struct FailingRows {
    batches: Vec<RecordBatch>,
    buckets: usize,
}

/// Run the check's query (once, or once per bucket) and merge the buckets' rows in the
/// query's order.
async fn failing_rows(ctx: &SessionContext, check: &Check, date: NaiveDate) -> Result<FailingRows> {
    let err = |e| sql_error(&check.path, e);
    let plan = engine::bucket_plan(ctx);
    let mut first = ctx
        .sql(&check.sql)
        .await
        .map_err(err)?
        .with_param_values(bucket_params(Window::day(date), 0, plan.buckets))
        .map_err(err)?;
    let (buckets, jobs) = match check.bucketed {
        false => (1, 1),
        true => {
            let optimized = ctx.state().optimize(first.logical_plan()).map_err(err)?;
            match reads_bucket_partitions(&optimized).map_err(err)? {
                true => (plan.buckets, plan.jobs),
                false => (key_runs(plan.buckets), 1),
            }
        }
    };
    if buckets != plan.buckets {
        first = ctx
            .sql(&check.sql)
            .await
            .map_err(err)?
            .with_param_values(bucket_params(Window::day(date), 0, buckets))
            .map_err(err)?;
    }
    let runs = buckets;
    if first.schema().fields().first().map(|f| f.name().as_str()) != Some("check_key") {
        return Err(Error::Sql {
            file: check.path.clone(),
            location: None,
            message: "a check's first column must be named check_key".into(),
        });
    }
    // The order buckets are merged in; on a cluster also the order each bucket's rows are
    // sorted in where they arrive (see `engine::execute_in_order`).
    let ordering = engine::query_ordering(ctx, &first).map_err(err)?;
    let merge = match runs {
        1 => None,
        _ => {
            let plan = first.create_physical_plan().await.map_err(err)?;
            let ordering = ordering.clone().ok_or_else(|| Error::Sql {
                file: check.path.clone(),
                location: None,
                message: "a check run in buckets must end in `order by` its output columns \
                          (its buckets' rows are merged in that order)"
                    .into(),
            })?;
            Some((plan.schema(), ordering))
        }
    };
    let parts = engine::run_buckets(ctx, runs, jobs, |ctx, bucket| {
        let (sql, path, ordering) = (check.sql.clone(), check.path.clone(), ordering.clone());
        async move {
            let err = |e| sql_error(&path, e);
            let df = ctx
                .sql(&sql)
                .await
                .map_err(err)?
                .with_param_values(bucket_params(Window::day(date), bucket, buckets))
                .map_err(err)?;
            engine::execute_in_order(&ctx, df, ordering.as_ref())
                .await
                .map_err(err)?
                .try_collect::<Vec<_>>()
                .await
                .map_err(err)
        }
    })
    .await?;
    let batches = match merge {
        None => parts.into_iter().flatten().collect(),
        Some((schema, ordering)) => {
            let source = MemorySourceConfig::try_new(&parts, schema, None)
                .and_then(|s| s.try_with_sort_information(vec![ordering.clone()]))
                .map_err(err)?;
            let merged =
                SortPreservingMergeExec::new(ordering, DataSourceExec::from_data_source(source));
            collect(Arc::new(merged), ctx.task_ctx())
                .await
                .map_err(err)?
        }
    };
    Ok(FailingRows {
        batches,
        buckets: runs,
    })
}

/// How many runs a check that keys its inputs by `bucket(key, $buckets)` only makes in a lake
/// of `lake_buckets`. Such a check reads every input whole in each run (hashing its keys to
/// keep its bucket's), so its time grows with runs x day; but its joins hold about as much
/// per order as a chain stage's bucket (at 1M orders in 32 buckets, 4 runs two at a time
/// peaked at 735 MiB against 271 MiB for 32), so runs may not grow much larger than the
/// lake's buckets. Half as many runs as the lake has buckets, one at a time (both cores work
/// within the run): each holds twice a bucket's orders, and the inputs are read half as often.
pub fn key_runs(lake_buckets: usize) -> usize {
    lake_buckets.div_ceil(KEY_RUN_SHARE).max(1)
}

/// Lake buckets per run of a check keyed by `bucket(key, ...)` only (see [`key_runs`]).
const KEY_RUN_SHARE: usize = 2;

/// Whether an (optimized) plan reads the `bucket` partition column of a bucketed table: then
/// `$bucket` names lake bucket partitions and the check must run once per lake bucket. A check
/// that never reads that column keys its inputs by `bucket(key, $buckets)` alone, and may run
/// in fewer buckets ([`key_runs`]).
fn reads_bucket_partitions(
    plan: &datafusion::logical_expr::LogicalPlan,
) -> datafusion::error::Result<bool> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    let mut reads = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let has_column = scan
                .source
                .schema()
                .column_with_name(crate::lake::BUCKET_COLUMN)
                .is_some();
            let projected = scan
                .projected_schema
                .fields()
                .iter()
                .any(|f| f.name() == crate::lake::BUCKET_COLUMN);
            let filtered = scan.filters.iter().any(|f| {
                f.column_refs()
                    .iter()
                    .any(|c| c.name == crate::lake::BUCKET_COLUMN)
            });
            if has_column && (projected || filtered) {
                reads = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(reads)
}

/// The result of a check whose query returned `rows`, taking `millis` and `peak_rss_kib`.
fn judge(
    check: &Check,
    rows: &FailingRows,
    millis: u128,
    peak_rss_kib: Option<u64>,
) -> Result<CheckResult> {
    let batches = &rows.batches;
    let failing: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    let mut keys = std::collections::BTreeSet::new();
    for b in batches {
        let col = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
            for k in s.iter() {
                keys.insert(k.unwrap_or("(null)").to_string());
            }
        }
    }
    let sample = sample_rows(batches)?;
    let status = if failing <= check.threshold {
        Status::Pass
    } else if check.severity == Severity::Error {
        Status::Fail
    } else {
        Status::Warn
    };
    Ok(CheckResult {
        check: check.name.clone(),
        description: check.description.clone(),
        severity: check.severity,
        status,
        failing,
        threshold: check.threshold,
        keys: keys.into_iter().collect(),
        sample,
        millis,
        peak_rss_kib,
        buckets: rows.buckets,
    })
}

fn sample_rows(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>> {
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        let mut left = SAMPLE_ROWS;
        for b in batches {
            if left == 0 {
                break;
            }
            let n = left.min(b.num_rows());
            writer.write(&b.slice(0, n))?;
            left -= n;
        }
        writer.finish()?;
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| Error::input(format!("check sample: {e}"))))
        .collect()
}

/// Whether any error-level check failed.
pub fn any_failed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.status == Status::Fail)
}

/// One line per check, summary first: for terminals and alert messages.
pub fn summary(date: NaiveDate, results: &[CheckResult]) -> String {
    let failed = results.iter().filter(|r| r.status == Status::Fail).count();
    let warned = results.iter().filter(|r| r.status == Status::Warn).count();
    let mut out = format!(
        "checks for {date}: {} passed, {failed} failed, {warned} warned\n",
        results.len() - failed - warned
    );
    for r in results {
        let mark = match r.status {
            Status::Pass => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!(
            "  {mark} {:<26} {:>6} failing {:>6} ms",
            r.check, r.failing, r.millis
        ));
        if r.status != Status::Pass {
            let keys: Vec<&str> = r.keys.iter().take(5).map(|s| s.as_str()).collect();
            out.push_str(&format!(
                "  {}{}",
                keys.join(", "),
                if r.keys.len() > 5 { ", ..." } else { "" }
            ));
        }
        out.push('\n');
    }
    out
}

/// The human-readable report: summary first, then each failing check with its keys and rows.
pub fn markdown(date: NaiveDate, results: &[CheckResult]) -> String {
    let mut out = format!("# ordertrail checks, trade date {date}\n\n");
    let failed = results.iter().filter(|r| r.status == Status::Fail).count();
    out.push_str(if failed == 0 {
        "**Result: PASS**: no error-level check failed.\n\n"
    } else {
        "**Result: FAIL**: error-level checks failed; do not submit reports for this day.\n\n"
    });
    out.push_str("| check | severity | status | failing | threshold | what it checks |\n");
    out.push_str("| --- | --- | --- | ---: | ---: | --- |\n");
    for r in results {
        out.push_str(&format!(
            "| {} | {:?} | {:?} | {} | {} | {} |\n",
            r.check, r.severity, r.status, r.failing, r.threshold, r.description
        ));
    }
    for r in results.iter().filter(|r| r.status != Status::Pass) {
        out.push_str(&format!(
            "\n## {} ({:?})\n\n{}\n\nFailing keys: {}\n\n",
            r.check,
            r.status,
            r.description,
            r.keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for row in &r.sample {
            out.push_str(&format!("- `{row}`\n"));
        }
    }
    out
}

/// Write `check_results.json`, `check_report.md` and `check_report.html` into `dir`,
/// atomically.
pub fn write(dir: &Path, date: NaiveDate, results: &[CheckResult]) -> Result<()> {
    let parent = dir
        .parent()
        .ok_or_else(|| Error::internal(format!("bad results directory {}", dir.display())))?;
    std::fs::create_dir_all(parent).map_err(|e| {
        Error::input_hint(
            format!("cannot write check results to {}: {e}", dir.display()),
            "pass a writable directory",
        )
    })?;
    let staging = crate::lake::unique_tmp_dir(&parent.join(".tmp"))?;
    let json = serde_json::json!({
        "trade_date": date.to_string(),
        "passed": !any_failed(results),
        "checks": results,
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::internal(format!("check results: {e}")))?;
    std::fs::write(staging.join("check_results.json"), text + "\n").at(&staging)?;
    std::fs::write(staging.join("check_report.md"), markdown(date, results)).at(&staging)?;
    std::fs::write(
        staging.join("check_report.html"),
        html::report(date, results),
    )
    .at(&staging)?;
    crate::lake::swap_into_place(&staging, dir)?;
    let _ = std::fs::remove_dir(parent.join(".tmp"));
    Ok(())
}

/// Send the summary to the configured alert command (stdin), when error-level checks failed.
/// The check results written for a day in `dir` (by [`write`]), if any.
pub fn read(dir: &Path) -> Result<Option<(bool, Vec<CheckResult>)>> {
    let path = dir.join("check_results.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    #[derive(Deserialize)]
    struct Written {
        passed: bool,
        checks: Vec<CheckResult>,
    }
    let w: Written = serde_json::from_str(&text).map_err(|e| {
        Error::input_hint(
            format!("{}: unreadable check results: {e}", path.display()),
            "run the checks for the day again (ordertrail check)",
        )
    })?;
    Ok(Some((w.passed, w.checks)))
}

pub fn alert(command: &str, text: &str) -> Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::input(format!("alert command `{command}` did not start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let status = child
        .wait()
        .map_err(|e| Error::input(format!("alert command `{command}`: {e}")))?;
    if !status.success() {
        tracing::warn!("alert command `{command}` exited with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;

    #[test]
    fn header_declares_severity_and_threshold() {
        let c = parse(
            Path::new("checks/overfill.sql"),
            "-- overfill: too much\n-- filled\n-- severity: warn\n-- threshold: 2\nselect 1".into(),
        )
        .unwrap();
        assert_eq!(c.description, "too much filled");
        assert_eq!(c.severity, Severity::Warn);
        assert_eq!(c.threshold, 2);
        let err = parse(Path::new("x.sql"), "-- x: y\nselect 1".into()).unwrap_err();
        assert!(err.to_string().contains("severity"), "{err}");
        let err = parse(Path::new("x.sql"), "-- severity: fatal\nselect 1".into()).unwrap_err();
        assert!(err.to_string().contains("x.sql:1"), "{err}");
    }

    #[test]
    fn a_bucketed_check_names_what_it_reads_and_ends_in_order_by() {
        let head = "-- x: y\n-- severity: error\n";
        let c = parse(
            Path::new("x.sql"),
            format!(
                "{head}select chain_id as check_key from lifecycle l join oms.orders o \
                 on o.order_id = l.order_id where bucket(chain_id, $buckets) = $bucket \
                 order by check_key"
            ),
        )
        .unwrap();
        assert!(c.bucketed);
        assert_eq!(c.reads, ["lifecycle", "oms.orders"]);
        let plain = parse(Path::new("x.sql"), format!("{head}select 1 as check_key")).unwrap();
        assert!(!plain.bucketed);
        let err = parse(
            Path::new("x.sql"),
            format!("{head}select chain_id as check_key from lifecycle where bucket(chain_id, $buckets) = $bucket"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("order by"), "{err}");
    }

    /// Which checks must run once per lake bucket: those that read the `bucket` partition
    /// column, however they name it; the others may run in fewer buckets.
    #[tokio::test]
    async fn a_check_reading_bucket_partitions_runs_per_lake_bucket() {
        use arrow::array::{Int64Array, StringArray};
        let ctx = SessionContext::new();
        crate::udf::register_all(&ctx);
        let schema = Arc::new(Schema::new(vec![
            Field::new("chain_id", DataType::Utf8, true),
            Field::new(crate::lake::BUCKET_COLUMN, DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Int64Array::from(vec![0, 1])),
            ],
        )
        .unwrap();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("lifecycle", Arc::new(table)).unwrap();
        let reads = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let df = ctx
                    .sql(sql)
                    .await
                    .unwrap()
                    .with_param_values(bucket_params(
                        Window::day(NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()),
                        0,
                        4,
                    ))
                    .unwrap();
                let plan = ctx.state().optimize(df.logical_plan()).unwrap();
                reads_bucket_partitions(&plan).unwrap()
            }
        };
        assert!(reads("select chain_id from lifecycle where bucket = $bucket").await);
        assert!(
            reads(
                "select chain_id from (select chain_id, bucket as b from lifecycle) \
                 where b = $bucket"
            )
            .await
        );
        assert!(reads("select * from lifecycle where chain_id in (select chain_id from lifecycle where bucket = $bucket)").await);
        assert!(
            !reads("select chain_id from lifecycle where bucket(chain_id, $buckets) = $bucket")
                .await
        );
        assert!(
            !reads(
                "select * exclude (bucket) from lifecycle \
                 where bucket(chain_id, $buckets) = $bucket"
            )
            .await
        );
        assert_eq!(key_runs(1), 1);
        assert_eq!(key_runs(8), 4);
        assert_eq!(key_runs(32), 16);
        assert_eq!(key_runs(33), 17);
    }
}
