#!/usr/bin/env python3
"""Write the hand-made fixture trading day (2026-11-19) as CSV files.

One CSV per raw source table declared in sql/sources.sql, written to
data-fixtures/<db>/<table>.csv with a header row of the declared columns.

    python3 data-fixtures/make_fixtures.py

rewrites every CSV. The output is deterministic: no randomness, no wall clock.

Layout of this file: constants; value formatting; the Day object, whose
methods are the steps of an order's life (each step logs FIX messages and/or
table rows); one function per scenario (see README.md); main.

Ids, FIX sequence numbers and FIX text are filled in at the end (Day.tables),
once every row is known: ids count up with create_time per table, and
MsgSeqNum counts up with time per session and direction.
"""

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES_SQL = HERE.parent / "sql" / "sources.sql"

TRADE_DATE = "2026-11-19"

# Columns of each raw table in declaration order; main() checks them against sources.sql.
COLUMNS = {
    "inbound.fix_msg": ["id", "create_time", "sid", "direction", "fix"],
    "outbound.fix_msg": ["id", "create_time", "sid", "upstream", "direction", "fix"],
    "oms.orders": ["id", "create_time", "order_id", "root_cl_ord_id", "account_num", "corr",
                   "account_type", "symbol", "security_type", "side", "ord_type", "qty", "price"],
    "oms.rms_event": ["id", "create_time", "order_id", "cl_ord_id", "action", "reason"],
    "ems.route": ["id", "create_time", "route_id", "order_id", "cl_ord_id", "out_cl_ord_id",
                  "upstream", "parent_route_id", "leg_seq"],
    "idmap.id_map": ["id", "create_time", "order_id", "in_cl_ord_id", "out_cl_ord_id", "upstream"],
    "fund.ledger": ["id", "create_time", "account_num", "currency", "change_type", "ref_id",
                    "before_balance", "delta", "after_balance", "reason"],
    "refdata.symbol": ["id", "create_time", "symbol", "tick_size", "lot_size",
                       "fractional_allowed"],
}

# Tables whose rows may share a create_time (a refdata snapshot, the opening deposits);
# ties keep the order in which the rows were logged.
TIES_ALLOWED = {"fund.ledger", "refdata.symbol"}

FIRM = "BRKR"  # the firm's CompID on every session

# account -> (client CompID that trades it, correspondent, CAT accountHolderType)
ACCOUNTS = {
    "ACC-100": ("CLIENT1", "CORR1", "I"),
    "ACC-101": ("CLIENT1", "CORR1", "I"),
    "ACC-102": ("CLIENT2", "CORR2", "I"),
    "ACC-103": ("CLIENT2", "CORR2", "A"),
    "ACC-104": ("CLIENT3", "CORR3", "I"),
    "ACC-105": ("CLIENT3", "CORR3", "I"),
}
CLIENT_SESSIONS = {"CLIENT1": "CLI-ACME-01", "CLIENT2": "CLI-BETA-01", "CLIENT3": "CLI-GAMMA-01"}

# upstream -> (FIX session, prefix of the venue's order and exec ids)
UPSTREAMS = {
    "NSDQ": ("UP-NSDQ-01", "NQ"),
    "ARCA": ("UP-ARCA-01", "AX"),
    "FRAC": ("UP-FRAC-01", "FR"),  # the firm's internal fractional-share desk
    "BOAT": ("UP-BOAT-01", "BT"),  # overnight ATS
}

SECURITY_TYPES = {"AAPL": "CS", "MSFT": "CS", "TSLA": "CS", "NVDA": "CS", "SPY": "ETF"}

# refdata.symbol: symbol -> (tick_size, lot_size, fractional_allowed), one snapshot per date
SYMBOLS = {
    "AAPL": ("0.01", "1", 1),
    "MSFT": ("0.01", "1", 0),
    "SPY": ("0.01", "1", 0),
    "TSLA": ("0.01", "1", 1),
    "NVDA": ("0.01", "1", 0),
    "AAPL-MSFT": ("0.01", "1", 0),  # the multi-leg strategy
}

CURRENCY = "USD"
# Opening deposit per account on the clean day: large enough that no balance goes negative.
OPENING_DEPOSITS = {
    "ACC-100": 100000, "ACC-101": 100000, "ACC-102": 5000000,
    "ACC-103": 100000, "ACC-104": 100000, "ACC-105": 100000,
}

# FIX code values
BUY, SELL, SELL_SHORT = "1", "2", "5"                                   # 54 Side
MARKET, LIMIT = "1", "2"                                                # 40 OrdType
DAY, GTC = "0", "1"                                                     # 59 TimeInForce
ET_NEW, ET_CANCELED, ET_REPLACED, ET_REJECTED, ET_TRADE = "0", "4", "5", "8", "F"   # 150
NEW, PARTIAL, FILLED, CANCELED, REJECTED = "0", "1", "2", "4", "8"                  # 39
TERMINAL = (FILLED, CANCELED, REJECTED)

# Latencies between consecutive steps, in milliseconds.
OMS_MS = 0.412    # client message logged -> OMS accepts it
RMS_MS = 0.231    # OMS accept -> risk decision
EMS_MS = 0.845    # risk decision -> route created
SEND_MS = 0.318   # route created -> message sent upstream
VENUE_MS = 1.906  # previous step -> upstream answer logged
RELAY_MS = 0.527  # previous step -> report to the client logged


# ---------------------------------------------------------------- formatting

def dec(x):
    return Decimal(str(x))


def fmt_dec(d):
    """Plain decimal text without exponent or trailing zeros: 100, 10.1, 0.5."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def fmt_ts(t):
    """CSV timestamp: 2026-11-19T14:30:00.123456Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fix_ts(t):
    """FIX UTCTimestamp with milliseconds: 20261119-14:30:00.123."""
    return t.strftime("%Y%m%d-%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def fix_text(msg_type, sender, target, seq, sending_time, body):
    """A FIX 4.4 message with '|' as delimiter; 9 and 10 computed as if '|' were SOH."""
    fields = [(35, msg_type), (49, sender), (56, target), (34, seq), (52, fix_ts(sending_time))]
    rest = "".join(f"{tag}={value}|" for tag, value in fields + body)
    head = f"8=FIX.4.4|9={len(rest.encode())}|"
    checksum = sum((head + rest).replace("|", "\x01").encode()) % 256
    return f"{head}{rest}10={checksum:03d}|"


def csv_cell(v):
    if v is None:
        return ""  # NULL
    if isinstance(v, dt.datetime):
        return fmt_ts(v)
    if isinstance(v, Decimal):
        return fmt_dec(v)
    return str(v)


# ---------------------------------------------------------------- model

@dataclass
class Msg:
    """One logged FIX message; its text is rendered once sequence numbers are known."""
    table: str
    time: dt.datetime
    sid: str
    direction: str
    sender: str
    target: str
    msg_type: str          # None for an unparseable message
    body: list             # [(tag, value)]; a value may be a function, called at render time
    upstream: str = None   # outbound.fix_msg only
    raw: str = None        # verbatim text (malformed message); may contain {seq}
    seq: int = None

    def text(self):
        if self.raw is not None:
            return self.raw.format(seq=self.seq)
        body = []
        for tag, value in self.body:
            value = value() if callable(value) else value
            value = fmt_dec(value) if isinstance(value, Decimal) else str(value)
            assert "|" not in value and "\x01" not in value, (tag, value)
            body.append((tag, value))
        return fix_text(self.msg_type, self.sender, self.target, self.seq, self.time, body)


class Fills:
    """Quantity bookkeeping shared by client orders and upstream orders."""

    def add_fill(self, qty, px):
        self.cum += dec(qty)
        self.notional += dec(qty) * dec(px)

    def fill_status(self):
        return FILLED if self.cum >= self.qty else PARTIAL if self.cum > 0 else NEW

    def avg_px(self):
        return (self.notional / self.cum).quantize(Decimal("0.000001")) if self.cum else Decimal(0)


@dataclass
class Request:
    """One client request: new order (D/AB), replace (G) or cancel (F)."""
    kind: str
    cl: str                # client ClOrdID
    orig: str = None       # OrigClOrdID
    qty: Decimal = None    # terms requested by a replace
    price: Decimal = None
    out: str = None        # upstream ClOrdID once routed (G/F)


@dataclass
class UpOrder(Fills):
    """The firm's order at one upstream: one per route of a new order or of a leg."""
    upstream: str
    route_id: str
    out: str               # active upstream ClOrdID
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    ord_type: str
    tif: str
    venue_id: str = "NONE"  # the venue's OrderID (37), known once it acknowledges
    cum: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)


@dataclass
class Order(Fills):
    """A client order as the firm sees it."""
    num: int
    account: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    ord_type: str
    tif: str
    security_type: str
    leg_specs: list = field(default_factory=list)  # [(symbol, side, ratio)] for multi-leg
    cl: str = None           # active client ClOrdID
    pending: Request = None  # latest client request
    accepted: bool = False
    up: UpOrder = None       # current upstream order (single-leg)
    legs: list = field(default_factory=list)       # UpOrder per leg (multi-leg)
    legs_reported: int = 0
    last_in: Msg = None      # the client's latest message
    cum: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    n_cl: int = 0
    n_route: int = 0
    n_exec: int = 0

    @property
    def order_id(self):
        return f"ORD-{self.num:04d}"

    @property
    def client(self):
        return ACCOUNTS[self.account][0]

    def new_request(self, kind, cl=None, **terms):
        """cl overrides the generated client ClOrdID (to plant a malformed one)."""
        self.n_cl += 1
        self.pending = Request(kind, cl or f"C{self.num:04d}-{self.n_cl}", **terms)
        return self.pending

    def next_route(self):
        """(route_id, out ClOrdID) for the next route of this order."""
        self.n_route += 1
        return f"R{self.num:04d}-{self.n_route}", f"O{self.num:04d}-{self.n_route}"

    def next_exec_id(self):
        self.n_exec += 1
        return f"E{self.num:04d}-{self.n_exec}"


def er_body(now, order_id, cl, exec_id, exec_type, status, o,
            last_qty=0, last_px=0, orig=None, text=None, extra=()):
    """ExecutionReport body for order o (an Order, UpOrder or leg) after the event."""
    leaves = Decimal(0) if status in TERMINAL else o.qty - o.cum
    body = [(37, order_id), (11, cl)]
    if orig:
        body.append((41, orig))
    body += [(17, exec_id), (150, exec_type), (39, status), (55, o.symbol)]
    if o.side:
        body.append((54, o.side))
    body.append((38, o.qty))
    if o.ord_type == LIMIT:
        body.append((44, o.price))
    body += [(32, dec(last_qty)), (31, dec(last_px)), (14, o.cum), (151, leaves),
             (6, o.avg_px()), (60, fix_ts(now))]
    body += list(extra)
    if text:
        body.append((58, text))
    return body


# ---------------------------------------------------------------- the day

class Day:
    """Collects the rows of one trading day. Each method is one step and logs it."""

    def __init__(self, trade_date=TRADE_DATE):
        self.trade_date = trade_date
        self.now = None
        self.msgs = []
        self.rows = {table: [] for table in COLUMNS}
        self.venue_orders = {u: 0 for u in UPSTREAMS}  # per-venue id counters
        self.venue_execs = {u: 0 for u in UPSTREAMS}
        self.order_nums = set()

    # -- clock
    def at(self, hhmmss, date=None):
        self.now = dt.datetime.fromisoformat(f"{date or self.trade_date}T{hhmmss}")

    def wait(self, seconds):
        self.now += dt.timedelta(seconds=seconds)

    def _after(self, ms):
        self.now += dt.timedelta(microseconds=round(ms * 1000))

    # -- low-level logging
    def _row(self, table, **cols):
        self.rows[table].append(dict(create_time=self.now, **cols))

    def _client_msg(self, client, direction, msg_type, body, raw=None):
        sender, target = (client, FIRM) if direction == "recv" else (FIRM, client)
        msg = Msg("inbound.fix_msg", self.now, CLIENT_SESSIONS[client], direction,
                  sender, target, msg_type, body, raw=raw)
        self.msgs.append(msg)
        return msg

    def _venue_msg(self, upstream, direction, msg_type, body):
        sender, target = (FIRM, upstream) if direction == "send" else (upstream, FIRM)
        msg = Msg("outbound.fix_msg", self.now, UPSTREAMS[upstream][0], direction,
                  sender, target, msg_type, body, upstream=upstream)
        self.msgs.append(msg)
        return msg

    def _venue_order_id(self, upstream):
        self.venue_orders[upstream] += 1
        return f"{UPSTREAMS[upstream][1]}{700000 + self.venue_orders[upstream]}"

    def _venue_exec_id(self, upstream):
        self.venue_execs[upstream] += 1
        return f"{UPSTREAMS[upstream][1]}X{900000 + self.venue_execs[upstream]}"

    def _client_er(self, o, exec_type, status, last_qty=0, last_px=0, orig=None, text=None):
        order_id = o.order_id if o.accepted else "NONE"
        extra = [(442, "3")] if o.security_type == "MLEG" else []  # report on the whole strategy
        body = er_body(self.now, order_id, o.cl, o.next_exec_id(), exec_type, status, o,
                       last_qty, last_px, orig, text, extra)
        return self._client_msg(o.client, "send", "8", body)

    # -- client messages (logged at the current time: wait() before them)
    def client_new(self, num, account, symbol, side, qty, price=None, tif=DAY, omit=(), cl=None):
        """Client sends NewOrderSingle (D); a limit order when a price is given.
        omit: tags to leave out of the message (to make it invalid); cl: a ClOrdID to use
        instead of the generated one."""
        assert num not in self.order_nums
        self.order_nums.add(num)
        price = dec(price) if price is not None else None
        ord_type = LIMIT if price is not None else MARKET
        o = Order(num, account, symbol, side, dec(qty), price, ord_type, tif, SECURITY_TYPES[symbol])
        req = o.new_request("D", cl=cl)
        o.cl = req.cl
        body = [(11, req.cl), (1, account), (55, symbol), (54, side), (38, o.qty), (40, o.ord_type)]
        if price is not None:
            body.append((44, price))
        body += [(59, tif), (60, fix_ts(self.now))]
        o.last_in = self._client_msg(o.client, "recv", "D", [f for f in body if f[0] not in omit])
        return o

    def client_new_multileg(self, num, account, strategy, side, qty, legs):
        """Client sends NewOrderMultileg (AB), a market order; legs: [(symbol, side, ratio)]."""
        assert num not in self.order_nums
        self.order_nums.add(num)
        o = Order(num, account, strategy, side, dec(qty), None, MARKET, DAY, "MLEG", leg_specs=legs)
        req = o.new_request("AB")
        o.cl = req.cl
        body = [(11, req.cl), (1, account), (55, strategy), (54, side), (38, o.qty),
                (40, MARKET), (59, DAY), (60, fix_ts(self.now)), (555, len(legs))]
        for leg_symbol, leg_side, ratio in legs:
            body += [(600, leg_symbol), (624, leg_side), (623, ratio)]
        o.last_in = self._client_msg(o.client, "recv", "AB", body)
        return o

    def client_replace(self, o, qty=None, price=None):
        """Client sends OrderCancelReplaceRequest (G) on the active ClOrdID."""
        req = o.new_request("G", orig=o.cl, qty=dec(qty) if qty else o.qty,
                            price=dec(price) if price else o.price)
        body = [(11, req.cl), (41, req.orig), (1, o.account), (55, o.symbol), (54, o.side),
                (38, req.qty), (40, o.ord_type), (44, req.price), (59, o.tif),
                (60, fix_ts(self.now))]
        o.last_in = self._client_msg(o.client, "recv", "G", body)

    def client_cancel(self, o):
        """Client sends OrderCancelRequest (F) on the active ClOrdID."""
        req = o.new_request("F", orig=o.cl)
        body = [(11, req.cl), (41, req.orig), (55, o.symbol), (54, o.side), (38, o.qty),
                (60, fix_ts(self.now))]
        o.last_in = self._client_msg(o.client, "recv", "F", body)

    def client_garbage(self, client, raw):
        """Client sends text that is not valid FIX; {seq} in raw becomes its MsgSeqNum."""
        return self._client_msg(client, "recv", None, [], raw=raw)

    # -- inbound gateway
    def session_reject(self, ref, reason, text, ref_tag=None):
        """Gateway answers a client message ref with a session-level Reject (3)."""
        self._after(RELAY_MS)
        body = [(45, lambda: ref.seq)]
        if ref_tag:
            body.append((371, ref_tag))
        if ref.msg_type:
            body.append((372, ref.msg_type))
        body += [(373, reason), (58, text)]
        self._client_msg(ref.sender, "send", "3", body)

    # -- OMS, RMS, EMS
    def accept(self, o):
        """OMS accepts the pending request: order row (new orders only) and id-map row."""
        self._after(OMS_MS)
        req = o.pending
        if req.kind in ("D", "AB"):
            o.accepted = True
            _, corr, account_type = ACCOUNTS[o.account]
            self._row("oms.orders", order_id=o.order_id, root_cl_ord_id=req.cl,
                      account_num=o.account, corr=corr, account_type=account_type,
                      symbol=o.symbol, security_type=o.security_type, side=o.side,
                      ord_type=o.ord_type, qty=o.qty, price=o.price)
        self._row("idmap.id_map", order_id=o.order_id, in_cl_ord_id=req.cl,
                  out_cl_ord_id=None, upstream=None)

    def rms(self, o, action, reason=None):
        """Risk decision on the pending request: PASS, HOLD, RELEASE or REJECT."""
        self._after(RMS_MS)
        self._row("oms.rms_event", order_id=o.order_id, cl_ord_id=o.pending.cl,
                  action=action, reason=reason)

    def route(self, o, upstream=None, reroute=False, leg=0):
        """EMS routes the pending request: route row, id-map row, then D/G/F upstream.
        upstream defaults to the current one (replace/cancel); reroute links the new route
        to the previous one; leg (1..n) routes one leg of a multi-leg order."""
        req = o.pending
        upstream = upstream or o.up.upstream
        parent = o.up.route_id if reroute else None
        route_id, out = o.next_route()
        self._after(EMS_MS)
        self._row("ems.route", route_id=route_id, order_id=o.order_id, cl_ord_id=req.cl,
                  out_cl_ord_id=out, upstream=upstream, parent_route_id=parent, leg_seq=leg)
        self._row("idmap.id_map", order_id=o.order_id, in_cl_ord_id=req.cl,
                  out_cl_ord_id=out, upstream=upstream)
        self._after(SEND_MS)
        now = fix_ts(self.now)
        if req.kind in ("D", "AB"):
            if leg:
                symbol, side, ratio = o.leg_specs[leg - 1]
                up = UpOrder(upstream, route_id, out, symbol, side, o.qty * ratio, None,
                             MARKET, o.tif)
                o.legs.append(up)
            else:
                up = o.up = UpOrder(upstream, route_id, out, o.symbol, o.side, o.qty, o.price,
                                    o.ord_type, o.tif)
            body = [(11, out), (1, o.account), (55, up.symbol), (54, up.side), (38, up.qty),
                    (40, up.ord_type)]
            if up.ord_type == LIMIT:
                body.append((44, up.price))
            body += [(59, up.tif), (60, now)]
            self._venue_msg(upstream, "send", "D", body)
        elif req.kind == "G":
            req.out = out
            up = o.up
            body = [(11, out), (41, up.out), (1, o.account), (55, up.symbol), (54, up.side),
                    (38, req.qty), (40, up.ord_type), (44, req.price), (59, up.tif), (60, now)]
            self._venue_msg(upstream, "send", "G", body)
        elif req.kind == "F":
            req.out = out
            up = o.up
            body = [(11, out), (41, up.out), (55, up.symbol), (54, up.side), (38, up.qty),
                    (60, now)]
            self._venue_msg(upstream, "send", "F", body)

    def accept_and_route(self, o, upstream=None):
        """The normal path of a request: OMS accepts, RMS passes, EMS routes."""
        self.accept(o)
        self.rms(o, "PASS")
        self.route(o, upstream)

    # -- answers from the upstream (outbound recv)
    def venue_ack(self, o, up=None):
        up = up or o.up
        self._after(VENUE_MS)
        up.venue_id = self._venue_order_id(up.upstream)
        body = er_body(self.now, up.venue_id, up.out, self._venue_exec_id(up.upstream), ET_NEW,
                       NEW, up)
        self._venue_msg(up.upstream, "recv", "8", body)

    def venue_fill(self, o, qty, px, up=None):
        up = up or o.up
        self._after(VENUE_MS)
        up.add_fill(qty, px)
        body = er_body(self.now, up.venue_id, up.out, self._venue_exec_id(up.upstream), ET_TRADE,
                       up.fill_status(), up, qty, px)
        self._venue_msg(up.upstream, "recv", "8", body)

    def venue_reject(self, o, text):
        """The upstream rejects the new order (ExecutionReport 150=8)."""
        up = o.up
        self._after(VENUE_MS)
        body = er_body(self.now, "NONE", up.out, self._venue_exec_id(up.upstream), ET_REJECTED,
                       REJECTED, up, text=text)
        self._venue_msg(up.upstream, "recv", "8", body)

    def venue_replaced(self, o):
        req, up = o.pending, o.up
        self._after(VENUE_MS)
        orig, up.out, up.qty, up.price = up.out, req.out, req.qty, req.price
        body = er_body(self.now, up.venue_id, up.out, self._venue_exec_id(up.upstream),
                       ET_REPLACED, up.fill_status(), up, orig=orig)
        self._venue_msg(up.upstream, "recv", "8", body)

    def venue_canceled(self, o):
        req, up = o.pending, o.up
        self._after(VENUE_MS)
        orig, up.out = up.out, req.out
        body = er_body(self.now, up.venue_id, up.out, self._venue_exec_id(up.upstream),
                       ET_CANCELED, CANCELED, up, orig=orig)
        self._venue_msg(up.upstream, "recv", "8", body)

    def venue_cancel_reject(self, o, reason, text):
        """The upstream refuses the pending replace/cancel (OrderCancelReject 9)."""
        req, up = o.pending, o.up
        self._after(VENUE_MS)
        body = [(37, up.venue_id), (11, req.out), (41, up.out), (39, up.fill_status()),
                (434, "2" if req.kind == "G" else "1"), (102, reason), (58, text)]
        self._venue_msg(up.upstream, "recv", "9", body)

    # -- reports to the client (inbound send)
    def client_ack(self, o):
        self._after(RELAY_MS)
        self._client_er(o, ET_NEW, NEW)

    def client_fill(self, o, qty, px):
        self._after(RELAY_MS)
        o.add_fill(qty, px)
        self._client_er(o, ET_TRADE, o.fill_status(), qty, px)

    def client_reject(self, o, text):
        """The firm rejects the new order to the client (ExecutionReport 150=8)."""
        self._after(RELAY_MS)
        self._client_er(o, ET_REJECTED, REJECTED, text=text)

    def client_replaced(self, o):
        req = o.pending
        self._after(RELAY_MS)
        orig, o.cl, o.qty, o.price = o.cl, req.cl, req.qty, req.price
        self._client_er(o, ET_REPLACED, o.fill_status(), orig=orig)

    def client_canceled(self, o):
        req = o.pending
        self._after(RELAY_MS)
        orig, o.cl = o.cl, req.cl
        self._client_er(o, ET_CANCELED, CANCELED, orig=orig)

    def client_cancel_reject(self, o, reason, text):
        """The firm refuses the pending replace/cancel (OrderCancelReject 9)."""
        req = o.pending
        self._after(RELAY_MS)
        body = [(37, o.order_id), (11, req.cl), (41, o.cl), (39, o.fill_status()),
                (434, "2" if req.kind == "G" else "1"), (102, reason), (58, text)]
        self._client_msg(o.client, "send", "9", body)

    def client_leg_fill(self, o, leg):
        """Fill report of one leg of a multi-leg order (442=2); the last one fills the order."""
        self._after(RELAY_MS)
        o.legs_reported += 1
        status = FILLED if o.legs_reported == len(o.legs) else PARTIAL
        body = er_body(self.now, o.order_id, o.cl, o.next_exec_id(), ET_TRADE, status, leg,
                       leg.cum, leg.avg_px(), extra=[(442, "2")])
        self._client_msg(o.client, "send", "8", body)

    # -- both sides at once: the upstream answers, the firm relays to the client
    def ack(self, o):
        self.venue_ack(o)
        self.client_ack(o)

    def fill(self, o, qty, px):
        self.venue_fill(o, qty, px)
        self.client_fill(o, qty, px)

    def replaced(self, o):
        self.venue_replaced(o)
        self.client_replaced(o)

    def canceled(self, o):
        self.venue_canceled(o)
        self.client_canceled(o)

    # -- output
    def tables(self):
        """Every table's rows sorted by create_time, with ids, MsgSeqNums and FIX text."""
        msgs = sorted(self.msgs, key=lambda m: m.time)
        last_seq = {}
        for m in msgs:
            key = (m.sid, m.direction)
            m.seq = last_seq[key] = last_seq.get(key, 0) + 1
        rows = {table: list(table_rows) for table, table_rows in self.rows.items()}
        for m in msgs:
            row = dict(create_time=m.time, sid=m.sid, upstream=m.upstream, direction=m.direction,
                       fix=m.text())
            m.row = row  # the row gets its id below
            rows[m.table].append(row)
        for table, table_rows in rows.items():
            table_rows.sort(key=lambda r: r["create_time"])
            times = [r["create_time"] for r in table_rows]
            assert table in TIES_ALLOWED or len(set(times)) == len(times), \
                f"two {table} rows at the same time"
            for i, r in enumerate(table_rows, start=1):
                r["id"] = i
        return rows


# ---------------------------------------------------------------- fund ledger, reference data

def body_tags(msg):
    """The body of a logged message as {tag: text}; values computed at render time are left out."""
    return {tag: (fmt_dec(v) if isinstance(v, Decimal) else str(v))
            for tag, v in msg.body if not callable(v)}


def set_tag(msg, tag, value):
    """Replace the value of tag in a logged message's body (to plant a defect)."""
    idx = [i for i, (t, _) in enumerate(msg.body) if t == tag]
    assert len(idx) == 1, (tag, msg.body)
    msg.body[idx[0]] = (tag, value)


def drop_tag(msg, tag):
    """Remove tag from a logged message's body (to plant a defect)."""
    assert any(t == tag for t, _ in msg.body), (tag, msg.body)
    msg.body[:] = [(t, v) for t, v in msg.body if t != tag]


@dataclass
class ClientFill:
    """A fill reported to the client: an inbound send ExecutionReport with 150=F."""
    msg: Msg
    time: dt.datetime
    account: str
    order_id: str
    exec_id: str
    side: str
    qty: Decimal
    px: Decimal

    @property
    def notional(self):
        return self.qty * self.px

    @property
    def cash(self):
        """The fill's effect on the account's cash: a buy pays, a sell or short sell receives."""
        return -self.notional if self.side == BUY else self.notional


def client_fills(day):
    """Every fill reported to a client, in time order (multi-leg leg reports included)."""
    accounts = {r["order_id"]: r["account_num"] for r in day.rows["oms.orders"]}
    fills = []
    for m in sorted(day.msgs, key=lambda m: m.time):
        if m.table != "inbound.fix_msg" or m.direction != "send" or m.msg_type != "8":
            continue
        tags = body_tags(m)
        if tags.get(150) != ET_TRADE:
            continue
        fills.append(ClientFill(m, m.time, accounts[tags[37]], tags[37], tags[17], tags[54],
                                Decimal(tags[32]), Decimal(tags[31])))
    return fills


@dataclass
class Entry:
    """One change of an account's cash balance. The balances are computed by Ledger.rows()."""
    time: dt.datetime
    account: str
    change_type: str
    ref_id: str
    delta: Decimal
    reason: str
    currency: str = CURRENCY
    before: Decimal = None             # stated before_balance; None: the running balance
    after_error: Decimal = Decimal(0)  # stated after_balance - (before + delta)
    row: dict = None                   # the ledger row, once rendered


class Ledger:
    """fund.ledger of one day: entries in any order; rows() runs the balances in time order."""

    def __init__(self):
        self.entries = []

    def add(self, time, account, change_type, delta, reason, ref_id=None, **defect):
        entry = Entry(time, account, change_type, ref_id, dec(delta), reason, **defect)
        self.entries.append(entry)
        return entry

    def deposit(self, time, account, amount, reason="Opening deposit", **defect):
        return self.add(time, account, "DEPOSIT", dec(amount), reason, **defect)

    def withdraw(self, time, account, amount, reason="Client withdrawal", **defect):
        return self.add(time, account, "WITHDRAW", -dec(amount), reason, **defect)

    def transfer(self, time, ref_id, src, dst, amount, amount_in=None):
        """Two TRANSFER rows sharing ref_id: -amount on src, then (1 ms later) +amount on dst.
        amount_in: credit dst with a different amount (a defect)."""
        out = self.add(time, src, "TRANSFER", -dec(amount), f"Transfer to {dst}", ref_id)
        back = self.add(time + dt.timedelta(milliseconds=1), dst, "TRANSFER",
                        dec(amount_in if amount_in is not None else amount),
                        f"Transfer from {src}", ref_id)
        return out, back

    def trade(self, fill, delta_error=0):
        """The TRADE row of a client fill, 1 ms after its ExecutionReport.
        delta_error: added to the exact cash amount (a defect)."""
        return self.add(fill.time + dt.timedelta(milliseconds=1), fill.account, "TRADE",
                        fill.cash + dec(delta_error), f"Fill {fill.exec_id}", fill.exec_id)

    def rows(self):
        """Rows in time order (ties: in the order added) with before/after balances: before is
        the account's previous stated after (0 for its first row) unless an entry states it."""
        balance = {}
        rows = []
        for e in sorted(self.entries, key=lambda e: e.time):
            key = (e.account, e.currency)
            before = e.before if e.before is not None else balance.get(key, Decimal(0))
            after = before + e.delta + e.after_error
            balance[key] = after
            e.row = dict(create_time=e.time, account_num=e.account, currency=e.currency,
                         change_type=e.change_type, ref_id=e.ref_id, before_balance=before,
                         delta=e.delta, after_balance=after, reason=e.reason)
            rows.append(e.row)
        return rows


def check_ledger(rows, fills):
    """Assert the invariants of a clean ledger (rows in id order)."""
    last_after = {}
    transfers = {}
    trades = {}
    for r in rows:
        key = (r["account_num"], r["currency"])
        assert r["before_balance"] + r["delta"] == r["after_balance"], r
        assert r["before_balance"] == last_after.get(key, Decimal(0)), r
        assert r["after_balance"] >= 0, r
        assert r["reason"] is not None, r
        last_after[key] = r["after_balance"]
        if r["change_type"] == "TRANSFER":
            transfers.setdefault(r["ref_id"], []).append(r["delta"])
        if r["change_type"] == "TRADE":
            trades.setdefault((r["account_num"], r["ref_id"]), []).append(r)
    for ref_id, deltas in transfers.items():
        assert sum(deltas) == 0, (ref_id, deltas)
    assert len(trades) == len(fills), "TRADE rows without a client fill"
    for f in fills:
        trade_rows = trades.get((f.account, f.exec_id), [])
        assert len(trade_rows) == 1, (f.exec_id, trade_rows)
        assert abs(trade_rows[0]["delta"]) == f.notional, (f.exec_id, trade_rows[0])


def trade_dates(day):
    """Every date on which the day has a FIX message or a row."""
    times = [m.time for m in day.msgs]
    times += [r["create_time"] for rows in day.rows.values() for r in rows]
    return sorted({t.date() for t in times})


def symbol_rows(dates):
    """refdata.symbol: one snapshot of every symbol at 00:00 UTC of each date."""
    rows = []
    for date in dates:
        time = dt.datetime.combine(date, dt.time())
        for symbol, (tick, lot, fractional) in SYMBOLS.items():
            rows.append(dict(create_time=time, symbol=symbol, tick_size=dec(tick),
                             lot_size=dec(lot), fractional_allowed=fractional))
    return rows


def off_tick_or_lot(day):
    """(ClOrdID, tag, value) of every FIX price (44, 31) not a multiple of the symbol's tick and
    every quantity (38, 32) not a multiple of its lot (unless fractional), and of oms.orders."""
    bad = []

    def check(cl, symbol, tag, value):
        tick, lot, fractional = SYMBOLS[symbol]
        value = dec(value)
        if tag in (44, 31, "price") and value % dec(tick):
            bad.append((cl, tag, value))
        if tag in (38, 32, "qty") and not fractional and value % dec(lot):
            bad.append((cl, tag, value))

    for m in day.msgs:
        tags = body_tags(m)
        if 55 not in tags:
            continue
        for tag in (44, 31, 38, 32):
            if tag in tags:
                check(tags.get(11), tags[55], tag, tags[tag])
    for r in day.rows["oms.orders"]:
        check(r["root_cl_ord_id"], r["symbol"], "qty", r["qty"])
        if r["price"] is not None:
            check(r["root_cl_ord_id"], r["symbol"], "price", r["price"])
    return bad


def clean_ledger(day):
    """The clean day's ledger: opening deposits, one TRADE per client fill, a transfer and a
    withdrawal."""
    ledger = Ledger()
    opening = dt.datetime.fromisoformat(f"{day.trade_date}T12:00:00")
    for account in sorted({f.account for f in client_fills(day)}):
        ledger.deposit(opening, account, OPENING_DEPOSITS[account])
    for fill in client_fills(day):
        ledger.trade(fill)
    ledger.transfer(dt.datetime.fromisoformat(f"{day.trade_date}T21:00:00"), "TRF-0001",
                    "ACC-100", "ACC-101", 500)
    ledger.withdraw(dt.datetime.fromisoformat(f"{day.trade_date}T21:30:00"), "ACC-104", 1000)
    return ledger


# ---------------------------------------------------------------- scenarios
# One function per scenario; the number passed to client_new is the scenario number and
# names the order (ORD-0001), its client ClOrdIDs (C0001-1, ...), out ClOrdIDs (O0001-1, ...)
# and routes (R0001-1, ...).

def full_fill(day):
    """Limit buy, acknowledged, filled in one execution. Routed just before 15:00 and
    acknowledged just after, so the 14:30 window sees it waiting for the upstream's response
    (OUTBOUND_NOT_RECV_FIX_RSP) and the 15:00 window resolves it (NORMAL)."""
    day.at("14:59:59.118402")
    o = day.client_new(1, "ACC-100", "AAPL", BUY, 100, price="187.25")
    day.accept_and_route(o, "NSDQ")
    day.wait(1.5)
    day.ack(o)
    day.wait(4.2)
    day.fill(o, 100, "187.25")


def partial_fills(day):
    """Three fills, 30 + 30 + 40, fill the order."""
    day.at("14:45:10.552981")
    o = day.client_new(2, "ACC-101", "MSFT", BUY, 100, price="415.20")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(1.75)
    day.fill(o, 30, "415.10")
    day.wait(8.031)
    day.fill(o, 30, "415.12")
    day.wait(26.4)
    day.fill(o, 40, "415.15")  # filled, avg 415.126


def cancel(day):
    """Acknowledged, then cancelled by the client."""
    day.at("15:02:31.004217")
    o = day.client_new(3, "ACC-102", "SPY", SELL, 200, price="598.40")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(37.4)
    day.client_cancel(o)        # C0003-2, 41=C0003-1
    day.accept_and_route(o)     # outbound F O0003-2, 41=O0003-1
    day.canceled(o)


def cancel_replace_chain(day):
    """Replace the price, replace the qty, partial fill, cancel the rest."""
    day.at("15:20:05.902144")
    o = day.client_new(4, "ACC-103", "NVDA", BUY, 100, price="10.00")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(12.5)
    day.client_replace(o, price="10.10")   # C0004-2, 41=C0004-1
    day.accept_and_route(o)                # outbound G O0004-2, 41=O0004-1
    day.replaced(o)
    day.wait(20.8)
    day.client_replace(o, qty=200)         # C0004-3, 41=C0004-2
    day.accept_and_route(o)                # outbound G O0004-3, 41=O0004-2
    day.replaced(o)
    day.wait(45.3)
    day.fill(o, 50, "10.10")               # partial: cum 50, leaves 150
    day.wait(30.1)
    day.client_cancel(o)                   # C0004-4, 41=C0004-3
    day.accept_and_route(o)                # outbound F O0004-4, 41=O0004-3
    day.canceled(o)                        # cum 50, leaves 0


def replace_rejected(day):
    """The venue refuses a replace; the original order then fills."""
    day.at("15:41:17.330865")
    o = day.client_new(5, "ACC-104", "TSLA", BUY, 50, price="250.00")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(3.3)
    day.client_replace(o, price="250.50")  # C0005-2, 41=C0005-1
    day.accept_and_route(o)                # outbound G O0005-2, 41=O0005-1
    day.venue_cancel_reject(o, 0, "Too late to replace")
    day.client_cancel_reject(o, 0, "Too late to replace")
    day.wait(0.8)
    day.fill(o, 50, "250.00")              # the original order (C0005-1 / O0005-1) fills


def session_reject(day):
    """D without Side (54): session-level Reject, nothing reaches the OMS."""
    day.at("16:03:48.771530")
    o = day.client_new(6, "ACC-105", "AAPL", BUY, 10, price="187.00", omit=(54,))
    day.session_reject(o.last_in, 1, "Required tag missing", ref_tag=54)


def invalid_request(day):
    """Limit order priced 0: the gateway rejects it, nothing reaches the OMS."""
    day.at("16:10:22.240096")
    o = day.client_new(7, "ACC-100", "MSFT", BUY, 10, price="0")
    day.client_reject(o, "Invalid price")  # 37=NONE: never accepted


def rms_reject(day):
    """Accepted, rejected by risk, never routed."""
    day.at("16:25:09.615377")
    o = day.client_new(8, "ACC-101", "NVDA", BUY, 2000, price="181.50")
    day.accept(o)
    day.rms(o, "REJECT", "Insufficient buying power")
    day.client_reject(o, "Insufficient buying power")


def rms_hold_release(day):
    """Held by risk, released 4 minutes later (across the 17:00 window boundary: HOLD_BY_RMS
    in the 16:30 window, NORMAL from the 17:00 window), then routed and filled."""
    day.at("16:57:10.087712")
    o = day.client_new(9, "ACC-102", "SPY", BUY, 5000, price="598.10")
    day.accept(o)
    day.rms(o, "HOLD", "Manual review: large order")
    day.wait(240)
    day.rms(o, "RELEASE")
    day.route(o, "ARCA")
    day.ack(o)
    day.wait(2.6)
    day.fill(o, 5000, "598.05")


def rms_hold_open(day):
    """Held by risk at 20:40 and never released."""
    day.at("20:40:00.108352")
    o = day.client_new(10, "ACC-103", "NVDA", BUY, 10000, price="180.00")
    day.accept(o)
    day.rms(o, "HOLD", "Manual review: large order")  # never released


def never_routed(day):
    """Accepted, passed and acknowledged to the client, but never sent upstream."""
    day.at("17:15:40.436120")
    o = day.client_new(11, "ACC-104", "AAPL", SELL, 25, price="188.00")
    day.accept(o)
    day.rms(o, "PASS")
    day.client_ack(o)  # no route available: nothing goes upstream


def no_upstream_response(day):
    """Sent upstream; the venue never answers."""
    day.at("17:33:12.958604")
    o = day.client_new(12, "ACC-105", "MSFT", SELL_SHORT, 40, price="422.00")
    day.accept_and_route(o, "ARCA")  # ARCA never answers


def upstream_reject(day):
    """The venue rejects the order; the client gets a reject."""
    day.at("17:58:27.713049")
    o = day.client_new(13, "ACC-100", "TSLA", BUY, 10, price="251.00")
    day.accept_and_route(o, "NSDQ")
    day.venue_reject(o, "Unknown symbol")
    day.client_reject(o, "Unknown symbol")


def reroute(day):
    """NSDQ rejects; EMS reroutes to ARCA, which fills. The client sees ack + fill."""
    day.at("18:20:51.390277")
    o = day.client_new(14, "ACC-101", "AAPL", BUY, 60, price="187.50")
    day.accept_and_route(o, "NSDQ")         # R0014-1 / O0014-1
    day.venue_reject(o, "Venue unavailable")  # not relayed to the client
    day.route(o, "ARCA", reroute=True)      # R0014-2 (parent R0014-1) / O0014-2
    day.ack(o)
    day.wait(0.95)
    day.fill(o, 60, "187.48")


def multi_leg(day):
    """Two-leg strategy: one route and one upstream order per leg."""
    day.at("18:44:06.821530")
    o = day.client_new_multileg(15, "ACC-103", "AAPL-MSFT", BUY, 100,
                                legs=[("AAPL", BUY, 1), ("MSFT", SELL, 1)])
    day.accept(o)
    day.rms(o, "PASS")
    day.route(o, "NSDQ", leg=1)  # R0015-1 / O0015-1: buy 100 AAPL
    day.route(o, "NSDQ", leg=2)  # R0015-2 / O0015-2: sell 100 MSFT
    day.venue_ack(o, o.legs[0])
    day.venue_ack(o, o.legs[1])
    day.client_ack(o)
    day.wait(1.5)
    day.venue_fill(o, 100, "187.61", o.legs[0])
    day.venue_fill(o, 100, "421.87", o.legs[1])
    day.client_leg_fill(o, o.legs[0])
    day.client_leg_fill(o, o.legs[1])


def fractional(day):
    """Market buy of half a share on the internal fractional desk."""
    day.at("19:05:38.164093")
    o = day.client_new(16, "ACC-104", "TSLA", BUY, "0.5")  # market order
    day.accept_and_route(o, "FRAC")
    day.ack(o)
    day.wait(0.2)
    day.fill(o, "0.5", "251.37")


def overnight(day):
    """Overnight ATS order acknowledged before midnight, filled after it."""
    day.at("23:50:00.412907")
    o = day.client_new(17, "ACC-105", "NVDA", BUY, 20, price="181.00", tif=GTC)
    day.accept_and_route(o, "BOAT")
    day.ack(o)
    day.at("00:10:05.000000", date="2026-11-20")  # next day's partition
    day.fill(o, 20, "180.95")


def cancel_after_fill(day):
    """Filled, then a cancel arrives: refused by the firm, nothing upstream."""
    day.at("19:30:14.505831")
    o = day.client_new(18, "ACC-100", "SPY", BUY, 10, price="598.50")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(0.6)
    day.fill(o, 10, "598.47")
    day.wait(2.5)
    day.client_cancel(o)  # C0018-2, 41=C0018-1
    day.accept(o)         # id-map row only; nothing goes upstream
    day.client_cancel_reject(o, 0, "Too late to cancel")


def malformed_fix(day):
    """Unparseable message: session-level Reject, nothing else."""
    day.at("19:52:03.660418")
    bad = day.client_garbage("CLIENT2", "8=FIX.4.4|9=5|35D|34={seq}|11=BROKEN|garbage")
    day.session_reject(bad, 99, "Malformed message")


def premarket_limit(day):
    """Limit sell entered at 08:05 ET (pre-market), filled at 08:20 ET."""
    day.at("13:05:00.250331")
    o = day.client_new(20, "ACC-102", "AAPL", SELL, 30, price="186.90")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.at("13:20:00.093716")
    day.fill(o, 30, "186.90")


SCENARIOS = [
    full_fill, partial_fills, cancel, cancel_replace_chain, replace_rejected,
    session_reject, invalid_request, rms_reject, rms_hold_release, rms_hold_open,
    never_routed, no_upstream_response, upstream_reject, reroute, multi_leg,
    fractional, overnight, cancel_after_fill, malformed_fix, premarket_limit,
]


# ---------------------------------------------------------------- main

def check_columns():
    """Fail if COLUMNS no longer matches the tables declared in sql/sources.sql."""
    sql = SOURCES_SQL.read_text()
    declared = {
        name: re.findall(r"^\s*(\w+)\s", body, re.M)
        for name, body in re.findall(r"create table (\w+\.\w+)\s*\((.*?)\n\);", sql, re.S | re.I)
    }
    if declared != COLUMNS:
        raise SystemExit(f"COLUMNS differs from {SOURCES_SQL}:\n{declared}")


def write_csv(path, columns, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row[c]) for c in columns])


def write_day(tables, out_dir):
    """Write one CSV per table under out_dir/<db>/<table>.csv and print the row counts."""
    for table, rows in tables.items():
        db, name = table.split(".")
        path = out_dir / db / f"{name}.csv"
        write_csv(path, COLUMNS[table], rows)
        print(f"{path.relative_to(HERE.parent)}: {len(rows)} rows")


def build_day():
    """The clean fixture day: every scenario, then its ledger and symbol snapshots."""
    day = Day()
    for scenario in SCENARIOS:
        scenario(day)
    fills = client_fills(day)
    ledger = clean_ledger(day)
    day.rows["fund.ledger"] = ledger.rows()
    day.rows["refdata.symbol"] = symbol_rows(trade_dates(day))
    tables = day.tables()
    check_ledger(tables["fund.ledger"], fills)
    assert off_tick_or_lot(day) == [], off_tick_or_lot(day)
    return day, tables


def main():
    check_columns()
    _, tables = build_day()
    write_day(tables, HERE)


if __name__ == "__main__":
    main()
