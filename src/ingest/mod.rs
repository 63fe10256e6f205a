//! The real-time feed: source rows from NATS JetStream or RabbitMQ into the lake's raw
//! partitions, acknowledged only after the lake commit (design 5.1, seed 000's queue pitfalls).
//!
//! ```text
//! broker ──fetch N rows or T seconds──▶ Lander::land ──commit partitions──▶ ack ──▶ feed/<name>.json
//!                                         │ typed by sql/sources.sql
//!                                         │ keys already in the lake: skipped
//!                                         └ untypable, unknown table, bounced: quarantine/feed/<name>/
//! ```
//!
//! - **Never lost**: a message is acked only after its row (or its quarantine record) is in the
//!   lake. A crash before the commit, or between commit and ack, redelivers it.
//! - **Never doubled**: a redelivered or republished row is recognised by its table's key in
//!   the partition it belongs to and skipped; the same key with other values is quarantined.
//!   A redelivered message already in the quarantine (its stable id, or for an AMQP message
//!   without `message_id` its queue, table and bytes) is skipped too.
//! - **No bouncing**: a message delivered more than `batch.max_deliveries` times is quarantined
//!   and acked, so one message that crashes the lander cannot stop the stream.
//! - **Caught up**: when a fetch comes back short (JetStream) or empty (RabbitMQ, whose
//!   prefetched messages may still be on their way) and the broker has nothing pending
//!   (JetStream's consumer counts; RabbitMQ's `basic.get` coming back empty),
//!   everything published before that fetch began is landed; that time is `caught_up_at` in
//!   the position file. A RabbitMQ feed that never pauses for `batch.max_seconds` therefore
//!   does not advance it. Dates that ended `batch.close_after_secs` before it are closed: every table gets its
//!   partition and each partition is compacted into one file.

pub mod config;
pub mod feed;
pub mod land;
pub mod publish;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::ingest::feed::Fetched;
use crate::lake::Lake;
use crate::sources::Sources;

pub use config::{FeedKind, IngestConfig};
pub use land::{Landed, Lander, Message};

/// What the feed has done, kept in `<lake>/feed/<name>.json` (written aside and renamed) for
/// `status` and the scheduler. The lake stays the truth for rows: this file only says how far
/// the feed has got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeedState {
    pub feed: String,
    /// Broker and stream or queue (no password).
    pub source: String,
    pub rows: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub batches: u64,
    /// When the last batch was committed and acked.
    pub last_commit_at: Option<DateTime<Utc>>,
    /// Everything published before this time is landed (see the module docs).
    pub caught_up_at: Option<DateTime<Utc>>,
    /// Messages the broker held for the feed when last asked (not delivered, or not acked).
    pub pending: u64,
    /// When `pending` was read.
    pub checked_at: Option<DateTime<Utc>>,
    /// Trade dates with landed rows that are not closed yet.
    pub open_dates: BTreeSet<NaiveDate>,
    /// Trade dates closed: every table has its partition, compacted.
    pub closed_dates: BTreeSet<NaiveDate>,
}

impl FeedState {
    pub fn path(lake: &Lake, feed: &str) -> PathBuf {
        lake.root().join("feed").join(format!("{feed}.json"))
    }

    /// The state of `feed`, or `None` when the lake has none.
    pub fn load(lake: &Lake, feed: &str) -> Result<Option<FeedState>> {
        let path = Self::path(lake, feed);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::input_hint(
                format!("{}: {e}", path.display()),
                "the feed rewrites this file on its next batch; remove it if it is damaged",
            )
        })
    }

    /// Every feed state in the lake, by name.
    pub fn load_all(lake: &Lake) -> Result<Vec<FeedState>> {
        let dir = lake.root().join("feed");
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(String::from)
            })
            .collect();
        names.sort();
        for name in names {
            if let Some(s) = Self::load(lake, &name)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn save(&self, lake: &Lake) -> Result<()> {
        let path = Self::path(lake, &self.feed);
        let dir = path.parent().unwrap_or(lake.root());
        std::fs::create_dir_all(dir).at(dir)?;
        let tmp = dir.join(format!(".{}.json.{}", self.feed, std::process::id()));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::input(format!("feed state: {e}")))?;
        std::fs::write(&tmp, text).at(&tmp)?;
        std::fs::rename(&tmp, &path).at(&path)?;
        Ok(())
    }
}

/// How a run of `ingest` ended.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub rows: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub batches: u64,
    pub seconds: f64,
}

/// Consume the feed into the lake until `stop` is set, or (with `once`) until it is caught up.
pub async fn run(
    config: &IngestConfig,
    lake: &Lake,
    sources: &Sources,
    once: bool,
    stop: &AtomicBool,
) -> Result<Summary> {
    lake.ensure_writable()?;
    // One lander per lake: two would each swap in a partition with their own new file and the
    // other's would vanish, after its messages were acked.
    let _lock = lock_lake(lake)?;
    let started = Instant::now();
    let mut state = FeedState::load(lake, &config.name)?.unwrap_or_default();
    state.feed = config.name.clone();
    state.source = config.describe();
    // An Option so that it can be lent to a blocking task while the next batch is fetched.
    let mut lander = Some(Lander::new(lake, sources, &config.name)?);
    let mut feed = feed::Feed::connect(config).await?;
    let mut summary = Summary::default();
    let mut failing_since: Option<Instant> = None;
    let reconnect_for = Duration::from_secs_f64(config.reconnect_secs);
    let max = config.batch.max_rows;
    // A batch fetched while the previous one was landing, and when its fetch began.
    let mut ahead: Option<(Fetched, DateTime<Utc>)> = None;
    let progress = crate::progress::Progress::new(format!("ingest {}", config.name), 0, "rows");
    while !stop.load(Ordering::Relaxed) {
        let step = async {
            let t0 = Instant::now();
            let (mut fetched, fetch_began) = match ahead.take() {
                Some(a) => a,
                None => {
                    let began = Utc::now();
                    (feed.fetch(max, config.batch.max_wait()).await?, began)
                }
            };
            let n = fetched.messages.len();
            if n > 0 {
                let t1 = Instant::now();
                // The lake first, on a blocking thread; meanwhile the next batch is fetched
                // when this one was full (JetStream: RabbitMQ's prefetch is one batch). An
                // error landing is not the broker's: stop, unacked.
                let messages = std::mem::take(&mut fetched.messages);
                let mut owned = lander.take().ok_or_else(|| {
                    Fatal(Error::input(
                        "the lander was lost by an earlier failed batch",
                    ))
                })?;
                let max_deliveries = config.batch.max_deliveries;
                let landing = tokio::task::spawn_blocking(move || {
                    let landed = owned.land(&messages, max_deliveries);
                    (owned, landed)
                });
                let next = if n == max && feed.can_fetch_ahead() {
                    let began = Utc::now();
                    Some((feed.fetch(max, config.batch.max_wait()).await, began))
                } else {
                    None
                };
                let (owned, landed) = landing
                    .await
                    .map_err(|e| Fatal(Error::input(format!("landing a batch failed: {e}"))))?;
                let owned = lander.insert(owned);
                let landed = landed.map_err(Fatal)?;
                let t2 = Instant::now();
                feed.ack(fetched.acks).await?;
                let t3 = Instant::now();
                record(&mut state, &mut summary, &landed);
                progress.inc(landed.rows);
                progress.set_message(format!(
                    "{} batches, {} repeats skipped, {} quarantined",
                    summary.batches, summary.duplicates, summary.quarantined
                ));
                for dir in &landed.partitions {
                    owned
                        .compact(dir, config.batch.compact_files)
                        .map_err(Fatal)?;
                }
                tracing::debug!(
                    "batch of {n}: fetch {:.3} s, land (and fetch ahead) {:.3} s, ack {:.3} s, \
                     compact {:.3} s",
                    (t1 - t0).as_secs_f64(),
                    (t2 - t1).as_secs_f64(),
                    (t3 - t2).as_secs_f64(),
                    t3.elapsed().as_secs_f64()
                );
                if let Some((next, began)) = next {
                    ahead = Some((next?, began));
                    return Ok((false, fetch_began));
                }
            }
            let mut caught_up = false;
            // A short batch means JetStream had nothing more to deliver then; RabbitMQ may
            // still have messages on their way to us, so only an empty one counts there.
            if n < max && (n == 0 || feed.exact_after_short_fetch()) {
                let backlog = feed.backlog().await?;
                state.pending = backlog;
                state.checked_at = Some(Utc::now());
                if backlog == 0 {
                    state.caught_up_at = Some(fetch_began);
                    caught_up = true;
                }
            }
            Ok::<(bool, DateTime<Utc>), StepError>((caught_up, fetch_began))
        };
        match step.await {
            Ok((caught_up, fetch_began)) => {
                failing_since = None;
                let Some(lander) = lander.as_mut() else {
                    return Err(Error::input(
                        "the lander was lost by an earlier failed batch",
                    ));
                };
                if caught_up {
                    close_dates(config, lander, &mut state)?;
                    // Keys of closed dates are read again from the lake if a late row comes.
                    let keep = state
                        .open_dates
                        .first()
                        .copied()
                        .unwrap_or(fetch_began.date_naive());
                    lander.forget_before(keep);
                }
                state.save(lake)?;
                if caught_up && once {
                    break;
                }
            }
            Err(StepError::Lake(Fatal(e))) => return Err(e),
            Err(StepError::Broker(e)) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > reconnect_for {
                    return Err(Error::input_hint(
                        format!(
                            "the feed {} has failed for {:.0} s: {e}",
                            config.describe(),
                            since.elapsed().as_secs_f64()
                        ),
                        "is the broker up? Nothing unacked is lost: the next run lands it",
                    ));
                }
                tracing::warn!("feed {}: {e}; reconnecting", config.describe());
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Err(e) = feed.reconnect(config).await {
                    tracing::warn!("feed {}: reconnect failed: {e}", config.describe());
                }
            }
        }
    }
    feed.close().await;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Hold `<lake>/feed/.ingest.lock` (flock, released when the process ends however it ends),
/// or fail naming the lake when another `ingest` holds it.
fn lock_lake(lake: &Lake) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let dir = lake.root().join("feed");
    std::fs::create_dir_all(&dir).at(&dir)?;
    let path = dir.join(".ingest.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    // SAFETY: flock on a file descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(Error::input_hint(
            format!(
                "another `ordertrail ingest` is landing into {} (it holds {})",
                lake.root().display(),
                path.display()
            ),
            "one ingest process per lake: stop the other one, or give this feed its own lake",
        ));
    }
    Ok(file)
}

fn record(state: &mut FeedState, summary: &mut Summary, landed: &Landed) {
    summary.rows += landed.rows;
    summary.duplicates += landed.duplicates;
    summary.quarantined += landed.quarantined;
    summary.batches += 1;
    state.rows += landed.rows;
    state.duplicates += landed.duplicates;
    state.quarantined += landed.quarantined;
    state.batches += 1;
    state.last_commit_at = Some(Utc::now());
    state.open_dates.extend(landed.dates.iter().copied());
    // A late row reopens a closed date: it is closed (compacted) again.
    for d in &landed.dates {
        state.closed_dates.remove(d);
    }
}

/// Close the open dates that ended `close_after_secs` before the feed was caught up.
fn close_dates(config: &IngestConfig, lander: &Lander, state: &mut FeedState) -> Result<()> {
    let Some(caught_up) = state.caught_up_at else {
        return Ok(());
    };
    let grace = chrono::Duration::milliseconds((config.batch.close_after_secs * 1000.0) as i64);
    let done: Vec<NaiveDate> = state
        .open_dates
        .iter()
        .copied()
        .filter(|d| {
            d.succ_opt()
                .and_then(|n| n.and_hms_opt(0, 0, 0))
                .is_some_and(|end| end.and_utc() + grace <= caught_up)
        })
        .collect();
    // Windows of the date being fed can run once every table has its partition.
    if state.open_dates.contains(&caught_up.date_naive()) {
        lander.ensure_partitions(caught_up.date_naive())?;
    }
    for date in done {
        lander.close_date(date)?;
        state.open_dates.remove(&date);
        state.closed_dates.insert(date);
    }
    // Keep the list short: the last 31 closed dates.
    while state.closed_dates.len() > 31 {
        let first = *state.closed_dates.iter().next().unwrap_or(&NaiveDate::MIN);
        state.closed_dates.remove(&first);
    }
    Ok(())
}

/// A lake error: the batch stays unacked and the run stops.
struct Fatal(Error);

impl From<Fatal> for StepError {
    fn from(f: Fatal) -> Self {
        StepError::Lake(f)
    }
}

enum StepError {
    Lake(Fatal),
    /// The broker failed (connection lost, restart): reconnect and go on.
    Broker(Error),
}

impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        StepError::Broker(e)
    }
}
