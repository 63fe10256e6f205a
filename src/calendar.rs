//! The US equities (NYSE) trading calendar: which dates are trading days, so that regulatory
//! reports are refused for weekends and exchange holidays.
//!
//! What this module owns:
//! - the NYSE full-day holiday rules, computed for any year (no year table): New Year's Day,
//!   Martin Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day, Juneteenth
//!   (from 2022), Independence Day, Labor Day, Thanksgiving Day and Christmas Day, with the NYSE
//!   weekend-observance rules (Saturday holidays are observed the Friday before, Sunday holidays
//!   the Monday after, except that a Saturday New Year's Day is not observed at all);
//! - configured overrides: extra closures and dates forced open.
//!
//! What it does not own or know:
//! - special, unscheduled closures such as Hurricane Sandy (2012-10-29 and 2012-10-30), national
//!   days of mourning (e.g. 2018-12-05, 2025-01-09) or 2001-09-11; add those in config as extra
//!   holidays;
//! - early closes (half days, e.g. the day after Thanksgiving): those are trading days here;
//! - historical rule changes: the current rules are applied to every year, so dates before the
//!   modern rules (e.g. before 1998, when NYSE first closed for Martin Luther King Jr. Day) may
//!   be wrong;
//! - trading hours, time zones, and any other exchange's calendar.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The NYSE trading calendar: the built-in holiday rules plus configured overrides.
///
/// A date is a trading day when it is forced open by config, or when it is a weekday that is
/// neither a built-in NYSE holiday nor a configured extra holiday.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    /// Dates configured as closed in addition to the built-in rules (e.g. a national day of
    /// mourning).
    extra_holidays: BTreeSet<NaiveDate>,
    /// Dates configured as open regardless of weekends and every holiday rule.
    extra_trading_days: BTreeSet<NaiveDate>,
}

impl TradingCalendar {
    /// The NYSE calendar with the built-in holiday rules only and no overrides.
    pub fn nyse() -> Self {
        Self::default()
    }

    /// The NYSE calendar with configured overrides.
    ///
    /// `holidays` are extra closures (e.g. a national day of mourning); `trading_days` are dates
    /// forced open even if a weekend or a built-in holiday. A date given in both lists is forced
    /// open: an explicit "open" in config wins over every closure.
    pub fn with_overrides(
        holidays: impl IntoIterator<Item = NaiveDate>,
        trading_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        Self {
            extra_holidays: holidays.into_iter().collect(),
            extra_trading_days: trading_days.into_iter().collect(),
        }
    }

    /// Whether the exchange is open on `d` (early-close days count as open).
    pub fn is_trading_day(&self, d: NaiveDate) -> bool {
        self.non_trading_reason(d).is_none()
    }

    /// Why `d` is not a trading day, for error messages, or `None` if it is one.
    ///
    /// Examples: `"2026-11-21 is a Saturday"`, `"2026-11-26 is an NYSE holiday (Thanksgiving
    /// Day)"`, `"2026-12-31 is a holiday in the configured calendar"`. A weekend is reported
    /// before a holiday, and a built-in holiday before a configured one.
    pub fn non_trading_reason(&self, d: NaiveDate) -> Option<String> {
        if self.extra_trading_days.contains(&d) {
            return None;
        }
        if let Some(day) = weekend_name(d.weekday()) {
            return Some(format!("{d} is a {day}"));
        }
        if let Some(name) = holiday_name(d) {
            return Some(format!("{d} is an NYSE holiday ({name})"));
        }
        if self.extra_holidays.contains(&d) {
            return Some(format!("{d} is a holiday in the configured calendar"));
        }
        None
    }
}

/// The name of the built-in NYSE full-day holiday observed on `d`, or `None`.
///
/// Only the rules are consulted, not any configured overrides. Observed dates are returned, so
/// `2026-07-03` is `Some("Independence Day")` and `2026-07-04` (a Saturday) is `None`.
pub fn holiday_name(d: NaiveDate) -> Option<&'static str> {
    let year = d.year();
    let rules: [(Option<NaiveDate>, &'static str); 10] = [
        (new_years_day(year), "New Year's Day"),
        (
            nth_weekday(year, 1, Weekday::Mon, 3),
            "Martin Luther King Jr. Day",
        ),
        (
            nth_weekday(year, 2, Weekday::Mon, 3),
            "Washington's Birthday",
        ),
        (
            easter_sunday(year).map(|e| e - Duration::days(2)),
            "Good Friday",
        ),
        (last_weekday(year, 5, Weekday::Mon), "Memorial Day"),
        (
            if year >= 2022 {
                observed(year, 6, 19)
            } else {
                None
            },
            "Juneteenth National Independence Day",
        ),
        (observed(year, 7, 4), "Independence Day"),
        (nth_weekday(year, 9, Weekday::Mon, 1), "Labor Day"),
        (nth_weekday(year, 11, Weekday::Thu, 4), "Thanksgiving Day"),
        (observed(year, 12, 25), "Christmas Day"),
    ];
    rules
        .into_iter()
        .find(|(date, _)| *date == Some(d))
        .map(|(_, name)| name)
}

/// Western (Gregorian) Easter Sunday of `year`, by the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher). `None` only if the date is outside chrono's range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    NaiveDate::from_ymd_opt(year, (n / 31) as u32, (n % 31 + 1) as u32)
}

/// Full English name of a weekend day, `None` for Monday to Friday.
fn weekend_name(w: Weekday) -> Option<&'static str> {
    match w {
        Weekday::Sat => Some("Saturday"),
        Weekday::Sun => Some("Sunday"),
        _ => None,
    }
}

/// New Year's Day as NYSE observes it: Sunday moves to Monday, Saturday is not observed (NYSE
/// does not close on the preceding December 31).
fn new_years_day(year: i32) -> Option<NaiveDate> {
    let d = NaiveDate::from_ymd_opt(year, 1, 1)?;
    match d.weekday() {
        Weekday::Sat => None,
        Weekday::Sun => Some(d + Duration::days(1)),
        _ => Some(d),
    }
}

/// A fixed-date holiday with the usual observance: Saturday moves to Friday, Sunday to Monday.
fn observed(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    let d = NaiveDate::from_ymd_opt(year, month, day)?;
    match d.weekday() {
        Weekday::Sat => Some(d - Duration::days(1)),
        Weekday::Sun => Some(d + Duration::days(1)),
        _ => Some(d),
    }
}

/// The `n`th (1-based) `weekday` of `month` in `year`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// The last `weekday` of `month` in `year`.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Every weekday of `year` on which `cal` is closed.
    fn weekday_closures(cal: &TradingCalendar, year: i32) -> Vec<NaiveDate> {
        date(year, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == year)
            .filter(|d| weekend_name(d.weekday()).is_none() && !cal.is_trading_day(*d))
            .collect()
    }

    #[test]
    fn nyse_holidays_2025_match_published_list() {
        let expected = vec![
            date(2025, 1, 1),
            date(2025, 1, 20),
            date(2025, 2, 17),
            date(2025, 4, 18),
            date(2025, 5, 26),
            date(2025, 6, 19),
            date(2025, 7, 4),
            date(2025, 9, 1),
            date(2025, 11, 27),
            date(2025, 12, 25),
        ];
        assert_eq!(weekday_closures(&TradingCalendar::nyse(), 2025), expected);
    }

    #[test]
    fn nyse_holidays_2026_match_published_list() {
        let expected = vec![
            date(2026, 1, 1),
            date(2026, 1, 19),
            date(2026, 2, 16),
            date(2026, 4, 3),
            date(2026, 5, 25),
            date(2026, 6, 19),
            date(2026, 7, 3),
            date(2026, 9, 7),
            date(2026, 11, 26),
            date(2026, 12, 25),
        ];
        assert_eq!(weekday_closures(&TradingCalendar::nyse(), 2026), expected);
    }

    #[test]
    fn every_year_has_the_expected_number_of_weekday_closures() {
        let cal = TradingCalendar::nyse();
        for year in 2022..=2100 {
            let n = weekday_closures(&cal, year).len();
            // Ten rules; a Saturday New Year's Day is simply not observed.
            let expected = if date(year, 1, 1).weekday() == Weekday::Sat {
                9
            } else {
                10
            };
            assert_eq!(n, expected, "weekday closures in {year}");
        }
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(date(2027, 3, 28)));
        // Extremes of the Gregorian range: earliest (Mar 22) and latest (Apr 25).
        assert_eq!(easter_sunday(2285), Some(date(2285, 3, 22)));
        assert_eq!(easter_sunday(2038), Some(date(2038, 4, 25)));
        for year in 1900..=2200 {
            assert_eq!(easter_sunday(year).unwrap().weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn saturday_new_year_is_not_observed_on_the_friday_before() {
        let cal = TradingCalendar::nyse();
        assert_eq!(date(2022, 1, 1).weekday(), Weekday::Sat);
        assert!(cal.is_trading_day(date(2021, 12, 31)));
        assert_eq!(date(2022, 12, 31).weekday(), Weekday::Sat);
        assert_eq!(date(2023, 1, 1).weekday(), Weekday::Sun);
        assert!(cal.is_trading_day(date(2022, 12, 30)));
        // Sunday New Year's Day 2023 is observed on Monday.
        assert_eq!(holiday_name(date(2023, 1, 2)), Some("New Year's Day"));
        assert!(!cal.is_trading_day(date(2023, 1, 2)));
    }

    #[test]
    fn fixed_holidays_move_off_weekends() {
        // Juneteenth 2022 was a Sunday: observed Monday June 20.
        assert_eq!(
            holiday_name(date(2022, 6, 20)),
            Some("Juneteenth National Independence Day")
        );
        // Juneteenth before 2022 was not an NYSE holiday.
        assert_eq!(holiday_name(date(2021, 6, 18)), None);
        // Christmas 2021 was a Saturday: observed Friday December 24.
        assert_eq!(holiday_name(date(2021, 12, 24)), Some("Christmas Day"));
        // Independence Day 2027 is a Sunday: observed Monday July 5.
        assert_eq!(holiday_name(date(2027, 7, 5)), Some("Independence Day"));
        // The actual weekend date is not itself a (weekday) holiday.
        assert_eq!(holiday_name(date(2026, 7, 4)), None);
    }

    #[test]
    fn early_close_days_are_trading_days() {
        let cal = TradingCalendar::nyse();
        assert!(cal.is_trading_day(date(2025, 11, 28))); // day after Thanksgiving
        assert!(cal.is_trading_day(date(2025, 12, 24))); // Christmas Eve
        assert!(cal.is_trading_day(date(2025, 7, 3)));
    }

    #[test]
    fn reason_strings() {
        let cal = TradingCalendar::with_overrides([date(2026, 12, 31)], []);
        assert_eq!(
            cal.non_trading_reason(date(2026, 11, 21)).as_deref(),
            Some("2026-11-21 is a Saturday")
        );
        assert_eq!(
            cal.non_trading_reason(date(2026, 11, 22)).as_deref(),
            Some("2026-11-22 is a Sunday")
        );
        assert_eq!(
            cal.non_trading_reason(date(2026, 11, 26)).as_deref(),
            Some("2026-11-26 is an NYSE holiday (Thanksgiving Day)")
        );
        assert_eq!(
            cal.non_trading_reason(date(2026, 12, 31)).as_deref(),
            Some("2026-12-31 is a holiday in the configured calendar")
        );
        assert_eq!(cal.non_trading_reason(date(2026, 11, 27)), None);
    }

    #[test]
    fn overrides_add_holidays() {
        // 2025-01-09: national day of mourning for President Carter, not a rule holiday.
        let mourning = date(2025, 1, 9);
        assert!(TradingCalendar::nyse().is_trading_day(mourning));
        let cal = TradingCalendar::with_overrides([mourning], []);
        assert!(!cal.is_trading_day(mourning));
        assert!(cal.is_trading_day(date(2025, 1, 8)));
        assert!(!cal.is_trading_day(date(2025, 1, 1)));
    }

    #[test]
    fn overrides_force_dates_open() {
        let thanksgiving = date(2026, 11, 26);
        let saturday = date(2026, 11, 21);
        let cal = TradingCalendar::with_overrides([], [thanksgiving, saturday]);
        assert!(cal.is_trading_day(thanksgiving));
        assert!(cal.is_trading_day(saturday));
        assert_eq!(cal.non_trading_reason(thanksgiving), None);
        // Other closures are unaffected.
        assert!(!cal.is_trading_day(date(2026, 12, 25)));
        assert!(!cal.is_trading_day(date(2026, 11, 22)));
        // A date in both lists is open.
        let both = TradingCalendar::with_overrides([date(2026, 12, 31)], [date(2026, 12, 31)]);
        assert!(both.is_trading_day(date(2026, 12, 31)));
    }
}
