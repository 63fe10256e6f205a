#!/usr/bin/env python3
"""Benchmark the real-time feed: sustained ingest from JetStream and from RabbitMQ, and the
publish-to-landed latency at a steady rate.

For each broker: a generated day's raw rows (about --rows messages) are published with
`ordertrail publish --lake`, then `ordertrail ingest --once` lands the whole backlog; rows per
second is messages over the ingest's wall time, peak RSS is its VmHWM (GNU time). Then, with
ingest running, `publish --rate R` sends a further day at R messages/s; the lake's feed position
(feed/<name>.json, polled every 50 ms) says when each message was landed, against when the
publisher sent it. Release build; NATS is a nats-server the benchmark starts (its own port
and store, removed afterwards), RabbitMQ the machine's (127.0.0.1:5672, guest/guest) with a
queue of the benchmark's own, deleted afterwards.

    python3 bench/feed.py --bin target/release/ordertrail [--rows 5000000] [--rate 10000]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Messages per generated order (all eight source tables), measured on gen's days.
MESSAGES_PER_ORDER = 13.75


def config(path: Path, kind: str, name: str, nats_port: int) -> Path:
    if kind == "nats":
        text = f"""kind = "nats"
url = "nats://127.0.0.1:{nats_port}"
[nats]
stream = "{name}"
subject_prefix = "{name}"
consumer = "{name}"
"""
    else:
        text = f"""kind = "rabbitmq"
url = "amqp://guest@127.0.0.1:5672/%2f"
password_env = "BENCH_AMQP_PASSWORD"
[rabbitmq]
queue = "{name}"
"""
    path.write_text(text)
    return path


def run(cmd, **kw):
    env = dict(os.environ, BENCH_AMQP_PASSWORD="guest")
    return subprocess.run(cmd, check=True, text=True, capture_output=True, env=env, **kw)


def timed(cmd):
    """Wall seconds and peak RSS (MiB) of a command, via GNU time."""
    t0 = time.monotonic()
    out = run(["/usr/bin/time", "-v", *cmd])
    wall = time.monotonic() - t0
    rss = next(
        int(line.split(":")[1]) / 1024
        for line in out.stderr.splitlines()
        if "Maximum resident set size" in line
    )
    return wall, rss, out.stdout


def sustained(binary, kind, cfg, day_lake, date, lake):
    t0 = time.monotonic()
    published = run([binary, "publish", "--config", cfg, "--lake", day_lake, "--date", date]).stdout
    pub_wall = time.monotonic() - t0
    n = int(published.split()[1])
    wall, rss, out = timed([binary, "ingest", "--once", "--config", cfg, "--lake", lake])
    return {"messages": n, "publish_s": pub_wall, "ingest_s": wall, "rows_per_s": n / wall,
            "peak_rss_mib": rss, "summary": out.strip()}


def latency(binary, cfg, day_lake, date, lake, rate):
    env = dict(os.environ, BENCH_AMQP_PASSWORD="guest")
    ingest = subprocess.Popen([binary, "ingest", "--config", cfg, "--lake", lake], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_path = Path(lake) / "feed" / "main.json"
    start_rows = json.loads(state_path.read_text())["rows"] if state_path.exists() else 0
    pub = subprocess.Popen([binary, "publish", "--config", cfg, "--lake", day_lake, "--date", date,
                            "--rate", str(rate)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    first = None
    for line in pub.stderr:
        if "messages/s from" in line:
            first = float(line.split()[-1])
            break
    samples = []  # (wall time, rows landed so far)
    while True:
        try:
            rows = json.loads(state_path.read_text())["rows"] - start_rows
            samples.append((time.time(), rows))
        except (OSError, ValueError, KeyError):
            pass
        if pub.poll() is not None and samples and samples[-1][1] >= total_published(pub):
            break
        time.sleep(0.05)
    ingest.terminate()
    ingest.wait()
    # The k-th message went out at first + k/rate; it was landed at the first sample whose
    # count exceeds k.
    lat = []
    done = 0
    for t, rows in samples:
        while done < rows:
            lat.append(t - (first + done / rate))
            done += 1
    lat.sort()
    return {"rate": rate, "messages": done, "p50_s": statistics.median(lat),
            "p99_s": lat[int(len(lat) * 0.99) - 1], "max_s": lat[-1]}


_published = {}


def total_published(proc):
    if proc not in _published:
        out = proc.stdout.read()
        _published[proc] = int(out.split()[1])
    return _published[proc]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--latency-seconds", type=float, default=30)
    p.add_argument("--kinds", default="nats,rabbitmq")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    binary = str(Path(args.bin).resolve())
    work = Path(tempfile.mkdtemp(prefix="ordertrail-feed-bench-"))
    date = "2026-11-19"
    results = {}
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nats_port = sock.getsockname()[1]
    nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(nats_port), "-js",
                             "-sd", str(work / "nats")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        day = work / "day"
        orders = int(args.rows / MESSAGES_PER_ORDER)
        run([binary, "gen", "--orders", str(orders), "--date", date, "--lake", day])
        # The live day is today's: a past date would be closed (compacted whole) every time
        # the feed catches up, which a live feed never does.
        today = time.strftime("%Y-%m-%d", time.gmtime())
        small = work / "small"
        run([binary, "gen", "--orders", str(int(args.rate * args.latency_seconds / MESSAGES_PER_ORDER)),
             "--date", today, "--lake", small, "--seed", "2"])
        stamp = int(time.time())
        for kind in args.kinds.split(","):
            name = f"bench_{kind}_{stamp}"
            cfg = config(work / f"{kind}.toml", kind, name, nats_port)
            lake = work / f"lake-{kind}"
            r = sustained(binary, kind, cfg, day, date, lake)
            print(f"{kind}: {r['messages']} messages published in {r['publish_s']:.1f} s; "
                  f"ingest {r['ingest_s']:.1f} s = {r['rows_per_s']:.0f} rows/s, "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
            lat = latency(binary, cfg, small, today, work / f"lake-{kind}-live", args.rate)
            print(f"{kind}: at {args.rate:.0f} messages/s, publish-to-landed p50 {lat['p50_s']:.2f} s, "
                  f"p99 {lat['p99_s']:.2f} s, max {lat['max_s']:.2f} s over {lat['messages']} messages",
                  flush=True)
            results[kind] = {"sustained": r, "latency": lat}
            shutil.rmtree(lake, ignore_errors=True)
            if kind == "rabbitmq":
                subprocess.run(["rabbitmqctl", "delete_queue", name], capture_output=True)
        print(json.dumps(results, indent=2))
    finally:
        nats.terminate()
        nats.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
