//! FIX text as the fixture writes it: `|`-separated, header 8, 9, 35, 49, 56, 34, 52, then the
//! body, then 10, with BodyLength (9) and CheckSum (10) computed as if every `|` were SOH.
//! Also the exact-decimal formatting shared by FIX values and table columns.
//!
//! Bodies are built before the message's MsgSeqNum and final time are known (rows are sorted by
//! time when they are written): TransactTime (60) and RefSeqNum (45) are left as placeholders
//! and filled in by [`render`].

use std::fmt::Write;

/// Exact decimals are integers in millionths (the scale of every DECIMAL(_,6) column).
pub const SCALE: i64 = 1_000_000;

/// Placeholder in a body for TransactTime (60): the message's own time, in ms.
pub const TS_HOLE: char = '\u{1}';
/// Placeholder in a body for RefSeqNum (45): the referenced message's MsgSeqNum.
pub const REFSEQ_HOLE: char = '\u{2}';
/// Placeholder in raw (malformed) text for the message's own MsgSeqNum.
pub const SEQ_HOLE: char = '\u{3}';

/// Plain decimal text without exponent or trailing zeros: 100, 10.1, 0.5, -3.25.
pub fn fmt_dec(units: i128) -> String {
    let mut s = String::new();
    push_dec(&mut s, units);
    s
}

pub fn push_dec(out: &mut String, units: i128) {
    if units < 0 {
        out.push('-');
    }
    let abs = units.unsigned_abs();
    let scale = SCALE as u128;
    let _ = write!(out, "{}", abs / scale);
    let mut frac = abs % scale;
    if frac != 0 {
        let mut digits = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

/// Formats microsecond timestamps of one trade date.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Microseconds since the epoch of 00:00 UTC on the date.
    pub day_start: i64,
    /// `YYYYMMDD-`
    prefix: String,
}

pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_DAY: i64 = 86_400 * US_PER_SEC;

impl Clock {
    pub fn new(date: chrono::NaiveDate) -> Clock {
        let day_start = date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or(0);
        Clock {
            day_start,
            prefix: date.format("%Y%m%d-").to_string(),
        }
    }

    /// Epoch microseconds of a time of day given in microseconds.
    /// `YYYYMMDD`.
    pub fn date_tag(&self) -> &str {
        self.prefix.trim_end_matches('-')
    }

    pub fn at(&self, us_of_day: i64) -> i64 {
        self.day_start + us_of_day
    }

    /// FIX UTCTimestamp with milliseconds: `20261119-14:30:00.123`.
    pub fn push_fix_ts(&self, out: &mut String, t: i64) {
        let us = (t - self.day_start).clamp(0, US_PER_DAY - 1);
        let ms = us / 1000;
        let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        out.push_str(&self.prefix);
        let _ = write!(out, "{h:02}:{m:02}:{s:02}.{ms:03}");
    }
}

/// A message body being built: `tag=value|` fields in order.
#[derive(Debug, Default)]
pub struct Body(pub String);

impl Body {
    pub fn new() -> Body {
        Body(String::with_capacity(160))
    }

    pub fn s(&mut self, tag: u32, value: &str) -> &mut Body {
        let _ = write!(self.0, "{tag}={value}|");
        self
    }

    pub fn n(&mut self, tag: u32, value: i64) -> &mut Body {
        let _ = write!(self.0, "{tag}={value}|");
        self
    }

    /// An exact decimal in millionths.
    pub fn d(&mut self, tag: u32, units: i128) -> &mut Body {
        let _ = write!(self.0, "{tag}=");
        push_dec(&mut self.0, units);
        self.0.push('|');
        self
    }

    /// TransactTime (60) = the message's own time, filled in by [`render`].
    pub fn transact_time(&mut self) -> &mut Body {
        let _ = write!(self.0, "60={TS_HOLE}|");
        self
    }

    /// RefSeqNum (45) of the message this one answers, filled in by [`render`].
    pub fn ref_seq(&mut self) -> &mut Body {
        let _ = write!(self.0, "45={REFSEQ_HOLE}|");
        self
    }
}

/// The message's full text: header with BodyLength, body with placeholders filled, CheckSum.
#[allow(clippy::too_many_arguments)]
pub fn render(
    clock: &Clock,
    msg_type: &str,
    sender: &str,
    target: &str,
    seq: u64,
    time: i64,
    body: &str,
    ref_seq: Option<u64>,
) -> String {
    let mut rest = String::with_capacity(body.len() + 64);
    let _ = write!(rest, "35={msg_type}|49={sender}|56={target}|34={seq}|52=");
    clock.push_fix_ts(&mut rest, time);
    rest.push('|');
    for c in body.chars() {
        match c {
            TS_HOLE => clock.push_fix_ts(&mut rest, time),
            REFSEQ_HOLE => {
                let _ = write!(rest, "{}", ref_seq.unwrap_or(0));
            }
            c => rest.push(c),
        }
    }
    let mut text = String::with_capacity(rest.len() + 24);
    let _ = write!(text, "8=FIX.4.4|9={}|", rest.len());
    text.push_str(&rest);
    let sum = checksum(&text);
    let _ = write!(text, "10={sum:03}|");
    text
}

/// Raw text (a malformed message) with its own MsgSeqNum filled in.
pub fn render_raw(raw: &str, seq: u64) -> String {
    raw.replace(SEQ_HOLE, &seq.to_string())
}

/// Sum of the bytes modulo 256, every `|` counted as SOH (0x01).
pub fn checksum(text: &str) -> u32 {
    text.bytes()
        .map(|b| if b == b'|' { 1u32 } else { b as u32 })
        .sum::<u32>()
        % 256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(fmt_dec(100 * SCALE as i128), "100");
        assert_eq!(fmt_dec(10_100_000), "10.1");
        assert_eq!(fmt_dec(500_000), "0.5");
        assert_eq!(fmt_dec(-3_250_000), "-3.25");
        assert_eq!(fmt_dec(0), "0");
        assert_eq!(fmt_dec(1), "0.000001");
    }

    /// Same text as data-fixtures/make_fixtures.py for scenario 1's client message.
    #[test]
    fn matches_the_fixture() {
        let date: chrono::NaiveDate = "2026-11-19".parse().unwrap();
        let clock = Clock::new(date);
        let t = clock.at((14 * 3600 + 31 * 60 + 2) * US_PER_SEC + 118_402);
        let mut b = Body::new();
        b.s(11, "C0001-1").s(1, "ACC-100").s(55, "AAPL").s(54, "1");
        b.d(38, 100 * SCALE as i128)
            .s(40, "2")
            .d(44, 187_250_000)
            .s(59, "0");
        b.transact_time();
        let text = render(&clock, "D", "CLIENT1", "BRKR", 1, t, &b.0, None);
        assert_eq!(
            text,
            "8=FIX.4.4|9=140|35=D|49=CLIENT1|56=BRKR|34=1|52=20261119-14:31:02.118|\
             11=C0001-1|1=ACC-100|55=AAPL|54=1|38=100|40=2|44=187.25|59=0|\
             60=20261119-14:31:02.118|10=088|"
        );
    }
}
