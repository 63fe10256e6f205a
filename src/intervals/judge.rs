//! A trade date's windows judged as a run would judge them: the state's records, checked
//! against the partitions in the lake (a partition deleted or rewritten outside the pipeline
//! makes its stage stale) and planned (same SQL, same inputs, upstream good). `status` prints
//! it; the console (`serve`) draws it, again on every refresh, so [`JudgeCache`] keeps the
//! digests of partitions whose files have not changed since they were last read.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use super::ProjectRef;
use super::claim::{Owner, read_claim};
use super::fingerprint::{DayDigest, Fingerprints};
use super::plan::{StagePlan, plan};
use super::state::{DayState, StateDir};
use crate::error::Result;
use crate::lake::Lake;

/// One date, judged.
#[derive(Debug, Clone)]
pub struct JudgedDay {
    pub date: NaiveDate,
    /// The records, with those of altered partitions marked stale (in memory only).
    pub today: DayState,
    /// Per stage: how far it is good, and a verdict per record.
    pub plans: BTreeMap<String, StagePlan>,
    /// Stages whose partition was missing or rewritten outside the pipeline, with the reason.
    pub altered: Vec<(String, String)>,
    /// The claim on the date and the age of its heartbeat.
    pub claim: Option<(Owner, Duration)>,
    /// The claim is a live run's: its process exists (on this host) and its heartbeat is
    /// younger than the claim timeout. A claim left by a run that died is not.
    pub claim_live: bool,
}

/// What a file set looked like: (relative path, size, modification time in ns) per file.
type Signature = Vec<(String, u64, i128)>;

/// Digests kept between judgements, each valid while its files keep their signature.
#[derive(Default)]
pub struct JudgeCache {
    partitions: HashMap<PathBuf, (Signature, String)>,
    sources: HashMap<(String, NaiveDate), (Signature, DayDigest)>,
}

/// Judge `date`: what `status` prints and the console draws.
pub async fn judge_day(
    ctx: &SessionContext,
    lake: &Lake,
    project: &ProjectRef<'_>,
    date: NaiveDate,
    cache: &mut JudgeCache,
) -> Result<JudgedDay> {
    let graph = project.graph;
    let dir = StateDir::new(lake, &graph.version, date);
    let mut today = dir.load()?;

    // Partition digests by stage, from the cache where the files are as they were.
    let mut digests = HashMap::new();
    let mut signatures = HashMap::new();
    for stage in &graph.stages {
        let part = Lake::partition_dir(&lake.stage_table_dir(&graph.version, &stage.name), date);
        let sig = signature(&part);
        if let Some((cached_sig, digest)) = cache.partitions.get(&part)
            && *cached_sig == sig
        {
            digests.insert(stage.name.clone(), digest.clone());
        }
        signatures.insert(stage.name.clone(), (part, sig));
    }
    let altered = super::mark_altered_partitions(lake, graph, date, &mut today, &mut digests)?;
    for (stage, digest) in digests {
        if let Some((part, sig)) = signatures.remove(&stage) {
            cache.partitions.insert(part, (sig, digest));
        }
    }

    let yesterday = match date.pred_opt() {
        Some(d) => StateDir::new(lake, &graph.version, d).load()?,
        None => DayState::default(),
    };
    let mut prints = Fingerprints::new(ctx, lake, project.sources, project.config_hash.clone());
    let days = [date.pred_opt().unwrap_or(date), date];
    let mut source_sigs = Vec::new();
    for source in project.sources.tables.iter() {
        let name = source.qualified_name();
        for d in days {
            let part = Lake::partition_dir(&lake.raw_table_dir(&source.db, &source.name), d);
            let sig = signature(&part);
            if let Some((cached_sig, digest)) = cache.sources.get(&(name.clone(), d))
                && *cached_sig == sig
            {
                prints.seed(&name, d, digest.clone());
            }
            source_sigs.push(((name.clone(), d), sig));
        }
    }
    let plans = plan(graph, date, &today, &yesterday, &mut prints).await?;
    for (key, sig) in source_sigs {
        if let Some(digest) = prints.cached(&key.0, key.1) {
            cache.sources.insert(key, (sig, digest.clone()));
        }
    }
    let claim = read_claim(&dir.claim_path()).ok();
    let claim_live = claim
        .as_ref()
        .is_some_and(|(owner, age)| owner.is_alive() && *age < super::claim::DEFAULT_TIMEOUT);
    Ok(JudgedDay {
        date,
        today,
        plans,
        altered,
        claim,
        claim_live,
    })
}

/// The files under `dir` with their sizes and modification times; empty when it is missing.
fn signature(dir: &Path) -> Signature {
    let Ok(files) = crate::lake::partition_files(dir) else {
        return Vec::new();
    };
    files
        .into_iter()
        .filter_map(|(rel, path)| {
            let (len, mtime) = crate::lake::file_stamp(&path)?;
            Some((rel, len, mtime))
        })
        .collect()
}
