//! OATS FORE files: a `#HD#` header, one `#OE#` record per order event (rows of the
//! `oats_order_events` stage, fields in column order), and a `#TR#` trailer with the count.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use super::values::value_at;
use crate::config::Destination;
use crate::error::{Error, IoContext, Result};

/// Header version field.
const VERSION: &str = "1";

/// Write the day's FORE file for one destination into `dir` from its `oats_order_events`
/// rows, line by line as they stream in; returns its name and size. A field holding a
/// delimiter is an error naming the record; the caller discards `dir` then.
pub async fn write(
    mut rows: SendableRecordBatchStream,
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
) -> Result<Vec<(String, usize)>> {
    let day = date.format("%Y%m%d").to_string();
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let password = dest
        .password_env
        .as_ref()
        .and_then(|name| std::env::var(name).ok())
        .unwrap_or_default();
    let name = format!("{}_{day}.fore", field(&dest.fore_id));
    let path = dir.join(&name);
    let file = std::fs::File::create(&path).at(&path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        out,
        "#HD#,{VERSION},{day},{},{},{},{password},{}",
        field(&dest.fore_id),
        field(&dest.oso_id),
        field(&dest.user),
        field(&dest.reporter_imid)
    )
    .at(&path)?;
    let mut count = 0usize;
    let mut line = String::new();
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            line.clear();
            line.push_str("#OE#");
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
                line.push(',');
                line.push_str(&text);
            }
            line.push('\n');
            out.write_all(line.as_bytes()).at(&path)?;
            count += 1;
        }
    }
    writeln!(out, "#TR#,{count}").at(&path)?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(&path, e.into_error()))?;
    file.sync_all().at(&path)?;
    let size = file.metadata().at(&path)?.len() as usize;
    Ok(vec![(name, size)])
}
