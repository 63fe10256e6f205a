#!/usr/bin/env python3
"""A generated day on a Ballista cluster of one and of two executors, beside a local run (issue 27).

One invocation, side by side: generate the day once (release binary built with
`--features cluster`), then for each setup copy its raw tables into a fresh lake and time
`ordertrail run` (every stage, then every check) under `--memory-limit`:
  - local: the command alone, both cores;
  - 1 executor / 2 executors: a scheduler and executors on this machine, each executor pinned
    to one core (`taskset`) with one task slot and half the memory limit, the command sending
    its queries with `--cluster`.
Every setup's stage and check files must be the same bytes as the local run's (else exit 1).
Results: printed, and bench/cluster-results.md. Timing is never a pass/fail test.

    cargo build --release --features cluster
    python3 bench/cluster.py [--orders 100000] [--memory-limit 2G]
"""

import argparse
import datetime
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATE = "2026-11-19"


def binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ordertrail/target"))
    return target / "release" / "ordertrail"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, what):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port}")


def files_digest(lake):
    out = {}
    for sub in ("stages", "checks"):
        for p in sorted((lake / sub).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(lake))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * units[s[-1].upper()]) if s[-1].upper() in units else int(s)


def start_cluster(work, executors, executor_memory):
    bin_ = str(binary())
    sched_port = free_port()
    scheduler = f"127.0.0.1:{sched_port}"
    procs = [subprocess.Popen([bin_, "cluster", "scheduler", "--bind", scheduler],
                              stdout=subprocess.DEVNULL, stderr=open(work / "scheduler.log", "w"))]
    wait_for(sched_port, "the scheduler")
    for k in range(executors):
        flight, grpc = free_port(), free_port()
        wd = work / f"executor-{k}"
        wd.mkdir()
        procs.append(subprocess.Popen(
            ["taskset", "-c", str(k % os.cpu_count()), bin_, "cluster", "executor",
             "--scheduler", scheduler, "--bind", f"127.0.0.1:{flight}",
             "--grpc-port", str(grpc), "--concurrent-tasks", "1",
             "--memory-limit", str(executor_memory), "--work-dir", str(wd)],
            stdout=subprocess.DEVNULL, stderr=open(work / f"executor-{k}.log", "w")))
        wait_for(flight, f"executor {k}")
    time.sleep(1)
    return scheduler, procs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--memory-limit", default="2G")
    ap.add_argument("--results", default=str(ROOT / "bench" / "cluster-results.md"))
    args = ap.parse_args()
    if not binary().exists():
        sys.exit(f"{binary()} missing: cargo build --release --features cluster")
    work = Path(tempfile.mkdtemp(prefix="ordertrail-cluster-bench-"))
    source = work / "generated"
    t = time.time()
    subprocess.run([str(binary()), "-q", "gen", "--orders", str(args.orders), "--date", DATE,
                    "--lake", str(source)], check=True, cwd=ROOT)
    print(f"gen {args.orders} orders: {time.time() - t:.1f} s", flush=True)
    limit = parse_size(args.memory_limit)
    rows, digests = [], {}
    for name, executors in (("local", 0), ("1 executor", 1), ("2 executors", 2)):
        lake = work / name.replace(" ", "-")
        shutil.copytree(source, lake)
        procs, cmd = [], [str(binary()), "-q", "run", "--lake", str(lake), "--date", DATE,
                          "--memory-limit", args.memory_limit]
        if executors:
            procs_dir = work / f"{lake.name}-procs"
            procs_dir.mkdir()
            scheduler, procs = start_cluster(procs_dir, executors, limit // 2)
            cmd += ["--cluster", scheduler]
        t = time.time()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.time() - t
        for p in procs:
            p.kill()
            p.wait()
        if done.returncode != 0:
            sys.exit(f"{name}: exit {done.returncode}\n{done.stderr[-3000:]}")
        digests[name] = files_digest(lake)
        rows.append((name, wall))
        print(f"{name}: run (stages + checks) {wall:.1f} s", flush=True)
    same = all(d == digests["local"] for d in digests.values())
    local = rows[0][1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = [
        f"# A generated day on a Ballista cluster ({datetime.date.today()}, commit {commit})",
        "",
        f"`python3 bench/cluster.py --orders {args.orders} --memory-limit {args.memory_limit}`, "
        f"release build with `--features cluster`, {os.cpu_count()} cores; executors pinned to "
        f"one core each, one task slot, {args.memory_limit} / 2 memory each. "
        f"Stage and check files identical to the local run's: {'yes' if same else 'NO'}.",
        "",
        "| setup | `run` (stages + checks) | vs local |",
        "| --- | --- | --- |",
    ] + [f"| {n} | {w:.1f} s | {w / local:.2f}x |" for n, w in rows]
    text = "\n".join(lines) + "\n"
    Path(args.results).write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
