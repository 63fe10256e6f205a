//! Time windows of a trade date: half-open `[start, end)` intervals of UTC wall-clock time.

use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::{Error, Result};

/// `[start, end)` within one trade date (the end may be the next midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Window {
    /// The whole trade date.
    pub fn day(date: NaiveDate) -> Window {
        let start = date.and_time(NaiveTime::MIN);
        Window {
            start,
            end: start + Duration::days(1),
        }
    }

    /// The trade date the window belongs to.
    pub fn date(&self) -> NaiveDate {
        self.start.date()
    }

    pub fn is_whole_day(&self) -> bool {
        *self == Window::day(self.date())
    }

    pub fn starts_the_day(&self) -> bool {
        self.start == Window::day(self.date()).start
    }

    pub fn contains(&self, other: &Window) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// `HH:MM` of a point in the window's day; the next midnight is `24:00`.
    pub fn clock(&self, t: NaiveDateTime) -> String {
        let minutes = (t - self.date().and_time(NaiveTime::MIN)).num_minutes();
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// A short label, `09:30-10:00`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.clock(self.start), self.clock(self.end))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.date(), self.label())
    }
}

/// Parse `HH:MM` (or `24:00`) on `date`.
pub fn at(date: NaiveDate, hhmm: &str) -> Result<NaiveDateTime> {
    let bad = || {
        Error::input_hint(
            format!("bad time of day '{hhmm}'"),
            "write HH:MM in UTC, e.g. 09:30; 24:00 is the end of the day",
        )
    };
    let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(date.and_time(NaiveTime::MIN) + Duration::minutes(h * 60 + m))
}

/// Parse a duration such as `30m`, `1h`, `15min`, `1d`, `90s`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| {
        Error::input_hint(
            format!("bad duration '{s}'"),
            "write a number and a unit: 30m, 1h, 1d, 90s",
        )
    })?;
    let d = match unit.trim() {
        "s" | "sec" => Duration::seconds(n),
        "m" | "min" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        other => {
            return Err(Error::input_hint(
                format!("bad duration unit '{other}' in '{s}'"),
                "use s, m, h or d: 30m, 1h, 1d",
            ));
        }
    };
    if d <= Duration::zero() {
        return Err(Error::input(format!("duration '{s}' must be positive")));
    }
    Ok(d)
}

/// The window of `step` that starts at `from`, cut at the next multiple of `step` since
/// midnight (so windows stay aligned after an irregular one) and at `limit`.
pub fn next_window(from: NaiveDateTime, step: Duration, limit: NaiveDateTime) -> Window {
    let midnight = from.date().and_time(NaiveTime::MIN);
    let step_s = step.num_seconds().max(1);
    let since = (from - midnight).num_seconds();
    let boundary = midnight + Duration::seconds((since / step_s + 1) * step_s);
    Window {
        start: from,
        end: boundary.min(limit).min(Window::day(from.date()).end),
    }
}

/// The windows of `step` covering `[from, to)`, aligned to multiples of `step` since midnight.
pub fn grid(from: NaiveDateTime, to: NaiveDateTime, step: Duration) -> Vec<Window> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let w = next_window(t, step, to);
        t = w.end;
        out.push(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
    }

    #[test]
    fn grid_is_aligned_and_cut_at_the_end() {
        let w = grid(
            at(d(), "09:10").unwrap(),
            at(d(), "10:15").unwrap(),
            Duration::minutes(30),
        );
        let labels: Vec<_> = w.iter().map(|w| w.label()).collect();
        assert_eq!(labels, ["09:10-09:30", "09:30-10:00", "10:00-10:15"]);
    }

    #[test]
    fn whole_day_has_48_half_hours() {
        let day = Window::day(d());
        let w = grid(day.start, day.end, Duration::minutes(30));
        assert_eq!(w.len(), 48);
        assert_eq!(w.last().unwrap().label(), "23:30-24:00");
        assert!(day.is_whole_day() && day.contains(&w[3]));
    }

    #[test]
    fn parses_times_and_durations() {
        assert!(at(d(), "24:00").is_ok());
        assert!(at(d(), "24:30").is_err());
        assert!(at(d(), "9").is_err());
        assert_eq!(parse_duration("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_duration("1d").unwrap(), Duration::days(1));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
