//! Helpers for UDFs that take any of Arrow's string types.

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use datafusion::common::cast::{as_large_string_array, as_string_array, as_string_view_array};
use datafusion::common::exec_err;
use datafusion::error::Result;

/// The string types a string argument may arrive as.
pub fn string_types() -> Vec<DataType> {
    vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8]
}

/// Call `f` with each value of a string array (`None` for NULL), in row order.
pub fn for_each_str(array: &ArrayRef, mut f: impl FnMut(Option<&str>)) -> Result<()> {
    match array.data_type() {
        DataType::Utf8View => as_string_view_array(array)?.iter().for_each(&mut f),
        DataType::Utf8 => as_string_array(array)?.iter().for_each(&mut f),
        DataType::LargeUtf8 => as_large_string_array(array)?.iter().for_each(&mut f),
        DataType::Null => (0..array.len()).for_each(|_| f(None)),
        other => return exec_err!("expected a string argument, got {other}"),
    }
    Ok(())
}
