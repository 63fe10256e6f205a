//! MySQL rows to Arrow: builders per declared column type, fed one binary-protocol row at a time,
//! and the check that a replica's columns have the types `sql/sources.sql` declares.
//!
//! Types come from [`crate::sources::mysql_type_to_arrow`]; this module only moves values.
//! Integers land as Int8..Int64 / UInt8..UInt64, DECIMAL(p,s) as Decimal128(p,s),
//! DATETIME/TIMESTAMP as microsecond UTC timestamps (the session time zone is UTC), DATE as
//! Date32, character types as Utf8 and binary types as Binary; NULL stays NULL.

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, Date32Builder, Decimal128Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use mysql_async::Value;

use crate::error::{Error, Result};
use crate::sources::{SourceTable, UTC, mysql_type_to_arrow};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Builds Arrow batches of one table's declared schema from MySQL rows.
pub struct BatchBuilder {
    table: String,
    names: Vec<String>,
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

enum Column {
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
}

impl BatchBuilder {
    pub fn new(table: &SourceTable) -> Result<BatchBuilder> {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                Ok(match &c.data_type {
                    DataType::Int8 => Column::I8(Int8Builder::new()),
                    DataType::Int16 => Column::I16(Int16Builder::new()),
                    DataType::Int32 => Column::I32(Int32Builder::new()),
                    DataType::Int64 => Column::I64(Int64Builder::new()),
                    DataType::UInt8 => Column::U8(UInt8Builder::new()),
                    DataType::UInt16 => Column::U16(UInt16Builder::new()),
                    DataType::UInt32 => Column::U32(UInt32Builder::new()),
                    DataType::UInt64 => Column::U64(UInt64Builder::new()),
                    DataType::Decimal128(p, s) => Column::Decimal(
                        Decimal128Builder::new().with_precision_and_scale(*p, *s)?,
                        *p,
                        *s,
                    ),
                    DataType::Timestamp(TimeUnit::Microsecond, _) => {
                        Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone(UTC))
                    }
                    DataType::Date32 => Column::Date(Date32Builder::new()),
                    DataType::Utf8 => Column::Utf8(StringBuilder::new()),
                    DataType::Binary => Column::Binary(BinaryBuilder::new()),
                    other => {
                        return Err(Error::input(format!(
                            "{}.{}: sync cannot store Arrow type {other}",
                            table.qualified_name(),
                            c.name
                        )));
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BatchBuilder {
            table: table.qualified_name(),
            names: table.columns.iter().map(|c| c.name.clone()).collect(),
            schema: table.schema(),
            columns,
            rows: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row; its values are in declared column order.
    pub fn push(&mut self, values: Vec<Value>) -> Result<()> {
        if values.len() != self.columns.len() {
            return Err(Error::input(format!(
                "{}: a row has {} values, expected {}",
                self.table,
                values.len(),
                self.columns.len()
            )));
        }
        for (i, value) in values.into_iter().enumerate() {
            if let Err(what) = append(&mut self.columns[i], value) {
                return Err(Error::input_hint(
                    format!("{}.{}: {what}", self.table, self.names[i]),
                    "the replica's column does not hold what sql/sources.sql declares",
                ));
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows appended since the last call, as one batch; NOT NULL columns are checked.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                Column::I8(b) => finish(b),
                Column::I16(b) => finish(b),
                Column::I32(b) => finish(b),
                Column::I64(b) => finish(b),
                Column::U8(b) => finish(b),
                Column::U16(b) => finish(b),
                Column::U32(b) => finish(b),
                Column::U64(b) => finish(b),
                Column::Decimal(b, _, _) => finish(b),
                Column::Timestamp(b) => finish(b),
                Column::Date(b) => finish(b),
                Column::Utf8(b) => finish(b),
                Column::Binary(b) => finish(b),
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| {
            Error::input_hint(
                format!("{}: {e}", self.table),
                "a column declared NOT NULL in sql/sources.sql holds NULL on the replica",
            )
        })
    }
}

/// The builder's rows as an array; the builder is left empty for the next batch.
fn finish<B: ArrayBuilder>(builder: &mut B) -> ArrayRef {
    ArrayBuilder::finish(builder)
}

fn append(column: &mut Column, value: Value) -> std::result::Result<(), String> {
    macro_rules! int {
        ($b:expr, $t:ty) => {{
            match value {
                Value::NULL => $b.append_null(),
                Value::Int(v) => {
                    $b.append_value(<$t>::try_from(v).map_err(|_| format!("{v} is out of range"))?)
                }
                Value::UInt(v) => {
                    $b.append_value(<$t>::try_from(v).map_err(|_| format!("{v} is out of range"))?)
                }
                Value::Bytes(b) => {
                    let text = std::str::from_utf8(&b).map_err(|_| "not an integer".to_string())?;
                    $b.append_value(
                        text.parse::<$t>()
                            .map_err(|_| format!("`{text}` is not an integer of this width"))?,
                    )
                }
                other => return Err(format!("expected an integer, got {other:?}")),
            }
        }};
    }
    match column {
        Column::I8(b) => int!(b, i8),
        Column::I16(b) => int!(b, i16),
        Column::I32(b) => int!(b, i32),
        Column::I64(b) => int!(b, i64),
        Column::U8(b) => int!(b, u8),
        Column::U16(b) => int!(b, u16),
        Column::U32(b) => int!(b, u32),
        Column::U64(b) => int!(b, u64),
        Column::Decimal(b, precision, scale) => match value {
            Value::NULL => b.append_null(),
            Value::Bytes(bytes) => b.append_value(parse_decimal(&bytes, *precision, *scale)?),
            Value::Int(v) => b.append_value(scale_int(v as i128, *scale)?),
            Value::UInt(v) => b.append_value(scale_int(v as i128, *scale)?),
            other => return Err(format!("expected a decimal, got {other:?}")),
        },
        Column::Timestamp(b) => match value {
            Value::NULL => b.append_null(),
            Value::Date(y, mo, d, h, mi, s, us) => {
                let days = days_from_civil(y, mo, d)?;
                let secs = days as i64 * 86_400 + h as i64 * 3600 + mi as i64 * 60 + s as i64;
                b.append_value(secs * 1_000_000 + us as i64)
            }
            other => return Err(format!("expected a datetime, got {other:?}")),
        },
        Column::Date(b) => match value {
            Value::NULL => b.append_null(),
            Value::Date(y, mo, d, ..) => b.append_value(days_from_civil(y, mo, d)?),
            other => return Err(format!("expected a date, got {other:?}")),
        },
        Column::Utf8(b) => match value {
            Value::NULL => b.append_null(),
            Value::Bytes(bytes) => {
                let text =
                    std::str::from_utf8(&bytes).map_err(|e| format!("not valid UTF-8: {e}"))?;
                b.append_value(text)
            }
            other => return Err(format!("expected text, got {other:?}")),
        },
        Column::Binary(b) => match value {
            Value::NULL => b.append_null(),
            Value::Bytes(bytes) => b.append_value(&bytes),
            other => return Err(format!("expected bytes, got {other:?}")),
        },
    }
    Ok(())
}

/// Days since 1970-01-01; zero dates (`0000-00-00`) are refused.
fn days_from_civil(y: u16, m: u8, d: u8) -> std::result::Result<i32, String> {
    use chrono::Datelike;
    chrono::NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
        .map(|date| date.num_days_from_ce() - UNIX_EPOCH_CE_DAYS)
        .ok_or_else(|| format!("{y:04}-{m:02}-{d:02} is not a valid date (zero date?)"))
}

fn scale_int(v: i128, scale: i8) -> std::result::Result<i128, String> {
    10i128
        .checked_pow(scale.max(0) as u32)
        .and_then(|m| v.checked_mul(m))
        .ok_or_else(|| format!("{v} does not fit the decimal"))
}

/// `-123.4500` (MySQL's decimal text) as an i128 with `scale` fraction digits.
pub fn parse_decimal(bytes: &[u8], precision: u8, scale: i8) -> std::result::Result<i128, String> {
    let bad = || format!("`{}` is not a decimal", String::from_utf8_lossy(bytes));
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut value: i128 = 0;
    let mut fraction_digits: i32 = -1;
    let mut significant = 0u32;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                value = value * 10 + (c - b'0') as i128;
                if value != 0 {
                    significant += 1;
                }
                if fraction_digits >= 0 {
                    fraction_digits += 1;
                }
            }
            b'.' if fraction_digits < 0 => fraction_digits = 0,
            _ => return Err(bad()),
        }
        if significant > 38 {
            return Err(bad());
        }
    }
    let fraction_digits = fraction_digits.max(0);
    let scale = scale as i32;
    if fraction_digits > scale {
        return Err(format!(
            "`{}` has more than {scale} fraction digits",
            String::from_utf8_lossy(bytes)
        ));
    }
    value = scale_int(value, (scale - fraction_digits) as i8)?;
    if value >= 10i128.pow(precision as u32) {
        return Err(format!(
            "`{}` does not fit DECIMAL({precision},{scale})",
            String::from_utf8_lossy(bytes)
        ));
    }
    Ok(if negative { -value } else { value })
}

/// Check that the replica table has every declared column, with a type that maps to the declared
/// Arrow type. `columns` are `(name, COLUMN_TYPE)` rows of `information_schema.COLUMNS`.
pub fn check_columns(
    table: &SourceTable,
    replica: &str,
    columns: &[(String, String)],
) -> Result<()> {
    if columns.is_empty() {
        return Err(Error::input_hint(
            format!(
                "{}: table {replica} does not exist on the replica",
                table.qualified_name()
            ),
            "check the source's url and database in the sync config",
        ));
    }
    for declared in &table.columns {
        let Some((_, column_type)) = columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&declared.name))
        else {
            return Err(Error::input_hint(
                format!(
                    "{}.{}: column missing on the replica ({replica})",
                    table.qualified_name(),
                    declared.name
                ),
                "sql/sources.sql and the replica schema disagree",
            ));
        };
        match mysql_type_to_arrow(column_type) {
            None => {
                return Err(Error::input_hint(
                    format!(
                        "{}.{}: unsupported column type {column_type} on the replica ({replica})",
                        table.qualified_name(),
                        declared.name
                    ),
                    "supported: integers, decimal(p<=38,s), datetime, timestamp, date, \
                     char/varchar/text/json/enum, binary/blob",
                ));
            }
            Some(dt) if dt != declared.data_type => {
                return Err(Error::input_hint(
                    format!(
                        "{}.{}: the replica ({replica}) has {column_type}, sql/sources.sql declares {}",
                        table.qualified_name(),
                        declared.name,
                        declared.sql_type
                    ),
                    "sql/sources.sql and the replica schema disagree",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"187.25", 18, 6), Ok(187_250_000));
        assert_eq!(parse_decimal(b"-0.000001", 18, 6), Ok(-1));
        assert_eq!(parse_decimal(b"100", 18, 0), Ok(100));
        let max = "9".repeat(38);
        assert_eq!(parse_decimal(max.as_bytes(), 38, 0), Ok(10i128.pow(38) - 1));
        assert!(parse_decimal(b"1.2345", 18, 2).is_err());
        assert!(parse_decimal(b"12x", 18, 2).is_err());
        assert!(parse_decimal(b"1000", 3, 0).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Ok(0));
        assert_eq!(days_from_civil(2026, 11, 19), Ok(20_776));
        assert!(days_from_civil(0, 0, 0).is_err());
    }
}
