//! Report files. The rows and fields of every report come from a SQL stage under
//! `sql/v1/reports/`; this module reads those rows per destination and serialises them in the
//! destination's format. It holds no field mapping.
//!
//! Output: `<out>/<YYYY-MM-DD>/<destination>/<files>`. All files of a run are built in memory
//! first (so an invalid event stops the run before anything is written), then each
//! destination's directory is written aside and swapped into place atomically. The same lake
//! and config give byte-identical files.

pub mod cat;
pub mod oats;
pub mod tables;
pub mod values;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::prelude::SessionContext;

use crate::config::{Config, Destination, ReportKind};
use crate::error::{Error, IoContext, Result};
use crate::lake::{swap_into_place, unique_tmp_dir};
use crate::pipeline::params_with;
use cat::OutFile;

/// The stage whose rows each report kind serialises.
pub fn stage_for(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Cat => "cat_order_events",
        ReportKind::Oats => "oats_order_events",
        ReportKind::Summary => "daily_summary",
        ReportKind::Kline => "kline_bars",
    }
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
pub async fn write_all(
    ctx: &SessionContext,
    config: &Config,
    date: NaiveDate,
    out: &Path,
) -> Result<Vec<Written>> {
    let mut built = Vec::new();
    for dest in &config.destinations {
        built.push((dest, build(ctx, dest, date).await?));
    }
    let tmp_base = out.join(".tmp");
    std::fs::create_dir_all(&tmp_base).map_err(|e| {
        Error::input_hint(
            format!("cannot write reports to {}: {e}", out.display()),
            "pass a writable directory with --out",
        )
    })?;
    let mut written = Vec::new();
    for (dest, files) in built {
        let staging = unique_tmp_dir(&tmp_base)?;
        for f in &files {
            let path = staging.join(&f.name);
            std::fs::write(&path, &f.bytes).at(&path)?;
            std::fs::File::open(&path)
                .and_then(|file| file.sync_all())
                .at(&path)?;
        }
        let dir = out.join(date.to_string()).join(&dest.name);
        swap_into_place(&staging, &dir)?;
        written.push(Written {
            destination: dest.name.clone(),
            kind: dest.report,
            dir,
            files: files
                .iter()
                .map(|f| (f.name.clone(), f.bytes.len()))
                .collect(),
        });
    }
    let _ = std::fs::remove_dir(&tmp_base);
    Ok(written)
}

async fn build(ctx: &SessionContext, dest: &Destination, date: NaiveDate) -> Result<Vec<OutFile>> {
    let stage = stage_for(dest.report);
    let has_destination = matches!(dest.report, ReportKind::Cat | ReportKind::Oats);
    let sql = if has_destination {
        format!(
            "select * exclude (trade_date) from {stage} \
             where trade_date = $trade_date and _destination = $destination"
        )
    } else {
        format!("select * exclude (trade_date) from {stage} where trade_date = $trade_date")
    };
    let params = params_with(
        date,
        [("destination", ScalarValue::Utf8(Some(dest.name.clone())))],
    );
    let df = ctx
        .sql(&sql)
        .await
        .map_err(|e| {
            Error::input_hint(
                format!("report {} ({stage}): {e}", dest.name),
                format!(
                    "run the pipeline for {date} first: ordertrail run --lake ... --date {date}"
                ),
            )
        })?
        .with_param_values(params)?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    match dest.report {
        ReportKind::Cat => cat::build(&batches, dest, date),
        ReportKind::Oats => oats::build(&batches, dest, date),
        ReportKind::Summary => tables::summary(&schema, &batches, dest, date),
        ReportKind::Kline => tables::kline(&schema, &batches, date),
    }
}
