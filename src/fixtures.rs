//! Loading a fixture day (CSV files in `data-fixtures/<db>/<table>.csv`) into the lake's raw
//! tables, typed by `sql/sources.sql` and partitioned by the UTC date of `create_time`.
//!
//! Every declared table gets a partition for every date that occurs anywhere in the fixtures,
//! empty where the table has no rows that day: "synced, nothing happened" differs from "never
//! synced".

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Schema, SchemaRef};
use chrono::NaiveDate;

use crate::error::{Error, IoContext, Result};
use crate::lake::{Lake, Written};
use crate::sources::{SourceTable, Sources};

/// Rows loaded into one table.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub table: String,
    pub dates: Vec<(NaiveDate, Written)>,
}

/// Load every declared table from `dir` into `lake`. Returns what was written per table.
pub fn load_dir(lake: &Lake, sources: &Sources, dir: &Path) -> Result<Vec<Loaded>> {
    let mut tables = Vec::new();
    for table in &sources.tables {
        let path = dir.join(&table.db).join(format!("{}.csv", table.name));
        if !path.exists() {
            return Err(Error::input_hint(
                format!("fixture file {} is missing", path.display()),
                format!(
                    "every table in {} needs a CSV (header row + rows, possibly none)",
                    sources.path.display()
                ),
            ));
        }
        tables.push((table, read_csv(&path, table)?));
    }
    let mut dates = BTreeSet::new();
    for (table, batch) in &tables {
        for d in table.row_dates(batch)?.into_iter().flatten() {
            dates.insert(d);
        }
    }
    let mut loaded = Vec::new();
    for (table, batch) in &tables {
        let row_dates = table.row_dates(batch)?;
        let mut per_date = Vec::new();
        for date in &dates {
            let mask: BooleanArray = row_dates.iter().map(|d| Some(*d == Some(*date))).collect();
            let rows = filter_record_batch(batch, &mask)?;
            let dir = lake.raw_table_dir(&table.db, &table.name);
            let mut writer = lake.partition_writer(&dir, *date, &batch.schema())?;
            writer.write(&rows)?;
            per_date.push((*date, writer.commit()?));
        }
        loaded.push(Loaded {
            table: table.qualified_name(),
            dates: per_date,
        });
    }
    Ok(loaded)
}

/// Read a whole CSV file typed by the table's declared schema. Errors name the file and line.
pub fn read_csv(path: &Path, table: &SourceTable) -> Result<RecordBatch> {
    let schema: SchemaRef = table.schema();
    let file = File::open(path).at(path)?;
    check_header(path, table)?;
    // Read every column as nullable: an empty NOT NULL field is reported below with its line.
    let nullable = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let reader = arrow::csv::ReaderBuilder::new(nullable.clone())
        .with_header(true)
        .build(file)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let mut batches = Vec::new();
    for batch in reader {
        batches.push(batch.map_err(|e| {
            Error::input_hint(
                format!("{}: {e}", path.display()),
                format!(
                    "columns are typed by {}; timestamps look like 2026-11-20T14:30:00.000000Z, \
                     decimals like 10.25, NULL is an empty field",
                    "sql/sources.sql"
                ),
            )
        })?);
    }
    let batch = concat_batches(&nullable, &batches)?;
    // NOT NULL columns must be filled: say which row is wrong.
    for (i, col) in table.columns.iter().enumerate() {
        if !col.nullable && batch.column(i).null_count() > 0 {
            let row = (0..batch.num_rows())
                .find(|r| batch.column(i).is_null(*r))
                .unwrap_or(0);
            return Err(Error::input(format!(
                "{}:{}: column {} is NOT NULL but empty",
                path.display(),
                row + 2,
                col.name
            )));
        }
    }
    Ok(RecordBatch::try_new(schema, batch.columns().to_vec())?)
}

fn check_header(path: &Path, table: &SourceTable) -> Result<()> {
    let text = std::fs::read_to_string(path).at(path)?;
    let header = text.lines().next().unwrap_or("");
    let expected: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let found: Vec<&str> = header.split(',').map(|h| h.trim()).collect();
    if found != expected {
        return Err(Error::input_hint(
            format!(
                "{}:1: header is `{header}`, expected `{}`",
                path.display(),
                expected.join(",")
            ),
            format!(
                "the columns and their order come from {}",
                "sql/sources.sql"
            ),
        ));
    }
    Ok(())
}
