//! Report files. The rows and fields of every report come from a SQL stage under
//! `sql/v1/reports/`; this module reads those rows per destination and serialises them in the
//! destination's format. It holds no field mapping.
//!
//! Output: `<out>/<YYYY-MM-DD>/<destination>/<files>`. Every destination's files are written
//! aside first, streaming the rows (so memory holds a few files, not the day), and swapped into
//! place only when all are complete: an invalid event stops the run before anything is
//! visible. The same lake and config give byte-identical files.

pub mod cat;
pub mod cat_spec;
pub mod cat_validate;
pub mod json_text;
pub mod oats;
pub mod tables;
pub mod values;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::prelude::SessionContext;

use crate::config::{Config, Destination, ReportKind};
use crate::error::{Error, IoContext, Result};
use crate::lake::{RemoveOnDrop, swap_into_place, unique_tmp_dir};
use crate::pipeline::params_with;

/// The stage whose rows each report kind serialises.
pub fn stage_for(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Cat => "cat_order_events",
        ReportKind::Oats => "oats_order_events",
        ReportKind::Summary => "daily_summary",
        ReportKind::Kline => "kline_bars",
    }
}

/// A file to write: name and bytes.
pub struct OutFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What was written for one destination.
#[derive(Debug, Clone)]
pub struct Written {
    pub destination: String,
    pub kind: ReportKind,
    pub dir: PathBuf,
    /// File name and size in bytes.
    pub files: Vec<(String, usize)>,
}

/// Build and write every configured destination's files for `date` under `out`.
///
/// Each destination's files are written aside as its rows stream in (memory holds a few files,
/// not the day); only when every destination's files are complete are they swapped into
/// place, so an invalid event leaves all destinations' files as they were.
///
/// CAT files are validated against the spec ([`cat_validate`]) before they are kept, with the
/// previous day's files of the destination (if written) as context for orders that started
/// then. When a destination's files fail, nothing is written for the day and the error (exit 1)
/// carries the validation report; `force` keeps them anyway.
pub async fn write_all(
    ctx: &SessionContext,
    config: &Config,
    date: NaiveDate,
    out: &Path,
    force: bool,
) -> Result<Vec<Written>> {
    let tmp_base = out.join(".tmp");
    std::fs::create_dir_all(&tmp_base).map_err(|e| {
        Error::input_hint(
            format!("cannot write reports to {}: {e}", out.display()),
            "pass a writable directory with --out",
        )
    })?;
    // What a killed report left aside here (its files half-written) goes first.
    for dir in crate::lake::remove_stale_scratch(out) {
        tracing::info!(
            "removed the scratch of a report that is gone: {}",
            dir.display()
        );
    }
    let written = async {
        let mut staged = Vec::new();
        let mut rejected = Vec::new();
        let progress = crate::progress::Progress::new(
            format!("report {date}"),
            config.destinations.len() as u64,
            "destinations",
        );
        for dest in &config.destinations {
            progress.set_message(dest.name.clone());
            progress.inc(1);
            let staging = RemoveOnDrop(unique_tmp_dir(&tmp_base)?);
            let files = build(ctx, dest, date, &staging.0).await?;
            if dest.report == ReportKind::Cat && !files.is_empty() {
                let context: Vec<PathBuf> = date
                    .pred_opt()
                    .map(|d| out.join(d.to_string()).join(&dest.name))
                    .filter(|d| d.is_dir())
                    .into_iter()
                    .collect();
                let v = cat_validate::validate(
                    std::slice::from_ref(&staging.0),
                    &context,
                    &cat_validate::Options::default(),
                )?;
                if !v.is_ok() {
                    let text = v.to_text().replace(&staging.0.display().to_string(), "");
                    if !force {
                        rejected.push(format!("destination {}: {text}", dest.name));
                        continue;
                    }
                    tracing::warn!(
                        "destination {}: CAT files fail validation, kept (--force):\n{text}",
                        dest.name
                    );
                }
            }
            staged.push((dest, staging, files));
        }
        if !rejected.is_empty() {
            return Err(Error::Rejected {
                message: format!(
                    "CAT files for {date} fail validation against the CAT IM Tech Specs and were \
                     not written:\n{}",
                    rejected.join("\n")
                ),
                hint: "fix the mapping in sql/v1/reports/cat_order_events.sql or the \
                       destination in the config, then report again (--force keeps failing files)"
                    .into(),
            });
        }
        let mut written = Vec::new();
        for (dest, staging, files) in staged {
            let dir = out.join(date.to_string()).join(&dest.name);
            swap_into_place(&staging.0, &dir)?;
            written.push(Written {
                destination: dest.name.clone(),
                kind: dest.report,
                dir,
                files,
            });
        }
        Ok(written)
    }
    .await;
    // Empty unless another run is writing beside this one.
    let _ = std::fs::remove_dir(&tmp_base);
    written
}

/// Write one destination's files into `dir`: its stage's rows for the day, streamed.
async fn build(
    ctx: &SessionContext,
    dest: &Destination,
    date: NaiveDate,
    dir: &Path,
) -> Result<Vec<(String, usize)>> {
    let stage = stage_for(dest.report);
    // CAT: the events whose Eastern-Time date is the day, from this trade date and the next
    // (the lake's trade_date is the UTC date).
    let filter = match dest.report {
        ReportKind::Cat => {
            "trade_date >= $trade_date and trade_date <= $trade_date + interval '1 day' \
             and _event_date = $trade_date and _destination = $destination"
        }
        ReportKind::Oats => "trade_date = $trade_date and _destination = $destination",
        _ => "trade_date = $trade_date",
    };
    let params = || {
        params_with(
            date,
            [("destination", ScalarValue::Utf8(Some(dest.name.clone())))],
        )
    };
    let query = |sql: String| async move {
        ctx.sql(&sql)
            .await
            .map_err(|e| {
                Error::input_hint(
                    format!("report {} ({stage}): {e}", dest.name),
                    format!(
                        "run the pipeline for {date} first: ordertrail run --lake ... --date {date}"
                    ),
                )
            })?
            .with_param_values(params())
            .map_err(Error::from)
    };
    if dest.report == ReportKind::Cat {
        // firmROEID must be unique per event date: checked by the engine, which spills,
        // rather than by a set of every id in memory.
        let dup = query(format!(
            "select \"firmROEID\" from {stage} where {filter} \
             group by \"firmROEID\", type having count(*) > 1 order by 1 limit 1"
        ))
        .await?
        .collect()
        .await?;
        if let Some(batch) = dup.iter().find(|b| b.num_rows() > 0) {
            let id = values::value_at(batch.column(0), 0, "firmROEID")?.to_text();
            return Err(Error::input(format!(
                "destination {}: firmROEID {id} is not unique for the event date",
                dest.name
            )));
        }
    }
    // Two trade dates' rows of CAT in the stage's own order.
    let order = match dest.report {
        ReportKind::Cat => " order by _event_time, _gateway, _src_id",
        _ => "",
    };
    let df = query(format!(
        "select * exclude (trade_date) from {stage} where {filter}{order}"
    ))
    .await?;
    let write_files = |files: Vec<OutFile>| -> Result<Vec<(String, usize)>> {
        files
            .into_iter()
            .map(|f| {
                let path = dir.join(&f.name);
                std::fs::write(&path, &f.bytes).at(&path)?;
                std::fs::File::open(&path)
                    .and_then(|file| file.sync_all())
                    .at(&path)?;
                Ok((f.name, f.bytes.len()))
            })
            .collect()
    };
    match dest.report {
        ReportKind::Cat => cat::write(df.execute_stream().await?, dest, date, dir).await,
        ReportKind::Oats => oats::write(df.execute_stream().await?, dest, date, dir).await,
        // One row per symbol (and account) or bar: small enough to hold.
        ReportKind::Summary => {
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            write_files(tables::summary(&schema, &batches, dest, date)?)
        }
        ReportKind::Kline => {
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            write_files(tables::kline(&schema, &batches, date)?)
        }
    }
}
