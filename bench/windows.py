#!/usr/bin/env python3
"""A day run window by window against the same day run whole, side by side in one run.

    python3 bench/windows.py [--orders 100000] [--window 30m] [--memory-limit 2G]

Uses the cached generated day of bench/run.py (`~/.cache/ordertrail/bench/<orders>`, made by
`ordertrail gen` when missing). Its raw tables are hard-linked into two fresh lakes; one runs
`ordertrail run --no-checks` (the whole day at once), the other `ordertrail run --no-checks
--from 00:00 --to 24:00 --window 30m` (48 windows, each stage merged into its day window after
window). Prints both wall times and their ratio, and checks that the two lakes hold the same
stage files (they must: a windowed day is byte-identical to the whole day). Timing is never a
pass/fail test.
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402


def lake_with_raw(cached: Path, target: Path):
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(cached / "raw"), str(target / "raw")], check=True)


def timed(cmd):
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"windows.py: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall


def same_stage_files(a: Path, b: Path) -> list[str]:
    files = lambda root: {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
    fa, fb = files(a / "stages"), files(b / "stages")
    differ = sorted(str(p) for p in fa ^ fb)
    differ += sorted(str(p) for p in fa & fb if not filecmp.cmp(a / "stages" / p, b / "stages" / p, shallow=False))
    return differ


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--window", default="30m")
    p.add_argument("--memory-limit", default="2G")
    p.add_argument("--buckets", type=int)
    p.add_argument("--binary", default=str(bench.target_dir() / "release" / "ordertrail"))
    p.add_argument("--cache-dir", default=os.environ.get(
        "ORDERTRAIL_BENCH_DIR", str(Path.home() / ".cache/ordertrail/bench")))
    args = p.parse_args()

    cache = Path(args.cache_dir)
    logs = cache / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cached = cache / str(args.orders)
    bench.generate(Path(args.binary), cached, args.orders, logs)
    buckets = args.buckets or bench.buckets_for(args.orders)
    whole, windowed = cache / f"{args.orders}-whole", cache / f"{args.orders}-windowed"
    common = ["--date", bench.DATE, "--no-checks", "--memory-limit", args.memory_limit,
              "--buckets", str(buckets)]
    results = {}
    for name, lake, extra in [
        ("whole day", whole, []),
        (f"{args.window} windows", windowed, ["--from", "00:00", "--to", "24:00", "--window", args.window]),
    ]:
        lake_with_raw(cached, lake)
        print(f"{name} ...", flush=True)
        results[name] = timed([args.binary, "run", "--lake", str(lake), *common, *extra])
        print(f"  {results[name]:.1f} s", flush=True)
    differ = same_stage_files(whole, windowed)
    (w, wd) = results.values()
    print(f"{args.orders} orders, {buckets} buckets: whole day {w:.1f} s, {args.window} windows "
          f"{wd:.1f} s, ratio {wd / w:.2f}; stage files {'identical' if not differ else 'DIFFER: ' + ', '.join(differ[:5])}")
    for lake in (whole, windowed):
        shutil.rmtree(lake, ignore_errors=True)
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
