//! Progress of long commands on stderr: a bar on a terminal (indicatif), and on anything else
//! (a log file, a pipe, the scheduler's output) a plain line every few seconds while the work
//! goes on, so a log shows where an hour-long run stands. `--quiet` silences both.
//!
//! ```text
//! run 2026-11-19 [##########>-------------]  20/48 windows  flow_complete 09:30-10:00 (stage 7/17)  00:01:12 ETA 00:01:40
//! progress: run 2026-11-19: 20/48 windows, flow_complete 09:30-10:00 (stage 7/17), 72 s elapsed, about 100 s left
//! ```

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// The progress display shown now (the latest made), for [`detail`].
static CURRENT: Mutex<Option<Weak<Shared>>> = Mutex::new(None);

/// Add `text` to what the progress shown now says (e.g. `3/8 buckets` from the bucket
/// runner, which does not know whose work it does); empty clears it. Nothing when none is
/// shown.
pub fn detail(text: impl Into<String>) {
    let current = CURRENT.lock().ok().and_then(|c| c.as_ref()?.upgrade());
    if let Some(shared) = current {
        if let Ok(mut d) = shared.detail.lock() {
            *d = text.into();
        }
        shared.redraw();
    }
}

/// Silence every progress display of this process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Seconds between plain progress lines when stderr is not a terminal
/// (`ORDERTRAIL_PROGRESS_SECS`, default 10).
fn line_period() -> Duration {
    std::env::var("ORDERTRAIL_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

struct Shared {
    label: String,
    unit: String,
    total: AtomicU64,
    pos: AtomicU64,
    /// The first position set (work done before this process started): not counted in the
    /// rate the time left is estimated from. `u64::MAX` until set.
    base: AtomicU64,
    message: Mutex<String>,
    /// Set by [`detail`], shown after the message.
    detail: Mutex<String>,
    started: Instant,
    done: AtomicBool,
    bar: OnceLock<ProgressBar>,
}

impl Shared {
    /// The message and the detail, as shown.
    fn text(&self) -> String {
        let message = self.message.lock().map(|m| m.clone()).unwrap_or_default();
        let detail = self.detail.lock().map(|d| d.clone()).unwrap_or_default();
        match (message.is_empty(), detail.is_empty()) {
            (_, true) => message,
            (true, false) => detail,
            (false, false) => format!("{message}, {detail}"),
        }
    }

    fn redraw(&self) {
        if let Some(bar) = self.bar.get() {
            bar.set_message(self.text());
        }
    }

    fn line(&self) -> String {
        let pos = self.pos.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64();
        let message = self.text();
        let mut out = format!("progress: {}: ", self.label);
        if total > 0 {
            out.push_str(&format!("{pos}/{total} {}", self.unit));
        } else {
            out.push_str(&format!("{pos} {}", self.unit));
        }
        if !message.is_empty() {
            out.push_str(&format!(", {message}"));
        }
        out.push_str(&format!(", {elapsed:.0} s elapsed"));
        let base = match self.base.load(Ordering::Relaxed) {
            u64::MAX => 0,
            b => b,
        };
        if total > 0 && pos > base && pos < total {
            let left = elapsed / (pos - base) as f64 * (total - pos) as f64;
            out.push_str(&format!(", about {left:.0} s left"));
        }
        out
    }
}

/// One long piece of work: a count towards a total (or without one) and what it is doing.
pub struct Progress {
    shared: Arc<Shared>,
    bar: Option<ProgressBar>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress of `label` (e.g. `run 2026-11-19`), counting `unit`s (e.g.
    /// `windows`) up to `total` (0: no total known).
    pub fn new(label: impl Into<String>, total: u64, unit: &str) -> Progress {
        let shared = Arc::new(Shared {
            label: label.into(),
            unit: unit.to_string(),
            total: AtomicU64::new(total),
            pos: AtomicU64::new(0),
            base: AtomicU64::new(u64::MAX),
            message: Mutex::new(String::new()),
            detail: Mutex::new(String::new()),
            started: Instant::now(),
            done: AtomicBool::new(false),
            bar: OnceLock::new(),
        });
        if let Ok(mut current) = CURRENT.lock() {
            *current = Some(Arc::downgrade(&shared));
        }
        if QUIET.load(Ordering::Relaxed) {
            return Progress {
                shared,
                bar: None,
                ticker: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = if total > 0 {
                ProgressBar::new(total)
            } else {
                ProgressBar::new_spinner()
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = if total > 0 {
                format!(
                    "{{prefix}} [{{bar:28}}] {{pos}}/{{len}} {unit}  {{msg}}  {{elapsed_precise}} ETA {{eta_precise}}"
                )
            } else {
                format!("{{prefix}} {{spinner}} {{pos}} {unit}  {{msg}}  {{elapsed_precise}}")
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("#>-"));
            }
            bar.set_prefix(shared.label.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            let _ = shared.bar.set(bar.clone());
            return Progress {
                shared,
                bar: Some(bar),
                ticker: None,
            };
        }
        // Not a terminal: a line every period while the work goes on.
        let period = line_period();
        let s = shared.clone();
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut next = Instant::now() + period;
                while !s.done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50).min(period));
                    if Instant::now() >= next {
                        eprintln!("{}", s.line());
                        next = Instant::now() + period;
                    }
                }
            })
            .ok();
        Progress {
            shared,
            bar: None,
            ticker,
        }
    }

    /// Count `n` more units done.
    pub fn inc(&self, n: u64) {
        self.shared.pos.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Set the count of units done.
    pub fn set_position(&self, pos: u64) {
        self.shared.pos.store(pos, Ordering::Relaxed);
        let first = self
            .shared
            .base
            .compare_exchange(u64::MAX, pos, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            if first {
                bar.reset_eta();
            }
        }
    }

    /// Change the total (when it becomes known).
    pub fn set_total(&self, total: u64) {
        self.shared.total.store(total, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// What is being done now (a stage and window, a table, a file ...).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Ok(mut m) = self.shared.message.lock() {
            *m = message.into();
        }
        self.shared.redraw();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::Relaxed);
        if let Ok(mut current) = CURRENT.lock()
            && current
                .as_ref()
                .is_some_and(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&self.shared)))
        {
            *current = None;
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_where_the_work_stands() {
        let s = Shared {
            label: "run 2026-11-19".into(),
            unit: "windows".into(),
            total: AtomicU64::new(48),
            pos: AtomicU64::new(12),
            base: AtomicU64::new(u64::MAX),
            message: Mutex::new("flow 06:00-06:30 (stage 4/17)".into()),
            detail: Mutex::new(String::new()),
            started: Instant::now() - Duration::from_secs(60),
            done: AtomicBool::new(false),
            bar: OnceLock::new(),
        };
        let line = s.line();
        assert!(
            line.starts_with("progress: run 2026-11-19: 12/48 windows, flow 06:00-06:30"),
            "{line}"
        );
        assert!(line.contains("60 s elapsed"), "{line}");
        *s.detail.lock().unwrap() = "3/8 buckets".into();
        assert!(
            s.line().contains("(stage 4/17), 3/8 buckets, 60 s"),
            "{}",
            s.line()
        );
        assert!(line.contains("about 180 s left"), "{line}");
        // Work done before the run started does not speed up the estimate.
        s.base.store(8, Ordering::Relaxed);
        assert!(s.line().contains("about 540 s left"), "{}", s.line());
        s.total.store(0, Ordering::Relaxed);
        let line = s.line();
        assert!(
            line.contains(": 12 windows,") && !line.contains("left"),
            "{line}"
        );
    }
}
