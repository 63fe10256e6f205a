//! Table-shaped reports: the daily trading summary (CSV and Parquet) and K-line bars
//! (Parquet), written from their stages' rows as they are.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;

use super::OutFile;
use crate::config::Destination;
use crate::error::{Error, Result};
use crate::lake::parquet_bytes;

pub fn summary(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    dest: &Destination,
    date: NaiveDate,
) -> Result<Vec<OutFile>> {
    let stem = format!("daily_summary_{}", date.format("%Y%m%d"));
    let mut csv = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut csv);
        for b in batches {
            writer
                .write(b)
                .map_err(|e| Error::input(format!("{}: CSV: {e}", dest.name)))?;
        }
    }
    Ok(vec![
        OutFile {
            name: format!("{stem}.csv"),
            bytes: csv,
        },
        OutFile {
            name: format!("{stem}.parquet"),
            bytes: parquet_bytes(schema, batches)?,
        },
    ])
}

pub fn kline(schema: &SchemaRef, batches: &[RecordBatch], date: NaiveDate) -> Result<Vec<OutFile>> {
    Ok(vec![OutFile {
        name: format!("kline_bars_{}.parquet", date.format("%Y%m%d")),
        bytes: parquet_bytes(schema, batches)?,
    }])
}
