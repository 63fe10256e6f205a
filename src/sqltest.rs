//! SQL unit tests (`ordertrail test`): a rule stated with a few input rows and the rows it must
//! give, kept beside the stages as `<sql version>/tests/<stage or check>/<case>.toml`:
//!
//! ```toml
//! description = "a client order filled in full ends FILLED"
//! date = "2026-11-19"               # the trade date ($trade_date), default 2026-11-19
//! ordered = false                   # compare rows in order (default: as a multiset)
//!
//! [[given."oms.orders"]]            # rows of a table the query reads; columns not given are NULL
//! order_id = "ORD-1"
//! create_time = "2026-11-19T14:30:00Z"
//!
//! [[given.flow_complete]]           # a stage's output: its columns as the stage writes them
//! chain_id = "ORD-1"
//!
//! [[expect]]                        # the rows the query must return, on the columns the
//! chain_id = "ORD-1"                # expected rows name (a row leaving one out expects NULL)
//! event_status = 4
//! ```
//!
//! Every table is in memory: raw tables with their declared schema (`sql/sources.sql`), each
//! stage with the schema its SQL gives (planned, not run), `trade_date` (and `bucket` for a
//! bucketed stage, 0) filled in when not given. A stage that reads no table (reference data:
//! `event_status`) holds what its SQL gives unless the case gives its rows. The stage's (or check's) SQL runs once for the
//! whole trade date in one bucket, with every parameter bound as in a run. Values are typed from
//! the text by the column's type (timestamps as RFC 3339, decimals exactly from strings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::NaiveDate;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lake::{BUCKET_COLUMN, PARTITION_COLUMN};
use crate::sources::Sources;
use crate::stages::StageGraph;

/// Default trade date of a case.
const DEFAULT_DATE: &str = "2026-11-19";

/// One case, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    description: String,
    date: Option<NaiveDate>,
    #[serde(default)]
    ordered: bool,
    #[serde(default)]
    given: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    expect: Vec<toml::Table>,
}

/// A case file found under `tests/`.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<stage or check>/<case>`.
    pub name: String,
    /// The stage or check it tests.
    pub target: String,
    pub path: PathBuf,
}

/// What one case gave.
#[derive(Debug)]
pub struct Outcome {
    pub case: Case,
    pub description: String,
    pub millis: u128,
    /// `None`: passed; otherwise what differed, as a side-by-side table.
    pub failure: Option<String>,
}

/// Every case under `<sql>/tests/`, sorted; only those of `only` (stage or check names) when
/// not empty.
pub fn discover(sql: &Path, only: &[String]) -> Result<Vec<Case>> {
    let root = sql.join("tests");
    let mut cases = Vec::new();
    let Ok(targets) = std::fs::read_dir(&root) else {
        return Ok(cases);
    };
    for target in targets.flatten() {
        let dir = target.path();
        if !dir.is_dir() {
            continue;
        }
        let name = target.file_name().to_string_lossy().into_owned();
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        for file in std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                cases.push(Case {
                    name: format!("{name}/{stem}"),
                    target: name.clone(),
                    path,
                });
            }
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// What the cases run against: the project's stages, checks, sources and configuration.
pub struct Suite<'a> {
    graph: &'a StageGraph,
    sources: &'a Sources,
    config: &'a Config,
    /// A folder for the engine's spill files (nothing else is written), removed with the suite.
    scratch: tempfile::TempDir,
    /// Each stage's output schema, planned once for all cases.
    schemas: tokio::sync::OnceCell<BTreeMap<String, SchemaRef>>,
}

impl<'a> Suite<'a> {
    pub fn new(
        graph: &'a StageGraph,
        sources: &'a Sources,
        config: &'a Config,
    ) -> Result<Suite<'a>> {
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::input(format!("no scratch folder for the engine: {e}")))?;
        Ok(Suite {
            graph,
            sources,
            config,
            scratch,
            schemas: tokio::sync::OnceCell::new(),
        })
    }

    /// Run one case.
    pub async fn run(&self, case: &Case) -> Result<Outcome> {
        let started = Instant::now();
        let text = std::fs::read_to_string(&case.path).map_err(|e| Error::io(&case.path, e))?;
        let file: CaseFile = toml::from_str(&text).map_err(|e| {
            Error::input_hint(
                format!("{}: {e}", case.path.display()),
                "a case has description, date, ordered, [[given.<table>]] rows and [[expect]] rows",
            )
        })?;
        let date = file
            .date
            .unwrap_or_else(|| DEFAULT_DATE.parse().expect("valid default date"));
        let (sql, reads) = self.target(case)?;
        for table in file.given.keys() {
            let known = self.sources.get(table).is_some() || self.graph.get(table).is_some();
            if reads.contains(table) && !known {
                return Err(Error::input_hint(
                    format!(
                        "{}: given rows of {table}: only raw tables and stages can be given",
                        case.path.display()
                    ),
                    "configuration tables come from --config; recon.totals is empty in a case",
                ));
            }
            if !reads.contains(table) {
                return Err(Error::input_hint(
                    format!(
                        "{}: given rows of {table}, which {} does not read",
                        case.path.display(),
                        case.target
                    ),
                    format!("it reads: {}", reads.join(", ")),
                ));
            }
        }
        let ctx = self.context(&file.given, date, &case.path).await?;
        let df = ctx
            .sql(&sql)
            .await
            .map_err(|e| Error::input(format!("{}: {e}", case.target)))?
            .with_param_values(crate::pipeline::stage_params(date))?;
        let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        // The rows' own types (the plan's may name a string type the batches do not use).
        let schema = batches.first().map(|b| b.schema()).unwrap_or(planned);
        let actual = arrow::compute::concat_batches(&schema, &batches)?;
        let failure = compare(&case.path, &actual, &file.expect, file.ordered)?;
        Ok(Outcome {
            case: case.clone(),
            description: file.description,
            millis: started.elapsed().as_millis(),
            failure,
        })
    }

    /// The SQL of the stage or check a case tests, and the tables it reads.
    fn target(&self, case: &Case) -> Result<(String, Vec<String>)> {
        if let Some(stage) = self.graph.get(&case.target) {
            let reads = stage
                .sources
                .iter()
                .chain(&stage.deps)
                .chain(&stage.config)
                .cloned()
                .collect();
            return Ok((stage.sql.clone(), reads));
        }
        let checks = crate::checks::load(&self.graph.dir.join("checks"))?;
        if let Some(check) = checks.into_iter().find(|c| c.name == case.target) {
            return Ok((check.sql, check.reads));
        }
        Err(Error::input_hint(
            format!(
                "{}: no stage or check named {}",
                case.path.display(),
                case.target
            ),
            "a case lives in tests/<stage or check name>/",
        ))
    }

    /// A context with the configuration tables and the engine's functions, no other table.
    /// (Its spill files go to the suite's scratch folder.)
    fn bare_context(&self) -> Result<SessionContext> {
        let lake = crate::lake::Lake::new(self.scratch.path());
        let options = crate::engine::EngineOptions {
            target_partitions: 1,
            buckets: Some(1),
            ..Default::default()
        };
        let ctx = crate::engine::new_context(&lake, &options)?;
        crate::engine::set_buckets(&ctx, 1);
        self.config.register(&ctx)?;
        crate::engine::register_recon(&ctx, None)?;
        Ok(ctx)
    }

    /// Each stage's output schema with its partition columns: its SQL planned over empty
    /// tables, in dependency order.
    async fn stage_schemas(&self) -> Result<&BTreeMap<String, SchemaRef>> {
        self.schemas
            .get_or_try_init(|| async {
                let ctx = self.bare_context()?;
                let date: NaiveDate = DEFAULT_DATE.parse().expect("valid default date");
                self.register(
                    &ctx,
                    &BTreeMap::new(),
                    &BTreeMap::new(),
                    date,
                    Path::new(""),
                )
                .await?;
                let mut schemas = BTreeMap::new();
                for stage in &self.graph.stages {
                    let planned = ctx
                        .sql(&stage.sql)
                        .await
                        .map_err(|e| crate::stages::sql_error(&stage.path, e))?
                        .with_param_values(crate::pipeline::stage_params(date))?;
                    let schema = with_partitions(
                        Arc::new(planned.schema().as_arrow().clone()),
                        stage.bucket_by.is_some(),
                    );
                    ctx.register_table(
                        stage.name.as_str(),
                        Arc::new(MemTable::try_new(schema.clone(), vec![vec![]])?),
                    )?;
                    schemas.insert(stage.name.clone(), schema);
                }
                Ok::<_, Error>(schemas)
            })
            .await
    }

    /// A context with every raw table and stage registered, empty, with the lake's types: for
    /// planning queries (lineage).
    pub async fn planning_context(&self) -> Result<SessionContext> {
        let date: NaiveDate = DEFAULT_DATE.parse().expect("valid default date");
        self.context(&BTreeMap::new(), date, Path::new("")).await
    }

    /// A context with every table in memory: the given rows, or none.
    async fn context(
        &self,
        given: &BTreeMap<String, Vec<toml::Table>>,
        date: NaiveDate,
        path: &Path,
    ) -> Result<SessionContext> {
        let schemas = self.stage_schemas().await?;
        let ctx = self.bare_context()?;
        self.register(&ctx, schemas, given, date, path).await?;
        // A stage that reads no table (reference data such as event_status) is what its SQL
        // says, unless the case gives its rows.
        for stage in &self.graph.stages {
            let reads_nothing =
                stage.sources.is_empty() && stage.deps.is_empty() && stage.config.is_empty();
            if !reads_nothing || given.contains_key(&stage.name) {
                continue;
            }
            let batches = ctx
                .sql(&stage.sql)
                .await?
                .with_param_values(crate::pipeline::stage_params(date))?
                .collect()
                .await?;
            let schema = &schemas[&stage.name];
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            let day = (date - epoch).num_days() as i32;
            let mut with_date = Vec::new();
            for b in batches {
                let mut columns = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                columns.push(Arc::new(arrow::array::Date32Array::from(vec![
                    day;
                    b.num_rows()
                ])));
                with_date.push(RecordBatch::try_new(schema.clone(), columns)?);
            }
            ctx.deregister_table(stage.name.as_str())?;
            ctx.register_table(
                stage.name.as_str(),
                Arc::new(MemTable::try_new(schema.clone(), vec![with_date])?),
            )?;
        }
        Ok(ctx)
    }

    /// Register the raw tables and the stages of `schemas` with the given rows.
    async fn register(
        &self,
        ctx: &SessionContext,
        schemas: &BTreeMap<String, SchemaRef>,
        given: &BTreeMap<String, Vec<toml::Table>>,
        date: NaiveDate,
        path: &Path,
    ) -> Result<()> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let day = (date - epoch).num_days() as i32;
        for table in &self.sources.tables {
            let name = table.qualified_name();
            let schema = with_partitions(table.schema(), false);
            let batch = rows(&schema, given.get(&name), day, path, &name)?;
            crate::engine::ensure_schema(ctx, &table.db)?;
            ctx.register_table(
                TableReference::partial(table.db.as_str(), table.name.as_str()),
                Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
            )?;
        }
        for (stage, schema) in schemas {
            let batch = rows(schema, given.get(stage), day, path, stage)?;
            ctx.register_table(
                stage.as_str(),
                Arc::new(MemTable::try_new(schema.clone(), vec![vec![batch]])?),
            )?;
        }
        Ok(())
    }
}

/// `schema` with the partition columns a lake table has: `trade_date`, and `bucket` when
/// bucketed.
fn with_partitions(schema: SchemaRef, bucketed: bool) -> SchemaRef {
    // As the lake stores it (view types plain), as a stage reading it sees it.
    let schema = crate::lake::plain_schema(&schema);
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != PARTITION_COLUMN && f.name() != BUCKET_COLUMN)
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, false));
    if bucketed {
        fields.push(Field::new(BUCKET_COLUMN, DataType::Int64, false));
    }
    Arc::new(Schema::new(fields))
}

/// The given rows as a batch of `schema`: each value typed by its column; columns not given
/// are NULL, `trade_date` the case's date and `bucket` 0 unless given.
fn rows(
    schema: &SchemaRef,
    given: Option<&Vec<toml::Table>>,
    day: i32,
    path: &Path,
    table: &str,
) -> Result<RecordBatch> {
    let given = given.map(|v| v.as_slice()).unwrap_or(&[]);
    let mut json = Vec::new();
    for (i, row) in given.iter().enumerate() {
        let mut obj = serde_json::Map::new();
        for (key, value) in row {
            if schema.column_with_name(key).is_none() {
                return Err(Error::input_hint(
                    format!(
                        "{}: given row {} of {table} has a column {key} the table does not have",
                        path.display(),
                        i + 1
                    ),
                    format!(
                        "its columns: {}",
                        schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            obj.insert(key.clone(), to_json(value));
        }
        obj.entry(PARTITION_COLUMN)
            .or_insert_with(|| serde_json::Value::String(date_text(day)));
        if schema.column_with_name(BUCKET_COLUMN).is_some() {
            obj.entry(BUCKET_COLUMN)
                .or_insert(serde_json::Value::from(0));
        }
        json.push(serde_json::Value::Object(obj));
    }
    decode(schema, &json).map_err(|e| {
        Error::input(format!(
            "{}: rows of {table} do not fit its columns: {e}",
            path.display()
        ))
    })
}

fn date_text(day: i32) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    (epoch + chrono::Duration::days(i64::from(day))).to_string()
}

/// TOML values as the JSON arrow-json reads: dates and times as text.
fn to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// Rows (JSON objects) as one batch of `schema`.
fn decode(
    schema: &SchemaRef,
    rows: &[serde_json::Value],
) -> std::result::Result<RecordBatch, String> {
    if rows.is_empty() {
        return Ok(RecordBatch::new_empty(schema.clone()));
    }
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .map_err(|e| e.to_string())?;
    decoder.serialize(rows).map_err(|e| e.to_string())?;
    match decoder.flush().map_err(|e| e.to_string())? {
        Some(batch) => Ok(batch),
        None => Ok(RecordBatch::new_empty(schema.clone())),
    }
}

/// Compare the query's rows with the expected ones, on the columns the expected rows name.
/// `None` when equal; otherwise a table of expected and actual rows side by side, differing
/// cells marked.
fn compare(
    path: &Path,
    actual: &RecordBatch,
    expect: &[toml::Table],
    ordered: bool,
) -> Result<Option<String>> {
    // The columns compared: every column an expected row names, in the order first named; a
    // row that leaves one out expects NULL there (TOML has no null).
    let mut columns: Vec<String> = Vec::new();
    for row in expect {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    if expect.is_empty() {
        columns = actual
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
    }
    for key in &columns {
        if actual.schema().column_with_name(key).is_none() {
            return Err(Error::input(format!(
                "{}: expected column {key} is not among the query's columns ({})",
                path.display(),
                actual
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    // Both sides as text, each value typed by the query's column first.
    let projected: Vec<ArrayRef> = columns
        .iter()
        .map(|c| actual.column_by_name(c).cloned().expect("checked above"))
        .collect();
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let f = actual
                .schema()
                .field_with_name(c)
                .cloned()
                .expect("checked above");
            f.with_nullable(true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let json: Vec<serde_json::Value> = expect
        .iter()
        .map(|r| {
            serde_json::Value::Object(r.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        })
        .collect();
    let expected = decode(&schema, &json).map_err(|e| {
        Error::input(format!(
            "{}: expected rows do not fit the query's columns: {e}",
            path.display()
        ))
    })?;
    let mut want = texts(expected.columns(), expected.num_rows())?;
    let mut got = texts(&projected, actual.num_rows())?;
    if !ordered {
        want.sort();
        got.sort();
    }
    if want == got {
        return Ok(None);
    }
    Ok(Some(side_by_side(&columns, &want, &got)))
}

fn texts(columns: &[ArrayRef], rows: usize) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((0..rows)
        .map(|i| formatters.iter().map(|f| f.value(i).to_string()).collect())
        .collect())
}

/// Expected and actual rows in two blocks of one table, cells that differ marked `*`.
fn side_by_side(columns: &[String], want: &[Vec<String>], got: &[Vec<String>]) -> String {
    let n = want.len().max(got.len());
    let mut widths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
    for row in want.iter().chain(got) {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(v.len() + 1);
        }
    }
    let line = |label: &str, cells: Option<&Vec<String>>, other: Option<&Vec<String>>| {
        let mut out = format!("  {label:<9}");
        for (i, w) in widths.iter().enumerate() {
            let v = cells
                .and_then(|c| c.get(i))
                .map(String::as_str)
                .unwrap_or("-");
            let differs = cells.and_then(|c| c.get(i)) != other.and_then(|o| o.get(i));
            let v = if differs {
                format!("{v}*")
            } else {
                v.to_string()
            };
            out.push_str(&format!(" | {v:<w$}"));
        }
        out.push('\n');
        out
    };
    let mut out = format!("  {:<9}", "");
    for (c, w) in columns.iter().zip(&widths) {
        out.push_str(&format!(" | {c:<w$}"));
    }
    out.push('\n');
    for i in 0..n {
        out.push_str(&line("expected", want.get(i), got.get(i)));
        out.push_str(&line("actual", got.get(i), want.get(i)));
    }
    out.push_str(&format!(
        "  ({} rows expected, {} returned; * marks cells that differ)\n",
        want.len(),
        got.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_cells_are_marked() {
        let cols = vec!["order_id".to_string(), "status".to_string()];
        let want = vec![vec!["ORD-1".to_string(), "4".to_string()]];
        let got = vec![vec!["ORD-1".to_string(), "2".to_string()]];
        let table = side_by_side(&cols, &want, &got);
        assert!(table.contains("expected  | ORD-1    | 4*"), "{table}");
        assert!(table.contains("actual    | ORD-1    | 2*"), "{table}");
        assert!(!table.contains("ORD-1*"), "{table}");
    }

    #[test]
    fn null_columns_are_typed_from_the_schema() {
        let schema = with_partitions(
            Arc::new(Schema::new(vec![
                Field::new("px", DataType::Decimal128(18, 4), true),
                Field::new("qty", DataType::Int64, true),
            ])),
            true,
        );
        let row: toml::Table = toml::from_str("px = \"12.3400\"").unwrap();
        let batch = rows(&schema, Some(&vec![row]), 20776, Path::new("x.toml"), "t").unwrap();
        assert_eq!(batch.num_rows(), 1);
        let text = texts(batch.columns(), 1).unwrap();
        assert_eq!(text[0][0], "12.3400");
        assert_eq!(text[0][1], "NULL");
        assert_eq!(text[0][2], "2026-11-19");
        assert_eq!(text[0][3], "0");
    }
}
