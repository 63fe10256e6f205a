#!/usr/bin/env python3
"""Side-by-side comparison: the same stage SQL on the same lake, DataFusion (ordertrail) vs DuckDB,
and optionally the main stages the old way, as INSERT ... SELECT in MariaDB.

    python3 bench/compare.py --lake DIR --date D [--bin target/release/ordertrail] [--mariadb]

For a lake made by `ordertrail gen --orders N --date D --lake DIR --seed 1`:

1. DataFusion: runs `ordertrail run --lake DIR --date D --no-checks` and reads each stage's time
   (from `--metrics FILE` when the binary has it, else from the per-stage lines it prints).
2. DuckDB: runs every stage file of sql/v1 (not checks) in the same dependency order on the same
   raw Parquet, after the mechanical rewrites listed in REWRITES below, writing each output to
   <out>/duckdb/stages/<stage>/trade_date=D/[bucket=0/]part-0.parquet. DuckDB runs each stage in
   one piece (`$buckets` = 1, `$bucket` = 0), so a stage written in buckets has one bucket there
   (its readers' `where bucket = $bucket` then reads all of it), where ordertrail runs it per
   bucket of the lake.
3. Row equality: per stage, ordertrail's output partition and DuckDB's, both cast to
   ordertrail's column types, compared with EXCEPT ALL in both directions.
4. MariaDB (--mariadb): loads the raw day into the database `ordertrail_bench` (timed apart) and
   runs bench/mariadb/NN_<stage>.sql (hand ports, MySQL dialect) in order, timing each.

Prints a table per stage (DuckDB s, DataFusion s, DataFusion/DuckDB, MariaDB s, MariaDB/DataFusion,
rows equal) and writes it as Markdown with --results FILE. No third-party packages except duckdb
(and pymysql for --mariadb).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
NOT_STAGES = {"checks"}

# ordertrail's FIX functions as DuckDB macros (same semantics; see the file's header).
MACROS = (Path(__file__).resolve().parent / "duckdb_fix_macros.sql").read_text()

# ---------------------------------------------------------------------------------------------
# Mechanical rewrites of the stage SQL, DataFusion dialect -> DuckDB dialect. Each entry:
# (what, function sql -> sql). Everything else (including `select * exclude (...)`, `$trade_date`
# as a named prepared parameter, `||`, `interval '1 day'`, window frames) runs unchanged.
# ---------------------------------------------------------------------------------------------


def split_args(text: str) -> list[str]:
    """Split a call's argument text on top-level commas (quotes and parentheses respected)."""
    args, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        args.append("".join(cur).strip())
    return args


def rewrite_calls(sql: str, name: str, fn) -> str:
    """Replace every call `name(args)` (case-insensitive) by fn(list of argument texts)."""
    pattern = re.compile(r"\b" + re.escape(name) + r"\s*\(", re.IGNORECASE)
    out, pos = [], 0
    while True:
        m = pattern.search(sql, pos)
        if not m:
            out.append(sql[pos:])
            return "".join(out)
        start, i, depth, quote = m.start(), m.end(), 1, None
        while depth:
            ch = sql[i]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            i += 1
        inner = rewrite_calls(sql[m.end() : i - 1], name, fn)
        out.append(sql[pos:start])
        out.append(fn(split_args(inner)))
        pos = i


TZ_TYPE = re.compile(r"""^'Timestamp\((?:µs|us|Microsecond)\s*,\s*"([^"]+)"\)'$""")


def _to_local_time(args):
    # to_local_time(arrow_cast(x, 'Timestamp(µs, "Zone")')) -> timezone('Zone', x): the wall
    # clock of instant x in Zone, as a naive timestamp (DuckDB TIMESTAMPTZ carries no zone).
    inner = args[0]
    m = re.match(r"^arrow_cast\s*\((.*)\)$", inner, re.IGNORECASE | re.DOTALL)
    if m:
        a = split_args(m.group(1))
        z = TZ_TYPE.match(a[1])
        if z:
            return f"timezone('{z.group(1)}', {a[0]})"
    raise ValueError(f"to_local_time({inner}): no rewrite")


def _arrow_cast(args):
    x, t = args
    if t == "'Int64'":
        return f"epoch_us({x})"  # only used on timestamps: microseconds since the epoch
    z = TZ_TYPE.match(t)
    if z and z.group(1) == "UTC":
        return f"cast(make_timestamp({x}) as timestamptz)"  # integer microseconds -> instant
    d = re.match(r"^'List\(Decimal128\((\d+),\s*(\d+)\)\)'$", t)
    if d:
        return f"cast({x} as decimal({d.group(1)}, {d.group(2)})[])"
    raise ValueError(f"arrow_cast(..., {t}): no rewrite")


def _with_field_names(args):
    # with_field_names(arrays_zip(a, b, ...), 'n1', 'n2', ...) -> a list of structs built by
    # position, padded with NULLs to the longest list as arrays_zip pads.
    m = re.match(r"^arrays_zip\s*\((.*)\)$", args[0], re.IGNORECASE | re.DOTALL)
    if not m:
        raise ValueError(f"with_field_names({args[0]}, ...): no rewrite")
    lists, names = split_args(m.group(1)), [n.strip("'") for n in args[1:]]
    longest = "greatest(" + ", ".join(f"len({x})" for x in lists) + ")"
    fields = ", ".join(f'"{n}" := ({x})[i]' for n, x in zip(names, lists))
    return f"list_transform(range(1, {longest} + 1), lambda i: struct_pack({fields}))"


def _array_replace_all(args):
    x, old, new = args
    return f"list_transform({x}, lambda e: case when e = {old} then {new} else e end)"


def _named_struct(args):
    pairs = [f'"{args[i].strip(chr(39))}" := {args[i + 1]}' for i in range(0, len(args), 2)]
    return "struct_pack(" + ", ".join(pairs) + ")"


def _values_bigint(sql: str) -> str:
    # DataFusion types integer literals as Int64, DuckDB as INTEGER: in VALUES lists they become
    # BIGINT (so 86400 * 1000000 does not overflow and the column types match).
    def fix(m):
        return re.sub(r"(?<![\w.'])(-?\d+)(?![\w.'])", r"\1::bigint", m.group(0))

    return re.sub(r"\(\s*values\b.*?\)\s*\)", fix, sql, flags=re.IGNORECASE | re.DOTALL)


REWRITES = [
    ("VALUES columns column1.. -> col0..", lambda s: re.sub(r"\bcolumn(\d+)\b", lambda m: f"col{int(m.group(1)) - 1}", s)),
    ("integer literals in VALUES -> ::bigint", _values_bigint),
    ("to_local_time(arrow_cast(x, 'Timestamp(µs, \"Z\")')) -> timezone('Z', x)", lambda s: rewrite_calls(s, "to_local_time", _to_local_time)),
    ("arrow_cast(ts, 'Int64') -> epoch_us(ts); arrow_cast(us, 'Timestamp(µs, \"UTC\")') -> make_timestamp(us); arrow_cast(x, 'List(Decimal128(p, s))') -> cast(x as decimal(p, s)[])", lambda s: rewrite_calls(s, "arrow_cast", _arrow_cast)),
    ("named_struct('k', v, ...) -> struct_pack(\"k\" := v, ...)", lambda s: rewrite_calls(s, "named_struct", _named_struct)),
    ("array_replace_all(x, a, b) -> list_transform(x, lambda e: case when e = a then b else e end)", lambda s: rewrite_calls(s, "array_replace_all", _array_replace_all)),
    ("with_field_names(arrays_zip(a, ..), 'n', ..) -> list_transform(range(..), lambda i: struct_pack(\"n\" := a[i], ..))", lambda s: rewrite_calls(s, "with_field_names", _with_field_names)),
    ("make_array(..) -> list_value(..)", lambda s: re.sub(r"\bmake_array\s*\(", "list_value(", s, flags=re.IGNORECASE)),
    ("cardinality(list) -> len(list)", lambda s: re.sub(r"\bcardinality\s*\(", "len(", s, flags=re.IGNORECASE)),
    ("to_char(ts, fmt) -> strftime(ts, fmt); chrono '%.6f' -> '.%f'", lambda s: re.sub(r"\bto_char\s*\(", "strftime(", s).replace("%.6f", ".%f")),
    ("decimal(p, s) with p <= 18 -> decimal(19, s)  (DuckDB multiplies two DECIMAL(<=18) into DECIMAL(18) and overflows; DataFusion widens to p1+p2+1)",
     lambda s: re.sub(r"\bdecimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", lambda m: f"decimal({max(int(m.group(1)), 19)}, {m.group(2)})" if int(m.group(1)) <= 18 else m.group(0), s, flags=re.IGNORECASE)),
    ("aggregate first_value/last_value(x order by ..) -> first/last(x order by ..)", lambda s: re.sub(r"\b(first|last)_value\s*\(", r"\1(", s)),
]
# Session settings instead of rewrites: integer_division (DataFusion's Int64 / Int64 is integer
# division), TimeZone UTC (timestamps in the lake are UTC instants).
DUCKDB_SETTINGS = ["SET integer_division = true", "SET TimeZone = 'UTC'"]


def to_duckdb(sql: str) -> str:
    for _, fn in REWRITES:
        sql = fn(sql)
    return sql


# ---------------------------------------------------------------------------------------------
# Stages and their DAG, from the SQL text (as ordertrail does, by table references).
# ---------------------------------------------------------------------------------------------


def strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def load_stages(sql_dir: Path) -> list[dict]:
    files = sorted(p for p in sql_dir.rglob("*.sql") if p.relative_to(sql_dir).parts[0] not in NOT_STAGES)
    stages = {p.stem: {"name": p.stem, "path": p, "sql": p.read_text()} for p in files}
    for s in stages.values():
        body = strip_comments(s["sql"])
        ctes = set(re.findall(r"\b(\w+)\s+as\s*\(", body, re.IGNORECASE))
        refs = set(re.findall(r"\b(?:from|join)\s+([a-z_][\w.]*)", body, re.IGNORECASE))
        s["deps"] = sorted(r for r in refs if r in stages and r not in ctes and r != s["name"])
        m = re.search(r"(?m)^-- bucket_by: (\w+)", s["sql"])
        s["bucket_by"] = m.group(1) if m else None
    order, done = [], set()
    while len(order) < len(stages):
        ready = sorted(n for n, s in stages.items() if n not in done and all(d in done for d in s["deps"]))
        if not ready:
            raise SystemExit("compare.py: cycle in the stage DAG")
        order.append(stages[ready[0]])
        done.add(ready[0])
    return order


def source_tables(sources_sql: Path) -> list[str]:
    return re.findall(r"create table (\w+\.\w+)", sources_sql.read_text(), re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# DataFusion (ordertrail)
# ---------------------------------------------------------------------------------------------


def has_metrics_option(binary: str) -> bool:
    out = subprocess.run([binary, "run", "--help"], capture_output=True, text=True)
    return "--metrics" in out.stdout


def run_ordertrail(binary: str, lake: Path, date: str, sql_dir: Path, work: Path) -> tuple[dict, float, str]:
    """Run every stage once; return {stage: seconds}, the wall time and the command."""
    # --restate: redo every stage even if the lake's interval state says the day is done
    cmd = [binary, "run", "--lake", str(lake), "--date", date, "--sql", str(sql_dir), "--no-checks", "--restate"]
    if os.environ.get("ORDERTRAIL_MEMORY_LIMIT"):
        cmd += ["--memory-limit", os.environ["ORDERTRAIL_MEMORY_LIMIT"]]
    metrics = work / "ordertrail-metrics.json"
    use_metrics = has_metrics_option(binary)
    if use_metrics:
        cmd += ["--metrics", str(metrics)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"compare.py: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    times = {}
    if use_metrics and metrics.exists():
        times = parse_metrics(json.loads(metrics.read_text()))
    if not times:
        for line in proc.stdout.splitlines():
            m = re.match(r"^(\w+)\s+(\d+) rows\s+([\d.]+) ms$", line.strip())
            if m:
                times[m.group(1)] = float(m.group(3)) / 1000
    return times, wall, " ".join(cmd)


def parse_metrics(data) -> dict:
    """Per-stage seconds from a --metrics JSON file (tolerant of its exact shape)."""
    stages = data.get("stages", data) if isinstance(data, dict) else data
    out = {}
    items = stages.items() if isinstance(stages, dict) else ((s.get("stage") or s.get("name"), s) for s in stages)
    for name, s in items:
        if isinstance(s, dict):
            for key, scale in (("seconds", 1), ("secs", 1), ("elapsed_s", 1), ("ms", 1e-3), ("elapsed_ms", 1e-3), ("wall_ms", 1e-3)):
                if key in s:
                    out[name] = float(s[key]) * scale
                    break
        elif isinstance(s, (int, float)):
            out[name] = float(s)
    return out


# ---------------------------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------------------------


def duckdb_connect(work: Path, threads: int, memory_limit: str | None):
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{work / 'duckdb.tmp'}'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    for s in DUCKDB_SETTINGS:
        con.execute(s)
    con.execute(MACROS)
    return con


def register_sources(con, lake: Path, tables: list[str]):
    for t in tables:
        db, name = t.split(".")
        d = lake / "raw" / db / name
        con.execute(f"create schema if not exists {db}")
        if not any(d.glob("*/*.parquet")):
            continue
        con.execute(
            f"create or replace view {db}.{name} as select * from read_parquet('{d}/*/*.parquet', "
            f"hive_partitioning = true, hive_types = {{'trade_date': DATE}})"
        )


def register_config(con, config_path: Path):
    cfg = tomllib.loads(config_path.read_text())
    con.execute("create schema if not exists config")
    con.execute(
        "create or replace table config.destinations (destination varchar, report varchar, "
        "submitter_id varchar, reporter_imid varchar, records_per_file ubigint, "
        "sender_imid varchar, fulfillment_link_type varchar, firm_designated_id varchar, "
        "firm_account_holder_type varchar, receiving_desk_type varchar)"
    )
    con.execute(
        "create or replace table config.destination_upstreams (destination varchar, upstream varchar, "
        "reported_as varchar, destination_type varchar, session varchar, internal boolean)"
    )
    for d in cfg.get("destinations", []):
        con.execute(
            "insert into config.destinations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [d["name"], d["report"], d.get("submitter_id"), d.get("reporter_imid"), d.get("records_per_file"),
             d.get("sender_imid"), d.get("fulfillment_link_type"), d.get("firm_designated_id"),
             d.get("firm_account_holder_type"), d.get("receiving_desk_type")],
        )
        for up, u in sorted(d.get("upstreams", {}).items()):
            con.execute(
                "insert into config.destination_upstreams values (?, ?, ?, ?, ?, ?)",
                [d["name"], up, u["destination"], u.get("destination_type"), u.get("session"), bool(u.get("internal", False))],
            )


def stage_params(sql: str, date: dt.date) -> dict:
    values = {
        "trade_date": date,
        "window_start": dt.datetime.combine(date, dt.time()),
        "window_end": dt.datetime.combine(date + dt.timedelta(days=1), dt.time()),
        # Stages in one piece: one bucket (see the module's docstring).
        "bucket": 0,
        "buckets": 1,
    }
    used = set(re.findall(r"\$(\w+)", strip_comments(sql)))
    unknown = used - values.keys()
    if unknown:
        raise SystemExit(f"compare.py: unknown parameters {sorted(unknown)}")
    return {k: v for k, v in values.items() if k in used}


def run_duckdb(con, stages, date: dt.date, out: Path) -> dict:
    times = {}
    for s in stages:
        sql = to_duckdb(strip_comments(s["sql"])).strip().rstrip(";")
        s["duckdb_sql"] = sql
        part = out / s["name"] / f"trade_date={date}"
        if s["bucket_by"]:
            part = part / "bucket=0"
        shutil.rmtree(out / s["name"], ignore_errors=True)
        part.mkdir(parents=True)
        target = part / "part-0.parquet"
        t0 = time.perf_counter()
        try:
            con.execute(f"copy ({sql}) to '{target}' (format parquet)", stage_params(sql, date))
        except duckdb.Error as e:
            (out / f"{s['name']}.duckdb.sql").write_text(sql)
            raise SystemExit(f"compare.py: DuckDB failed on stage {s['name']} (rewritten SQL in {out}/{s['name']}.duckdb.sql):\n{e}")
        times[s["name"]] = time.perf_counter() - t0
        stage_view(con, s, out)
        print(f"  duckdb {s['name']:<24} {times[s['name']]:8.2f} s", flush=True)
    return times


def stage_view(con, s: dict, out: Path):
    """The stage's DuckDB output as a view, hive-partitioned like ordertrail's."""
    types = "{'trade_date': DATE, 'bucket': BIGINT}" if s["bucket_by"] else "{'trade_date': DATE}"
    con.execute(
        f"create or replace view {s['name']} as select * from read_parquet('{out / s['name']}/**/*.parquet', "
        f"hive_partitioning = true, hive_types = {types})"
    )


def compare_rows(con, stage: str, ot_part: Path, duck_part: Path, samples: int = 3) -> dict:
    """EXCEPT ALL both ways over the two outputs (every file of each partition, bucket
    folders too), cast to ordertrail's column types."""
    if not any(ot_part.rglob("*.parquet")):
        return {"equal": None, "note": "no ordertrail output"}
    ot = f"read_parquet('{ot_part}/**/*.parquet', hive_partitioning = false)"
    dk = f"read_parquet('{duck_part}/**/*.parquet', hive_partitioning = false)"
    ot_cols = con.execute(f"describe select * from {ot}").fetchall()
    dk_cols = {r[0]: r[1] for r in con.execute(f"describe select * from {dk}").fetchall()}
    names = [c[0] for c in ot_cols]
    missing = [n for n in names if n not in dk_cols]
    extra = [n for n in dk_cols if n not in names]
    if missing or extra:
        return {"equal": False, "note": f"columns differ: only ordertrail {missing}, only duckdb {extra}"}
    cols = ", ".join(f'cast("{c[0]}" as {c[1]}) as "{c[0]}"' for c in ot_cols)
    q = f"(select {cols} from {{}})"
    a, b = q.format(ot), q.format(dk)
    n_ot = con.execute(f"select count(*) from {ot}").fetchone()[0]
    n_dk = con.execute(f"select count(*) from {dk}").fetchone()[0]
    only_ot = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
    only_dk = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
    res = {"equal": only_ot == 0 and only_dk == 0, "rows_ordertrail": n_ot, "rows_duckdb": n_dk,
           "only_ordertrail": only_ot, "only_duckdb": only_dk, "samples": []}
    if not res["equal"]:
        # which columns differ: compare column by column on the rows' first column pair as key
        for label, x, y in (("only ordertrail", a, b), ("only duckdb", b, a)):
            rows = con.execute(f"select * from ({x} except all {y}) limit {samples}").fetchall()
            for r in rows:
                res["samples"].append((label, {n: r[i] for i, n in enumerate(names)}))
        res["differing_columns"] = differing_columns(con, names, a, b)
    return res


def differing_columns(con, names, a, b) -> list[str]:
    """Columns whose values differ between rows matched on (gateway, src_id) or the first columns."""
    keys = [k for k in ("_destination", "gateway", "src_id", "bar_interval", "level", "symbol", "bar_start", "account_num", "event_status", "from_status", "to_status") if k in names]
    if not keys:
        return []
    on = " and ".join(f'x."{k}" is not distinct from y."{k}"' for k in keys)
    diffs = []
    for n in names:
        if n in keys:
            continue
        c = con.execute(f'select count(*) from {a} x join {b} y on {on} where x."{n}" is distinct from y."{n}"').fetchone()[0]
        if c:
            diffs.append(f"{n} ({c})")
    return diffs


# ---------------------------------------------------------------------------------------------
# MariaDB, the old way
# ---------------------------------------------------------------------------------------------

MARIADB_DB = "ordertrail_bench"


def mariadb_types(sources_sql: Path) -> dict:
    """db.table -> CREATE TABLE body, from sql/sources.sql (MySQL DDL already)."""
    text = strip_comments(sources_sql.read_text())
    out = {}
    for m in re.finditer(r"create table (\w+)\.(\w+)\s*\((.*?)\);", text, re.IGNORECASE | re.DOTALL):
        out[f"{m.group(1)}.{m.group(2)}"] = m.group(3)
    return out


def load_into_mariadb(cur, con, table: str, source: str, cols: list[str], select: list[str], work: Path) -> None:
    """Copy `select` (DuckDB expressions over `source`, one per MariaDB column `cols`) into the
    MariaDB table through a tab-separated file and LOAD DATA LOCAL INFILE."""
    csv = work / f"{table}.csv"
    con.execute(
        f"copy (select {', '.join(select)} from {source}) to '{csv}' "
        f"(header false, quote '\"', escape '\"', nullstr '\\N', delim '\t')"
    )
    cur.execute(
        f"load data local infile '{csv}' into table {table} character set utf8mb4 "
        f"fields terminated by '\\t' optionally enclosed by '\"' escaped by '' lines terminated by '\\n' "
        f"({', '.join('@' + c for c in cols)}) set "
        + ", ".join(f"{c} = nullif(@{c}, '\\\\N')" for c in cols)
    )
    csv.unlink()


def lake_stage_select(con, parquet: Path, cols: list[tuple[str, str]]) -> list[str]:
    """DuckDB expressions turning ordertrail's output columns into the port's MariaDB columns:
    timestamps as text with microseconds, lists as comma-separated text (the ports' form of a
    repeating group), booleans as 0/1; a column the output lacks is NULL."""
    types = {r[0]: r[1] for r in con.execute(f"describe select * from read_parquet('{parquet}')").fetchall()}
    out = []
    for name, mtype in cols:
        t = types.get(name)
        if t is None:
            out.append("null")
        elif t.endswith("[]"):
            out.append(f"array_to_string({name}, ',')")
        elif t.startswith("TIMESTAMP"):
            out.append(f"strftime({name}, '%Y-%m-%d %H:%M:%S.%f')")
        elif t == "BOOLEAN":
            out.append(f"cast({name} as integer)")
        else:
            out.append(name)
    return out


def run_mariadb(lake: Path, date: dt.date, sources_sql: Path, mdir: Path, work: Path, con, url: dict,
                from_lake: set[str] = frozenset(), stage_dir: Path | None = None) -> tuple[dict, dict, dict]:
    """Load the raw day, then run each port in bench/mariadb in order and time it. A stage in
    `from_lake` is not run: its table is created by the port's DDL and filled with ordertrail's
    output of that stage (timed apart, as a load), so the later ports run on it."""
    import pymysql

    db = pymysql.connect(host=url["host"], port=url["port"], user=url["user"], password=url.get("password", ""),
                         autocommit=True, local_infile=True, charset="utf8mb4")
    cur = db.cursor()
    cur.execute(f"create database if not exists {MARIADB_DB}")
    cur.execute(f"use {MARIADB_DB}")
    cur.execute("set session sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
    cur.execute("set session time_zone = '+00:00'")
    cur.execute("set session tmp_table_size = 1073741824, max_heap_table_size = 1073741824")
    load_times, counts = {}, {}
    ddl = mariadb_types(sources_sql)
    ports = sorted(mdir.glob("*.sql"))
    stages_run = [re.sub(r"^\d+_", "", f.stem) for f in ports]
    unknown = set(from_lake) - set(stages_run)
    if unknown:
        sys.exit(f"compare.py: --mariadb-from-lake {sorted(unknown)}: no such port in {mdir} (ports: {stages_run})")
    # the raw tables the ports to run read (with stg_fix_msg loaded, not the big FIX tables)
    port_text = " ".join(strip_comments(f.read_text()) for f, n in zip(ports, stages_run) if n not in from_lake)
    for full, body in ddl.items():
        d = lake / "raw" / full.replace(".", "/")
        table = "raw_" + full.replace(".", "_")
        if not any(d.glob("*/*.parquet")) or not re.search(rf"\b{table}\b", port_text):
            continue
        cols = [m.group(1) for m in re.finditer(r"^\s*(\w+)\s+\w", body, re.MULTILINE)]
        t0 = time.perf_counter()
        cur.execute(f"drop table if exists {table}")
        cur.execute(f"create table {table} ({body.strip()}, trade_date date not null, key (trade_date)) engine=InnoDB")
        select = [f"strftime({c}, '%Y-%m-%d %H:%M:%S.%f')" if c == "create_time" else c for c in cols] + ["trade_date"]
        source = f"read_parquet('{d}/*/*.parquet', hive_partitioning = true, hive_types = {{'trade_date': DATE}})"
        load_into_mariadb(cur, con, table, source, cols + ["trade_date"], select, work)
        load_times[table] = time.perf_counter() - t0
        cur.execute(f"select count(*) from {table}")
        counts[table] = cur.fetchone()[0]
        print(f"  mariadb load {table:<24} {counts[table]:>9} rows {load_times[table]:8.1f} s", flush=True)
    times, rows = {}, {}
    for f, stage in zip(ports, stages_run):
        statements = [s for s in re.split(r";\s*\n", strip_comments(f.read_text())) if s.strip()]
        if stage in from_lake:
            part = stage_dir / stage / f"trade_date={date}"
            if not any(part.rglob("*.parquet")):
                sys.exit(f"compare.py: --mariadb-from-lake {stage}: ordertrail's output {part} is missing; run the stages first")
            # every file of the partition (bucket folders too)
            parquet = f"{part}/**/*.parquet"
            t0 = time.perf_counter()
            for st in statements:
                if not re.match(r"\s*insert\b", st, re.IGNORECASE):
                    cur.execute(st)
            cur.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                (MARIADB_DB, stage),
            )
            cols = list(cur.fetchall())
            select = lake_stage_select(con, parquet, cols)
            load_into_mariadb(cur, con, stage, f"read_parquet('{parquet}')", [c for c, _ in cols], select, work)
            load_times[f"{stage} (ordertrail's output)"] = time.perf_counter() - t0
            cur.execute(f"select count(*) from {stage}")
            print(f"  mariadb load {stage:<24} {cur.fetchone()[0]:>9} rows {time.perf_counter() - t0:8.1f} s "
                  "(ordertrail's output, the port not run)", flush=True)
            continue
        t0 = time.perf_counter()
        for st in statements:
            cur.execute(st.replace("@trade_date", f"date '{date}'"))
        times[stage] = time.perf_counter() - t0
        cur.execute(f"select count(*) from {stage}")
        rows[stage] = cur.fetchone()[0]
        print(f"  mariadb {stage:<24} {rows[stage]:>9} rows {times[stage]:8.1f} s", flush=True)
    db.close()
    return times, rows, load_times


# ---------------------------------------------------------------------------------------------


def fmt(x, nd=2):
    return "" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, type=Path)
    ap.add_argument("--date", required=True)
    ap.add_argument("--sql", default=ROOT / "sql/v1", type=Path)
    ap.add_argument("--config", default=ROOT / "config/ordertrail.toml", type=Path)
    ap.add_argument("--bin", default=os.environ.get("ORDERTRAIL_BIN", str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/ordertrail")))
    ap.add_argument("--out", type=Path, help="DuckDB outputs and scratch (default <lake>/../compare-<date>)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--duckdb-memory-limit")
    ap.add_argument("--skip-ordertrail", action="store_true", help="reuse ordertrail's outputs, no DataFusion timings")
    ap.add_argument("--mariadb", action="store_true", help="also run bench/mariadb/*.sql in MariaDB")
    ap.add_argument("--mariadb-from-lake", metavar="STAGE", action="append", default=[],
                    help="with --mariadb: do not run this stage's port; load ordertrail's output of it "
                         "(timed apart) for the later ports. Repeatable. At 1M orders the stg_fix_msg "
                         "port (LOCATE per tag, one thread) takes hours")
    ap.add_argument("--mariadb-host", default="127.0.0.1")
    ap.add_argument("--mariadb-port", type=int, default=3306)
    ap.add_argument("--mariadb-user", default="root")
    ap.add_argument("--results", type=Path, help="append the table as Markdown to this file")
    ap.add_argument("--reuse", action="store_true", help="reuse both engines' outputs and times from the last run in --out (only compare and report)")
    ap.add_argument("--print-sql", metavar="STAGE", help="print a stage's SQL after the rewrites and exit")
    args = ap.parse_args()

    date = dt.date.fromisoformat(args.date)
    stages = load_stages(args.sql)
    if args.print_sql:
        s = next(s for s in stages if s["name"] == args.print_sql)
        print(to_duckdb(strip_comments(s["sql"])))
        return
    out = args.out or args.lake.parent / f"compare-{args.lake.name}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"stages in order: {', '.join(s['name'] for s in stages)}", flush=True)

    df_times, df_wall, df_cmd = {}, None, None
    saved = out / "times.json"
    last = json.loads(saved.read_text()) if args.reuse and saved.exists() else None
    if last:
        df_times, df_wall, df_cmd = last["datafusion"], last["datafusion_wall"], last["datafusion_cmd"]
    elif not args.skip_ordertrail:
        print(f"DataFusion: {args.bin} run ...", flush=True)
        df_times, df_wall, df_cmd = run_ordertrail(args.bin, args.lake, args.date, args.sql, out)
        for n, t in df_times.items():
            print(f"  datafusion {n:<24} {t:8.2f} s", flush=True)

    con = duckdb_connect(out, args.threads, args.duckdb_memory_limit)
    register_sources(con, args.lake, source_tables(args.sql.parent / "sources.sql"))
    register_config(con, args.config)
    print(f"DuckDB {duckdb.__version__}, {args.threads} threads", flush=True)
    if last:
        dk_times, dk_wall = last["duckdb"], last["duckdb_wall"]
        for s in stages:
            stage_view(con, s, out / "duckdb/stages")
    else:
        t0 = time.perf_counter()
        dk_times = run_duckdb(con, stages, date, out / "duckdb/stages")
        dk_wall = time.perf_counter() - t0
        saved.write_text(json.dumps({"datafusion": df_times, "datafusion_wall": df_wall, "datafusion_cmd": df_cmd,
                                     "duckdb": dk_times, "duckdb_wall": dk_wall}))

    version = args.sql.name
    equality = {}
    for s in stages:
        ot_part = args.lake / "stages" / version / s["name"] / f"trade_date={date}"
        dk_part = out / "duckdb/stages" / s["name"] / f"trade_date={date}"
        equality[s["name"]] = r = compare_rows(con, s["name"], ot_part, dk_part)
        if r.get("equal") is False:
            print(f"  rows differ in {s['name']}: {json.dumps({k: v for k, v in r.items() if k != 'samples'}, default=str)}")
            for label, row in r.get("samples", []):
                print(f"    {label}: {json.dumps(row, default=str)[:1500]}")

    m_times, m_rows, m_load = {}, {}, {}
    if args.mariadb:
        print("MariaDB (old way):", flush=True)
        m_times, m_rows, m_load = run_mariadb(
            args.lake, date, args.sql.parent / "sources.sql", ROOT / "bench/mariadb", out, con,
            {"host": args.mariadb_host, "port": args.mariadb_port, "user": args.mariadb_user},
            set(args.mariadb_from_lake), args.lake / "stages" / args.sql.name,
        )

    # the table
    lines = [
        "| stage | rows | DuckDB s | DataFusion s | DataFusion/DuckDB | MariaDB s | MariaDB/DataFusion | rows equal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    tot = {"dk": 0.0, "df": 0.0, "m": 0.0, "dk_m": 0.0, "df_m": 0.0}
    for s in stages:
        n = s["name"]
        dk, df, m = dk_times.get(n), df_times.get(n), m_times.get(n)
        r = equality[n]
        eq = {True: "yes", False: f"**no** (-{r.get('only_ordertrail')} / +{r.get('only_duckdb')})", None: r.get("note", "?")}[r.get("equal")]
        if r.get("note") and r.get("equal") is False:
            eq = f"**no** ({r['note']})"
        tot["dk"] += dk or 0
        tot["df"] += df or 0
        if m is not None:
            tot["m"] += m
            tot["dk_m"] += dk or 0
            tot["df_m"] += df or 0
        mrows = f" (MariaDB {m_rows[n]})" if n in m_rows and m_rows[n] != r.get("rows_ordertrail") else ""
        lines.append(
            f"| {n} | {r.get('rows_ordertrail', '')}{mrows} | {fmt(dk)} | {fmt(df)} | {fmt(df / dk if df and dk else None)} "
            f"| {fmt(m, 1)} | {fmt(m / df if m and df else None, 1)} | {eq} |"
        )
    lines.append(
        f"| **total** | | {fmt(tot['dk'])} | {fmt(tot['df'])} | {fmt(tot['df'] / tot['dk'] if tot['dk'] and tot['df'] else None)} "
        f"| {fmt(tot['m'], 1) if m_times else ''} | {fmt(tot['m'] / tot['df_m'] if m_times and tot['df_m'] else None, 1)} | |"
    )
    if m_times:
        lines.append(
            f"| total of the MariaDB-covered stages | | {fmt(tot['dk_m'])} | {fmt(tot['df_m'])} | "
            f"{fmt(tot['df_m'] / tot['dk_m'] if tot['dk_m'] and tot['df_m'] else None)} | {fmt(tot['m'], 1)} | "
            f"{fmt(tot['m'] / tot['df_m'] if tot['df_m'] else None, 1)} | |"
        )
    table = "\n".join(lines)
    notes = [
        f"- DataFusion wall time of `ordertrail run` (process start to exit): {fmt(df_wall)} s; command: `{df_cmd}`" if df_wall else (f"- DataFusion command: `{df_cmd}`" if df_cmd else ""),
        f"- DuckDB {duckdb.__version__} wall time for all stages: {fmt(dk_wall)} s ({args.threads} threads)",
        f"- MariaDB load (not counted): {fmt(sum(m_load.values()), 1)} s for {len(m_load)} tables" if m_load else "",
    ]
    print()
    print(table)
    print("\n".join(n for n in notes if n))
    if args.results:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        orders = con.execute("select count(*) from oms.orders where trade_date = $d", {"d": date}).fetchone()[0]
        messages = sum(
            con.execute(f"select count(*) from {t} where trade_date = $d", {"d": date}).fetchone()[0]
            for t in ("inbound.fix_msg", "outbound.fix_msg")
        )
        head = (
            f"\n## {orders:,} orders ({messages:,} FIX messages), trade date {date}\n\n"
            f"Measured {dt.datetime.now():%Y-%m-%d %H:%M}, commit {commit}{' (with uncommitted changes)' if dirty else ''}, "
            f"{os.cpu_count()} cores, `{' '.join(['python3', 'bench/compare.py'] + sys.argv[1:])}`\n\n"
        )
        with open(args.results, "a") as f:
            f.write(head + table + "\n\n" + "\n".join(n for n in notes if n) + "\n")


if __name__ == "__main__":
    main()
