//! `ordertrail extract`: one order's raw rows as a fixture directory, to reproduce a bad report
//! without the whole day. `ordertrail load` + `run` on the directory give that order's stage
//! rows and report lines again.
//!
//! The order's chain is read from `flow_complete` of the date and the day before (an order may
//! have begun then): its FIX messages (by gateway and raw id), its OMS order ids, and its
//! ExecIDs. Then, from every raw table of those two dates: the FIX messages themselves; the
//! OMS, risk, route and id-map rows of those orders; the ledger rows of those executions; and
//! the reference tables (no order column) whole. Every declared table gets its CSV, possibly
//! empty, and a README says what is there.
//!
//! `--pseudonymise` replaces every account number (and correspondent) consistently, in the
//! OMS and ledger columns and inside the FIX text, by `ACCT-<8 hex>` of its SHA-256.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};
use crate::sources::{SourceTable, Sources};

/// What was extracted.
#[derive(Debug, Clone)]
pub struct Extracted {
    pub chains: Vec<String>,
    pub orders: Vec<String>,
    /// Rows per table (`db.table`).
    pub rows: BTreeMap<String, usize>,
    /// Values replaced, when pseudonymised.
    pub replaced: usize,
}

/// Columns whose values are pseudonymised (and replaced wherever they occur in text).
const PRIVATE_COLUMNS: [&str; 2] = ["account_num", "corr"];

/// Extract `order` (an OMS order id or a chain id) of `date` from the lake behind `ctx`
/// (every raw table and stage registered) into `out`, a new or empty directory.
pub async fn extract(
    ctx: &SessionContext,
    sources: &Sources,
    date: NaiveDate,
    order: &str,
    out: &Path,
    pseudonymise: bool,
) -> Result<Extracted> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::input_hint(
            format!("{} exists and is not empty", out.display()),
            "pass a new or empty directory with --out",
        ));
    }
    if !ctx.table_exist("flow_complete")? {
        return Err(Error::input_hint(
            "the lake has no flow_complete output: the order's chain is read from it",
            format!("run the pipeline first: ordertrail run --lake ... --date {date}"),
        ));
    }
    let prev = date.pred_opt().unwrap_or(date);
    let params = || {
        datafusion::common::ParamValues::from(vec![
            ("d0", crate::pipeline::date_scalar(prev)),
            ("d1", crate::pipeline::date_scalar(date)),
            ("order", ScalarValue::Utf8(Some(order.to_string()))),
        ])
    };
    // The chain(s): the order's own chain, found by chain id or order id.
    let chains = strings(
        ctx,
        "select distinct chain_id from flow_complete \
         where trade_date >= $d0 and trade_date <= $d1 \
           and (chain_id = $order or order_id = $order) and chain_id is not null",
        params(),
    )
    .await?;
    if chains.is_empty() {
        return Err(Error::input_hint(
            format!("no order or chain {order} in flow_complete of {prev} or {date}"),
            "pass an OMS order id (e.g. ORD-0004) or a chain id, and the trade date it was \
             reported on",
        ));
    }
    let in_chains = |col: &str| {
        format!(
            "select distinct {col} from flow_complete where trade_date >= $d0 and trade_date <= $d1 \
             and chain_id in ({}) and {col} is not null",
            chains
                .iter()
                .map(|c| format!("'{}'", c.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let orders: Vec<String> = {
        let mut o = strings(ctx, &in_chains("order_id"), params()).await?;
        o.extend(chains.iter().cloned());
        o.sort();
        o.dedup();
        o
    };
    let exec_ids = strings(ctx, &in_chains("exec_id"), params()).await?;
    let mut messages: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let sql = format!(
        "select gateway, src_id from flow_complete where trade_date >= $d0 and trade_date <= $d1 \
         and chain_id in ({})",
        chains
            .iter()
            .map(|c| format!("'{}'", c.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for b in ctx
        .sql(&sql)
        .await?
        .with_param_values(params())?
        .collect()
        .await?
    {
        let gw = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
        let gw = gw
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::input("flow_complete.gateway is not text"))?;
        let id = arrow::compute::cast(b.column(1), &arrow::datatypes::DataType::Int64)?;
        let id = id
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .ok_or_else(|| Error::input("flow_complete.src_id is not an integer"))?;
        for i in 0..b.num_rows() {
            if gw.is_valid(i) && id.is_valid(i) {
                messages
                    .entry(gw.value(i).to_string())
                    .or_default()
                    .push(id.value(i));
            }
        }
    }

    // Every declared table's rows of the two dates that belong to the chain.
    let mut tables: Vec<(&SourceTable, RecordBatch)> = Vec::new();
    for table in &sources.tables {
        let name = table.qualified_name();
        let schema = table.schema();
        let has = |c: &str| schema.column_with_name(c).is_some();
        let list = |values: &[String]| {
            values
                .iter()
                .map(|v| format!("'{}'", v.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let filter = if has("fix") {
            let ids = messages.get(&table.db).cloned().unwrap_or_default();
            if ids.is_empty() {
                Some("false".to_string())
            } else {
                Some(format!(
                    "id in ({})",
                    ids.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        } else if has("order_id") {
            Some(format!("order_id in ({})", list(&orders)))
        } else if has("ref_id") {
            if exec_ids.is_empty() {
                Some("false".to_string())
            } else {
                Some(format!("ref_id in ({})", list(&exec_ids)))
            }
        } else {
            None // reference data: whole
        };
        let columns = schema
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let batch = if ctx.table_exist(name.as_str())? {
            let sql = format!(
                "select {columns} from {name} where trade_date >= $d0 and trade_date <= $d1{} \
                 order by create_time, id",
                filter.map(|f| format!(" and ({f})")).unwrap_or_default()
            );
            let batches = ctx
                .sql(&sql)
                .await?
                .with_param_values(params())?
                .collect()
                .await?;
            let plain = crate::lake::plain_schema(&schema);
            let cast: Vec<RecordBatch> = batches
                .iter()
                .map(|b| {
                    let cols = b
                        .columns()
                        .iter()
                        .zip(plain.fields())
                        .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    Ok(RecordBatch::try_new(plain.clone(), cols)?)
                })
                .collect::<Result<_>>()?;
            arrow::compute::concat_batches(&plain, &cast)?
        } else {
            RecordBatch::new_empty(crate::lake::plain_schema(&schema))
        };
        tables.push((table, batch));
    }

    let mut replaced = 0;
    if pseudonymise {
        let mut values = BTreeSet::new();
        for (_, batch) in &tables {
            for col in PRIVATE_COLUMNS {
                if let Some(a) = batch.column_by_name(col)
                    && let Some(s) = a.as_any().downcast_ref::<StringArray>()
                {
                    values.extend(
                        s.iter()
                            .flatten()
                            .filter(|v| !v.is_empty())
                            .map(String::from),
                    );
                }
            }
        }
        let map: Vec<(String, String)> = values
            .into_iter()
            .map(|v| {
                let alias = format!(
                    "ACCT-{}",
                    &crate::intervals::fingerprint::sha256_hex(v.as_bytes())[..8]
                );
                (v, alias)
            })
            .collect();
        replaced = map.len();
        for (_, batch) in tables.iter_mut() {
            *batch = replace_text(batch, &map)?;
        }
    }

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut rows = BTreeMap::new();
    for (table, batch) in &tables {
        let dir = out.join(&table.db);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("{}.csv", table.name));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.6fZ".to_string())
            .build(file);
        writer.write(batch)?;
        rows.insert(table.qualified_name(), batch.num_rows());
    }
    let extracted = Extracted {
        chains,
        orders,
        rows,
        replaced,
    };
    let readme = readme(&extracted, date, order, pseudonymise);
    let path = out.join("README.md");
    std::fs::write(&path, readme).map_err(|e| Error::io(&path, e))?;
    Ok(extracted)
}

/// Every text value of `batch` with each original replaced by its alias (whole values and
/// inside text such as FIX messages).
fn replace_text(batch: &RecordBatch, map: &[(String, String)]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<StringArray>() {
            Some(s) => Arc::new(
                s.iter()
                    .map(|v| {
                        v.map(|v| {
                            map.iter()
                                .fold(v.to_string(), |acc, (from, to)| acc.replace(from, to))
                        })
                    })
                    .collect::<StringArray>(),
            ) as ArrayRef,
            None => c.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn readme(e: &Extracted, date: NaiveDate, order: &str, pseudonymised: bool) -> String {
    let mut out = format!(
        "# Order {order}, trade date {date}: its raw rows\n\n\
         Written by `ordertrail extract`: every raw row of the order's chain ({}) on {} and \
         {date} (an order may begin the day before): its FIX messages, the OMS, risk, route and \
         id-map rows of its orders ({}), the ledger rows of its executions, and the reference \
         tables whole.{}\n\n\
         Reproduce it:\n\n    ordertrail load --lake lake --fixtures THIS_DIR\n    \
         ordertrail run --lake lake --date {date}\n\n\
         | table | rows |\n| --- | ---: |\n",
        e.chains.join(", "),
        date.pred_opt().unwrap_or(date),
        e.orders.join(", "),
        if pseudonymised {
            format!(
                " Account numbers are pseudonymised ({} values, each replaced by `ACCT-` and 8 \
                 hex digits of its SHA-256, the same everywhere, FIX text included).",
                e.replaced
            )
        } else {
            String::new()
        }
    );
    for (table, rows) in &e.rows {
        out.push_str(&format!("| `{table}` | {rows} |\n"));
    }
    out
}

/// The first column of a query's rows, as text.
async fn strings(
    ctx: &SessionContext,
    sql: &str,
    params: datafusion::common::ParamValues,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in ctx
        .sql(sql)
        .await?
        .with_param_values(params)?
        .collect()
        .await?
    {
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
        if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
            out.extend(s.iter().flatten().map(String::from));
        }
    }
    Ok(out)
}
