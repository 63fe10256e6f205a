//! Exactly-once processing: a run claims a trade date before touching its windows. The claim is
//! a file created exclusively (`O_EXCL`), naming its owner; the owner refreshes its mtime (the
//! heartbeat) while it works. A claim whose owner process is gone (same host) or whose heartbeat
//! is older than the timeout is stale: the next run moves it aside (one rename wins) and claims
//! the date itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// How often the owner refreshes its claim.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A claim not refreshed for this long is stale.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The windows the run claimed: `[from, to)` in steps of `step_minutes`. They show as
    /// pending until processed.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub step_minutes: i64,
}

impl Owner {
    /// This process, distinguished from earlier processes with the same pid by a start time.
    pub fn current() -> Owner {
        let host = crate::lake::hostname();
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Owner {
            id: format!("{host}:{pid}:{nanos:x}"),
            host,
            pid,
            from: String::new(),
            to: String::new(),
            step_minutes: 0,
        }
    }

    /// Whether the process may still run: on this host, whether it exists; elsewhere, true
    /// (the heartbeat decides).
    pub fn is_alive(&self) -> bool {
        if self.host != crate::lake::hostname() {
            return true; // cannot tell from here; the heartbeat decides
        }
        crate::lake::process_alive(self.pid)
    }
}

/// What happened when a run tried to claim a date.
pub enum Claimed {
    Mine(Claim),
    /// Another live run holds it.
    Held(Owner),
}

/// A held claim; released (file removed) on drop.
pub struct Claim {
    path: PathBuf,
    pub owner: Owner,
    /// Set when the claim file no longer names us (someone judged us stale).
    pub lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Claims recovered from dead owners on the way in.
    pub recovered: Option<Owner>,
}

impl Claim {
    /// Claim `path` for `owner`, recovering a stale claim. Starts the heartbeat thread.
    /// `take_over` (the operator's `--take-over`) does not wait for the timeout where this
    /// host cannot tell whether the holder runs: a damaged claim file, or a holder on another
    /// host. A live process on this host is never taken over.
    pub fn acquire(
        path: &Path,
        owner: &Owner,
        timeout: Duration,
        take_over: bool,
    ) -> Result<Claimed> {
        let dir = path
            .parent()
            .ok_or_else(|| Error::internal(format!("bad claim path {}", path.display())))?;
        std::fs::create_dir_all(dir).at(dir)?;
        let mut recovered = None;
        for _ in 0..3 {
            match create_exclusive(path, owner) {
                Ok(()) => {
                    let claim = Claim {
                        path: path.to_path_buf(),
                        owner: owner.clone(),
                        lost: Arc::new(AtomicBool::new(false)),
                        stop: Arc::new(AtomicBool::new(false)),
                        recovered,
                    };
                    claim.start_heartbeat();
                    return Ok(Claimed::Mine(claim));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(path, e)),
            }
            let (holder, age) = match read_claim(path) {
                Ok(found) => found,
                Err(_) => {
                    // Damaged, and no heartbeat has rewritten it for the timeout: no run holds
                    // it. Take it over as a dead owner's. (Removed or half-written meanwhile:
                    // try again.)
                    let age = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if take_over || age.is_some_and(|age| age >= timeout) {
                        tracing::warn!(
                            "taking over the damaged claim file {}, untouched for {}s",
                            path.display(),
                            age.map_or(0, |a| a.as_secs())
                        );
                        let aside =
                            path.with_extension(format!("damaged-{}", owner.id.replace(':', "-")));
                        if std::fs::rename(path, &aside).is_ok() {
                            let _ = std::fs::remove_file(&aside);
                        }
                    }
                    continue;
                }
            };
            let other_host = holder.host != crate::lake::hostname();
            if holder.is_alive() && age < timeout && !(take_over && other_host) {
                return Ok(Claimed::Held(holder));
            }
            tracing::warn!(
                owner = %holder.id, age_s = age.as_secs(),
                "recovering a stale claim on {}", path.display()
            );
            // Exactly one contender's rename succeeds; the others find the path gone.
            let aside = path.with_extension(format!("stale-{}", owner.id.replace(':', "-")));
            if std::fs::rename(path, &aside).is_ok() {
                let _ = std::fs::remove_file(&aside);
                recovered = Some(holder);
            }
        }
        match read_claim(path) {
            Ok((holder, _)) => Ok(Claimed::Held(holder)),
            Err(e) => Err(Error::input_hint(
                e.to_string(),
                format!(
                    "the claim file is damaged and was written less than {}s ago; if no run \
                     is processing this date, run again with --take-over (or after that time)",
                    timeout.as_secs()
                ),
            )),
        }
    }

    fn start_heartbeat(&self) {
        let path = self.path.clone();
        let id = self.owner.id.clone();
        let lost = self.lost.clone();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(HEARTBEAT);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match read_claim(&path) {
                    Ok((holder, _)) if holder.id == id => {
                        let touched = std::fs::File::options()
                            .write(true)
                            .open(&path)
                            .and_then(|f| f.set_modified(SystemTime::now()));
                        if touched.is_err() {
                            lost.store(true, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        lost.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
        });
    }

    /// Fail if another run took the claim over (we were judged stale).
    pub fn ensure_held(&self) -> Result<()> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(Error::input_hint(
                format!(
                    "lost the claim {} to another run while working",
                    self.path.display()
                ),
                "the heartbeat stalled past the claim timeout; rerun when the other run ends",
            ));
        }
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok((holder, _)) = read_claim(&self.path)
            && holder.id == self.owner.id
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Create `path` holding `owner`, failing with `AlreadyExists` if it exists. The content is
/// written to a private file first and hard-linked into place, so a reader never sees a
/// half-written claim.
fn create_exclusive(path: &Path, owner: &Owner) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string(owner).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("new-{}", owner.id.replace(':', "-")));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// The claim's owner and the time since its last heartbeat.
pub fn read_claim(path: &Path) -> Result<(Owner, Duration)> {
    let text = std::fs::read_to_string(path).at(path)?;
    let owner: Owner = serde_json::from_str(&text)
        .map_err(|e| Error::input(format!("{}: bad claim file: {e}", path.display())))?;
    let modified = std::fs::metadata(path).at(path)?.modified().at(path)?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    Ok((owner, age))
}
