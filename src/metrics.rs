//! Machine-readable timings of one command (`ordertrail run --metrics FILE`, `ordertrail report
//! --metrics FILE`): per stage its wall time, rows and bytes, per check its time, and the
//! process's peak memory. For benchmarks (`bench/run.py`); nothing here decides pass or fail,
//! and nothing of it goes into the lake (outputs stay byte-identical between runs).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::checks::CheckResult;
use crate::error::{Error, Result};
use crate::pipeline::StageRun;

/// What one command measured, written as JSON.
#[derive(Debug, Default)]
pub struct Metrics {
    pub command: String,
    pub stages: Vec<StageRun>,
    /// Stages found current and not computed again (`report`).
    pub reused: Vec<String>,
    /// Per check: its name, time, status and failing rows.
    pub checks: Vec<Value>,
    /// Time to build and write the report files after their stages ran.
    pub report_files: Option<Duration>,
    pub total: Duration,
}

impl Metrics {
    pub fn new(command: &str) -> Metrics {
        Metrics {
            command: command.to_string(),
            ..Metrics::default()
        }
    }

    pub fn add_checks(&mut self, results: &[CheckResult]) {
        self.checks.extend(results.iter().map(|r| {
            json!({
                "check": r.check,
                "elapsed_ms": r.millis as f64,
                "status": r.status,
                "failing": r.failing,
                "peak_rss_kib": r.peak_rss_kib,
                "buckets": r.buckets,
            })
        }));
    }

    pub fn to_json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        json!({
            "command": self.command,
            "total_ms": ms(self.total),
            "peak_rss_kib": crate::resources::peak_rss_kib(),
            "stages": self.stages.iter().map(|s| json!({
                "stage": s.stage,
                "rows": s.rows,
                "bytes": s.bytes,
                "elapsed_ms": ms(s.elapsed),
                "cpu_ms": s.cpu.map(ms),
                "buckets": s.buckets,
                "peak_rss_kib": s.peak_rss_kib,
            })).collect::<Vec<_>>(),
            "reused_stages": self.reused,
            "checks": self.checks,
            "report_files_ms": self.report_files.map(ms),
        })
    }

    /// Write the JSON to `path` (replacing it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|e| Error::internal(format!("metrics: {e}")))?;
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
    }
}
