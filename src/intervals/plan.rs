//! Which windows of a trade date are still good: for every stage, the records that hold
//! (done, same SQL, same input, upstream good) from midnight on, and why the first one that
//! does not hold is stale.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::fingerprint::{Fingerprints, sha256_hex};
use super::state::{DayState, Status};
use crate::error::Result;
use crate::stages::StageGraph;
use crate::window::Window;

/// Why a record is not good any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    Stale(String),
}

/// One stage's records, judged.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Everything before this is done and current; processing resumes here.
    pub valid_until: NaiveDateTime,
    pub verdicts: Vec<Verdict>,
}

impl StagePlan {
    pub fn complete(&self, date: NaiveDate) -> bool {
        self.valid_until >= Window::day(date).end
    }
}

/// SHA-256 of a stage's SQL text.
pub fn sql_hash(sql: &str) -> String {
    sha256_hex(sql.as_bytes())
}

/// Judge every stage's records of `date`, in dependency order.
pub async fn plan(
    graph: &StageGraph,
    date: NaiveDate,
    today: &DayState,
    yesterday: &DayState,
    prints: &mut Fingerprints<'_>,
) -> Result<BTreeMap<String, StagePlan>> {
    let midnight = Window::day(date).start;
    let mut plans: BTreeMap<String, StagePlan> = BTreeMap::new();
    for stage in &graph.stages {
        let hash = sql_hash(&stage.sql);
        let mut cursor = midnight;
        let mut broken = false;
        let mut verdicts = Vec::new();
        for rec in today.records(&stage.name) {
            let w = rec.window()?;
            let reason = if broken {
                Some("an earlier window is stale".to_string())
            } else if w.start != cursor {
                Some(format!("gap before it (from {})", w.clock(cursor)))
            } else if rec.status != Status::Done {
                match (&rec.status, &rec.error) {
                    (Status::Stale, Some(why)) => Some(why.clone()),
                    _ => Some(format!("{:?}", rec.status).to_lowercase()),
                }
            } else if rec.sql_hash != hash {
                Some(format!("{} changed", stage.rel_path))
            } else if let Some(dep) = stage
                .deps
                .iter()
                .find(|d| plans.get(*d).is_none_or(|p| p.valid_until < w.end))
            {
                Some(format!("upstream {dep} is stale"))
            } else if prints.input(stage, date, w.end, today, yesterday).await? != rec.input_fp {
                Some("input changed".to_string())
            } else {
                None
            };
            match reason {
                None => {
                    cursor = w.end;
                    verdicts.push(Verdict::Fresh);
                }
                Some(r) => {
                    broken = true;
                    verdicts.push(Verdict::Stale(r));
                }
            }
        }
        plans.insert(
            stage.name.clone(),
            StagePlan {
                valid_until: cursor,
                verdicts,
            },
        );
    }
    Ok(plans)
}
