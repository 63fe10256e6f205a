//! Reading Arrow values the way report files write them: exact decimals, no floats.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};

use crate::error::{Error, Result};

/// A scalar as report files need it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Integer or decimal, as exact text without trailing zeros (`187.25`, `100`, `0.5`).
    Number(String),
    Text(String),
    /// A struct: (field name, value) in field order.
    Object(Vec<(String, Value)>),
    /// A list: its elements in order (CAT's arrays of detail objects).
    Array(Vec<Value>),
}

/// Value of `array` at `row`. `column` names the column in errors.
pub fn value_at(array: &ArrayRef, row: usize, column: &str) -> Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let v = match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Utf8 => Value::Text(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Text(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::Text(array.as_string_view().value(row).to_string()),
        DataType::Int8 => Value::Number(array.as_primitive::<Int8Type>().value(row).to_string()),
        DataType::Int16 => Value::Number(array.as_primitive::<Int16Type>().value(row).to_string()),
        DataType::Int32 => Value::Number(array.as_primitive::<Int32Type>().value(row).to_string()),
        DataType::Int64 => Value::Number(array.as_primitive::<Int64Type>().value(row).to_string()),
        DataType::UInt8 => Value::Number(array.as_primitive::<UInt8Type>().value(row).to_string()),
        DataType::UInt16 => {
            Value::Number(array.as_primitive::<UInt16Type>().value(row).to_string())
        }
        DataType::UInt32 => {
            Value::Number(array.as_primitive::<UInt32Type>().value(row).to_string())
        }
        DataType::UInt64 => {
            Value::Number(array.as_primitive::<UInt64Type>().value(row).to_string())
        }
        DataType::Decimal128(_, scale) => {
            let raw = array
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(row);
            Value::Number(decimal_text(raw, *scale))
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut out = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                let child = value_at(s.column(i), row, &format!("{column}.{}", f.name()))?;
                out.push((f.name().clone(), child));
            }
            Value::Object(out)
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let items = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            let mut out = Vec::with_capacity(items.len());
            for i in 0..items.len() {
                out.push(value_at(&items, i, &format!("{column}[{i}]"))?);
            }
            Value::Array(out)
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            return Err(Error::input_hint(
                format!("report column {column} is a float"),
                "report money and quantities as DECIMAL in the report stage's SQL",
            ));
        }
        other => {
            return Err(Error::input(format!(
                "report column {column} has type {other}, which report files cannot hold"
            )));
        }
    };
    Ok(v)
}

/// Exact decimal text of an unscaled value: trailing zeros and a trailing point removed.
pub fn decimal_text(raw: i128, scale: i8) -> String {
    let d = rust_decimal::Decimal::try_from_i128_with_scale(raw, scale.max(0) as u32)
        .map(|d| d.normalize().to_string());
    match d {
        Ok(text) => text,
        // Beyond rust_decimal's 96 bits: format by hand.
        Err(_) => {
            let negative = raw < 0;
            let digits = raw.unsigned_abs().to_string();
            let scale = scale.max(0) as usize;
            let padded = format!("{digits:0>width$}", width = scale + 1);
            let (int, frac) = padded.split_at(padded.len() - scale);
            let frac = frac.trim_end_matches('0');
            let sign = if negative { "-" } else { "" };
            if frac.is_empty() {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            }
        }
    }
}

impl Value {
    /// Whether the value is written at all: not NULL, and not an object with no non-NULL field.
    pub fn is_present(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Object(fields) => fields.iter().any(|(_, v)| v.is_present()),
            Value::Array(items) => items.iter().any(|v| v.is_present()),
            _ => true,
        }
    }

    /// As a JSON value; `None` for NULL and for objects with no non-NULL field.
    pub fn to_json(&self) -> Option<String> {
        let mut out = Vec::new();
        self.write_json(&mut out)
            .then(|| String::from_utf8(out).expect("JSON is UTF-8"))
    }

    /// Append the JSON form to `out`; returns false (and appends nothing) when the value is not
    /// [`present`](Self::is_present).
    pub fn write_json(&self, out: &mut Vec<u8>) -> bool {
        match self {
            Value::Null => return false,
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Number(n) => out.extend_from_slice(n.as_bytes()),
            Value::Text(t) => json_string(t, out),
            Value::Object(fields) => {
                if !self.is_present() {
                    return false;
                }
                out.push(b'{');
                write_members(fields.iter().map(|(k, v)| (k.as_str(), v)), out);
                out.push(b'}');
            }
            Value::Array(items) => {
                if !self.is_present() {
                    return false;
                }
                out.push(b'[');
                let mut first = true;
                for item in items.iter().filter(|v| v.is_present()) {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    item.write_json(out);
                }
                out.push(b']');
            }
        }
        true
    }

    /// As a plain text field (empty for NULL).
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) | Value::Text(n) => n.clone(),
            Value::Object(_) | Value::Array(_) => self.to_json().unwrap_or_default(),
        }
    }
}

/// `"name":value` pairs, comma-separated, of the present values.
pub fn write_members<'a>(members: impl Iterator<Item = (&'a str, &'a Value)>, out: &mut Vec<u8>) {
    let mut first = true;
    for (name, value) in members {
        if !value.is_present() {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json_string(name, out);
        out.push(b':');
        value.write_json(out);
    }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn json_string(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_without_trailing_zeros() {
        assert_eq!(decimal_text(187_250_000, 6), "187.25");
        assert_eq!(decimal_text(100_000_000, 6), "100");
        assert_eq!(decimal_text(500_000, 6), "0.5");
        assert_eq!(decimal_text(0, 6), "0");
        assert_eq!(decimal_text(-1_230, 3), "-1.23");
        assert_eq!(
            decimal_text(123_456_789_012_345_678_901_234_567_890_123_456, 6),
            "123456789012345678901234567890.123456"
        );
    }

    #[test]
    fn objects_skip_nulls() {
        let v = Value::Object(vec![
            ("DAY".into(), Value::Number("20261119".into())),
            ("GTC".into(), Value::Null),
        ]);
        assert_eq!(v.to_json().as_deref(), Some("{\"DAY\":20261119}"));
        assert_eq!(
            Value::Object(vec![("X".into(), Value::Null)]).to_json(),
            None
        );
        assert_eq!(
            Value::Text("a\"b".into()).to_json().as_deref(),
            Some("\"a\\\"b\"")
        );
    }

    #[test]
    fn arrays_hold_their_present_elements() {
        let detail = |id: Option<&str>| {
            Value::Object(vec![(
                "orderID".into(),
                id.map_or(Value::Null, |s| Value::Text(s.into())),
            )])
        };
        let v = Value::Array(vec![detail(Some("C1")), detail(None), detail(Some("C2"))]);
        assert_eq!(
            v.to_json().as_deref(),
            Some("[{\"orderID\":\"C1\"},{\"orderID\":\"C2\"}]")
        );
        assert_eq!(Value::Array(vec![detail(None)]).to_json(), None);
    }
}
