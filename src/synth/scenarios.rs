//! One client order's life, step by step, in the shapes of `data-fixtures/make_fixtures.py`:
//! the same message bodies, table rows and latencies, with symbols, accounts, quantities,
//! prices and waits drawn from the seed. Each step appends rows (with their times) to
//! [`Day::events`]; the caller sorts them into the tables.
//!
//! Overnight orders: when the next date is generated too ([`Day::overnight_until`]), some
//! post-market full fills become GTC orders filled after midnight, on the next date.
//! Not generated: admin messages.

use super::fix::{Body, SCALE, SEQ_HOLE, US_PER_SEC};
use super::rng::Rng;
use super::universe::{ARCA, FRAC, NSDQ, TICK, UPSTREAMS, Universe};

/// A row of one of the raw tables, before ids, sequence numbers and balances are known.
#[derive(Debug)]
pub enum Row {
    Fix(Msg),
    Order {
        order_id: String,
        root: String,
        account: usize,
        symbol: usize,
        side: &'static str,
        ord_type: &'static str,
        qty: i64,
        price: Option<i64>,
    },
    Rms {
        order_id: String,
        cl: String,
        action: &'static str,
        reason: Option<&'static str>,
    },
    Route {
        route_id: String,
        order_id: String,
        cl: String,
        out: String,
        upstream: usize,
        parent: Option<String>,
        leg: i32,
    },
    IdMap {
        order_id: String,
        in_cl: String,
        out: Option<String>,
        upstream: Option<usize>,
    },
    /// A fill reported to the client: its ledger TRADE row.
    Trade {
        account: usize,
        exec_id: String,
        delta: i128,
    },
}

/// A FIX message of either gateway.
#[derive(Debug)]
pub struct Msg {
    /// Client gateway (inbound.fix_msg) or upstream gateway (outbound.fix_msg).
    pub inbound: bool,
    /// Client index (inbound) or upstream index (outbound).
    pub peer: usize,
    /// From the firm (inbound `send`, outbound `send`) or to it (`recv`).
    pub from_firm: bool,
    pub msg_type: &'static str,
    pub body: String,
    /// Raw text instead of a body (a malformed message); [`SEQ_HOLE`] marks its MsgSeqNum.
    pub raw: Option<String>,
    /// Remember this message's MsgSeqNum under this key (a later Reject refers to it).
    pub key: Option<u64>,
    /// Fill RefSeqNum (45) from the message remembered under this key.
    pub ref_key: Option<u64>,
}

// FIX code values
const BUY: &str = "1";
const SELL: &str = "2";
const SELL_SHORT: &str = "5";
const MARKET: &str = "1";
const LIMIT: &str = "2";
const DAY: &str = "0";
const GTC: &str = "1";

// Latencies between consecutive steps, in microseconds (as in the fixture).
const OMS_US: i64 = 412;
const RMS_US: i64 = 231;
const EMS_US: i64 = 845;
const SEND_US: i64 = 318;
const VENUE_US: i64 = 1906;
const RELAY_US: i64 = 527;

/// The scenarios and their weights per thousand orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    FullFill,
    PartialFills,
    Cancel,
    CancelReplace,
    ReplaceRejected,
    SessionReject,
    InvalidRequest,
    RmsReject,
    RmsHoldRelease,
    RmsHoldOpen,
    NeverRouted,
    NoUpstreamResponse,
    UpstreamReject,
    Reroute,
    MultiLeg,
    Fractional,
    CancelAfterFill,
    MalformedFix,
}

pub const MIX: [(Scenario, u32); 18] = [
    (Scenario::FullFill, 590),
    (Scenario::PartialFills, 120),
    (Scenario::Cancel, 50),
    (Scenario::CancelReplace, 50),
    (Scenario::ReplaceRejected, 20),
    (Scenario::SessionReject, 5),
    (Scenario::InvalidRequest, 5),
    (Scenario::RmsReject, 20),
    (Scenario::RmsHoldRelease, 10),
    (Scenario::RmsHoldOpen, 3),
    (Scenario::NeverRouted, 5),
    (Scenario::NoUpstreamResponse, 5),
    (Scenario::UpstreamReject, 20),
    (Scenario::Reroute, 25),
    (Scenario::MultiLeg, 20),
    (Scenario::Fractional, 40),
    (Scenario::CancelAfterFill, 10),
    (Scenario::MalformedFix, 2),
];

const MIX_WEIGHTS: [u32; 18] = {
    let mut w = [0; 18];
    let mut i = 0;
    while i < 18 {
        w[i] = MIX[i].1;
        i += 1;
    }
    w
};

/// Quantity bookkeeping shared by client orders and upstream orders.
#[derive(Debug, Clone)]
struct Terms {
    symbol: usize,
    side: &'static str,
    qty: i64,
    price: Option<i64>,
    ord_type: &'static str,
    cum: i64,
    /// Sum of LastQty x LastPx, in millionths.
    notional: i128,
}

impl Terms {
    fn add_fill(&mut self, qty: i64, px: i64) {
        self.cum += qty;
        self.notional += qty as i128 * px as i128 / SCALE as i128;
    }

    fn fill_status(&self) -> &'static str {
        if self.cum >= self.qty {
            "2"
        } else if self.cum > 0 {
            "1"
        } else {
            "0"
        }
    }

    fn avg_px(&self) -> i128 {
        if self.cum == 0 {
            return 0;
        }
        let cum = self.cum as i128;
        (self.notional * SCALE as i128 + cum / 2) / cum
    }
}

#[derive(Debug, Clone)]
struct UpOrder {
    upstream: usize,
    route_id: String,
    out: String,
    venue_id: String,
    t: Terms,
}

#[derive(Debug)]
struct Request {
    kind: &'static str,
    cl: String,
    qty: i64,
    price: Option<i64>,
    out: Option<String>,
}

#[derive(Debug)]
struct Order {
    /// `<YYYYMMDD>-<num:08>`: unique across dates.
    key: String,
    /// TimeInForce (59) of the client order and its routes.
    tif: &'static str,
    account: usize,
    client: usize,
    mleg: bool,
    t: Terms,
    cl: String,
    pending: Request,
    accepted: bool,
    up: Option<UpOrder>,
    legs: Vec<UpOrder>,
    legs_reported: usize,
    n_cl: u32,
    n_route: u32,
    n_exec: u32,
}

impl Order {
    fn order_id(&self) -> String {
        format!("ORD-{}", self.key)
    }

    fn new_request(&mut self, kind: &'static str, qty: i64, price: Option<i64>) {
        self.n_cl += 1;
        self.pending = Request {
            kind,
            cl: format!("C{}-{}", self.key, self.n_cl),
            qty,
            price,
            out: None,
        };
    }

    fn next_route(&mut self) -> (String, String) {
        self.n_route += 1;
        (
            format!("R{}-{}", self.key, self.n_route),
            format!("O{}-{}", self.key, self.n_route),
        )
    }

    fn next_exec_id(&mut self) -> String {
        self.n_exec += 1;
        format!("E{}-{}", self.key, self.n_exec)
    }
}

/// Builds the rows of a day, one order at a time.
pub struct Day<'a> {
    u: &'a Universe,
    rng: Rng,
    /// `YYYYMMDD`: in every id, so that ids of different dates never collide.
    tag: String,
    /// The next date's midnight (epoch microseconds) when that date is generated too: orders
    /// may then stay open past it.
    overnight_until: Option<i64>,
    now: i64,
    venue_orders: [u64; 3],
    venue_execs: [u64; 3],
    /// Rows of the current order with their times, in the order they were logged.
    pub events: Vec<(i64, Row)>,
}

impl<'a> Day<'a> {
    /// The orders of `date`; `stream` picks the random stream (0 for the first date).
    pub fn new(
        u: &'a Universe,
        seed: u64,
        stream: u64,
        date: chrono::NaiveDate,
        overnight_until: Option<i64>,
    ) -> Day<'a> {
        Day {
            u,
            rng: Rng::fork(seed, 2 + 1000 * stream),
            tag: date.format("%Y%m%d").to_string(),
            overnight_until,
            now: 0,
            venue_orders: [0; 3],
            venue_execs: [0; 3],
            events: Vec::new(),
        }
    }

    /// Generate order number `num` (1-based) starting at `start` (epoch microseconds).
    pub fn order(&mut self, num: u64, start: i64) {
        self.now = start;
        let scenario = MIX[self.rng.weighted(&MIX_WEIGHTS)].0;
        self.run(scenario, num);
    }

    // -- clock
    fn after(&mut self, us: i64) {
        self.now += us + self.rng.range(0, us / 4);
    }

    fn wait_ms(&mut self, lo: i64, hi: i64) {
        self.now += self.rng.range(lo * 1000, hi * 1000);
    }

    fn push(&mut self, row: Row) {
        self.events.push((self.now, row));
    }

    fn msg(
        &mut self,
        inbound: bool,
        peer: usize,
        from_firm: bool,
        msg_type: &'static str,
        body: Body,
    ) {
        self.push(Row::Fix(Msg {
            inbound,
            peer,
            from_firm,
            msg_type,
            body: body.0,
            raw: None,
            key: None,
            ref_key: None,
        }));
    }

    // -- draws
    fn draw_account(&mut self) -> usize {
        self.u.account_zipf.sample(&mut self.rng)
    }

    fn draw_symbol(&mut self) -> usize {
        self.u.symbol_zipf.sample(&mut self.rng)
    }

    fn draw_qty(&mut self) -> i64 {
        let shares = match self.rng.weighted(&[30, 50, 20]) {
            0 => self.rng.range(1, 9),
            1 => self.rng.range(1, 10) * 10,
            _ => self.rng.range(1, 10) * 100,
        };
        shares * SCALE
    }

    fn draw_side(&mut self) -> &'static str {
        match self.rng.weighted(&[55, 40, 5]) {
            0 => BUY,
            1 => SELL,
            _ => SELL_SHORT,
        }
    }

    /// A limit price near the symbol's reference price, on tick.
    fn limit_price(&mut self, symbol: usize, side: &str) -> i64 {
        let base = self.u.symbols[symbol].base_px;
        let ticks = if side == BUY {
            self.rng.range(-20, 5)
        } else {
            self.rng.range(-5, 20)
        };
        (base + ticks * TICK).max(TICK)
    }

    /// An execution price no worse than the limit (or near the reference for market orders).
    fn fill_price(&mut self, t: &Terms) -> i64 {
        let improve = self.rng.range(0, 3) * TICK;
        match t.price {
            Some(p) if t.side == BUY => (p - improve).max(TICK),
            Some(p) => p + improve,
            None => (self.u.symbols[t.symbol].base_px + self.rng.range(-5, 5) * TICK).max(TICK),
        }
    }

    fn draw_venue(&mut self) -> usize {
        if self.rng.chance(0.6) { NSDQ } else { ARCA }
    }

    // -- the order's client messages
    fn new_order(
        &mut self,
        num: u64,
        symbol: usize,
        side: &'static str,
        qty: i64,
        price: Option<i64>,
    ) -> Order {
        let account = self.draw_account();
        let client = self.u.client_of(account);
        let ord_type = if price.is_some() { LIMIT } else { MARKET };
        let t = Terms {
            symbol,
            side,
            qty,
            price,
            ord_type,
            cum: 0,
            notional: 0,
        };
        let mut o = Order {
            key: format!("{}-{num:08}", self.tag),
            tif: DAY,
            account,
            client,
            mleg: false,
            t,
            cl: String::new(),
            pending: Request {
                kind: "D",
                cl: String::new(),
                qty,
                price,
                out: None,
            },
            accepted: false,
            up: None,
            legs: Vec::new(),
            legs_reported: 0,
            n_cl: 0,
            n_route: 0,
            n_exec: 0,
        };
        o.new_request("D", qty, price);
        o.cl = o.pending.cl.clone();
        o
    }

    /// Client sends NewOrderSingle (D); `omit_side` leaves out tag 54 (an invalid message).
    fn client_new(&mut self, o: &Order, omit_side: bool) -> Body {
        let mut b = Body::new();
        b.s(11, &o.cl)
            .s(1, &self.u.account_name(o.account))
            .s(55, &self.u.symbols[o.t.symbol].name);
        if !omit_side {
            b.s(54, o.t.side);
        }
        b.d(38, o.t.qty as i128).s(40, o.t.ord_type);
        if let Some(p) = o.t.price {
            b.d(44, p as i128);
        }
        b.s(59, o.tif).transact_time();
        b
    }

    fn client_replace(&mut self, o: &mut Order, qty: i64, price: i64) {
        o.new_request("G", qty, Some(price));
        let mut b = Body::new();
        b.s(11, &o.pending.cl)
            .s(41, &o.cl)
            .s(1, &self.u.account_name(o.account));
        b.s(55, &self.u.symbols[o.t.symbol].name)
            .s(54, o.t.side)
            .d(38, qty as i128);
        b.s(40, o.t.ord_type)
            .d(44, price as i128)
            .s(59, o.tif)
            .transact_time();
        self.msg(true, o.client, false, "G", b);
    }

    fn client_cancel(&mut self, o: &mut Order) {
        o.new_request("F", o.t.qty, o.t.price);
        let mut b = Body::new();
        b.s(11, &o.pending.cl)
            .s(41, &o.cl)
            .s(55, &self.u.symbols[o.t.symbol].name);
        b.s(54, o.t.side).d(38, o.t.qty as i128).transact_time();
        self.msg(true, o.client, false, "F", b);
    }

    // -- OMS, RMS, EMS
    fn accept(&mut self, o: &mut Order) {
        self.after(OMS_US);
        if matches!(o.pending.kind, "D" | "AB") {
            o.accepted = true;
            self.push(Row::Order {
                order_id: o.order_id(),
                root: o.pending.cl.clone(),
                account: o.account,
                symbol: o.t.symbol,
                side: o.t.side,
                ord_type: o.t.ord_type,
                qty: o.t.qty,
                price: o.t.price,
            });
        }
        self.push(Row::IdMap {
            order_id: o.order_id(),
            in_cl: o.pending.cl.clone(),
            out: None,
            upstream: None,
        });
    }

    fn rms(&mut self, o: &Order, action: &'static str, reason: Option<&'static str>) {
        self.after(RMS_US);
        self.push(Row::Rms {
            order_id: o.order_id(),
            cl: o.pending.cl.clone(),
            action,
            reason,
        });
    }

    /// EMS routes the pending request: route row, id-map row, then D/G/F upstream.
    fn route(&mut self, o: &mut Order, upstream: Option<usize>, reroute: bool, leg: usize) {
        let upstream = upstream
            .or_else(|| o.up.as_ref().map(|u| u.upstream))
            .unwrap_or(NSDQ);
        let parent = if reroute {
            o.up.as_ref().map(|u| u.route_id.clone())
        } else {
            None
        };
        let (route_id, out) = o.next_route();
        self.after(EMS_US);
        self.push(Row::Route {
            route_id: route_id.clone(),
            order_id: o.order_id(),
            cl: o.pending.cl.clone(),
            out: out.clone(),
            upstream,
            parent,
            leg: leg as i32,
        });
        self.push(Row::IdMap {
            order_id: o.order_id(),
            in_cl: o.pending.cl.clone(),
            out: Some(out.clone()),
            upstream: Some(upstream),
        });
        self.after(SEND_US);
        let account = self.u.account_name(o.account);
        let mut b = Body::new();
        match o.pending.kind {
            "D" | "AB" => {
                let t = if leg > 0 {
                    let (a, bsym) = self.u.symbols[o.t.symbol].legs.unwrap_or((0, 1));
                    let (symbol, side) = if leg == 1 { (a, BUY) } else { (bsym, SELL) };
                    Terms {
                        symbol,
                        side,
                        qty: o.t.qty,
                        price: None,
                        ord_type: MARKET,
                        cum: 0,
                        notional: 0,
                    }
                } else {
                    Terms {
                        cum: 0,
                        notional: 0,
                        ..o.t.clone()
                    }
                };
                b.s(11, &out)
                    .s(1, &account)
                    .s(55, &self.u.symbols[t.symbol].name)
                    .s(54, t.side);
                b.d(38, t.qty as i128).s(40, t.ord_type);
                if let Some(p) = t.price {
                    b.d(44, p as i128);
                }
                b.s(59, o.tif).transact_time();
                let up = UpOrder {
                    upstream,
                    route_id,
                    out,
                    venue_id: "NONE".into(),
                    t,
                };
                if leg > 0 {
                    o.legs.push(up);
                } else {
                    o.up = Some(up);
                }
                self.msg(false, upstream, true, "D", b);
            }
            kind => {
                o.pending.out = Some(out.clone());
                let Some(up) = o.up.as_ref() else { return };
                b.s(11, &out).s(41, &up.out);
                if kind == "G" {
                    b.s(1, &account);
                }
                b.s(55, &self.u.symbols[up.t.symbol].name).s(54, up.t.side);
                if kind == "G" {
                    b.d(38, o.pending.qty as i128).s(40, up.t.ord_type);
                    b.d(44, o.pending.price.unwrap_or(0) as i128).s(59, o.tif);
                } else {
                    b.d(38, up.t.qty as i128);
                }
                b.transact_time();
                self.msg(
                    false,
                    upstream,
                    true,
                    if kind == "G" { "G" } else { "F" },
                    b,
                );
            }
        }
    }

    fn accept_and_route(&mut self, o: &mut Order, upstream: Option<usize>) {
        self.accept(o);
        self.rms(o, "PASS", None);
        self.route(o, upstream, false, 0);
    }

    // -- execution reports
    #[allow(clippy::too_many_arguments)]
    fn er_body(
        &self,
        order_id: &str,
        cl: &str,
        exec_id: &str,
        exec_type: &str,
        status: &str,
        t: &Terms,
        last: Option<(i64, i128)>,
        orig: Option<&str>,
    ) -> Body {
        let terminal = matches!(status, "2" | "4" | "8");
        let leaves = if terminal { 0 } else { t.qty - t.cum };
        let mut b = Body::new();
        b.s(37, order_id).s(11, cl);
        if let Some(orig) = orig {
            b.s(41, orig);
        }
        b.s(17, exec_id)
            .s(150, exec_type)
            .s(39, status)
            .s(55, &self.u.symbols[t.symbol].name);
        b.s(54, t.side).d(38, t.qty as i128);
        if t.ord_type == LIMIT {
            b.d(44, t.price.unwrap_or(0) as i128);
        }
        let (lq, lp) = last.unwrap_or((0, 0));
        b.d(32, lq as i128)
            .d(31, lp)
            .d(14, t.cum as i128)
            .d(151, leaves as i128);
        b.d(6, t.avg_px()).transact_time();
        b
    }

    fn venue_ids(&mut self, upstream: usize) -> (String, String) {
        self.venue_orders[upstream] += 1;
        let prefix = UPSTREAMS[upstream].2;
        (
            format!(
                "{prefix}{}{}",
                self.tag,
                700000 + self.venue_orders[upstream]
            ),
            self.venue_exec_id(upstream),
        )
    }

    fn venue_exec_id(&mut self, upstream: usize) -> String {
        self.venue_execs[upstream] += 1;
        format!(
            "{}X{}{}",
            UPSTREAMS[upstream].2,
            self.tag,
            900000 + self.venue_execs[upstream]
        )
    }

    /// Upstream answers for the single-leg order (`leg` None) or one leg.
    fn venue_ack(&mut self, o: &mut Order, leg: Option<usize>) {
        self.after(VENUE_US);
        let upstream = self.up(o, leg).upstream;
        let (venue_id, exec) = self.venue_ids(upstream);
        let up = self.up_mut(o, leg);
        up.venue_id = venue_id;
        let up = up.clone();
        let b = self.er_body(&up.venue_id, &up.out, &exec, "0", "0", &up.t, None, None);
        self.msg(false, up.upstream, false, "8", b);
    }

    fn venue_fill(&mut self, o: &mut Order, qty: i64, px: i64, leg: Option<usize>) {
        self.after(VENUE_US);
        let upstream = self.up(o, leg).upstream;
        let exec = self.venue_exec_id(upstream);
        let up = self.up_mut(o, leg);
        up.t.add_fill(qty, px);
        let up = up.clone();
        let status = up.t.fill_status();
        let b = self.er_body(
            &up.venue_id,
            &up.out,
            &exec,
            "F",
            status,
            &up.t,
            Some((qty, px as i128)),
            None,
        );
        self.msg(false, up.upstream, false, "8", b);
    }

    fn venue_reject(&mut self, o: &mut Order, text: &str) {
        self.after(VENUE_US);
        let up = self.up(o, None).clone();
        let exec = self.venue_exec_id(up.upstream);
        let mut b = self.er_body("NONE", &up.out, &exec, "8", "8", &up.t, None, None);
        b.s(58, text);
        self.msg(false, up.upstream, false, "8", b);
    }

    fn venue_replaced(&mut self, o: &mut Order) {
        self.after(VENUE_US);
        let (new_out, qty, price) = (
            o.pending.out.clone().unwrap_or_default(),
            o.pending.qty,
            o.pending.price,
        );
        let upstream = self.up(o, None).upstream;
        let exec = self.venue_exec_id(upstream);
        let up = self.up_mut(o, None);
        let orig = std::mem::replace(&mut up.out, new_out);
        up.t.qty = qty;
        up.t.price = price;
        let up = up.clone();
        let b = self.er_body(
            &up.venue_id,
            &up.out,
            &exec,
            "5",
            up.t.fill_status(),
            &up.t,
            None,
            Some(&orig),
        );
        self.msg(false, upstream, false, "8", b);
    }

    fn venue_canceled(&mut self, o: &mut Order) {
        self.after(VENUE_US);
        let new_out = o.pending.out.clone().unwrap_or_default();
        let upstream = self.up(o, None).upstream;
        let exec = self.venue_exec_id(upstream);
        let up = self.up_mut(o, None);
        let orig = std::mem::replace(&mut up.out, new_out);
        let up = up.clone();
        let b = self.er_body(
            &up.venue_id,
            &up.out,
            &exec,
            "4",
            "4",
            &up.t,
            None,
            Some(&orig),
        );
        self.msg(false, upstream, false, "8", b);
    }

    fn venue_cancel_reject(&mut self, o: &mut Order, text: &str) {
        self.after(VENUE_US);
        let up = self.up(o, None).clone();
        let mut b = Body::new();
        b.s(37, &up.venue_id)
            .s(11, o.pending.out.as_deref().unwrap_or(""))
            .s(41, &up.out);
        b.s(39, up.t.fill_status())
            .s(434, if o.pending.kind == "G" { "2" } else { "1" });
        b.s(102, "0").s(58, text);
        self.msg(false, up.upstream, false, "9", b);
    }

    fn up<'o>(&self, o: &'o Order, leg: Option<usize>) -> &'o UpOrder {
        match leg {
            Some(i) => &o.legs[i],
            None => match o.up.as_ref() {
                Some(up) => up,
                None => &o.legs[0],
            },
        }
    }

    fn up_mut<'o>(&self, o: &'o mut Order, leg: Option<usize>) -> &'o mut UpOrder {
        match leg {
            Some(i) => &mut o.legs[i],
            None => match o.up.as_mut() {
                Some(up) => up,
                None => &mut o.legs[0],
            },
        }
    }

    // -- reports to the client
    fn client_er(
        &mut self,
        o: &mut Order,
        exec_type: &str,
        status: &str,
        last: Option<(i64, i128)>,
        orig: Option<&str>,
        text: Option<&str>,
    ) -> String {
        let order_id = if o.accepted {
            o.order_id()
        } else {
            "NONE".to_string()
        };
        let exec = o.next_exec_id();
        let mut b = self.er_body(&order_id, &o.cl, &exec, exec_type, status, &o.t, last, orig);
        if o.mleg {
            b.s(442, "3");
        }
        if let Some(text) = text {
            b.s(58, text);
        }
        self.msg(true, o.client, true, "8", b);
        exec
    }

    fn client_ack(&mut self, o: &mut Order) {
        self.after(RELAY_US);
        self.client_er(o, "0", "0", None, None, None);
    }

    fn client_fill(&mut self, o: &mut Order, qty: i64, px: i64) {
        self.after(RELAY_US);
        o.t.add_fill(qty, px);
        let status = o.t.fill_status();
        let exec = self.client_er(o, "F", status, Some((qty, px as i128)), None, None);
        self.trade(
            o.account,
            exec,
            o.t.side,
            qty as i128 * px as i128 / SCALE as i128,
        );
    }

    /// The ledger TRADE row of a client fill, 1 ms after its report.
    fn trade(&mut self, account: usize, exec_id: String, side: &str, notional: i128) {
        let delta = if side == BUY { -notional } else { notional };
        self.events.push((
            self.now + 1000,
            Row::Trade {
                account,
                exec_id,
                delta,
            },
        ));
    }

    fn client_reject(&mut self, o: &mut Order, text: &str) {
        self.after(RELAY_US);
        self.client_er(o, "8", "8", None, None, Some(text));
    }

    fn client_replaced(&mut self, o: &mut Order) {
        self.after(RELAY_US);
        let orig = std::mem::replace(&mut o.cl, o.pending.cl.clone());
        o.t.qty = o.pending.qty;
        o.t.price = o.pending.price;
        let status = o.t.fill_status();
        self.client_er(o, "5", status, None, Some(&orig), None);
    }

    fn client_canceled(&mut self, o: &mut Order) {
        self.after(RELAY_US);
        let orig = std::mem::replace(&mut o.cl, o.pending.cl.clone());
        self.client_er(o, "4", "4", None, Some(&orig), None);
    }

    fn client_cancel_reject(&mut self, o: &mut Order, text: &str) {
        self.after(RELAY_US);
        let mut b = Body::new();
        b.s(37, &o.order_id())
            .s(11, &o.pending.cl)
            .s(41, &o.cl)
            .s(39, o.t.fill_status());
        b.s(434, if o.pending.kind == "G" { "2" } else { "1" })
            .s(102, "0")
            .s(58, text);
        self.msg(true, o.client, true, "9", b);
    }

    fn client_leg_fill(&mut self, o: &mut Order, leg: usize) {
        self.after(RELAY_US);
        o.legs_reported += 1;
        let status = if o.legs_reported == o.legs.len() {
            "2"
        } else {
            "1"
        };
        let lt = o.legs[leg].t.clone();
        let exec = o.next_exec_id();
        let mut b = self.er_body(
            &o.order_id(),
            &o.cl,
            &exec,
            "F",
            status,
            &lt,
            Some((lt.cum, lt.avg_px())),
            None,
        );
        b.s(442, "2");
        self.msg(true, o.client, true, "8", b);
        let notional = lt.cum as i128 * lt.avg_px() / SCALE as i128;
        self.trade(o.account, exec, lt.side, notional);
    }

    fn ack(&mut self, o: &mut Order) {
        self.venue_ack(o, None);
        self.client_ack(o);
    }

    fn fill(&mut self, o: &mut Order, qty: i64) {
        let px = self.fill_price(&self.up(o, None).t.clone());
        self.venue_fill(o, qty, px, None);
        self.client_fill(o, qty, px);
    }

    /// Fill what is left of the order in one to four executions.
    fn fill_rest(&mut self, o: &mut Order, max_parts: i64) {
        let mut left = (o.t.qty - o.t.cum) / SCALE;
        let frac = (o.t.qty - o.t.cum) % SCALE;
        let parts = self.rng.range(1, max_parts).min(left.max(1));
        for i in 0..parts {
            let shares = if i == parts - 1 {
                left
            } else {
                self.rng.range(1, left - (parts - 1 - i))
            };
            left -= shares;
            let qty = shares * SCALE + if i == parts - 1 { frac } else { 0 };
            if qty > 0 {
                self.fill(o, qty);
            }
            if i < parts - 1 {
                self.wait_ms(200, 20_000);
            }
        }
    }

    // -- scenarios
    fn run(&mut self, scenario: Scenario, num: u64) {
        match scenario {
            Scenario::MalformedFix => {
                let client = self.rng.range(0, self.u.clients as i64 - 1) as usize;
                let tag = &self.tag;
                let raw =
                    format!("8=FIX.4.4|9=5|35D|34={SEQ_HOLE}|11=BROKEN-{tag}-{num:08}|garbage");
                self.push(Row::Fix(Msg {
                    inbound: true,
                    peer: client,
                    from_firm: false,
                    msg_type: "",
                    body: String::new(),
                    raw: Some(raw),
                    key: Some(num),
                    ref_key: None,
                }));
                self.session_reject(client, num, None, None, "99", "Malformed message");
                return;
            }
            Scenario::MultiLeg => return self.multi_leg(num),
            Scenario::Fractional => return self.fractional(num),
            _ => {}
        }
        let symbol = self.draw_symbol();
        let side = self.draw_side();
        let qty = self.draw_qty();
        let price = self.limit_price(symbol, side);
        let mut o = self.new_order(num, symbol, side, qty, Some(price));
        match scenario {
            Scenario::SessionReject => {
                let b = self.client_new(&o, true);
                self.push(Row::Fix(Msg {
                    inbound: true,
                    peer: o.client,
                    from_firm: false,
                    msg_type: "D",
                    body: b.0,
                    raw: None,
                    key: Some(num),
                    ref_key: None,
                }));
                self.session_reject(
                    o.client,
                    num,
                    Some("54"),
                    Some("D"),
                    "1",
                    "Required tag missing",
                );
                return;
            }
            Scenario::InvalidRequest => {
                o.t.price = Some(0);
                let b = self.client_new(&o, false);
                self.msg(true, o.client, false, "D", b);
                self.client_reject(&mut o, "Invalid price");
                return;
            }
            _ => {}
        }
        // A post-market full fill may become a GTC order filled after midnight (only when the
        // next date is generated too; no draw otherwise, so a one-date day is unchanged).
        let overnight = match self.overnight_until {
            Some(midnight) if scenario == Scenario::FullFill => {
                self.now >= midnight - 3 * 3600 * US_PER_SEC && self.rng.chance(0.5)
            }
            _ => false,
        };
        if overnight {
            o.tif = GTC;
        }
        let b = self.client_new(&o, false);
        self.msg(true, o.client, false, "D", b);
        let venue = self.draw_venue();
        match scenario {
            Scenario::FullFill => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                match self.overnight_until {
                    Some(midnight) if overnight => {
                        // After midnight UTC, before the next date's opening ledger (08:00 UTC);
                        // some after midnight Eastern Time too (05:00 UTC).
                        self.now = midnight + self.rng.range(300, 7 * 3600) * US_PER_SEC;
                    }
                    _ => self.wait_ms(5, 5_000),
                }
                self.fill_rest(&mut o, 1);
            }
            Scenario::PartialFills => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                self.wait_ms(5, 5_000);
                self.fill_rest(&mut o, 4);
            }
            Scenario::Cancel => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                if o.t.qty >= 2 * SCALE && self.rng.chance(0.3) {
                    self.wait_ms(100, 10_000);
                    let part = self.rng.range(1, o.t.qty / SCALE - 1) * SCALE;
                    self.fill(&mut o, part);
                }
                self.wait_ms(1_000, 60_000);
                self.cancel(&mut o);
            }
            Scenario::CancelReplace => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                for _ in 0..self.rng.range(1, 2) {
                    self.wait_ms(500, 30_000);
                    let (qty, price) = if self.rng.chance(0.5) {
                        (
                            o.t.qty,
                            o.t.price.unwrap_or(TICK) + TICK * self.rng.range(1, 5),
                        )
                    } else {
                        (
                            o.t.qty + self.rng.range(1, 10) * SCALE,
                            o.t.price.unwrap_or(TICK),
                        )
                    };
                    self.client_replace(&mut o, qty, price);
                    self.accept_and_route(&mut o, None);
                    self.venue_replaced(&mut o);
                    self.client_replaced(&mut o);
                }
                self.wait_ms(100, 30_000);
                if self.rng.chance(0.5) && o.t.qty >= 2 * SCALE {
                    let part = self.rng.range(1, o.t.qty / SCALE - 1) * SCALE;
                    self.fill(&mut o, part);
                    self.wait_ms(1_000, 30_000);
                    self.cancel(&mut o);
                } else {
                    self.fill_rest(&mut o, 2);
                }
            }
            Scenario::ReplaceRejected => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                self.wait_ms(500, 5_000);
                let (qty, price) = (o.t.qty, o.t.price.unwrap_or(TICK) + TICK);
                self.client_replace(&mut o, qty, price);
                self.accept_and_route(&mut o, None);
                self.venue_cancel_reject(&mut o, "Too late to replace");
                self.client_cancel_reject(&mut o, "Too late to replace");
                self.wait_ms(100, 2_000);
                self.fill_rest(&mut o, 1);
            }
            Scenario::RmsReject => {
                self.accept(&mut o);
                self.rms(&o, "REJECT", Some("Insufficient buying power"));
                self.client_reject(&mut o, "Insufficient buying power");
            }
            Scenario::RmsHoldRelease => {
                self.accept(&mut o);
                self.rms(&o, "HOLD", Some("Manual review: large order"));
                self.wait_ms(30_000, 300_000);
                self.rms(&o, "RELEASE", None);
                self.route(&mut o, Some(venue), false, 0);
                self.ack(&mut o);
                self.wait_ms(100, 5_000);
                self.fill_rest(&mut o, 1);
            }
            Scenario::RmsHoldOpen => {
                self.accept(&mut o);
                self.rms(&o, "HOLD", Some("Manual review: large order"));
            }
            Scenario::NeverRouted => {
                self.accept(&mut o);
                self.rms(&o, "PASS", None);
                self.client_ack(&mut o);
            }
            Scenario::NoUpstreamResponse => {
                self.accept_and_route(&mut o, Some(venue));
            }
            Scenario::UpstreamReject => {
                self.accept_and_route(&mut o, Some(venue));
                self.venue_reject(&mut o, "Unknown symbol");
                self.client_reject(&mut o, "Unknown symbol");
            }
            Scenario::Reroute => {
                self.accept_and_route(&mut o, Some(venue));
                self.venue_reject(&mut o, "Venue unavailable");
                let other = if venue == NSDQ { ARCA } else { NSDQ };
                self.route(&mut o, Some(other), true, 0);
                self.ack(&mut o);
                self.wait_ms(100, 3_000);
                self.fill_rest(&mut o, 1);
            }
            Scenario::CancelAfterFill => {
                self.accept_and_route(&mut o, Some(venue));
                self.ack(&mut o);
                self.wait_ms(100, 3_000);
                self.fill_rest(&mut o, 1);
                self.wait_ms(500, 5_000);
                self.client_cancel(&mut o);
                self.accept(&mut o);
                self.client_cancel_reject(&mut o, "Too late to cancel");
            }
            _ => {}
        }
    }

    fn cancel(&mut self, o: &mut Order) {
        self.client_cancel(o);
        self.accept_and_route(o, None);
        self.venue_canceled(o);
        self.client_canceled(o);
    }

    /// Session-level Reject (35=3) of the client message remembered under `key`.
    fn session_reject(
        &mut self,
        client: usize,
        key: u64,
        ref_tag: Option<&str>,
        ref_type: Option<&str>,
        reason: &str,
        text: &str,
    ) {
        self.after(RELAY_US);
        let mut b = Body::new();
        b.ref_seq();
        if let Some(tag) = ref_tag {
            b.s(371, tag);
        }
        if let Some(t) = ref_type {
            b.s(372, t);
        }
        b.s(373, reason).s(58, text);
        self.push(Row::Fix(Msg {
            inbound: true,
            peer: client,
            from_firm: true,
            msg_type: "3",
            body: b.0,
            raw: None,
            key: None,
            ref_key: Some(key),
        }));
    }

    /// A two-leg strategy (buy leg 1, sell leg 2), market, one route per leg.
    fn multi_leg(&mut self, num: u64) {
        let pick = self.rng.range(0, self.u.strategies.len() as i64 - 1) as usize;
        let symbol = self.u.strategies[pick];
        let qty = self.rng.range(1, 10) * 10 * SCALE;
        let mut o = self.new_order(num, symbol, BUY, qty, None);
        o.mleg = true;
        o.pending.kind = "AB";
        let (a, b_leg) = self.u.symbols[symbol].legs.unwrap_or((0, 1));
        let mut b = Body::new();
        b.s(11, &o.cl)
            .s(1, &self.u.account_name(o.account))
            .s(55, &self.u.symbols[symbol].name);
        b.s(54, BUY)
            .d(38, qty as i128)
            .s(40, MARKET)
            .s(59, DAY)
            .transact_time()
            .n(555, 2);
        b.s(600, &self.u.symbols[a].name).s(624, BUY).n(623, 1);
        b.s(600, &self.u.symbols[b_leg].name).s(624, SELL).n(623, 1);
        self.msg(true, o.client, false, "AB", b);
        self.accept(&mut o);
        self.rms(&o, "PASS", None);
        self.route(&mut o, Some(NSDQ), false, 1);
        self.route(&mut o, Some(NSDQ), false, 2);
        self.venue_ack(&mut o, Some(0));
        self.venue_ack(&mut o, Some(1));
        self.client_ack(&mut o);
        self.wait_ms(100, 3_000);
        for leg in 0..2 {
            let t = o.legs[leg].t.clone();
            let px = self.fill_price(&t);
            self.venue_fill(&mut o, t.qty, px, Some(leg));
        }
        self.client_leg_fill(&mut o, 0);
        self.client_leg_fill(&mut o, 1);
    }

    /// A market order for a fraction of a share, to the internal fractional desk.
    fn fractional(&mut self, num: u64) {
        let pick = self.rng.range(0, self.u.fractional.len() as i64 - 1) as usize;
        let symbol = self.u.fractional[pick];
        // 0.01 .. 9.99 shares, never whole.
        let mut qty = self.rng.range(1, 999) * (SCALE / 100);
        if qty % SCALE == 0 {
            qty += SCALE / 2;
        }
        let side = if self.rng.chance(0.8) { BUY } else { SELL };
        let mut o = self.new_order(num, symbol, side, qty, None);
        let b = self.client_new(&o, false);
        self.msg(true, o.client, false, "D", b);
        self.accept_and_route(&mut o, Some(FRAC));
        self.ack(&mut o);
        self.wait_ms(10, 500);
        self.fill(&mut o, qty);
    }
}
