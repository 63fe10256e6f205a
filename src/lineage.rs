//! Column lineage (`ordertrail lineage`), read off DataFusion's logical plans: no list is kept
//! by hand. Each stage's SQL is planned over empty tables of the lake's types; every output
//! column is traced through the plan (projections, aggregates, windows, joins, unions,
//! subqueries) to the columns of the tables it reads, and a column read through `fix_tag(fix,
//! N)` / `fix_tags(fix, N)` is noted with its FIX tag. Following stage columns to the stages
//! that made them gives the raw source columns; the other stages' and checks' lineage gives
//! what reads a column downstream.
//!
//! Lineage says where a value comes from; columns used only to filter or join rows are not
//! part of it, except the keys of a lookup: a value read from reference data (a stage that
//! reads no table, such as `event_status`) by an equi-join also comes from the other side's
//! join keys, which chose the row.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::stages::StageGraph;

/// A column a value comes from: `table.column`, with the FIX tag when read through
/// `fix_tag`/`fix_tags`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Source {
    pub table: String,
    pub column: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_tag: Option<i64>,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.table, self.column)?;
        if let Some(tag) = self.fix_tag {
            write!(f, " (FIX tag {tag})")?;
        }
        Ok(())
    }
}

type Sources = BTreeSet<Source>;

/// Each output column of a query (in order) and the columns of the tables it reads that its
/// values come from.
pub fn query_lineage(
    plan: &LogicalPlan,
    lookups: &BTreeSet<String>,
) -> Result<Vec<(String, Sources)>> {
    let cols = node(plan, lookups)?;
    Ok(plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(cols)
        .collect())
}

/// The sources of every output column of `plan`, by position.
fn node(plan: &LogicalPlan, lookups: &BTreeSet<String>) -> Result<Vec<Sources>> {
    let inputs: Vec<&LogicalPlan> = plan.inputs();
    let of_inputs = inputs
        .iter()
        .map(|p| node(p, lookups))
        .collect::<Result<Vec<_>>>()?;
    let width = plan.schema().fields().len();
    Ok(match plan {
        LogicalPlan::TableScan(scan) => {
            let table = scan.table_name.to_string();
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| {
                    BTreeSet::from([Source {
                        table: table.clone(),
                        column: f.name().clone(),
                        fix_tag: None,
                    }])
                })
                .collect()
        }
        LogicalPlan::Projection(p) => p
            .expr
            .iter()
            .map(|e| expr_sources(e, &p.input, &of_inputs[0]))
            .collect::<Result<_>>()?,
        LogicalPlan::Aggregate(a) => a
            .group_expr
            .iter()
            .chain(&a.aggr_expr)
            .map(|e| expr_sources(e, &a.input, &of_inputs[0]))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            // grouping sets add an id column at the end
            .chain(std::iter::repeat_with(BTreeSet::new))
            .take(width)
            .collect(),
        LogicalPlan::Window(w) => {
            let mut cols = of_inputs[0].clone();
            for e in &w.window_expr {
                cols.push(expr_sources(e, &w.input, &of_inputs[0])?);
            }
            cols
        }
        LogicalPlan::Union(_) => (0..width)
            .map(|i| {
                of_inputs
                    .iter()
                    .filter_map(|cols| cols.get(i))
                    .flatten()
                    .cloned()
                    .collect()
            })
            .collect(),
        LogicalPlan::Join(j) => {
            let (mut left, mut right) = (of_inputs[0].clone(), of_inputs[1].clone());
            let keys = |exprs: Vec<&Expr>, input: &LogicalPlan, cols: &[Sources]| {
                exprs
                    .into_iter()
                    .map(|e| expr_sources(e, input, cols))
                    .collect::<Result<Vec<_>>>()
                    .map(|k| k.into_iter().flatten().collect::<Sources>())
            };
            let mut left_keys = keys(j.on.iter().map(|(l, _)| l).collect(), &j.left, &left)?;
            let mut right_keys = keys(j.on.iter().map(|(_, r)| r).collect(), &j.right, &right)?;
            // Before the optimizer extracts equi-join keys, `a join b on a.x = b.y` is a
            // filter over both sides' columns: its columns are keys of their side.
            if let Some(filter) = &j.filter {
                filter.apply(|e| {
                    if let Expr::Column(c) = e {
                        if let Ok(i) = j.left.schema().index_of_column(c) {
                            left_keys.extend(left[i].iter().cloned());
                        } else if let Ok(i) = j.right.schema().index_of_column(c) {
                            right_keys.extend(right[i].iter().cloned());
                        }
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
            }
            if is_lookup(&right, lookups) {
                right
                    .iter_mut()
                    .for_each(|c| c.extend(left_keys.iter().cloned()));
            }
            if is_lookup(&left, lookups) {
                left.iter_mut()
                    .for_each(|c| c.extend(right_keys.iter().cloned()));
            }
            let (left, right) = (&left, &right);
            if width == left.len() + right.len() {
                left.iter().chain(right).cloned().collect()
            } else if width == left.len() {
                left.clone()
            } else if width == right.len() {
                right.clone()
            } else {
                by_name(plan, &inputs, &of_inputs)
            }
        }
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => vec![BTreeSet::new(); width],
        // One input, the same columns (filter, sort, limit, alias, distinct, repartition ...).
        _ if inputs.len() == 1 && of_inputs[0].len() == width => of_inputs[0].clone(),
        _ => by_name(plan, &inputs, &of_inputs),
    })
}

/// Whether every column of a join side comes from lookup tables (reference data) only.
fn is_lookup(cols: &[Sources], lookups: &BTreeSet<String>) -> bool {
    let mut tables = cols.iter().flatten().map(|s| s.table.as_str()).peekable();
    tables.peek().is_some() && tables.all(|t| lookups.contains(t.rsplit('.').next().unwrap_or(t)))
}

/// A node this module does not know: each output column from the input column of the same
/// name, else from every input column.
fn by_name(
    plan: &LogicalPlan,
    inputs: &[&LogicalPlan],
    of_inputs: &[Vec<Sources>],
) -> Vec<Sources> {
    let all: Sources = of_inputs.iter().flatten().flatten().cloned().collect();
    plan.schema()
        .fields()
        .iter()
        .map(|f| {
            inputs
                .iter()
                .zip(of_inputs)
                .find_map(|(p, cols)| {
                    p.schema()
                        .fields()
                        .iter()
                        .position(|g| g.name() == f.name())
                        .and_then(|i| cols.get(i).cloned())
                })
                .unwrap_or_else(|| all.clone())
        })
        .collect()
}

/// The sources of an expression over `input` (whose columns' sources are `cols`).
fn expr_sources(expr: &Expr, input: &LogicalPlan, cols: &[Sources]) -> Result<Sources> {
    let mut out = BTreeSet::new();
    let mut failure = None;
    let column = |c: &datafusion::common::Column| -> Option<&Sources> {
        input
            .schema()
            .index_of_column(c)
            .ok()
            .and_then(|i| cols.get(i))
    };
    expr.apply(|e| {
        match e {
            Expr::Column(c) => {
                if let Some(s) = column(c) {
                    out.extend(s.iter().cloned());
                }
            }
            Expr::ScalarFunction(f)
                if matches!(f.func.name(), "fix_tag" | "fix_tags") && f.args.len() == 2 =>
            {
                let tag = match &f.args[1] {
                    Expr::Literal(ScalarValue::Int64(Some(t)), _) => Some(*t),
                    Expr::Literal(ScalarValue::Int32(Some(t)), _) => Some(i64::from(*t)),
                    _ => None,
                };
                let mut inner = BTreeSet::new();
                if let Err(e) = f.args[0].apply(|a| {
                    if let Expr::Column(c) = a
                        && let Some(s) = column(c)
                    {
                        inner.extend(s.iter().cloned());
                    }
                    Ok(TreeNodeRecursion::Continue)
                }) {
                    failure = Some(e);
                }
                out.extend(inner.into_iter().map(|s| Source {
                    fix_tag: tag.or(s.fix_tag),
                    ..s
                }));
                return Ok(TreeNodeRecursion::Jump);
            }
            Expr::ScalarSubquery(sq) => match node(&sq.subquery, &BTreeSet::new()) {
                Ok(sub) => out.extend(sub.into_iter().flatten()),
                Err(e) => failure = Some(datafusion::error::DataFusionError::External(Box::new(e))),
            },
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(out)
}

/// Lineage of every stage and check of a SQL version.
pub struct Lineage {
    /// Per stage (and check, as `check:<name>`): its columns and their direct sources.
    pub queries: BTreeMap<String, Vec<(String, Sources)>>,
    stages: BTreeSet<String>,
}

/// What one column comes from and what reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnLineage {
    pub column: String,
    /// The columns of the tables its query reads that it comes from.
    pub direct: Vec<Source>,
    /// Followed through the stages to raw source tables.
    pub raw: Vec<Source>,
    /// Stage and check columns whose values come from it directly.
    pub read_by: Vec<String>,
    /// Each hop upstream, `from -> to` (for a picture).
    pub edges: Vec<(String, String)>,
}

impl Lineage {
    /// Plan every stage and check in `ctx` (all tables registered, empty will do) and trace
    /// their columns.
    pub async fn build(
        ctx: &SessionContext,
        graph: &StageGraph,
        checks: &[crate::checks::Check],
        date: chrono::NaiveDate,
    ) -> Result<Lineage> {
        let mut queries = BTreeMap::new();
        let params = || crate::pipeline::stage_params(date);
        // Reference data: stages that read no table.
        let lookups: BTreeSet<String> = graph
            .stages
            .iter()
            .filter(|s| s.deps.is_empty() && s.sources.is_empty())
            .map(|s| s.name.clone())
            .collect();
        for stage in &graph.stages {
            let df = ctx
                .sql(&stage.sql)
                .await
                .map_err(|e| crate::stages::sql_error(&stage.path, e))?
                .with_param_values(params())?;
            queries.insert(
                stage.name.clone(),
                query_lineage(df.logical_plan(), &lookups)?,
            );
        }
        for check in checks {
            let df = ctx
                .sql(&check.sql)
                .await
                .map_err(|e| crate::stages::sql_error(&check.path, e))?
                .with_param_values(params())?;
            queries.insert(
                format!("check:{}", check.name),
                query_lineage(df.logical_plan(), &lookups)?,
            );
        }
        Ok(Lineage {
            queries,
            stages: graph.stages.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// The columns of `stage` (all, or the one named).
    pub fn columns(&self, stage: &str, column: Option<&str>) -> Result<Vec<ColumnLineage>> {
        let cols = self.queries.get(stage).ok_or_else(|| {
            Error::input_hint(
                format!("no stage named {stage}"),
                format!(
                    "the stages are: {}",
                    self.stages.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if let Some(c) = column
            && !cols.iter().any(|(name, _)| name == c)
        {
            return Err(Error::input_hint(
                format!("stage {stage} has no column {c}"),
                format!(
                    "its columns: {}",
                    cols.iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(cols
            .iter()
            .filter(|(name, _)| column.is_none_or(|c| c == name))
            .map(|(name, direct)| self.column(stage, name, direct))
            .collect())
    }

    fn column(&self, stage: &str, name: &str, direct: &Sources) -> ColumnLineage {
        let mut raw = BTreeSet::new();
        let mut edges = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(String, Source)> = direct
            .iter()
            .map(|s| (format!("{stage}.{name}"), s.clone()))
            .collect();
        while let Some((to, s)) = todo.pop() {
            edges.insert((s.to_string(), to.clone()));
            if !seen.insert(s.clone()) {
                continue;
            }
            match self
                .queries
                .get(&s.table)
                .filter(|_| self.stages.contains(&s.table))
            {
                Some(cols) => {
                    if let Some((_, up)) = cols.iter().find(|(c, _)| *c == s.column) {
                        for u in up {
                            todo.push((format!("{}.{}", s.table, s.column), u.clone()));
                        }
                    }
                }
                None => {
                    raw.insert(s);
                }
            }
        }
        let read_by = self
            .queries
            .iter()
            .flat_map(|(q, cols)| {
                cols.iter()
                    .filter(|(_, srcs)| srcs.iter().any(|s| s.table == stage && s.column == name))
                    .map(move |(c, _)| format!("{q}.{c}"))
            })
            .collect();
        ColumnLineage {
            column: format!("{stage}.{name}"),
            direct: direct.iter().cloned().collect(),
            raw: raw.into_iter().collect(),
            read_by,
            edges: edges.into_iter().collect(),
        }
    }
}

/// `text`: one block per column.
pub fn to_text(columns: &[ColumnLineage]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for c in columns {
        let _ = writeln!(out, "{}", c.column);
        let list = |v: &[Source]| {
            if v.is_empty() {
                "(none: a constant or computed from nothing read)".to_string()
            } else {
                v.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(out, "  from:     {}", list(&c.direct));
        let _ = writeln!(out, "  raw:      {}", list(&c.raw));
        let _ = writeln!(
            out,
            "  read by:  {}",
            if c.read_by.is_empty() {
                "(nothing)".to_string()
            } else {
                c.read_by.join(", ")
            }
        );
    }
    out
}

/// `dot`: every hop upstream of the columns, and what reads them.
pub fn to_dot(columns: &[ColumnLineage]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut edges = BTreeSet::new();
    for c in columns {
        for (from, to) in &c.edges {
            edges.insert((from.clone(), to.clone()));
        }
        for r in &c.read_by {
            edges.insert((c.column.clone(), r.clone()));
        }
    }
    let mut out =
        String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for (from, to) in edges {
        out.push_str(&format!("  {} -> {};\n", quote(&from), quote(&to)));
    }
    out.push_str("}\n");
    out
}
