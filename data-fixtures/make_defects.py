#!/usr/bin/env python3
"""Write the defects fixture day (Wednesday 2026-11-18) under data-fixtures/defects/.

    python3 data-fixtures/make_defects.py

Same layout and conventions as the clean day (make_fixtures.py, whose helpers this script
imports): one CSV per raw table declared in sql/sources.sql. The day holds a few clean orders
and one planted defect per data check, each on its own order (numbers 31 and up, so the ids
differ from the clean day's). defects/README.md lists the checks, the planted defects and the
keys each check must report; this script writes it too, with the generated ids filled in.

Before writing, the script runs its own reading of every check over the day and stops if any
check finds anything but its planted keys. Deterministic output: no randomness, no wall clock.
"""

import datetime as dt
import re
from decimal import Decimal

import make_fixtures as mf
from make_fixtures import (BUY, SELL, GTC, NEW, PARTIAL, ET_NEW, LIMIT,
                           DAY, Day, UpOrder, Ledger, body_tags, set_tag, drop_tag, dec, er_body,
                           fix_ts)

DATE = "2026-11-18"
OUT = mf.HERE / "defects"

# Venue id counters start here so venue OrderIDs/ExecIDs differ from the clean day's.
VENUE_ID_START = 300

CL_ORD_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # the required_fields rule


def last(day):
    """The message logged last."""
    return day.msgs[-1]


def retime(msg, time):
    """Move a logged message to another time (SendingTime follows; TransactTime too)."""
    msg.time = time
    if any(t == 60 for t, _ in msg.body):
        set_tag(msg, 60, fix_ts(time))


def t(hhmmss):
    return dt.datetime.fromisoformat(f"{DATE}T{hhmmss}")


# ---------------------------------------------------------------- orders
# Each function plants one defect (or is a clean order) and returns what the expected keys need.

def required_fields(day):
    """1: the new order's ClOrdID has a space; otherwise a normal fully filled order."""
    day.at("14:30:05.118402")
    o = day.client_new(31, "ACC-100", "AAPL", BUY, 100, price="187.25", cl="C0031 1")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(3.1)
    day.fill(o, 100, "187.25")
    return o


def sequencing(day):
    """2: the upstream fill is logged before the upstream ack of the same route."""
    day.at("14:41:12.402117")
    o = day.client_new(32, "ACC-101", "MSFT", BUY, 50, price="415.20")
    day.accept_and_route(o, "NSDQ")
    day.venue_ack(o)
    ack = last(day)
    day.venue_fill(o, 50, "415.20")
    fill = last(day)
    ack_time, fill_time = ack.time, fill.time
    retime(ack, fill_time)
    retime(fill, ack_time)  # the fill now comes first (lower id and MsgSeqNum)
    ack_exec, fill_exec = body_tags(ack)[17], body_tags(fill)[17]
    set_tag(ack, 17, fill_exec)  # venue ExecIDs still count up with time
    set_tag(fill, 17, ack_exec)
    day.client_ack(o)
    day.client_fill(o, 50, "415.20")
    return o


def fill_after_cancel(day):
    """3b: the upstream confirms the cancel, then reports a fill on the same out ClOrdID.
    The client is told only of the cancel."""
    day.at("14:52:40.771530")
    o = day.client_new(33, "ACC-102", "SPY", SELL, 200, price="598.40")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(20.3)
    day.client_cancel(o)      # C0033-2
    day.accept_and_route(o)   # outbound F O0033-2 (41=O0033-1)
    day.canceled(o)           # ARCA: 150=4 on O0033-2; client canceled
    day.wait(0.45)
    day.venue_fill(o, 100, "598.40")  # 150=F on O0033-2, not forwarded
    return o


def stray_ack(day):
    """3a: an upstream ack for an out ClOrdID the firm never sent (no id_map, no route)."""
    day.at("15:03:17.330865")
    up = UpOrder("NSDQ", None, "O0999-1", "AAPL", BUY, dec(100), dec("187.30"), LIMIT, DAY)
    up.venue_id = day._venue_order_id("NSDQ")
    body = er_body(day.now, up.venue_id, up.out, day._venue_exec_id("NSDQ"), ET_NEW, NEW, up)
    return day._venue_msg("NSDQ", "recv", "8", body)


def overfill_sum(day):
    """4a: qty 100; client fill reports 60 and 60 (cum 60, 120; leaves 40, 0).
    The upstream filled 60 and 40."""
    day.at("15:10:44.915230")
    o = day.client_new(34, "ACC-103", "NVDA", BUY, 100, price="181.50")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(1.2)
    day.venue_fill(o, 60, "181.50")
    day.client_fill(o, 60, "181.50")
    day.wait(2.7)
    day.venue_fill(o, 40, "181.50")
    day.client_fill(o, 60, "181.50")
    return o


def overfill_cum(day):
    """4b: client fills 30 and 30 reported with CumQty 30 and 70. GTC: still working at the
    end of the day, legitimately."""
    day.at("15:22:09.660418")
    o = day.client_new(35, "ACC-104", "TSLA", BUY, 100, price="250.00", tif=GTC)
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(0.9)
    day.fill(o, 30, "250.00")
    day.wait(4.4)
    day.fill(o, 30, "250.00")
    bad = last(day)
    set_tag(bad, 14, dec(70))   # CumQty: 70 instead of 60
    set_tag(bad, 151, dec(30))  # LeavesQty consistent with the stated cum
    return o, bad


def overfill_leaves(day):
    """4c: the client's new-order ack says LeavesQty 150 on an order of 100."""
    day.at("15:35:51.207734")
    o = day.client_new(36, "ACC-105", "MSFT", SELL, 100, price="421.90")
    day.accept_and_route(o, "ARCA")
    day.venue_ack(o)
    day.client_ack(o)
    bad = last(day)
    set_tag(bad, 151, dec(150))
    day.wait(6.3)
    day.fill(o, 100, "421.90")
    return o, bad


def orphan_id_map(day):
    """6: an id_map row for an order that does not exist."""
    day.at("15:48:30.118226")
    day._row("idmap.id_map", order_id="ORD-0999", in_cl_ord_id="C0999-1",
             out_cl_ord_id=None, upstream=None)


def backward_status(day):
    """7a: filled (39=2), then an order-status ER (150=I) says partially filled (39=1)."""
    day.at("16:02:14.552981")
    o = day.client_new(37, "ACC-100", "SPY", BUY, 10, price="598.50")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(0.7)
    day.fill(o, 10, "598.50")
    day.wait(5.0)
    day._client_er(o, "I", PARTIAL)  # LastQty 0, CumQty 10, LeavesQty 0
    return o


def open_day_order(day):
    """7b: a DAY limit order acked by the upstream and the client, then nothing more."""
    day.at("16:15:27.004217")
    o = day.client_new(38, "ACC-101", "NVDA", BUY, 100, price="175.00")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    return o


def duplicate_exec_id(day):
    """8: two orders (two accounts) whose client fills carry the same ExecID."""
    day.at("16:27:03.771530")
    a = day.client_new(39, "ACC-102", "AAPL", BUY, 20, price="187.40")
    day.accept_and_route(a, "ARCA")
    day.ack(a)
    day.wait(1.1)
    day.fill(a, 20, "187.40")
    exec_id = body_tags(last(day))[17]
    day.wait(12.6)
    b = day.client_new(40, "ACC-103", "AAPL", BUY, 20, price="187.40")
    day.accept_and_route(b, "NSDQ")
    day.ack(b)
    day.wait(1.3)
    day.fill(b, 20, "187.40")
    set_tag(last(day), 17, exec_id)
    return exec_id


def zero_last_px(day):
    """9: the upstream fill says LastPx 0; the client fill report carries the real price."""
    day.at("16:40:55.240096")
    o = day.client_new(41, "ACC-104", "MSFT", BUY, 40, price="415.00")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(2.2)
    day.venue_fill(o, 40, "415.00")
    bad = last(day)
    set_tag(bad, 31, dec(0))
    day.client_fill(o, 40, "415.00")
    return bad


def missing_exec_id(day):
    """9: the upstream fill has no ExecID (17)."""
    day.at("16:52:18.615377")
    o = day.client_new(42, "ACC-105", "SPY", SELL, 10, price="598.60")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(0.8)
    day.venue_fill(o, 10, "598.60")
    bad = last(day)
    drop_tag(bad, 17)
    day.client_fill(o, 10, "598.60")
    return bad


def off_tick(day):
    """15: limit price 187.253 (tick 0.01), filled at that price."""
    day.at("17:05:40.436120")
    o = day.client_new(43, "ACC-100", "AAPL", BUY, 100, price="187.253")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    day.wait(1.6)
    day.fill(o, 100, "187.253")
    return o


def trade_replay(day):
    """16: a normal fill; its ledger TRADE row is off by 1.00 (see the ledger below)."""
    day.at("17:18:12.958604")
    o = day.client_new(44, "ACC-102", "MSFT", SELL, 25, price="415.30")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(0.5)
    day.fill(o, 25, "415.30")
    return body_tags(last(day))[17]


def bounce(day):
    """17: one client request routed 5 times; four venue rejects, the fifth route fills."""
    day.at("17:31:27.713049")
    o = day.client_new(45, "ACC-103", "TSLA", BUY, 20, price="250.10")
    day.accept_and_route(o, "NSDQ")                  # R0045-1
    day.venue_reject(o, "Venue unavailable")
    for upstream in ("ARCA", "NSDQ", "ARCA"):        # R0045-2..4
        day.route(o, upstream, reroute=True)
        day.venue_reject(o, "Venue unavailable")
    day.route(o, "NSDQ", reroute=True)               # R0045-5
    day.ack(o)
    day.wait(0.9)
    day.fill(o, 20, "250.10")
    return o


# -- clean orders

def clean_full_fill(day):
    day.at("17:44:06.821530")
    o = day.client_new(46, "ACC-104", "NVDA", BUY, 50, price="181.20")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(3.4)
    day.fill(o, 50, "181.20")


def clean_partial_fills(day):
    day.at("18:05:38.164093")
    o = day.client_new(47, "ACC-105", "AAPL", BUY, 90, price="187.30")
    day.accept_and_route(o, "NSDQ")
    day.ack(o)
    for pause in (1.4, 7.9, 15.2):
        day.wait(pause)
        day.fill(o, 30, "187.30")


def clean_cancel(day):
    day.at("18:20:51.390277")
    o = day.client_new(48, "ACC-101", "SPY", SELL, 100, price="599.00")
    day.accept_and_route(o, "ARCA")
    day.ack(o)
    day.wait(41.5)
    day.client_cancel(o)
    day.accept_and_route(o)
    day.canceled(o)


def clean_reroute(day):
    day.at("18:44:06.087712")
    o = day.client_new(49, "ACC-100", "MSFT", BUY, 30, price="415.50")
    day.accept_and_route(o, "NSDQ")
    day.venue_reject(o, "Venue unavailable")
    day.route(o, "ARCA", reroute=True)
    day.ack(o)
    day.wait(1.05)
    day.fill(o, 30, "415.50")


def clean_upstream_reject(day):
    day.at("19:02:31.505831")
    o = day.client_new(50, "ACC-102", "TSLA", BUY, 10, price="251.00")
    day.accept_and_route(o, "NSDQ")
    day.venue_reject(o, "Price outside band")
    day.client_reject(o, "Price outside band")


# ---------------------------------------------------------------- ledger

OPENING = {"ACC-100": 100000, "ACC-101": 100000, "ACC-102": 100000,
           "ACC-103": 100000, "ACC-104": 100000, "ACC-105": 100000}


def defects_ledger(day, replay_exec_id):
    """Opening deposits, one TRADE per client fill, a clean transfer and withdrawal, and the
    planted ledger defects. Returns (ledger, {check: planted entry or entries})."""
    ledger = Ledger()
    for account, amount in OPENING.items():
        ledger.deposit(t("12:00:00"), account, amount)
    for fill in mf.client_fills(day):
        if fill.exec_id == replay_exec_id and fill.account == "ACC-102":
            replay = ledger.trade(fill, delta_error=1 if fill.side != BUY else -1)  # 16
        else:
            ledger.trade(fill)
    ledger.transfer(t("20:30:00"), "TRF-0031", "ACC-100", "ACC-101", 500)          # clean
    planted = {"trade_replay": replay}
    planted["fund_change_fields"] = ledger.deposit(t("20:35:00"), "ACC-101", 20000,
                                                   reason=None)                   # 10
    planted["fund_balance_arithmetic"] = ledger.withdraw(t("20:40:00"), "ACC-102", 2000,
                                                         after_error=dec("-0.01"))  # 11
    ledger.withdraw(t("20:50:00"), "ACC-102", 1000)       # clean; starts from the stated after
    planted["fund_running_balance"] = running = ledger.deposit(
        t("20:45:00"), "ACC-104", 1000, reason="Client deposit")                  # 13
    planted["fund_pool_balance"] = ledger.transfer(t("20:55:00"), "TRF-0032", "ACC-103",
                                                   "ACC-104", 500, amount_in=490)  # 14
    planted["fund_negative_balance"] = ledger.withdraw(t("21:00:00"), "ACC-105", 150000)  # 12
    return ledger, planted, running


def state_running_defect(ledger, running):
    """13: state before = the running balance + 100 (after = before + delta still holds)."""
    # The running balance at that row is known only once the earlier rows are run: run them.
    ledger.rows()
    running.before = running.row["before_balance"] + 100


# ---------------------------------------------------------------- the checks, as read here

def parse_fix(text):
    tags = {}
    for field in text.strip("|").split("|"):
        if "=" in field:
            tag, value = field.split("=", 1)
            tags.setdefault(int(tag), value)
    return tags


def fix_ok(text):
    """9 and 10 are right, as if every '|' were SOH."""
    m = re.match(r"^(8=[^|]*\|9=(\d+)\|)(.*)(10=(\d{3})\|)$", text)
    if not m:
        return False
    head, length, rest, _, checksum = m.groups()
    if int(length) != len(rest.encode()):
        return False
    return int(checksum) == sum((head + rest).replace("|", "\x01").encode()) % 256


def run_checks(tables):
    """{check: set of failing keys}, by this script's reading of the checks."""
    def msgs(table, direction):
        return [(r, parse_fix(r["fix"])) for r in tables[table] if r["direction"] == direction]

    in_recv, in_send = msgs("inbound.fix_msg", "recv"), msgs("inbound.fix_msg", "send")
    out_recv = msgs("outbound.fix_msg", "recv")
    orders = {r["order_id"]: r for r in tables["oms.orders"]}
    idmap = tables["idmap.id_map"]
    out_to_order = {r["out_cl_ord_id"]: r["order_id"] for r in idmap if r["out_cl_ord_id"]}
    out_to_in = {r["out_cl_ord_id"]: r["in_cl_ord_id"] for r in idmap if r["out_cl_ord_id"]}
    client_ers = [(r, m) for r, m in in_send if m.get(35) == "8"]
    client_fills = [(r, m) for r, m in client_ers if m.get(150) == "F"]
    res = {}

    res["required_fields"] = {m.get(11) for r, m in in_recv
                              if m.get(35) == "D" and not CL_ORD_ID_RE.match(m.get(11, ""))}

    seq = set()
    by_out = {}
    for r, m in out_recv:
        if m.get(35) == "8":
            by_out.setdefault(m[11], []).append((r, m))
    for out, ers in by_out.items():
        acks = [r["create_time"] for r, m in ers if m[150] == "0"]
        fills = [r["create_time"] for r, m in ers if m[150] == "F"]
        if acks and fills and min(fills) < min(acks):
            seq.add(out_to_order[out])
    res["sequencing"] = seq

    sov = {out for out in by_out if out not in out_to_order}
    for out, ers in by_out.items():
        cancels = [r["create_time"] for r, m in ers if m[150] == "4"]
        if cancels and any(r["create_time"] > min(cancels) for r, m in ers if m[150] == "F"):
            sov.add(out)
    res["source_order_validity"] = sov

    over = set()
    per_order = {}
    for r, m in client_fills:
        running = per_order[m[37]] = per_order.get(m[37], Decimal(0)) + Decimal(m[32])
        if running > orders[m[37]]["qty"]:
            over.add(m[37])
        if Decimal(m[14]) != running:
            over.add(m[17])
    for r, m in client_ers:
        if m[37] in orders and Decimal(m[151]) > orders[m[37]]["qty"]:
            over.add(m[17])
    res["overfill"] = over

    ref = {r["order_id"] for r in idmap if r["order_id"] not in orders}
    ref |= {r["order_id"] for r in tables["ems.route"] + tables["oms.rms_event"]
            if r["order_id"] not in orders}
    res["referential_integrity"] = ref

    rank = {"0": 0, "1": 1, "2": 2, "4": 3, "8": 3}
    last_status, st = {}, set()
    for r, m in client_ers:
        if m[37] == "NONE":
            continue
        prev = last_status.get(m[37])
        if prev is not None and (rank[m[39]] < rank[prev] or (rank[prev] == 3 and m[39] != prev)
                                 or (prev == "2" and m[39] != "2")):
            st.add(m[37])
        last_status[m[37]] = m[39]
    tif = {m[11]: m.get(59) for r, m in in_recv if m.get(35) == "D"}
    for order_id, status in last_status.items():
        if status in ("0", "1") and tif[orders[order_id]["root_cl_ord_id"]] == DAY:
            st.add(order_id)
    res["state_transitions"] = st

    seen, dup = set(), set()
    for r, m in client_ers:
        (dup if m[17] in seen else seen).add(m[17])
    up_ids = [m[17] for r, m in out_recv if 17 in m]
    dup |= {x for x in up_ids if up_ids.count(x) > 1}
    res["duplicates"] = dup

    res["anomalies"] = {f"outbound:{r['id']}" for r, m in out_recv
                        if m.get(150) == "F" and (17 not in m or Decimal(m[31]) == 0)}

    ledger = tables["fund.ledger"]
    res["fund_change_fields"] = {r["id"] for r in ledger if r["reason"] is None}
    res["fund_balance_arithmetic"] = {r["id"] for r in ledger
                                      if r["before_balance"] + r["delta"] != r["after_balance"]}
    res["fund_negative_balance"] = {r["id"] for r in ledger if r["after_balance"] < 0}
    prev, run = {}, set()
    for r in sorted(ledger, key=lambda r: (r["create_time"], r["id"])):
        key = (r["account_num"], r["currency"])
        if r["before_balance"] != prev.get(key, Decimal(0)):
            run.add(r["id"])
        prev[key] = r["after_balance"]
    res["fund_running_balance"] = run
    pools = {}
    for r in ledger:
        if r["change_type"] == "TRANSFER":
            pools[r["ref_id"]] = pools.get(r["ref_id"], Decimal(0)) + r["delta"]
    res["fund_pool_balance"] = {k for k, v in pools.items() if v != 0}

    symbols = {r["symbol"]: r for r in tables["refdata.symbol"]}
    tick = set()

    def check(cl, symbol, price=None, qty=None):
        s = symbols[symbol]
        if price is not None and Decimal(price) % s["tick_size"]:
            tick.add(cl)
        if qty is not None and not s["fractional_allowed"] and Decimal(qty) % s["lot_size"]:
            tick.add(cl)
    for r in tables["oms.orders"]:
        check(r["root_cl_ord_id"], r["symbol"], r["price"], r["qty"])
    for table, direction in (("inbound.fix_msg", "recv"), ("inbound.fix_msg", "send"),
                             ("outbound.fix_msg", "send"), ("outbound.fix_msg", "recv")):
        for r, m in msgs(table, direction):
            if 55 in m:
                cl = m.get(11)
                if table == "outbound.fix_msg":
                    cl = out_to_in.get(cl, cl)
                for ptag, qtag in ((44, 38), (31, 32)):
                    check(cl, m[55], m.get(ptag), m.get(qtag))
    res["tick_lot_size"] = tick

    accounts = {o: r["account_num"] for o, r in orders.items()}
    trades = {}
    for r in ledger:
        if r["change_type"] == "TRADE":
            trades.setdefault((r["account_num"], r["ref_id"]), []).append(r)
    replay = set()
    for r, m in client_fills:
        rows = trades.get((accounts[m[37]], m[17]), [])
        if len(rows) != 1 or abs(rows[0]["delta"]) != Decimal(m[32]) * Decimal(m[31]):
            replay.add(m[17])
    fill_keys = {(accounts[m[37]], m[17]) for r, m in client_fills}
    replay |= {ref for (acct, ref) in trades if (acct, ref) not in fill_keys}
    res["trade_replay"] = replay

    routes = {}
    for r in tables["ems.route"]:
        routes.setdefault((r["order_id"], r["cl_ord_id"]), []).append(r)
    res["bounce_limit"] = {o for (o, cl), rs in routes.items() if len(rs) > 3}
    return res


# ---------------------------------------------------------------- main

def build():
    """The defects day: (tables, rows of the README table)."""
    day = Day(trade_date=DATE)
    day.venue_orders = {u: VENUE_ID_START for u in mf.UPSTREAMS}
    day.venue_execs = {u: VENUE_ID_START for u in mf.UPSTREAMS}
    o31 = required_fields(day)
    o32 = sequencing(day)
    o33 = fill_after_cancel(day)
    late_fill = last(day)
    stray = stray_ack(day)
    o34 = overfill_sum(day)
    o35, bad_cum = overfill_cum(day)
    o36, bad_leaves = overfill_leaves(day)
    orphan_id_map(day)
    o37 = backward_status(day)
    o38 = open_day_order(day)
    dup_exec_id = duplicate_exec_id(day)
    zero_px = zero_last_px(day)
    no_exec_id = missing_exec_id(day)
    o43 = off_tick(day)
    replay_exec_id = trade_replay(day)
    o45 = bounce(day)
    for clean in (clean_full_fill, clean_partial_fills, clean_cancel, clean_reroute,
                  clean_upstream_reject):
        clean(day)

    ledger, planted, running = defects_ledger(day, replay_exec_id)
    state_running_defect(ledger, running)
    day.rows["fund.ledger"] = ledger.rows()
    day.rows["refdata.symbol"] = mf.symbol_rows(mf.trade_dates(day))
    tables = day.tables()

    def lid(check):
        return planted[check].row["id"]

    out = lambda m: f"outbound:{m.row['id']}"
    trf_out, trf_in = planted["fund_pool_balance"]
    arith = planted["fund_balance_arithmetic"].row
    running_row = running.row
    negative = planted["fund_negative_balance"].row
    replay = planted["trade_replay"].row
    # (check, planted defect, order / ids, expected failing keys)
    plan = [
        ("required_fields",
         "client D with ClOrdID `C0031 1` (a space); otherwise a normal full fill",
         f"{o31.order_id}, ACC-100, inbound id {o31.last_in.row['id']}", {o31.cl}),
        ("sequencing",
         "upstream fill (150=F) logged 1.906 ms before the upstream ack (150=0) of the same "
         "route O0032-1 (times swapped; ids, MsgSeqNums and venue ExecIDs follow time)",
         f"{o32.order_id}, R0032-1 / O0032-1", {o32.order_id}),
        ("source_order_validity",
         "(a) stray upstream ack (150=0) for `O0999-1`, which the firm never sent (no id_map, "
         "no route); (b) ARCA confirms the cancel (150=4, 11=O0033-2) and then sends a fill "
         "100 @598.40 on O0033-2; the client is told only of the cancel (no client fill, no "
         "ledger row)",
         f"(a) outbound id {stray.row['id']}; (b) {o33.order_id}, cancel C0033-2 / "
         f"{o33.up.out}, late fill outbound id {late_fill.row['id']}",
         {"O0999-1", o33.up.out}),
        ("overfill",
         "(a) qty 100, client fills 60 + 60 (cum 60, 120; leaves 40, 0); the upstream filled "
         "60 + 40; (b) client fills 30 + 30 reported with CumQty 30, then 70 (LeavesQty 30); "
         "GTC, so still working at the end of the day; (c) client new-order ack with "
         "LeavesQty 150 on qty 100, then a normal fill",
         f"(a) {o34.order_id}; (b) {o35.order_id}, ER {body_tags(bad_cum)[17]} (inbound id "
         f"{bad_cum.row['id']}); (c) {o36.order_id}, ER {body_tags(bad_leaves)[17]} (inbound "
         f"id {bad_leaves.row['id']})",
         {o34.order_id, body_tags(bad_cum)[17], body_tags(bad_leaves)[17]}),
        ("totals",
         "`recon.csv` beside this README (hand-written: the external reconciliation totals, "
         "passed with `--recon`) says turnover 227013.81; the day's fills total 227013.80",
         "recon.csv", {"turnover"}),
        ("referential_integrity",
         "id_map row `C0999-1` -> `ORD-0999`; ORD-0999 has no oms.orders row and no messages",
         f"id_map id {[r for r in tables['idmap.id_map'] if r['order_id'] == 'ORD-0999'][0]['id']}",
         {"ORD-0999"}),
        ("state_transitions",
         "(a) client ERs go 39=2 (fill, cum 10 = qty) and then, 5 s later, 150=I 39=1 "
         "(LastQty 0, cum 10, leaves 0); (b) DAY limit buy 100 NVDA @175.00 acked by NSDQ and "
         "the client, then nothing more",
         f"(a) {o37.order_id}; (b) {o38.order_id}", {o37.order_id, o38.order_id}),
        ("duplicates",
         f"the client fill of ORD-0040 (ACC-103) carries ExecID {dup_exec_id}, already used by "
         "the client fill of ORD-0039 (ACC-102); same qty and price; one TRADE row each, both "
         f"with ref_id {dup_exec_id}",
         "ORD-0039, ORD-0040", {dup_exec_id}),
        ("anomalies",
         "upstream fill with LastPx 0 (31=0; the client report has 415.00); upstream fill "
         "without ExecID (no 17)",
         f"ORD-0041 ({out(zero_px)}), ORD-0042 ({out(no_exec_id)})",
         {out(zero_px), out(no_exec_id)}),
        ("fund_change_fields", "DEPOSIT of 20000 with reason NULL",
         f"ledger id {lid('fund_change_fields')}, ACC-101", {lid("fund_change_fields")}),
        ("fund_balance_arithmetic",
         f"WITHDRAW 2000: before {mf.fmt_dec(arith['before_balance'])} + delta "
         f"{mf.fmt_dec(arith['delta'])} = {mf.fmt_dec(arith['before_balance'] + arith['delta'])}"
         f" but after {mf.fmt_dec(arith['after_balance'])} (0.01 short); the next ACC-102 row "
         "starts from the stated after",
         f"ledger id {arith['id']}, ACC-102", {arith["id"]}),
        ("fund_negative_balance",
         f"WITHDRAW 150000 leaves after {mf.fmt_dec(negative['after_balance'])} (the last "
         "ACC-105 row of the day)",
         f"ledger id {negative['id']}, ACC-105", {negative["id"]}),
        ("fund_running_balance",
         f"DEPOSIT 1000 with before {mf.fmt_dec(running_row['before_balance'])}, 100 more than "
         "the previous ACC-104 after; before + delta = after holds",
         f"ledger id {running_row['id']}, ACC-104", {running_row["id"]}),
        ("fund_pool_balance",
         f"TRANSFER {trf_out.ref_id}: -500 on ACC-103, +490 on ACC-104 (each row "
         "arithmetic- and running-correct)",
         f"ledger ids {trf_out.row['id']}, {trf_in.row['id']}", {trf_out.ref_id}),
        ("tick_lot_size",
         "limit buy 100 AAPL @187.253 (tick 0.01), filled 100 @187.253",
         f"{o43.order_id}", {o43.cl}),
        ("trade_replay",
         f"client fill 25 MSFT @415.30 (sell, 10382.5); its TRADE row has delta "
         f"{mf.fmt_dec(replay['delta'])}",
         f"ORD-0044, ledger id {replay['id']}", {replay_exec_id}),
        ("bounce_limit",
         "one client request, five routes R0045-1..5 (parents chained, NSDQ/ARCA "
         "alternating); the first four rejected (150=8 \"Venue unavailable\"), the fifth "
         "acked and filled 20 @250.10; the client sees only the ack and the fill",
         f"{o45.order_id}, C0045-1", {o45.order_id}),
    ]
    expected = {check: keys for check, _, _, keys in plan if check != "totals"}
    found = run_checks(tables)
    assert set(found) == set(expected)
    for check, keys in expected.items():
        assert found[check] == keys, (check, found[check], keys)
    assert all(r["create_time"].date().isoformat() == DATE
               for rows in tables.values() for r in rows), "a row off the trade date"
    for table in ("inbound.fix_msg", "outbound.fix_msg"):
        for r in tables[table]:
            assert fix_ok(r["fix"]), r
    return tables, plan


def main():
    mf.check_columns()
    tables, plan = build()
    mf.write_day(tables, OUT)
    (OUT / "README.md").write_text(readme(tables, plan), encoding="utf-8")


def readme(tables, plan):
    """defects/README.md, with the generated ids filled in."""
    counts = "\n".join(
        f"| `{t.split('.')[0]}/{t.split('.')[1]}.csv` | {t} | {len(rows)} |"
        for t, rows in tables.items())

    def cell(text):
        return str(text).replace("|", "\\|")

    table = "\n".join(
        f"| {check} | {cell(defect)} | {cell(ids)} | "
        f"{', '.join(f'`{k}`' for k in sorted(keys, key=str)) or '—'} |"
        for check, defect, ids, keys in plan)
    return README_TEMPLATE.format(counts=counts, table=table)


README_TEMPLATE = """\
# Fixture day with planted defects: 2026-11-18

A second hand-made trading day (Wednesday 2026-11-18) for the data checks. Same layout and
conventions as the clean day in `data-fixtures/` (see `../README.md`): one CSV per raw table
declared in `sql/sources.sql`, every row on 2026-11-18. It holds a few clean orders and one
planted defect per check, each on its own order (or ledger row), so that every check fails on
exactly the keys below and on nothing else. Orders are numbered from 31 (`ORD-0031`,
`C0031-1`, `O0031-1`, `R0031-1`, `E0031-1`), venue ids from 700301 / 900301, so no id repeats
the clean day's.

This file is written by the script, with the generated ids filled in; do not edit it by hand.

| file | table | rows |
| --- | --- | --- |
{counts}

## Regenerating

    python3 data-fixtures/make_defects.py

Python 3 standard library only; it imports the helpers of `make_fixtures.py`, rewrites every
CSV here and this README, and gives the same bytes on every run. Before writing, it runs its own
reading of each check (`run_checks`) over the day and stops unless every check finds exactly
the keys in the table below; it also checks FIX 9 and 10 on every message.

## Planted defects

Keys: order ids, ClOrdIDs and ExecIDs as in the data; `outbound:<id>` is the id of the
outbound.fix_msg row; ledger defects are keyed by the fund.ledger `id` (TRANSFER pairs by
`ref_id`).

| check | planted defect | order / ids | expected failing key(s) |
| --- | --- | --- | --- |
{table}

## Clean rest of the day

- Clean orders: ORD-0046 full fill (ACC-104, 50 NVDA @181.20, ARCA), ORD-0047 three fills of
  30 AAPL @187.30 (ACC-105, NSDQ), ORD-0048 sell 100 SPY @599.00 cancelled (ACC-101, ARCA),
  ORD-0049 one reroute NSDQ -> ARCA then filled (ACC-100; 2 routes, within the limit of 3),
  ORD-0050 rejected by NSDQ ("Price outside band"), client rejected.
- Every defect order still gets its oms.orders, id_map, rms_event (PASS) and route rows and
  otherwise follows the normal flow. Orders with several fills fill at one price, so average
  prices are on tick too. ORD-0035 (overfill b) is GTC, so it may legitimately stay working.
- fund.ledger (USD): an opening DEPOSIT of 100000 per account at 12:00:00.000000 (same
  create_time, ordered by account), one TRADE row per client fill 1 ms after its
  ExecutionReport (ref_id = ExecID, delta = -(LastQty x LastPx) for a buy, + for a sell or short
  sell), a clean TRANSFER `TRF-0031` (ACC-100 -500, ACC-101 +500) and a clean WITHDRAW
  (ACC-102, 1000). The late upstream fill of ORD-0033 was never reported to the client, so it
  has no TRADE row.
- refdata.symbol: one snapshot at 2026-11-18T00:00:00.000000Z, the same values as the clean
  day (tick 0.01, lot 1, fractional AAPL and TSLA).

## How the script reads the checks

`run_checks` is this script's own reading of the rules (client ExecutionReports for overfill
and state_transitions, CumQty against the running sum of LastQty, a DAY order open at the end of
the day when its last client status is 0 or 1, trade replay matched by account + ExecID). Read
against `sql/v1/checks/*.sql` as they stood when this day was made, every planted key above is
reported there too, with one known extra:

- sequencing.sql also reports `ORD-0033`: the late fill of source_order_validity (b) is on
  O0033-2, the cancel's out ClOrdID, and that route's only answer before it is the cancel
  confirmation (150=4), which `first_ack` (150 in 0, 5) does not count as an acknowledgement.
  Either sequencing leaves fills on a closed route to source_order_validity, or the planted fill
  moves to a completed order (fill after 39=2 on O0033-1).
- The two fills of the duplicates case have the same qty and price, so trade_replay gives the
  same amounts whether it matches by account + ExecID or by ExecID alone.
- fund_running_balance reads the previous date too: load this directory into a lake of its own
  (its first balances start from 0 on 2026-11-18).
"""


if __name__ == "__main__":
    main()
