//! OATS FORE files: a `#HD#` header, one `#OE#` record per order event (rows of the
//! `oats_order_events` stage, fields in column order), and a `#TR#` trailer with the count.

use arrow::array::RecordBatch;
use chrono::NaiveDate;

use super::cat::OutFile;
use super::values::value_at;
use crate::config::Destination;
use crate::error::{Error, Result};

/// Header version field.
const VERSION: &str = "1";

pub fn build(batches: &[RecordBatch], dest: &Destination, date: NaiveDate) -> Result<Vec<OutFile>> {
    let day = date.format("%Y%m%d").to_string();
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let password = dest
        .password_env
        .as_ref()
        .and_then(|name| std::env::var(name).ok())
        .unwrap_or_default();
    let mut out = format!(
        "#HD#,{VERSION},{day},{},{},{},{password},{}\n",
        field(&dest.fore_id),
        field(&dest.oso_id),
        field(&dest.user),
        field(&dest.reporter_imid)
    );
    let mut count = 0usize;
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut values = Vec::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if f.name().starts_with('_') {
                    continue;
                }
                let text = value_at(batch.column(i), row, f.name())?.to_text();
                if text.contains([',', '\n', '\r', '#']) {
                    return Err(Error::input(format!(
                        "destination {}: OATS field {} of record {} contains a delimiter: {text:?}",
                        dest.name,
                        f.name(),
                        count + 1
                    )));
                }
                values.push(text);
            }
            out.push_str("#OE#,");
            out.push_str(&values.join(","));
            out.push('\n');
            count += 1;
        }
    }
    out.push_str(&format!("#TR#,{count}\n"));
    Ok(vec![OutFile {
        name: format!("{}_{day}.fore", field(&dest.fore_id)),
        bytes: out.into_bytes(),
    }])
}
