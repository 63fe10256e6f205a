//! `with_field_names(value, 'name', ...)`: the same struct (or list of structs) with its fields
//! renamed, in order. SQL builds lists of structs with `arrays_zip`, whose fields are named
//! `1`, `2`, ...; a cast cannot rename struct fields, and report files take field names from
//! the struct. The data is not touched.
//!
//! ```sql
//! select with_field_names(arrays_zip(leg_symbols, leg_sides), 'symbol', 'side') as legs
//! ```

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StructArray};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WithFieldNames {
    signature: Signature,
}

impl WithFieldNames {
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl Default for WithFieldNames {
    fn default() -> Self {
        Self::new()
    }
}

/// `data_type` with the fields of its struct (or of its list's struct) named `names`.
fn renamed(data_type: &DataType, names: &[String]) -> Result<DataType> {
    match data_type {
        DataType::Struct(fields) => {
            if fields.len() != names.len() {
                return plan_err!(
                    "with_field_names: the struct has {} fields, {} names were given",
                    fields.len(),
                    names.len()
                );
            }
            let fields: Fields = fields
                .iter()
                .zip(names)
                .map(|(f, n)| Field::new(n, f.data_type().clone(), f.is_nullable()))
                .collect();
            Ok(DataType::Struct(fields))
        }
        DataType::List(item) => {
            let inner = renamed(item.data_type(), names)?;
            Ok(DataType::List(Arc::new(Field::new(
                item.name(),
                inner,
                item.is_nullable(),
            ))))
        }
        other => plan_err!("with_field_names takes a struct or a list of structs, not {other}"),
    }
}

/// `array` as `target`, which differs from its type in field names only.
fn rename(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    match target {
        DataType::Struct(fields) => {
            let s = array.as_struct();
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                s.columns().to_vec(),
                s.nulls().cloned(),
            )?))
        }
        DataType::List(item) => {
            let l = array.as_list::<i32>();
            let values = rename(l.values(), item.data_type())?;
            Ok(Arc::new(ListArray::try_new(
                item.clone(),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?))
        }
        other => exec_err!("with_field_names cannot produce {other}"),
    }
}

impl ScalarUDFImpl for WithFieldNames {
    fn name(&self) -> &str {
        "with_field_names"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        plan_err!("with_field_names: the names must be string literals")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let Some(value) = args.arg_fields.first() else {
            return plan_err!("with_field_names(value, 'name', ...) needs a value");
        };
        let mut names = Vec::new();
        for s in args.scalar_arguments.iter().skip(1) {
            match s {
                Some(ScalarValue::Utf8(Some(n)))
                | Some(ScalarValue::Utf8View(Some(n)))
                | Some(ScalarValue::LargeUtf8(Some(n))) => names.push(n.clone()),
                _ => return plan_err!("with_field_names: the names must be string literals"),
            }
        }
        let data_type = renamed(value.data_type(), &names)?;
        Ok(Arc::new(Field::new(
            self.name(),
            data_type,
            value.is_nullable(),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = args.return_field.data_type().clone();
        match &args.args[0] {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(rename(a, &target)?)),
            ColumnarValue::Scalar(s) => {
                let a = rename(&s.to_array()?, &target)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&a, 0)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::logical_expr::ScalarUDF;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn renames_the_fields_of_a_list_of_structs() {
        let ctx = SessionContext::new();
        ctx.register_udf(ScalarUDF::from(WithFieldNames::new()));
        let df = ctx
            .sql(
                "select with_field_names(arrays_zip(make_array('AAPL', 'MSFT'), \
                 make_array('B', 'SL')), 'symbol', 'side') as legs",
            )
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        assert!(
            text.contains("[{symbol: AAPL, side: B}, {symbol: MSFT, side: SL}]"),
            "{text}"
        );
        let err = ctx
            .sql("select with_field_names(arrays_zip(make_array(1)), 'a', 'b')")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("1 fields, 2 names"), "{err}");
    }
}
