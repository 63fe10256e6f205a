//! `ordertrail diff`: one trade date on two sides (two lakes, say prod and gamma, or two SQL
//! versions on one lake), compared stage by stage and report file by report file: the release
//! check of the design (deploy to gamma, compare the flow tables' rows and every report file's
//! hash with prod) as one command.
//!
//! Per stage: rows and an order-independent content hash on each side; where they differ, a
//! keyed row diff run by the engine (so it scales like a stage): rows only in A, only in B, and
//! changed (same key, other values), with the columns that changed and a sample. The key is the
//! stage's `-- unique_key:` when it has one, else the whole row (rows then only appear or
//! vanish). Per report file under `<reports>/<date>/<destination>/`: the SHA-256 on each side.
//! Read-only: nothing is written to either side.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use arrow::row::{RowConverter, SortField};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::lake::{BUCKET_COLUMN, Lake, PARTITION_COLUMN};
use crate::stages::StageGraph;

/// One side of a comparison.
#[derive(Debug, Clone)]
pub struct Side {
    pub lake: PathBuf,
    /// The SQL version whose stage outputs are compared (`stages/<version>/`).
    pub version: String,
    /// Where the side's report files are, if compared.
    pub reports: Option<PathBuf>,
}

impl Side {
    fn describe(&self) -> String {
        format!("lake {} (sql {})", self.lake.display(), self.version)
    }

    fn stage_dir(&self, stage: &str) -> PathBuf {
        Lake::new(&self.lake).stage_table_dir(&self.version, stage)
    }
}

/// One stage compared.
#[derive(Debug, Clone)]
pub struct StageDiff {
    pub stage: String,
    /// Rows and content hash on each side; `None`: no partition for the date.
    pub a: Option<(u64, u64)>,
    pub b: Option<(u64, u64)>,
    /// Where they differ: the row diff.
    pub rows: Option<RowDiff>,
}

impl StageDiff {
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}

/// The rows of a stage that differ.
#[derive(Debug, Clone, Default)]
pub struct RowDiff {
    pub key: Vec<String>,
    /// The stage has no key (or a side lacks it): rows are compared whole.
    pub whole_row: bool,
    pub only_a: u64,
    pub only_b: u64,
    pub changed: u64,
    /// Columns with other values on the two sides, with the number of rows.
    pub changed_columns: Vec<(String, u64)>,
    /// Columns only one side has.
    pub columns_only_a: Vec<String>,
    pub columns_only_b: Vec<String>,
    /// A few rows of each kind, as text.
    pub samples: Vec<String>,
}

/// One report file compared.
#[derive(Debug, Clone)]
pub struct FileDiff {
    /// `<destination>/<file>`.
    pub name: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// Everything compared.
#[derive(Debug, Clone)]
pub struct Diff {
    pub date: NaiveDate,
    pub a: Side,
    pub b: Side,
    pub stages: Vec<StageDiff>,
    pub files: Vec<FileDiff>,
}

impl Diff {
    pub fn differs(&self) -> bool {
        self.stages.iter().any(StageDiff::differs) || self.files.iter().any(|f| f.a != f.b)
    }

    /// The summary first, then every stage and file, then the row diffs.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let stages = self.stages.iter().filter(|s| s.differs()).count();
        let files = self.files.iter().filter(|f| f.a != f.b).count();
        let _ = writeln!(
            out,
            "trade date {}: A = {}, B = {}",
            self.date,
            self.a.describe(),
            self.b.describe()
        );
        let _ = writeln!(
            out,
            "{}: {stages} of {} stages differ, {files} of {} report files differ\n",
            if self.differs() { "DIFFERENT" } else { "SAME" },
            self.stages.len(),
            self.files.len()
        );
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>10}  {:<16} {:<16}",
            "stage", "rows A", "rows B", "hash A", "hash B"
        );
        let cell = |s: &Option<(u64, u64)>| match s {
            Some((rows, hash)) => (rows.to_string(), format!("{hash:016x}")),
            None => ("-".into(), "no partition".into()),
        };
        for s in &self.stages {
            let (ra, ha) = cell(&s.a);
            let (rb, hb) = cell(&s.b);
            let _ = writeln!(
                out,
                "{:<24} {ra:>10} {rb:>10}  {ha:<16} {hb:<16}{}",
                s.stage,
                if s.differs() { "  DIFFERS" } else { "" }
            );
        }
        if !self.files.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<56} {:<16} {:<16}",
                "report file", "sha256 A", "sha256 B"
            );
            let short = |h: &Option<String>| match h {
                Some(h) => h.chars().take(16).collect(),
                None => "missing".to_string(),
            };
            for f in &self.files {
                let _ = writeln!(
                    out,
                    "{:<56} {:<16} {:<16}{}",
                    f.name,
                    short(&f.a),
                    short(&f.b),
                    if f.a != f.b { "  DIFFERS" } else { "" }
                );
            }
        }
        for s in self.stages.iter().filter(|s| s.differs()) {
            let Some(d) = &s.rows else { continue };
            let key = if d.whole_row {
                "rows compared whole".to_string()
            } else {
                format!("key {}", d.key.join(", "))
            };
            let _ = writeln!(
                out,
                "\n== {} ({key}): {} only in A, {} only in B, {} changed",
                s.stage, d.only_a, d.only_b, d.changed
            );
            if !d.columns_only_a.is_empty() || !d.columns_only_b.is_empty() {
                let _ = writeln!(
                    out,
                    "   columns only in A: {}; only in B: {}",
                    d.columns_only_a.join(", "),
                    d.columns_only_b.join(", ")
                );
            }
            if !d.changed_columns.is_empty() {
                let cols: Vec<String> = d
                    .changed_columns
                    .iter()
                    .map(|(c, n)| format!("{c} ({n})"))
                    .collect();
                let _ = writeln!(out, "   changed columns: {}", cols.join(", "));
            }
            for line in &d.samples {
                let _ = writeln!(out, "   {line}");
            }
        }
        out
    }
}

/// Rows kept per kind in a row diff's sample.
const SAMPLE: usize = 5;

/// Compare `date` on sides `a` and `b`. `graph` names the stages and their keys.
pub async fn diff(graph: &StageGraph, date: NaiveDate, a: &Side, b: &Side) -> Result<Diff> {
    for side in [a, b] {
        if !side.lake.is_dir() {
            return Err(Error::input_hint(
                format!("no lake at {}", side.lake.display()),
                "pass the lakes with --lake-a and --lake-b",
            ));
        }
    }
    let scratch =
        tempfile::tempdir().map_err(|e| Error::input(format!("no scratch folder: {e}")))?;
    let ctx = crate::engine::new_context(
        &Lake::new(scratch.path()),
        &crate::engine::EngineOptions::default(),
    )?;
    // The stages of either side's version folder, in the graph's order first.
    let mut names: Vec<String> = graph.stages.iter().map(|s| s.name.clone()).collect();
    let mut extra = BTreeSet::new();
    for side in [a, b] {
        let dir = Lake::new(&side.lake)
            .root()
            .join("stages")
            .join(&side.version);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() && !name.starts_with('.') && !names.contains(&name) {
                    extra.insert(name);
                }
            }
        }
    }
    names.extend(extra);
    let mut stages = Vec::new();
    for name in names {
        let (dir_a, dir_b) = (a.stage_dir(&name), b.stage_dir(&name));
        let part_a = Lake::partition_dir(&dir_a, date);
        let part_b = Lake::partition_dir(&dir_b, date);
        if !part_a.exists() && !part_b.exists() {
            continue;
        }
        let table_a = format!("a_{name}");
        let table_b = format!("b_{name}");
        let sum_a = side_summary(&ctx, &table_a, &dir_a, &part_a, date).await?;
        let sum_b = side_summary(&ctx, &table_b, &dir_b, &part_b, date).await?;
        let mut s = StageDiff {
            stage: name.clone(),
            a: sum_a,
            b: sum_b,
            rows: None,
        };
        if s.differs() && sum_a.is_some() && sum_b.is_some() {
            let key = graph
                .get(&name)
                .and_then(|st| st.incremental.as_ref())
                .map(|inc| inc.unique_key.clone())
                .unwrap_or_default();
            s.rows = Some(row_diff(&ctx, &table_a, &table_b, date, key).await?);
        }
        stages.push(s);
    }
    let files = match (&a.reports, &b.reports) {
        (Some(ra), Some(rb)) => file_diffs(&ra.join(date.to_string()), &rb.join(date.to_string()))?,
        _ => Vec::new(),
    };
    Ok(Diff {
        date,
        a: a.clone(),
        b: b.clone(),
        stages,
        files,
    })
}

/// Register one side's stage table; its rows and content hash for `date`, `None` without a
/// partition.
async fn side_summary(
    ctx: &SessionContext,
    table: &str,
    dir: &Path,
    part: &Path,
    date: NaiveDate,
) -> Result<Option<(u64, u64)>> {
    if !part.exists() {
        return Ok(None);
    }
    let bucketed = std::fs::read_dir(part)
        .map_err(|e| Error::io(part, e))?
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("bucket="));
    crate::engine::register_stage(ctx, dir, table, bucketed).await?;
    let df = ctx
        .sql(&format!(
            "select * exclude ({PARTITION_COLUMN}{}) from \"{table}\" where {PARTITION_COLUMN} = $1",
            if bucketed {
                format!(", {BUCKET_COLUMN}")
            } else {
                String::new()
            }
        ))
        .await?
        .with_param_values(vec![crate::pipeline::date_scalar(date)])?;
    let schema = df.schema().as_arrow().clone();
    let converter = RowConverter::new(
        schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )?;
    let mut rows = 0u64;
    let mut hash = 0u64;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let converted = converter.convert_columns(batch.columns())?;
        for row in converted.iter() {
            // SipHash with fixed keys: the same rows give the same sum in every process.
            let mut h = std::hash::DefaultHasher::new();
            row.as_ref().hash(&mut h);
            hash = hash.wrapping_add(h.finish());
            rows += 1;
        }
    }
    Ok(Some((rows, hash)))
}

/// Quote an identifier for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn row_diff(
    ctx: &SessionContext,
    table_a: &str,
    table_b: &str,
    date: NaiveDate,
    key: Vec<String>,
) -> Result<RowDiff> {
    let cols_a = table_columns(ctx, table_a).await?;
    let cols_b = table_columns(ctx, table_b).await?;
    let common: Vec<String> = cols_a
        .iter()
        .filter(|c| cols_b.contains(c))
        .cloned()
        .collect();
    let mut d = RowDiff {
        columns_only_a: cols_a
            .iter()
            .filter(|c| !cols_b.contains(c))
            .cloned()
            .collect(),
        columns_only_b: cols_b
            .iter()
            .filter(|c| !cols_a.contains(c))
            .cloned()
            .collect(),
        ..Default::default()
    };
    // The key, if both sides have it; else the whole row (of common columns).
    let keyed = !key.is_empty() && key.iter().all(|k| common.contains(k));
    let key: Vec<String> = if keyed { key } else { common.clone() };
    d.whole_row = !keyed;
    let values: Vec<&String> = common.iter().filter(|c| !key.contains(c)).collect();
    d.key = key.clone();
    let side = |table: &str| {
        format!(
            "(select {} from {} where {PARTITION_COLUMN} = $1)",
            common
                .iter()
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            ident(table)
        )
    };
    let (sa, sb) = (side(table_a), side(table_b));
    let on: String = key
        .iter()
        .map(|k| format!("(a.{0} is not distinct from b.{0})", ident(k)))
        .collect::<Vec<_>>()
        .join(" and ");
    let key_list = |alias: &str| {
        key.iter()
            .map(|k| format!("{alias}.{}", ident(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let params = || vec![crate::pipeline::date_scalar(date)];
    let count = |sql: String| async move {
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(params())?
            .collect()
            .await?;
        count_cell(&first_cell(&batches))
    };
    // Rows of one side with no row of the other side's key: `from_a` picks the side.
    let only = |from_a: bool| {
        let (this, that, alias, other) = if from_a {
            (&sa, &sb, "a", "b")
        } else {
            (&sb, &sa, "b", "a")
        };
        format!("from {this} {alias} where not exists (select 1 from {that} {other} where {on})")
    };
    d.only_a = count(format!("select count(*) {}", only(true))).await?;
    d.only_b = count(format!("select count(*) {}", only(false))).await?;
    let sample = |sql: String, label: &'static str| async move {
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(params())?
            .collect()
            .await?;
        let mut lines = Vec::new();
        for b in &batches {
            let fmt: Vec<_> = b
                .columns()
                .iter()
                .map(|c| {
                    arrow::util::display::ArrayFormatter::try_new(
                        c.as_ref(),
                        &arrow::util::display::FormatOptions::default().with_null("NULL"),
                    )
                })
                .collect::<std::result::Result<_, _>>()?;
            for i in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .schema()
                    .fields()
                    .iter()
                    .zip(&fmt)
                    .map(|(f, v)| format!("{}={}", f.name(), v.value(i)))
                    .collect();
                lines.push(format!("{label}: {}", cells.join(" ")));
            }
        }
        Ok::<Vec<String>, Error>(lines)
    };
    for (from_a, n, alias, label) in [
        (true, d.only_a, "a", "only in A"),
        (false, d.only_b, "b", "only in B"),
    ] {
        if n > 0 {
            let sql = format!(
                "select * {} order by {} limit {SAMPLE}",
                only(from_a),
                key_list(alias)
            );
            d.samples.extend(sample(sql, label).await?);
        }
    }
    if !values.is_empty() {
        let differs = |c: &String| format!("(a.{0} is distinct from b.{0})", ident(c));
        let any = values
            .iter()
            .map(|c| differs(c))
            .collect::<Vec<_>>()
            .join(" or ");
        let sums = values
            .iter()
            .map(|c| format!("sum(case when {} then 1 else 0 end)", differs(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let batches = ctx
            .sql(&format!(
                "select count(*), {sums} from {sa} a join {sb} b on {on} where {any}"
            ))
            .await?
            .with_param_values(params())?
            .collect()
            .await?;
        let cells = all_cells(&batches);
        d.changed = count_cell(cells.first().map_or("", String::as_str))?;
        for (c, n) in values.iter().zip(cells.iter().skip(1)) {
            let n = count_cell(n)?;
            if n > 0 {
                d.changed_columns.push(((*c).clone(), n));
            }
        }
        if d.changed > 0 {
            let shown: Vec<String> = key
                .iter()
                .map(|k| format!("a.{0} as {0}", ident(k)))
                .chain(d.changed_columns.iter().flat_map(|(c, _)| {
                    [
                        format!("a.{} as {}", ident(c), ident(&format!("{c} (A)"))),
                        format!("b.{} as {}", ident(c), ident(&format!("{c} (B)"))),
                    ]
                }))
                .collect();
            d.samples.extend(
                sample(
                    format!(
                        "select {} from {sa} a join {sb} b on {on} where {any} order by {} \
                         limit {SAMPLE}",
                        shown.join(", "),
                        key_list("a")
                    ),
                    "changed",
                )
                .await?,
            );
        }
    }
    Ok(d)
}

/// A registered table's columns, partition columns aside.
async fn table_columns(ctx: &SessionContext, table: &str) -> Result<Vec<String>> {
    let df = ctx.table(table).await?;
    Ok(df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != PARTITION_COLUMN && n != BUCKET_COLUMN)
        .collect())
}

fn all_cells(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    b.columns()
        .iter()
        .map(|c| arrow::util::display::array_value_to_string(c, 0).unwrap_or_default())
        .collect()
}

/// A count as the engine printed it: NULL (a sum over no rows) is 0; anything else that is not
/// a number is a bug, not "no difference".
fn count_cell(text: &str) -> Result<u64> {
    match text {
        "" | "NULL" => Ok(0),
        _ => text
            .parse()
            .map_err(|_| Error::internal(format!("diff: a count came back as {text:?}"))),
    }
}

fn first_cell(batches: &[arrow::array::RecordBatch]) -> String {
    all_cells(batches).into_iter().next().unwrap_or_default()
}

/// Report files of one date on both sides: `<destination>/<file>` with each side's SHA-256.
fn file_diffs(a: &Path, b: &Path) -> Result<Vec<FileDiff>> {
    let list = |day: &Path| -> Result<Vec<(String, PathBuf)>> {
        if !day.is_dir() {
            return Ok(Vec::new());
        }
        Ok(crate::lake::partition_files(day)?
            .into_iter()
            .filter(|(rel, _)| !rel.starts_with('.'))
            .collect())
    };
    let files_a = list(a)?;
    let files_b = list(b)?;
    let names: BTreeSet<&String> = files_a.iter().chain(&files_b).map(|(r, _)| r).collect();
    let hash = |files: &[(String, PathBuf)], name: &str| -> Result<Option<String>> {
        match files.iter().find(|(r, _)| r == name) {
            Some((_, path)) => Ok(Some(crate::lake::file_sha256(path)?)),
            None => Ok(None),
        }
    };
    names
        .into_iter()
        .map(|name| {
            Ok(FileDiff {
                name: name.clone(),
                a: hash(&files_a, name)?,
                b: hash(&files_b, name)?,
            })
        })
        .collect()
}
