//! Stage discovery and the stage DAG.
//!
//! A stage is one SQL file under the versioned SQL folder (e.g. `sql/v1/intermediate/flow.sql`);
//! its name is the file stem and its output is a table of that name. Which stages a stage
//! depends on is read from the table references in its SQL (DataFusion's parser), never from a
//! list kept by hand: `from flow` makes a stage depend on `flow.sql`, `from inbound.fix_msg`
//! makes it read that raw source. `checks/` holds checks, not stages (see `checks`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::dialect::GenericDialect;

use crate::config::CONFIG_TABLES;
use crate::error::{Error, IoContext, Result};
use crate::sources::Sources;

/// Folders under the SQL version folder that do not hold stages.
const NOT_STAGES: [&str; 3] = ["checks", "tests", "extract"];

#[derive(Debug, Clone)]
pub struct Stage {
    /// File stem; also the name of the table the stage writes.
    pub name: String,
    pub path: PathBuf,
    /// Path relative to the SQL version folder, e.g. `intermediate/flow.sql`.
    pub rel_path: String,
    pub sql: String,
    /// Raw source tables read, as `db.table`, sorted.
    pub sources: Vec<String>,
    /// Stages read, sorted.
    pub deps: Vec<String>,
    /// Configuration tables read (`config.*`), sorted.
    pub config: Vec<String>,
    /// How the stage is processed in time windows, from its `-- unique_key:` and
    /// `-- event_time:` header lines; `None` for a stage computed once per trade date.
    pub incremental: Option<Incremental>,
    /// `-- join_order: as_written`: the engine keeps the join order of the SQL (the first
    /// side of each join is the one held in memory) instead of guessing from statistics.
    pub join_order_as_written: bool,
    /// The columns of the stage's final `ORDER BY`, when it orders by plain columns
    /// ascending: its partition files are written sorted so and say so in their metadata
    /// (a query that needs that order then merges instead of sorting).
    pub output_order: Option<Vec<String>>,
    /// The SQL uses `$bucket`: the runner runs it once per bucket of the lake (see
    /// `pipeline`, "Buckets"), each run reading its bucket of the inputs.
    pub bucketed: bool,
    /// `-- bucket_by: column`: the output is written as bucket partitions
    /// (`trade_date=D/bucket=N/`), each row in the bucket of its `column`
    /// (`bucket(column, $buckets)`); readers get the partition column `bucket`.
    pub bucket_by: Option<String>,
}

/// An incremental stage computes one time window at a time: its rows for the window replace
/// earlier rows with the same `unique_key`, and rows whose `event_time` falls at or after the
/// window's start are recomputed (see `intervals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incremental {
    pub unique_key: Vec<String>,
    pub event_time: String,
}

impl Stage {
    /// Whether the stage is computed window by window (else once per trade date).
    pub fn is_incremental(&self) -> bool {
        self.incremental.is_some()
    }
}

/// All stages of one SQL version, in dependency order.
#[derive(Debug, Clone)]
pub struct StageGraph {
    /// The version folder's name, e.g. `v1`.
    pub version: String,
    pub dir: PathBuf,
    /// Topologically sorted: every stage comes after the stages it reads. Ties are broken by
    /// name, so the order is stable.
    pub stages: Vec<Stage>,
}

impl StageGraph {
    /// Read every `*.sql` under `dir` and resolve the DAG against `sources`.
    pub fn load(dir: &Path, sources: &Sources) -> Result<StageGraph> {
        let version = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::input(format!("bad SQL folder {}", dir.display())))?
            .to_string();
        let mut files = Vec::new();
        collect_sql_files(dir, dir, &mut files)?;
        if files.is_empty() {
            return Err(Error::input_hint(
                format!("no stage SQL files under {}", dir.display()),
                "pass the versioned SQL folder with --sql, e.g. --sql sql/v1",
            ));
        }
        // name -> (path, path in the version folder, SQL, tables read, output order)
        type Parsed = (
            PathBuf,
            String,
            String,
            Vec<TableReference>,
            Option<Vec<String>>,
        );
        let mut parsed: BTreeMap<String, Parsed> = BTreeMap::new();
        for path in files {
            let sql = std::fs::read_to_string(&path).at(&path)?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if let Some((other, ..)) = parsed.get(&name) {
                return Err(Error::input_hint(
                    format!(
                        "two stages are named {name}: {} and {}",
                        other.display(),
                        path.display()
                    ),
                    "stage names (file stems) must be unique within a SQL version",
                ));
            }
            let (refs, order_by) = table_references(&path, &sql)?;
            if let Some(inc) = incremental_header(&path, &sql)?
                && order_by.as_deref() != Some(inc.unique_key.as_slice())
            {
                return Err(Error::Sql {
                    file: path.clone(),
                    location: None,
                    message: format!(
                        "an incremental stage orders its output by its unique key ({}), found \
                         `order by {}`: windows are merged in key order, and must give the \
                         same file as one whole-day run",
                        inc.unique_key.join(", "),
                        order_by.map(|o| o.join(", ")).unwrap_or_else(|| "?".into())
                    ),
                });
            }
            parsed.insert(name, (path, rel, sql, refs, order_by));
        }

        let mut stages = BTreeMap::new();
        for (name, (path, rel_path, sql, refs, output_order)) in &parsed {
            let mut deps = BTreeSet::new();
            let mut srcs = BTreeSet::new();
            let mut config = BTreeSet::new();
            for r in refs {
                match r {
                    TableReference::Bare { table } if parsed.contains_key(table.as_ref()) => {
                        if table.as_ref() == name {
                            return Err(Error::input(format!(
                                "{}: stage {name} reads its own output",
                                path.display()
                            )));
                        }
                        deps.insert(table.to_string());
                    }
                    TableReference::Partial { schema, table }
                        if sources.get(&format!("{schema}.{table}")).is_some() =>
                    {
                        srcs.insert(format!("{schema}.{table}"));
                    }
                    TableReference::Partial { schema, table }
                        if CONFIG_TABLES.contains(&format!("{schema}.{table}").as_str()) =>
                    {
                        config.insert(format!("{schema}.{table}"));
                    }
                    other => {
                        return Err(Error::input_hint(
                            format!(
                                "{}: stage {name} reads unknown table {other}",
                                path.display()
                            ),
                            format!(
                                "a stage reads other stages by name (one of: {}), raw \
                                 sources as <db>.<table> declared in {}, or configuration \
                                 tables ({})",
                                parsed.keys().cloned().collect::<Vec<_>>().join(", "),
                                sources.path.display(),
                                CONFIG_TABLES.join(", ")
                            ),
                        ));
                    }
                }
            }
            let incremental = incremental_header(path, sql)?;
            let join_order_as_written = header_value(sql, "join_order:")
                .map(|v| match v.as_str() {
                    "as_written" => Ok(true),
                    "engine" => Ok(false),
                    other => Err(Error::input_hint(
                        format!("{}: unknown `-- join_order: {other}`", path.display()),
                        "as_written (the first side of each join is held in memory) or engine",
                    )),
                })
                .transpose()?
                .unwrap_or(false);
            let bucketed = uses_bucket_parameters(sql);
            let bucket_by = header_value(sql, "bucket_by:");
            if let Some(col) = &bucket_by
                && (col.is_empty() || !col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(Error::input_hint(
                    format!(
                        "{}: `-- bucket_by: {col}` is not a column name",
                        path.display()
                    ),
                    "name one output column whose value decides a row's bucket, e.g. \
                     `-- bucket_by: chain_id`",
                ));
            }
            if bucketed && bucket_by.is_none() {
                return Err(Error::Sql {
                    file: path.clone(),
                    location: None,
                    message: "a stage that uses $bucket runs once per bucket and must say which \
                              bucket its rows belong to: add `-- bucket_by: <column>` to its \
                              header"
                        .into(),
                });
            }
            if bucket_by.is_some() && output_order.is_none() {
                return Err(Error::Sql {
                    file: path.clone(),
                    location: None,
                    message: "a stage written in buckets must end in `order by` of plain \
                              columns, ascending, that identify a row: each bucket's file is \
                              written in that order"
                        .into(),
                });
            }
            stages.insert(
                name.clone(),
                Stage {
                    name: name.clone(),
                    path: path.clone(),
                    rel_path: rel_path.clone(),
                    sql: sql.clone(),
                    sources: srcs.into_iter().collect(),
                    deps: deps.into_iter().collect(),
                    config: config.into_iter().collect(),
                    incremental,
                    join_order_as_written,
                    output_order: output_order.clone(),
                    bucketed,
                    bucket_by,
                },
            );
        }
        let stages = topo_sort(stages)?;
        Ok(StageGraph {
            version,
            dir: dir.to_path_buf(),
            stages,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The named stages plus everything they read, transitively, in dependency order.
    /// Empty `names` means every stage.
    pub fn closure(&self, names: &[String]) -> Result<Vec<&Stage>> {
        if names.is_empty() {
            return Ok(self.stages.iter().collect());
        }
        let mut wanted = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for n in names {
            if self.get(n).is_none() {
                return Err(Error::input_hint(
                    format!("unknown stage {n}"),
                    format!(
                        "`ordertrail stages` lists them; known: {}",
                        self.stages
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            todo.push(n.clone());
        }
        while let Some(n) = todo.pop() {
            if wanted.insert(n.clone())
                && let Some(stage) = self.get(&n)
            {
                todo.extend(stage.deps.iter().cloned());
            }
        }
        Ok(self
            .stages
            .iter()
            .filter(|s| wanted.contains(&s.name))
            .collect())
    }

    /// Every raw source `stage` reads, directly or through the stages it reads, sorted.
    pub fn sources_upstream(&self, stage: &Stage) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![stage];
        while let Some(s) = todo.pop() {
            out.extend(s.sources.iter().cloned());
            todo.extend(s.deps.iter().filter_map(|d| self.get(d)));
        }
        out.into_iter().collect()
    }

    /// Every raw source any of `stages` reads (not through other stages), sorted.
    pub fn sources_read<'a>(stages: impl IntoIterator<Item = &'a Stage>) -> Vec<String> {
        let set: BTreeSet<String> = stages
            .into_iter()
            .flat_map(|s| s.sources.iter().cloned())
            .collect();
        set.into_iter().collect()
    }
}

/// Whether the SQL (outside `--` comments) uses the `$bucket` or `$buckets` parameter.
pub(crate) fn uses_bucket_parameters(sql: &str) -> bool {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .any(|code| code.contains("$bucket"))
}

/// The value of a `-- key: value` line of the stage's leading comment.
pub(crate) fn header_value(sql: &str, key: &str) -> Option<String> {
    sql.lines()
        .map_while(|l| l.trim().strip_prefix("--"))
        .find_map(|c| c.trim().strip_prefix(key).map(|v| v.trim().to_string()))
}

/// The `-- unique_key: a, b` and `-- event_time: c` lines of a stage's leading comment.
fn incremental_header(path: &Path, sql: &str) -> Result<Option<Incremental>> {
    let mut unique_key = None;
    let mut event_time = None;
    for (i, line) in sql.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        let at = || format!("{}:{}", path.display(), i + 1);
        if let Some(v) = comment.strip_prefix("unique_key:") {
            let cols: Vec<String> = v
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if cols.is_empty() {
                return Err(Error::input(format!(
                    "{}: `-- unique_key:` names no column",
                    at()
                )));
            }
            unique_key = Some(cols);
        } else if let Some(v) = comment.strip_prefix("event_time:") {
            event_time = Some(v.trim().to_string());
        }
    }
    match (unique_key, event_time) {
        (None, None) => Ok(None),
        (Some(unique_key), Some(event_time)) if !event_time.is_empty() => Ok(Some(Incremental {
            unique_key,
            event_time,
        })),
        _ => Err(Error::input_hint(
            format!(
                "{}: an incremental stage declares both `-- unique_key:` and `-- event_time:`",
                path.display()
            ),
            "unique_key names the columns identifying a row; event_time the timestamp column \
             that places it in a window",
        )),
    }
}

fn collect_sql_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::input_hint(
                format!("cannot read SQL folder {}: {e}", dir.display()),
                "pass the versioned SQL folder with --sql, e.g. --sql sql/v1",
            )
        })?
        .collect::<std::io::Result<Vec<_>>>()
        .at(dir)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            let skip = dir == root
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| NOT_STAGES.contains(&n));
            if !skip {
                collect_sql_files(root, &path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    Ok(())
}

/// Tables referenced by a stage (or check) file, which must hold exactly one query, and the
/// column names of its final `order by` when it orders by plain (possibly qualified) columns,
/// ascending.
pub(crate) fn table_references(
    path: &Path,
    sql: &str,
) -> Result<(Vec<TableReference>, Option<Vec<String>>)> {
    let mut statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
        .map_err(|e| sql_error(path, e))?;
    if statements.len() != 1 {
        return Err(Error::Sql {
            file: path.to_path_buf(),
            location: None,
            message: format!(
                "a stage or check file holds exactly one query, found {} statements",
                statements.len()
            ),
        });
    }
    let statement = statements.pop_front().expect("one statement");
    if !matches!(&statement, Statement::Statement(s) if matches!(**s, datafusion::sql::sqlparser::ast::Statement::Query(_)))
    {
        return Err(Error::Sql {
            file: path.to_path_buf(),
            location: None,
            message: "a stage or check file holds one SELECT query (a stage's table, a \
                      check's failing rows)"
                .into(),
        });
    }
    let order_by = match &statement {
        Statement::Statement(s) => match &**s {
            datafusion::sql::sqlparser::ast::Statement::Query(q) => order_columns(q),
            _ => None,
        },
        _ => None,
    };
    let (refs, _ctes) =
        resolve_table_references(&statement, true).map_err(|e| sql_error(path, e))?;
    Ok((refs, order_by))
}

fn order_columns(q: &datafusion::sql::sqlparser::ast::Query) -> Option<Vec<String>> {
    use datafusion::sql::sqlparser::ast::{Expr, OrderByKind};
    let OrderByKind::Expressions(exprs) = &q.order_by.as_ref()?.kind else {
        return None;
    };
    exprs
        .iter()
        .map(|e| {
            if e.options.asc == Some(false) || e.options.nulls_first == Some(true) {
                return None;
            }
            match &e.expr {
                Expr::Identifier(id) => Some(id.value.clone()),
                Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
                _ => None,
            }
        })
        .collect()
}

/// Turn an engine error about `path` into an [`Error::Sql`] with line and column when known:
/// from DataFusion's diagnostic span, or from the parser's "Line: N, Column: M".
pub fn sql_error(path: &Path, err: DataFusionError) -> Error {
    if crate::error::engine_out_of_memory(&err) {
        return Error::OutOfMemory {
            file: path.to_path_buf(),
            message: err.strip_backtrace(),
        };
    }
    if crate::error::engine_lost_executor(&err) {
        return Error::ExecutorLost {
            file: path.to_path_buf(),
            message: err.strip_backtrace(),
        };
    }
    if let DataFusionError::IoError(io) = err.find_root() {
        // Not the SQL's fault: a spill or lake file could not be read or written.
        return Error::input_hint(
            format!(
                "{}: the engine failed reading or writing a file: {io}",
                path.display()
            ),
            "check free space and permissions of the lake (spill files go to <lake>/.tmp/spill) \
             and that nothing removed files while the run was going, then run again",
        );
    }
    match err.find_root() {
        // The SQL planned; a file it reads is damaged.
        DataFusionError::ParquetError(e) => {
            return Error::data(
                format!(
                    "{}: a Parquet file it reads could not be decoded: {e}",
                    path.display()
                ),
                "find the damaged partition with `ordertrail status` (a stage partition) or \
                 verify the raw tables (`ordertrail verify`), restore or land it again, then run \
                 again",
            );
        }
        // The SQL planned; a value it computes with broke an operation.
        DataFusionError::ArrowError(e, _)
            if matches!(
                **e,
                arrow::error::ArrowError::CastError(_)
                    | arrow::error::ArrowError::DivideByZero
                    | arrow::error::ArrowError::ArithmeticOverflow(_)
                    | arrow::error::ArrowError::ComputeError(_)
            ) =>
        {
            return Error::data(
                format!(
                    "{}: a value in its input rows broke the query: {e}",
                    path.display()
                ),
                "find the row with `ordertrail query`; guard the expression in the SQL (e.g. \
                 try_cast, nullif) if such values are legitimate",
            );
        }
        // A Ballista job the cluster gave up on (executors lost, a task failing too often).
        DataFusionError::Execution(m) if crate::error::cluster_job_failure(m) => {
            return Error::input_hint(
                format!("{}: the cluster failed the query: {m}", path.display()),
                "see the scheduler's and executors' logs (are executors running and do they \
                 reach the lake's files?), then run again: nothing of this stage was written",
            );
        }
        _ => {}
    }
    let location = err
        .diagnostic()
        .and_then(|d| d.span)
        .filter(|s| s.start.line > 0)
        .map(|s| (s.start.line, s.start.column))
        .or_else(|| parser_location(&err.to_string()));
    let message = err.strip_backtrace().to_string();
    Error::Sql {
        file: path.to_path_buf(),
        location,
        message,
    }
}

fn parser_location(message: &str) -> Option<(u64, u64)> {
    let (_, rest) = message.rsplit_once("Line: ")?;
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

fn topo_sort(mut stages: BTreeMap<String, Stage>) -> Result<Vec<Stage>> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::with_capacity(stages.len());
    while !stages.is_empty() {
        let ready: Vec<String> = stages
            .values()
            .filter(|s| s.deps.iter().all(|d| done.contains(d)))
            .map(|s| s.name.clone())
            .collect();
        if ready.is_empty() {
            let cycle: Vec<String> = stages.keys().cloned().collect();
            return Err(Error::input_hint(
                format!("the stages {} read each other in a cycle", cycle.join(", ")),
                "a stage may only read stages that do not (indirectly) read it",
            ));
        }
        for name in ready {
            if let Some(stage) = stages.remove(&name) {
                done.insert(name);
                order.push(stage);
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_not_blamed_on_the_sql_and_bugs_say_so() {
        let path = Path::new("sql/v1/intermediate/flow.sql");
        let parquet = DataFusionError::ParquetError(Box::new(
            parquet::errors::ParquetError::General("bad magic".into()),
        ));
        let divide =
            DataFusionError::ArrowError(Box::new(arrow::error::ArrowError::DivideByZero), None);
        for err in [sql_error(path, parquet), sql_error(path, divide)] {
            assert!(matches!(err, Error::Data { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with("bad data: sql/v1/intermediate/flow.sql")
            );
            assert!(err.hint().is_some());
        }
        let plan = sql_error(path, DataFusionError::Plan("no field named x".into()));
        assert!(matches!(plan, Error::Sql { .. }), "{plan:?}");

        let bug = Error::internal("default catalog missing");
        assert!(bug.to_string().starts_with("internal error: "));
        assert!(bug.hint().unwrap().contains("a bug in ordertrail"));
        assert_eq!(bug.exit_code(), crate::error::EXIT_ERROR);
    }

    #[test]
    fn engine_io_errors_are_not_blamed_on_the_sql() {
        let path = Path::new("sql/v1/intermediate/flow.sql");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "spill file gone");
        let err = sql_error(path, DataFusionError::IoError(io));
        assert!(!matches!(err, Error::Sql { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("flow.sql") && text.contains("spill file gone"),
            "{text}"
        );
        assert!(err.hint().unwrap().contains(".tmp/spill"));

        let oom = sql_error(path, DataFusionError::ResourcesExhausted("pool".into()));
        assert!(oom.is_out_of_memory());
        // An executor's task out of memory comes back from Ballista as the job's failure, in
        // text: it is out of memory too (so the spilling plans are tried), not a cluster fault.
        let cluster_oom = || {
            DataFusionError::Execution(
                "Job 038JGJZ5N6001 failed: Job failed due to stage 13 failed: Task failed due to \
             runtime execution error: DataFusionError(Shared(External(DataFusionError(Shared(\
             Shared(ResourcesExhausted(\"Failed to allocate additional 5.2 MB for \
             HashJoinInput\")))))))"
                    .into(),
            )
        };
        assert!(Error::Engine(cluster_oom()).is_out_of_memory());
        assert!(sql_error(path, cluster_oom()).is_out_of_memory());
        let lost = sql_error(
            path,
            DataFusionError::Execution("Job 1 failed: executor lost".into()),
        );
        assert!(!lost.is_out_of_memory());
        assert!(
            lost.to_string().contains("the cluster failed the query"),
            "{lost}"
        );
    }

    #[test]
    fn parser_location_is_extracted() {
        assert_eq!(
            parser_location(
                "SQL error: ParserError(\"Expected: end of statement, found: x at Line: 3, Column: 7\")"
            ),
            Some((3, 7))
        );
        assert_eq!(parser_location("no location"), None);
    }
}
