//! `ordertrail extract`: one order's raw rows as a fixture directory, to reproduce a bad report
//! without the whole day. `ordertrail load` + `run` on the directory give that order's stage
//! rows and report lines again.
//!
//! Which raw rows belong to the order is SQL (`sql/v1/extract/members.sql`): from
//! `flow_complete` of the date and the day before (an order may have begun then), the keys of
//! its chain by the column a raw table is matched on: its FIX messages (raw id, per gateway),
//! its OMS order ids, its ExecIDs. Each raw table of those two dates keeps the rows whose
//! column of the first kind that applies to it holds one of those keys (bound as a table, not
//! pasted into SQL); a table no kind applies to (reference data) is kept whole. Every declared
//! table gets its CSV, possibly empty, and a README says what is there.
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
/// (every raw table and stage registered) into `out`, a new or empty directory. Which rows
/// belong to the order is `<sql_dir>/extract/members.sql`'s to say.
pub async fn extract(
    ctx: &SessionContext,
    sql_dir: &Path,
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
    let params = |extra: Vec<(&str, ScalarValue)>| {
        let mut values = vec![
            ("d0".to_string(), crate::pipeline::date_scalar(prev)),
            ("d1".to_string(), crate::pipeline::date_scalar(date)),
            (
                "order".to_string(),
                ScalarValue::Utf8(Some(order.to_string())),
            ),
        ];
        values.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        datafusion::common::ParamValues::from(values)
    };
    // Which keys tie raw rows to the order's chain: the rules are SQL (extract/members.sql).
    let members_sql = sql_dir.join("extract").join("members.sql");
    let text = std::fs::read_to_string(&members_sql).map_err(|e| Error::io(&members_sql, e))?;
    let members = ctx
        .sql(&text)
        .await
        .map_err(|e| crate::stages::sql_error(&members_sql, e))?
        .with_param_values(params(vec![]))?
        .collect()
        .await
        .map_err(|e| crate::stages::sql_error(&members_sql, e))?;
    let schema = members
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| Error::internal("the members query returned no batch"))?;
    let members = arrow::compute::concat_batches(&schema, &members)?;
    let keys = Members::read(&members, &members_sql)?;
    let chains = keys.values("chain");
    if chains.is_empty() {
        return Err(Error::input_hint(
            format!("no order or chain {order} in flow_complete of {prev} or {date}"),
            "pass an OMS order id (e.g. ORD-0004) or a chain id, and the trade date it was \
             reported on",
        ));
    }
    let orders = keys.values("order_id");
    ctx.deregister_table("extract_members")?;
    ctx.register_batch("extract_members", members)?;

    // Every declared table's rows of the two dates that belong to the chain.
    let mut tables: Vec<(&SourceTable, RecordBatch)> = Vec::new();
    for table in &sources.tables {
        let name = table.qualified_name();
        let schema = table.schema();
        let plain = crate::lake::plain_schema(&schema);
        if !ctx.table_exist(name.as_str())? {
            tables.push((table, RecordBatch::new_empty(plain)));
            continue;
        }
        // Identifiers come from the declarations (sources.sql); values are bound.
        let columns = schema
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let matched = keys.kind_for(&table.db, |c| schema.column_with_name(c).is_some());
        let filter = match &matched {
            Some(kind) => format!(
                " and cast(\"{kind}\" as varchar) in (select key from extract_members \
                 where kind = $kind and (db is null or db = $db))"
            ),
            None => String::new(), // reference data: whole
        };
        let sql = format!(
            "select {columns} from {name} where trade_date >= $d0 and trade_date <= $d1{filter} \
             order by create_time, id"
        );
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(params(vec![
                ("kind", ScalarValue::Utf8(matched.clone())),
                ("db", ScalarValue::Utf8(Some(table.db.clone()))),
            ]))?
            .collect()
            .await?;
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
        tables.push((table, arrow::compute::concat_batches(&plain, &cast)?));
    }
    ctx.deregister_table("extract_members")?;

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

/// The rows of `extract/members.sql`: (kind, db, key, priority); a NULL key declares a kind.
struct Members {
    rows: Vec<(String, Option<String>, Option<String>, i64)>,
}

impl Members {
    fn read(batch: &RecordBatch, file: &Path) -> Result<Members> {
        let text = |name: &str| -> Result<ArrayRef> {
            let col = batch.column_by_name(name).ok_or_else(|| Error::Sql {
                file: file.to_path_buf(),
                location: None,
                message: format!("the query must return a column named {name}"),
            })?;
            Ok(arrow::compute::cast(
                col,
                &arrow::datatypes::DataType::Utf8,
            )?)
        };
        let (kind, db, key) = (text("kind")?, text("db")?, text("key")?);
        let priority = arrow::compute::cast(
            batch.column_by_name("priority").ok_or_else(|| Error::Sql {
                file: file.to_path_buf(),
                location: None,
                message: "the query must return a column named priority".into(),
            })?,
            &arrow::datatypes::DataType::Int64,
        )?;
        let as_str = |a: &ArrayRef| a.as_any().downcast_ref::<StringArray>().cloned();
        let (Some(kind), Some(db), Some(key)) = (as_str(&kind), as_str(&db), as_str(&key)) else {
            return Err(Error::internal("cast to Utf8 gave no string array"));
        };
        let priority = priority
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .cloned()
            .ok_or_else(|| Error::internal("cast to Int64 gave no integer array"))?;
        let rows = (0..batch.num_rows())
            .filter(|&i| kind.is_valid(i))
            .map(|i| {
                (
                    kind.value(i).to_string(),
                    db.is_valid(i).then(|| db.value(i).to_string()),
                    key.is_valid(i).then(|| key.value(i).to_string()),
                    if priority.is_valid(i) {
                        priority.value(i)
                    } else {
                        i64::MAX
                    },
                )
            })
            .collect();
        Ok(Members { rows })
    }

    /// The keys of `kind`, sorted, without repeats.
    fn values(&self, kind: &str) -> Vec<String> {
        let set: BTreeSet<String> = self
            .rows
            .iter()
            .filter(|r| r.0 == kind)
            .filter_map(|r| r.2.clone())
            .collect();
        set.into_iter().collect()
    }

    /// The kind a table of `db` is matched on: the applicable kind (a column the table has,
    /// for every db or for this one) with the lowest priority; `None` for reference data.
    fn kind_for(&self, db: &str, has_column: impl Fn(&str) -> bool) -> Option<String> {
        self.rows
            .iter()
            .filter(|(kind, kdb, _, _)| kdb.as_deref().is_none_or(|k| k == db) && has_column(kind))
            .min_by_key(|r| (r.3, r.0.clone()))
            .map(|r| r.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_matched_on_the_first_kind_it_has() {
        let row = |kind: &str, db: Option<&str>, key: Option<&str>, priority| {
            (
                kind.to_string(),
                db.map(String::from),
                key.map(String::from),
                priority,
            )
        };
        let members = Members {
            rows: vec![
                row("chain", None, Some("ORD-1"), 0),
                row("id", Some("inbound"), Some("7"), 1),
                row("id", Some("inbound"), None, 1),
                row("id", Some("outbound"), None, 1),
                row("order_id", None, Some("ORD-1"), 2),
                row("order_id", None, None, 2),
                row("ref_id", None, None, 3),
            ],
        };
        let has = |cols: &'static [&'static str]| move |c: &str| cols.contains(&c);
        // FIX messages by raw id, in their gateway's db only.
        assert_eq!(
            members.kind_for("inbound", has(&["id", "fix"])),
            Some("id".into())
        );
        // A chain with no outbound message or execution still matches those tables (nothing).
        assert_eq!(
            members.kind_for("outbound", has(&["id", "fix"])),
            Some("id".into())
        );
        // OMS rows by order, the ledger by execution, reference data whole.
        assert_eq!(
            members.kind_for("oms", has(&["id", "order_id"])),
            Some("order_id".into())
        );
        assert_eq!(
            members.kind_for("fund", has(&["id", "ref_id", "account_num"])),
            Some("ref_id".into())
        );
        assert_eq!(members.kind_for("refdata", has(&["id", "symbol"])), None);
        assert_eq!(members.values("order_id"), vec!["ORD-1".to_string()]);
        assert!(members.values("ref_id").is_empty());
    }
}
