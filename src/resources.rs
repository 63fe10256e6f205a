//! What the process uses: resident memory (the peak of a step, sampled) and CPU time. Read by
//! the stage and check runners for their records and metrics; nothing here decides anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

/// The process's peak resident set size in KiB (VmHWM), where the kernel reports it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The process's resident set size now, in KiB (from `/proc/self/statm`).
pub fn current_rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64 / 1024)
}

/// How often the sampler reads the resident set size.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The peaks of the steps being measured, which the sampler raises.
static STEPS: Mutex<Vec<Weak<AtomicU64>>> = Mutex::new(Vec::new());
static SAMPLER: Once = Once::new();

/// Raise every live step's peak to `kib`; forget the steps that ended.
fn observe(kib: u64) {
    let mut steps = STEPS.lock().unwrap_or_else(|e| e.into_inner());
    steps.retain(|step| match step.upgrade() {
        Some(peak) => {
            peak.fetch_max(kib, Ordering::Relaxed);
            true
        }
        None => false,
    });
}

/// CPU time (user and system) the process has used so far, from `getrusage`; `None` where it
/// cannot be read. A step's CPU time over its wall time is how many cores it kept busy.
pub fn process_cpu() -> Option<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given; it is read only when the call succeeds.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Some(time(usage.ru_utime) + time(usage.ru_stime))
}

/// The peak resident memory of one step (a stage, a check), sampled every 50 ms by a
/// background thread. The kernel's own high-water mark (VmHWM) covers the whole process;
/// resetting it per step (`/proc/self/clear_refs`) would also reset what `/usr/bin/time` and
/// other monitors report, so the steps' peaks are sampled instead (a spike shorter than the
/// interval can be missed). Each step has its own peak, so steps measured at the same time
/// (tests in parallel) do not reset each other's.
pub struct RssPeak {
    peak: Arc<AtomicU64>,
}

impl RssPeak {
    /// Start measuring a step; starts the sampler thread on first use.
    pub fn start() -> RssPeak {
        SAMPLER.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("rss-sampler".into())
                .spawn(|| {
                    loop {
                        if let Some(kib) = current_rss_kib() {
                            observe(kib);
                        }
                        std::thread::sleep(RSS_SAMPLE_EVERY);
                    }
                });
        });
        RssPeak::starting_at(current_rss_kib().unwrap_or(0))
    }

    fn starting_at(kib: u64) -> RssPeak {
        let peak = Arc::new(AtomicU64::new(kib));
        let mut steps = STEPS.lock().unwrap_or_else(|e| e.into_inner());
        steps.push(Arc::downgrade(&peak));
        RssPeak { peak }
    }

    /// The highest resident set size seen since `start` (None where /proc is not there).
    pub fn kib(&self) -> Option<u64> {
        let now = current_rss_kib()?;
        Some(now.max(self.peak.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory touched during a step shows in its peak even after it is freed.
    #[test]
    fn a_step_peak_sees_memory_touched_during_the_step() {
        if current_rss_kib().is_none() {
            return; // not Linux
        }
        let step = RssPeak::start();
        let before = step.kib().unwrap();
        let mib = 256;
        let mut block = vec![0u8; mib << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        std::hint::black_box(&block);
        std::thread::sleep(RSS_SAMPLE_EVERY * 4);
        drop(block);
        let peak = step.kib().unwrap();
        assert!(
            peak >= before + (mib as u64 * 1024) * 9 / 10,
            "peak {peak} KiB, before {before} KiB"
        );
    }

    /// A step sees what was observed while it ran, not before it started; steps measured at
    /// the same time keep their own peaks. (Values far above any real RSS, so the sampler
    /// thread of another test cannot interfere.)
    #[test]
    fn steps_keep_their_own_peaks() {
        let base = 1u64 << 40;
        let first = RssPeak::starting_at(base);
        observe(base + 500);
        let second = RssPeak::starting_at(base + 100);
        observe(base + 130);
        assert_eq!(first.peak.load(Ordering::Relaxed), base + 500);
        assert_eq!(second.peak.load(Ordering::Relaxed), base + 130);
        drop(first);
        observe(base + 140);
        assert_eq!(second.peak.load(Ordering::Relaxed), base + 140);
    }
}
