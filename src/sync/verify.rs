//! Row count and order-independent checksum of a table window, computed the same way on both
//! sides: in SQL on the replica, and in Rust over Arrow data (design 5.4).
//!
//! Each row becomes a canonical text: its columns joined with `|`, each column `N` when NULL,
//! else `v` followed by the value: integers and decimals in plain decimal notation with the
//! declared scale (`-0.500000`), timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, always six
//! fraction digits), dates as `YYYY-MM-DD`, text as its UTF-8 bytes, binary as upper-case hex.
//! The checksum is the count of rows and the sum of the CRC-32 of every row's text, so it does
//! not depend on row order. (A `|` inside text can make two different rows collide; that and
//! CRC-32 collisions are the limits of this check.)

use std::fmt::Write as _;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use chrono::{DateTime, NaiveDateTime};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, IoContext, Result};
use crate::sources::SourceTable;

/// Rows and checksum of one window of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    pub sum: u128,
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows, checksum {}", self.rows, self.sum)
    }
}

/// `select count(*), sum(crc32(<canonical row text>)) from ... where <window>`; the two `?`
/// parameters are the window's start (inclusive) and end (exclusive). Text columns named in
/// `convert` are not UTF-8 on the replica and are converted first.
pub fn checksum_sql(
    table: &SourceTable,
    replica: &str,
    time_column: &str,
    convert: &[String],
) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let name = quote(&c.name);
            let text = match &c.data_type {
                DataType::Timestamp(..) => format!("date_format({name}, '%Y-%m-%d %H:%i:%s.%f')"),
                DataType::Date32 => format!("date_format({name}, '%Y-%m-%d')"),
                DataType::Utf8 if convert.iter().any(|n| n.eq_ignore_ascii_case(&c.name)) => {
                    format!("convert({name} using utf8mb4)")
                }
                DataType::Utf8 => name.clone(),
                DataType::Binary => format!("hex({name})"),
                _ => format!("cast({name} as char)"),
            };
            format!("if({name} is null, 'N', concat('v', {text}))")
        })
        .collect();
    format!(
        "select count(*), cast(coalesce(sum(crc32(concat_ws('|', {}))), 0) as char) from {replica} \
         where {time} >= ? and {time} < ?",
        columns.join(", "),
        time = quote(time_column)
    )
}

/// A MySQL identifier in backquotes.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Adds rows to a checksum.
pub struct Checksummer {
    pub checksum: Checksum,
    text: String,
}

impl Default for Checksummer {
    fn default() -> Self {
        Checksummer {
            checksum: Checksum::default(),
            text: String::with_capacity(256),
        }
    }
}

impl Checksummer {
    /// Add every row of `batch` (columns in declared order).
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        for row in 0..batch.num_rows() {
            self.text.clear();
            for (i, column) in batch.columns().iter().enumerate() {
                if i > 0 {
                    self.text.push('|');
                }
                canonical(column.as_ref(), row, &mut self.text)?;
            }
            self.checksum.sum += crc32fast::hash(self.text.as_bytes()) as u128;
        }
        self.checksum.rows += batch.num_rows() as u64;
        Ok(())
    }
}

fn canonical(column: &dyn Array, row: usize, out: &mut String) -> Result<()> {
    if column.is_null(row) {
        out.push('N');
        return Ok(());
    }
    out.push('v');
    // Writing into a String cannot fail.
    let _ = match column.data_type() {
        DataType::Int8 => write!(out, "{}", column.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => write!(out, "{}", column.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => write!(out, "{}", column.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => write!(out, "{}", column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => write!(out, "{}", column.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => write!(out, "{}", column.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => write!(out, "{}", column.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => write!(out, "{}", column.as_primitive::<UInt64Type>().value(row)),
        DataType::Decimal128(_, scale) => {
            let v = column.as_primitive::<Decimal128Type>().value(row);
            write_decimal(out, v, *scale);
            Ok(())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let v = column
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .map(|a| a.value(row))
                .unwrap_or_default();
            match DateTime::from_timestamp_micros(v) {
                Some(t) => write!(out, "{}", t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f")),
                None => return Err(Error::input(format!("timestamp {v} out of range"))),
            }
        }
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            match DateTime::from_timestamp(days as i64 * 86_400, 0) {
                Some(t) => write!(out, "{}", t.date_naive().format("%Y-%m-%d")),
                None => return Err(Error::input(format!("date {days} out of range"))),
            }
        }
        DataType::Utf8 => {
            out.push_str(column.as_string::<i32>().value(row));
            Ok(())
        }
        DataType::Binary => {
            for b in column.as_binary::<i32>().value(row) {
                let _ = write!(out, "{b:02X}");
            }
            Ok(())
        }
        other => {
            return Err(Error::input(format!(
                "cannot checksum a column of type {other}"
            )));
        }
    };
    Ok(())
}

/// `v / 10^scale` with exactly `scale` fraction digits, like MySQL prints a DECIMAL.
fn write_decimal(out: &mut String, v: i128, scale: i8) {
    if v < 0 {
        out.push('-');
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    if scale == 0 {
        out.push_str(&digits);
        return;
    }
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

/// Rows and checksum of the lake partition file `path`, counting only rows whose time column is
/// in `[from, to)`.
pub fn file_checksum(
    path: &Path,
    table: &SourceTable,
    time_column: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Checksum> {
    let file = std::fs::File::open(path).at(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(8192)
        .build()?;
    let from = from.and_utc().timestamp_micros();
    let to = to.and_utc().timestamp_micros();
    let mut sum = Checksummer::default();
    for batch in reader {
        let batch = batch?;
        let times = batch
            .column_by_name(time_column)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
            .ok_or_else(|| {
                Error::input(format!(
                    "{}: {} has no timestamp column {time_column}",
                    path.display(),
                    table.qualified_name()
                ))
            })?;
        let mask: arrow::array::BooleanArray = times
            .iter()
            .map(|t| Some(t.is_some_and(|t| t >= from && t < to)))
            .collect();
        let batch = arrow::compute::filter_record_batch(&batch, &mask)?;
        sum.add(&batch)?;
    }
    Ok(sum.checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_like_mysql() {
        let print = |v, s| {
            let mut out = String::new();
            write_decimal(&mut out, v, s);
            out
        };
        assert_eq!(print(187_250_000, 6), "187.250000");
        assert_eq!(print(-500_000, 6), "-0.500000");
        assert_eq!(print(-1, 6), "-0.000001");
        assert_eq!(print(0, 2), "0.00");
        assert_eq!(print(42, 0), "42");
    }
}
