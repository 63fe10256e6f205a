//! Synthetic trading days: `ordertrail gen` writes a realistic raw day for any number of orders
//! straight into the lake's raw partitions, in the shapes of the fixture day
//! (`data-fixtures/make_fixtures.py`), so that the pipeline and its checks can be run at scale.
//!
//! What it owns: the day's order flow (scenario mix, Zipf symbols and accounts, U-shaped
//! intraday volume), the fund ledger that matches the fills and the symbol snapshot. What it
//! does not: reading or checking anything (run the pipeline and `ordertrail check` for that).
//!
//! Streaming, in bounded memory: orders are generated one at a time in start-time order; each
//! order's rows wait in a heap keyed by time until no later order can come before them, then
//! get their id, MsgSeqNum, FIX text (and, for ledger rows, balances) and go to one partition
//! writer per table, kept open for the whole day. Memory holds only the orders still in flight
//! (seconds to minutes of the day), whatever the number of orders.
//!
//! Deterministic: the same orders, date and seed give the same bytes. All randomness comes from
//! [`rng`] seeded by `--seed`; no wall clock is read.

pub mod fix;
pub mod rng;
pub mod scenarios;
pub mod universe;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::lake::{Lake, PartitionWriter, Written};
use crate::sources::Sources;

use fix::{Clock, SCALE, US_PER_SEC};
use rng::Rng;
use scenarios::{Day, Msg, Row};
use universe::{UPSTREAMS, Universe};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub orders: u64,
    /// The first trade date.
    pub date: NaiveDate,
    /// Consecutive calendar dates from `date` (at least 1), `orders` each.
    pub days: u32,
    pub seed: u64,
}

/// What was written, per date and table (`db.table`, in sources.sql order).
#[derive(Debug, Clone)]
pub struct GenSummary {
    pub days: Vec<(NaiveDate, Vec<(String, Written)>)>,
}

/// The raw tables, in the order of `sql/sources.sql`.
const TABLES: [&str; 8] = [
    "inbound.fix_msg",
    "outbound.fix_msg",
    "oms.orders",
    "oms.rms_event",
    "ems.route",
    "idmap.id_map",
    "fund.ledger",
    "refdata.symbol",
];
const INBOUND: usize = 0;
const OUTBOUND: usize = 1;
const ORDERS: usize = 2;
const RMS: usize = 3;
const ROUTE: usize = 4;
const IDMAP: usize = 5;
const LEDGER: usize = 6;
const SYMBOL: usize = 7;

/// Rows per batch handed to a partition writer.
const BATCH_ROWS: usize = 8192;
const FIRM: &str = "BRKR";
/// Row ids of a date start at (days since 1970-01-01) x this + 1: unique across dates.
const IDS_PER_DATE: i64 = 10_000_000_000;

/// Generate the days and commit one partition per raw table and date, replacing any
/// partition already there. A date's partitions are swapped in one table after another once
/// the date is complete: an error while generating leaves that date's previous partitions in
/// place.
///
/// Dates generated together form one history: ids are unique across dates (they carry the
/// date), account balances carry over, and some post-market orders are GTC and filled after
/// midnight, on the next date. The last date has no overnight orders, so the same options
/// give the same bytes for a date whether or not later dates are generated afterwards.
pub fn generate(lake: &Lake, sources: &Sources, opts: &GenOptions) -> Result<GenSummary> {
    if opts.orders == 0 || opts.days == 0 {
        return Err(Error::input_hint(
            "gen: --orders and --days must be at least 1",
            "pass the number of client orders per date, e.g. --orders 100000, and of dates, e.g. --days 5",
        ));
    }
    lake.ensure_writable()?;
    let universe = Universe::new(opts.seed, opts.orders);
    let mut out = Output {
        u: &universe,
        clock: Clock::new(opts.date),
        sinks: Vec::new(),
        last_time: [i64::MIN; 8],
        next_id: [1; 8],
        seq_in: vec![[0; 2]; universe.clients],
        seq_out: [[0; 2]; 3],
        seq_by_key: HashMap::new(),
        balance: vec![0; universe.accounts],
        client_names: (0..universe.clients)
            .map(|c| (universe.client_comp(c), universe.client_sid(c)))
            .collect(),
    };
    let mut carried: Vec<(i64, Row)> = Vec::new();
    let mut days = Vec::new();
    let progress =
        crate::progress::Progress::new("gen", opts.orders * u64::from(opts.days), "orders");
    for k in 0..opts.days {
        let date = opts.date + chrono::Days::new(u64::from(k));
        progress.set_message(date.to_string());
        out.start_date(lake, sources, date)?;
        let day_end = out.clock.at(fix::US_PER_DAY);
        out.symbols()?;
        // The previous date's orders that stayed open past midnight, before any of this one's
        // (they end before 08:00 UTC, this date's first ledger row).
        for (time, row) in std::mem::take(&mut carried) {
            out.emit(time, row)?;
        }
        out.opening_ledger(opts.orders)?;

        let last = k + 1 == opts.days;
        let mut day = Day::new(
            &universe,
            opts.seed,
            u64::from(k),
            date,
            (!last).then_some(day_end),
        );
        let mut times = StartTimes::new(&out.clock, opts.orders, opts.seed + 7919 * u64::from(k));
        let mut heap: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
        let mut order_seq: u64 = 0;
        let mut emit = |out: &mut Output, p: Pending| -> Result<()> {
            if p.time >= day_end {
                carried.push((p.time, p.row));
                Ok(())
            } else {
                out.emit(p.time, p.row)
            }
        };
        for num in 1..=opts.orders {
            if num % 4096 == 0 {
                progress.inc(4096);
            }
            let start = times.next(num - 1);
            // Every row logged before this order starts can be written: no later order comes
            // first.
            while heap.peek().is_some_and(|p| p.0.time < start) {
                if let Some(Reverse(p)) = heap.pop() {
                    emit(&mut out, p)?;
                }
            }
            day.order(num, start);
            for (time, row) in day.events.drain(..) {
                order_seq += 1;
                heap.push(Reverse(Pending {
                    time,
                    seq: order_seq,
                    row,
                }));
            }
        }
        while let Some(Reverse(p)) = heap.pop() {
            emit(&mut out, p)?;
        }
        let mut tables = Vec::new();
        for sink in std::mem::take(&mut out.sinks) {
            let name = sink.name.to_string();
            tables.push((name, sink.commit()?));
        }
        days.push((date, tables));
    }
    // The last date has no overnight orders: nothing may be left over (it would be lost).
    if !carried.is_empty() {
        return Err(Error::input(format!(
            "gen: {} rows fall after the last generated date (a bug in the generator)",
            carried.len()
        )));
    }
    Ok(GenSummary { days })
}

/// A row waiting for its turn; ordered by time, then by the order it was logged.
struct Pending {
    time: i64,
    seq: u64,
    row: Row,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// Order start times: U-shaped over the regular session (14:30-21:00 UTC), with a few
/// pre-market (09:00-14:30) and post-market (21:00-23:00) orders. Stratified: order i starts at
/// the quantile (i + u) / n of the day's volume curve, so times come out sorted without
/// holding them.
struct StartTimes {
    /// (start, end, cumulative weight at end) per segment, times in epoch microseconds.
    segments: Vec<(i64, i64, f64)>,
    n: u64,
    rng: Rng,
    last: i64,
}

impl StartTimes {
    fn new(clock: &Clock, n: u64, seed: u64) -> StartTimes {
        let h = |hours: f64| clock.at((hours * 3600.0 * US_PER_SEC as f64) as i64);
        let mut weights: Vec<(i64, i64, f64)> = Vec::new();
        // Pre-market: 4% of the orders.
        weights.push((h(9.0), h(14.5), 0.04));
        // Regular session, 390 minutes, weight 1 + 4 x^2 with x in [-1, 1]: busy at the open
        // and the close, quiet at midday; 92% of the orders.
        let minute_weights: Vec<f64> = (0..390)
            .map(|m| {
                let x = (m as f64 + 0.5) / 195.0 - 1.0;
                1.0 + 4.0 * x * x
            })
            .collect();
        let total: f64 = minute_weights.iter().sum();
        for (m, w) in minute_weights.iter().enumerate() {
            let start = h(14.5) + m as i64 * 60 * US_PER_SEC;
            weights.push((start, start + 60 * US_PER_SEC, 0.92 * w / total));
        }
        // Post-market: 4%.
        weights.push((h(21.0), h(23.0), 0.04));
        let mut cum = 0.0;
        let segments = weights
            .into_iter()
            .map(|(a, b, w)| {
                cum += w;
                (a, b, cum)
            })
            .collect();
        StartTimes {
            segments,
            n,
            rng: Rng::fork(seed, 3),
            last: i64::MIN,
        }
    }

    fn next(&mut self, i: u64) -> i64 {
        let total = self.segments.last().map(|s| s.2).unwrap_or(1.0);
        let q = (i as f64 + self.rng.unit()) / self.n as f64 * total;
        let k = self
            .segments
            .partition_point(|s| s.2 <= q)
            .min(self.segments.len() - 1);
        let (a, b, hi) = self.segments[k];
        let lo = if k == 0 { 0.0 } else { self.segments[k - 1].2 };
        let frac = if hi > lo {
            ((q - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let t = a + ((b - a) as f64 * frac) as i64;
        // Strictly increasing (distinct start times keep the flow readable).
        let t = t.max(self.last.saturating_add(1));
        self.last = t;
        t
    }
}

/// Turns rows into table rows: ids, strictly increasing times per table, MsgSeqNums, FIX text,
/// running balances.
struct Output<'a> {
    u: &'a Universe,
    clock: Clock,
    sinks: Vec<Sink>,
    last_time: [i64; 8],
    next_id: [i64; 8],
    /// Last MsgSeqNum per client session and direction (0 recv, 1 send).
    seq_in: Vec<[u64; 2]>,
    seq_out: [[u64; 2]; 3],
    /// MsgSeqNums of messages a later Reject refers to; removed when used.
    seq_by_key: HashMap<u64, u64>,
    /// Cash balance per account, in millionths.
    balance: Vec<i128>,
    client_names: Vec<(String, String)>,
}

impl Output<'_> {
    /// Open the date's partition writers and start its ids, times and FIX sessions afresh
    /// (balances carry over).
    fn start_date(&mut self, lake: &Lake, sources: &Sources, date: NaiveDate) -> Result<()> {
        let mut sinks = Vec::with_capacity(TABLES.len());
        for name in TABLES {
            let table = sources.get(name).ok_or_else(|| {
                Error::input_hint(
                    format!("gen: table {name} is not declared in {}", sources.path.display()),
                    "the generator writes the eight raw tables of sql/sources.sql; pass that file with --sources",
                )
            })?;
            let dir = lake.raw_table_dir(&table.db, &table.name);
            let schema = table.schema();
            let writer = lake.partition_writer(&dir, date, &schema)?;
            sinks.push(Sink::new(name, schema, writer)?);
        }
        self.sinks = sinks;
        self.clock = Clock::new(date);
        self.last_time = [i64::MIN; 8];
        let epoch_days = date.signed_duration_since(NaiveDate::default()).num_days();
        self.next_id = [epoch_days * IDS_PER_DATE + 1; 8];
        self.seq_in.iter_mut().for_each(|s| *s = [0; 2]);
        self.seq_out = [[0; 2]; 3];
        self.seq_by_key.clear();
        Ok(())
    }

    /// The next id and a time strictly after the table's previous row (rows of one table never
    /// share a create_time; a collision moves the later row by a microsecond).
    fn slot(&mut self, table: usize, time: i64) -> (i64, i64) {
        let t = time.max(self.last_time[table].saturating_add(1));
        self.last_time[table] = t;
        let id = self.next_id[table];
        self.next_id[table] += 1;
        (id, t)
    }

    fn emit(&mut self, time: i64, row: Row) -> Result<()> {
        match row {
            Row::Fix(msg) => self.fix(time, msg),
            Row::Order {
                order_id,
                root,
                account,
                symbol,
                side,
                ord_type,
                qty,
                price,
            } => {
                let (id, t) = self.slot(ORDERS, time);
                let s = &self.u.symbols[symbol];
                let (acc, corr) = (self.u.account_name(account), self.u.corr(account));
                self.sinks[ORDERS].row(&[
                    V::I(id),
                    V::T(t),
                    V::S(&order_id),
                    V::S(&root),
                    V::S(&acc),
                    V::S(&corr),
                    V::S(self.u.account_type(account)),
                    V::S(&s.name),
                    V::S(s.security_type),
                    V::S(side),
                    V::S(ord_type),
                    V::D(qty as i128),
                    price.map(|p| V::D(p as i128)).unwrap_or(V::Null),
                ])
            }
            Row::Rms {
                order_id,
                cl,
                action,
                reason,
            } => {
                let (id, t) = self.slot(RMS, time);
                self.sinks[RMS].row(&[
                    V::I(id),
                    V::T(t),
                    V::S(&order_id),
                    V::S(&cl),
                    V::S(action),
                    reason.map(V::S).unwrap_or(V::Null),
                ])
            }
            Row::Route {
                route_id,
                order_id,
                cl,
                out,
                upstream,
                parent,
                leg,
            } => {
                let (id, t) = self.slot(ROUTE, time);
                self.sinks[ROUTE].row(&[
                    V::I(id),
                    V::T(t),
                    V::S(&route_id),
                    V::S(&order_id),
                    V::S(&cl),
                    V::S(&out),
                    V::S(UPSTREAMS[upstream].0),
                    parent.as_deref().map(V::S).unwrap_or(V::Null),
                    V::I32(leg),
                ])
            }
            Row::IdMap {
                order_id,
                in_cl,
                out,
                upstream,
            } => {
                let (id, t) = self.slot(IDMAP, time);
                self.sinks[IDMAP].row(&[
                    V::I(id),
                    V::T(t),
                    V::S(&order_id),
                    V::S(&in_cl),
                    out.as_deref().map(V::S).unwrap_or(V::Null),
                    upstream.map(|u| V::S(UPSTREAMS[u].0)).unwrap_or(V::Null),
                ])
            }
            Row::Trade {
                account,
                exec_id,
                delta,
            } => {
                // Never let a balance go negative: a client whose buys outrun the opening
                // deposit wires more cash first.
                let before = self.balance[account];
                if before + delta < 0 {
                    let top_up = ((-(before + delta)) / (100_000 * SCALE as i128) + 1)
                        * 100_000
                        * SCALE as i128;
                    self.ledger(time, account, "DEPOSIT", None, top_up, "Intraday deposit")?;
                }
                let reason = format!("Fill {exec_id}");
                self.ledger(time, account, "TRADE", Some(&exec_id), delta, &reason)
            }
        }
    }

    fn ledger(
        &mut self,
        time: i64,
        account: usize,
        change_type: &str,
        ref_id: Option<&str>,
        delta: i128,
        reason: &str,
    ) -> Result<()> {
        let (id, t) = self.slot(LEDGER, time);
        let before = self.balance[account];
        let after = before + delta;
        self.balance[account] = after;
        let acc = self.u.account_name(account);
        self.sinks[LEDGER].row(&[
            V::I(id),
            V::T(t),
            V::S(&acc),
            V::S("USD"),
            V::S(change_type),
            ref_id.map(V::S).unwrap_or(V::Null),
            V::D(before),
            V::D(delta),
            V::D(after),
            V::S(reason),
        ])
    }

    fn fix(&mut self, time: i64, msg: Msg) -> Result<()> {
        let table = if msg.inbound { INBOUND } else { OUTBOUND };
        let (id, t) = self.slot(table, time);
        let dir = usize::from(msg.from_firm);
        let seq = if msg.inbound {
            &mut self.seq_in[msg.peer][dir]
        } else {
            &mut self.seq_out[msg.peer][dir]
        };
        *seq += 1;
        let seq = *seq;
        if let Some(key) = msg.key {
            self.seq_by_key.insert(key, seq);
        }
        let ref_seq = msg.ref_key.and_then(|k| self.seq_by_key.remove(&k));
        let (peer_comp, sid): (&str, &str) = if msg.inbound {
            let (c, s) = &self.client_names[msg.peer];
            (c, s)
        } else {
            (UPSTREAMS[msg.peer].0, UPSTREAMS[msg.peer].1)
        };
        let (sender, target) = if msg.from_firm {
            (FIRM, peer_comp)
        } else {
            (peer_comp, FIRM)
        };
        let text = match &msg.raw {
            Some(raw) => fix::render_raw(raw, seq),
            None => fix::render(
                &self.clock,
                msg.msg_type,
                sender,
                target,
                seq,
                t,
                &msg.body,
                ref_seq,
            ),
        };
        let direction = match (msg.inbound, msg.from_firm) {
            (true, false) | (false, false) => "recv",
            _ => "send",
        };
        if msg.inbound {
            self.sinks[INBOUND].row(&[V::I(id), V::T(t), V::S(sid), V::S(direction), V::S(&text)])
        } else {
            self.sinks[OUTBOUND].row(&[
                V::I(id),
                V::T(t),
                V::S(sid),
                V::S(peer_comp),
                V::S(direction),
                V::S(&text),
            ])
        }
    }

    /// refdata.symbol: one snapshot of every symbol at 00:00 UTC of the date.
    fn symbols(&mut self) -> Result<()> {
        let t = self.clock.at(0);
        for (i, s) in self.u.symbols.iter().enumerate() {
            self.sinks[SYMBOL].row(&[
                V::I(i as i64 + 1),
                V::T(t),
                V::S(&s.name),
                V::D(universe::TICK as i128),
                V::D(universe::LOT as i128),
                V::I32(i32::from(s.fractional)),
            ])?;
        }
        Ok(())
    }

    /// Opening deposits at 08:00 UTC, sized to the account's expected share of the orders,
    /// then a transfer and a withdrawal (before any order, so no balance goes negative).
    fn opening_ledger(&mut self, orders: u64) -> Result<()> {
        let open = self.clock.at(8 * 3600 * US_PER_SEC);
        for k in 0..self.u.accounts {
            let expected = self.u.account_zipf.p(k) * orders as f64;
            let dollars = 100_000 + (expected as i128) * 20_000;
            self.ledger(
                open,
                k,
                "DEPOSIT",
                None,
                dollars * SCALE as i128,
                "Opening deposit",
            )?;
        }
        let t = self.clock.at(8 * 3600 * US_PER_SEC + 30 * 60 * US_PER_SEC);
        let amount = 500 * SCALE as i128;
        let transfer = format!("TRF-{}-0001", self.clock.date_tag());
        self.ledger(
            t,
            0,
            "TRANSFER",
            Some(&transfer),
            -amount,
            "Transfer to ACC-000002",
        )?;
        self.ledger(
            t + 1000,
            1,
            "TRANSFER",
            Some(&transfer),
            amount,
            "Transfer from ACC-000001",
        )?;
        let w = self.clock.at(8 * 3600 * US_PER_SEC + 45 * 60 * US_PER_SEC);
        self.ledger(
            w,
            2,
            "WITHDRAW",
            None,
            -1000 * SCALE as i128,
            "Client withdrawal",
        )
    }
}

/// A value for one column of a row.
enum V<'s> {
    I(i64),
    I32(i32),
    /// Epoch microseconds.
    T(i64),
    S(&'s str),
    /// Millionths.
    D(i128),
    Null,
}

/// One column being built, typed by the declared schema.
enum Col {
    I64(Int64Builder),
    I32(Int32Builder),
    Ts(TimestampMicrosecondBuilder, Option<Arc<str>>),
    Str(StringBuilder),
    Dec(Decimal128Builder, u8, i8),
}

/// One table's open partition writer and the batch being filled.
struct Sink {
    name: &'static str,
    schema: SchemaRef,
    cols: Vec<Col>,
    rows: usize,
    writer: PartitionWriter,
}

impl Sink {
    fn new(name: &'static str, schema: SchemaRef, writer: PartitionWriter) -> Result<Sink> {
        let mut sink = Sink {
            name,
            schema,
            cols: Vec::new(),
            rows: 0,
            writer,
        };
        sink.cols = sink.fresh_cols()?;
        Ok(sink)
    }

    fn fresh_cols(&self) -> Result<Vec<Col>> {
        self.schema
            .fields()
            .iter()
            .map(|f| {
                Ok(match f.data_type() {
                    DataType::Int64 => Col::I64(Int64Builder::with_capacity(BATCH_ROWS)),
                    DataType::Int32 => Col::I32(Int32Builder::with_capacity(BATCH_ROWS)),
                    DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                        Col::Ts(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS), tz.clone())
                    }
                    DataType::Utf8 => Col::Str(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 32)),
                    DataType::Decimal128(p, 6) => {
                        Col::Dec(Decimal128Builder::with_capacity(BATCH_ROWS), *p, 6)
                    }
                    other => {
                        return Err(Error::input_hint(
                            format!("gen: {}.{} has type {other}, which the generator does not write", self.name, f.name()),
                            "the generator follows sql/sources.sql as shipped; update src/gen/ when a column type changes",
                        ));
                    }
                })
            })
            .collect()
    }

    fn row(&mut self, values: &[V]) -> Result<()> {
        if values.len() != self.cols.len() {
            return Err(Error::input_hint(
                format!(
                    "gen: {} has {} columns, the generator writes {}",
                    self.name,
                    self.cols.len(),
                    values.len()
                ),
                "the generator follows sql/sources.sql as shipped; update src/gen/ when a table changes",
            ));
        }
        for (i, (col, v)) in self.cols.iter_mut().zip(values).enumerate() {
            let ok = match (col, v) {
                (Col::I64(b), V::I(x)) => {
                    b.append_value(*x);
                    true
                }
                (Col::I32(b), V::I32(x)) => {
                    b.append_value(*x);
                    true
                }
                (Col::Ts(b, _), V::T(x)) => {
                    b.append_value(*x);
                    true
                }
                (Col::Str(b), V::S(x)) => {
                    b.append_value(x);
                    true
                }
                (Col::Dec(b, _, _), V::D(x)) => {
                    b.append_value(*x);
                    true
                }
                (Col::I64(b), V::Null) => {
                    b.append_null();
                    true
                }
                (Col::I32(b), V::Null) => {
                    b.append_null();
                    true
                }
                (Col::Str(b), V::Null) => {
                    b.append_null();
                    true
                }
                (Col::Dec(b, _, _), V::Null) => {
                    b.append_null();
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(Error::input_hint(
                    format!(
                        "gen: value of the wrong type for {}.{}",
                        self.name,
                        self.schema.field(i).name()
                    ),
                    "the generator follows sql/sources.sql as shipped; update src/gen/ when a column type changes",
                ));
            }
        }
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let fresh = self.fresh_cols()?;
        let cols = std::mem::replace(&mut self.cols, fresh);
        let arrays = cols
            .into_iter()
            .map(|c| -> Result<ArrayRef> {
                Ok(match c {
                    Col::I64(mut b) => Arc::new(b.finish()),
                    Col::I32(mut b) => Arc::new(b.finish()),
                    Col::Ts(mut b, tz) => Arc::new(b.finish().with_timezone_opt(tz)),
                    Col::Str(mut b) => Arc::new(b.finish()),
                    Col::Dec(mut b, p, s) => Arc::new(b.finish().with_precision_and_scale(p, s)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.writer.write(&batch)?;
        self.rows = 0;
        Ok(())
    }

    fn commit(mut self) -> Result<Written> {
        self.flush()?;
        self.writer.commit()
    }
}
