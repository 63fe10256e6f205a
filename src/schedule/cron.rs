//! Five-field cron expressions (`minute hour day-of-month month day-of-week`, UTC), enough for
//! job schedules: `*`, lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`; day-of-week 0-7
//! (0 and 7 are Sunday). As in cron, when both day fields are restricted a day matching
//! either runs.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(bad(
                text,
                "needs 5 fields: minute hour day-of-month month day-of-week",
            ));
        }
        let mut weekdays = field(text, fields[4], 0, 7)?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Ok(Cron {
            text: text.to_string(),
            minutes: field(text, fields[0], 0, 59)?,
            hours: field(text, fields[1], 0, 23)?,
            days: field(text, fields[2], 1, 31)?,
            months: field(text, fields[3], 1, 12)?,
            weekdays,
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
        })
    }

    pub fn matches(&self, t: NaiveDateTime) -> bool {
        let day_ok = self.days[t.day() as usize];
        let weekday_ok = self.weekdays[t.weekday().num_days_from_sunday() as usize];
        let date_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day_ok || weekday_ok,
            _ => day_ok && weekday_ok,
        };
        t.second() == 0
            && self.minutes[t.minute() as usize]
            && self.hours[t.hour() as usize]
            && self.months[t.month() as usize]
            && date_ok
    }

    /// The first matching minute strictly after `t` (within four years).
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut m = t.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let limit = t + Duration::days(366 * 4);
        while m <= limit {
            if !self.months[m.month() as usize] || !self.hours[m.hour() as usize] {
                // skip to the next hour quickly
                m = m.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if self.matches(m) {
                return Some(m);
            }
            m += Duration::minutes(1);
        }
        None
    }
}

impl std::fmt::Display for Cron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn bad(text: &str, why: &str) -> Error {
    Error::input_hint(
        format!("bad cron expression '{text}': {why}"),
        "five fields, UTC: minute hour day-of-month month day-of-week, e.g. '0,30 9-23 * * 1-5'",
    )
}

fn field(text: &str, spec: &str, lo: u32, hi: u32) -> Result<Vec<bool>> {
    let mut set = vec![false; hi as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad(text, &format!("bad step in '{part}'")))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(text, a, lo, hi)?, num(text, b, lo, hi)?)
        } else {
            let a = num(text, range, lo, hi)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a > b {
            return Err(bad(text, &format!("range '{range}' runs backwards")));
        }
        let mut v = a;
        while v <= b {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

fn num(text: &str, s: &str, lo: u32, hi: u32) -> Result<u32> {
    s.parse::<u32>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| bad(text, &format!("'{s}' is not a number in {lo}-{hi}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn half_hours_during_the_trading_day() {
        let c = Cron::parse("0,30 9-23 * * *").unwrap();
        assert_eq!(
            c.next_after(t("2026-11-19 08:10")),
            Some(t("2026-11-19 09:00"))
        );
        assert_eq!(
            c.next_after(t("2026-11-19 09:00")),
            Some(t("2026-11-19 09:30"))
        );
        assert_eq!(
            c.next_after(t("2026-11-19 23:30")),
            Some(t("2026-11-20 09:00"))
        );
    }

    #[test]
    fn steps_ranges_and_weekdays() {
        let c = Cron::parse("*/15 2 * * 1-5").unwrap();
        // 2026-11-21 is a Saturday: the next run is Monday 02:00.
        assert_eq!(
            c.next_after(t("2026-11-20 02:45")),
            Some(t("2026-11-23 02:00"))
        );
        let sunday = Cron::parse("0 0 * * 7").unwrap();
        assert!(
            sunday.matches(
                NaiveDate::from_ymd_opt(2026, 11, 22)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            )
        );
        assert!(Cron::parse("0 9 * *").is_err());
        assert!(Cron::parse("60 * * * *").is_err());
        assert!(Cron::parse("5-1 * * * *").is_err());
    }
}
