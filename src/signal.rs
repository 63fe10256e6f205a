//! Stopping and test hooks: the flag a SIGTERM handler sets (finish the current step, then
//! stop), and the points where tests crash, pause or signal a run.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::window::Window;

/// Set by a SIGTERM handler: finish the current window, then stop.
pub static SHUTDOWN: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for.
pub fn stopping() -> bool {
    SHUTDOWN.load(Ordering::Relaxed)
}

/// Test hooks: `ORDERTRAIL_CRASH_AT=<stage>@<HH:MM>:<point>` aborts the process at that point of
/// that stage window (points: `before_commit`, `after_commit`, `after_state`, and
/// `before_bucket_<k>` in a bucketed run), as a crash would.
pub fn crash_point(stage: &str, window: Window, point: &str) {
    let here = format!("{stage}@{}:{point}", window.clock(window.start));
    if std::env::var("ORDERTRAIL_CRASH_AT").is_ok_and(|spec| spec == here) {
        eprintln!("ordertrail: injected crash at {here}");
        std::process::abort();
    }
    // `ORDERTRAIL_PAUSE_AT=<stage>@<HH:MM>:<point>=<file>` waits there while <file> exists
    // (at most 10 minutes), so that a test can look at a run in progress.
    if let Ok(spec) = std::env::var("ORDERTRAIL_PAUSE_AT")
        && let Some((at, file)) = spec.split_once('=')
        && at == here
    {
        let file = std::path::PathBuf::from(file);
        let wait = || {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(600);
            while file.exists() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }
    // `ORDERTRAIL_TERM_AT=<stage>@<HH:MM>:<point>` sends the process SIGTERM there, as an
    // operator stopping the run would, and waits until the handler has seen it: on a loaded
    // machine a fixed pause let the run go on past the point being tested.
    if std::env::var("ORDERTRAIL_TERM_AT").is_ok_and(|spec| spec == here) {
        // SAFETY: raise() only delivers a signal to this process; the handler is tokio's.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        let wait = || {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !SHUTDOWN.load(Ordering::Relaxed) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        // Blocking here must not hold the worker the handler's task needs.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
    }
}
