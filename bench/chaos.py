#!/usr/bin/env python3
"""Chaos trials: faults on a generated week, and whether ordertrail ever gives a wrong answer
silently (issue: no silent wrong answers).

A week (five consecutive dates, `gen --days 5`, GTC orders crossing midnight) is processed
once, one date after the other, into a reference: every stage partition and every report file,
by SHA-256. Then each trial starts from the raw week again and applies one fault:

  kill        a run of a date is SIGKILLed at a random moment
  term        a run of a date gets SIGTERM at a random moment (exit 3 unless it was done)
  concurrent  two or three adjacent dates are run at once, in random order, the dates before
              them processed
  delete      a processed date loses a stage partition (`rm -rf .../trade_date=D`)
  corrupt     a processed date's stage partition file is truncated or overwritten with noise

after which, *before any repair*, `report` is run for every date. A report that exits 0 must
give the reference bytes; one that does not is a **silent wrong answer**. Then the operator's
loop repairs the week (run each date in order until it exits 0, then report it) and every
stage partition and report file must equal the reference: any that does not is **divergent**.
A run exiting with a code other than 0, 1 or 3, or a panic, is a **crash**.

    python3 bench/chaos.py [--trials 20] [--orders 300] [--seed 1] [--work DIR]

Prints one line per trial and a summary; writes bench/chaos-results.md. Exit 1 when any trial
saw a silent wrong answer, a divergent file or a crash.
"""

import argparse
import datetime
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST = datetime.date(2026, 11, 16)  # a Monday: five weekdays, no holiday
DAYS = 5
DATES = [str(FIRST + datetime.timedelta(days=k)) for k in range(DAYS)]
KINDS = ["kill", "term", "concurrent", "delete", "corrupt"]


def binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ordertrail/target"))
    return target / "release" / "ordertrail"


def ot(*args, check=False):
    proc = subprocess.run([str(binary()), *args], cwd=ROOT, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"ordertrail {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def spawn(*args):
    return subprocess.Popen(
        [str(binary()), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def digests(root: Path, under: str):
    """SHA-256 of every file below root/under, keyed by path relative to root."""
    base = root / under
    out = {}
    if not base.exists():
        return out
    for p in sorted(base.rglob("*")):
        if p.is_file() and ".tmp" not in p.parts:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_date(lake, d):
    return ot("run", "--lake", str(lake), "--date", d)


def report(lake, d, out):
    return ot("report", "--lake", str(lake), "--date", d, "--out", str(out))


def crashed(code, stderr):
    """A panic, or an exit code ordertrail does not give (0-3); a signal we sent is not one."""
    return code is None or code > 3 or "panicked" in (stderr or "")


def stage_partitions(lake, d):
    return sorted(p for p in (lake / "stages").glob(f"*/*/trade_date={d}") if p.is_dir())


def repair(lake, out, trial):
    """The operator's loop: each date in order, run until it exits 0; then report each (a
    date's CAT files need the next date processed)."""
    problems = []
    for d in DATES:
        for attempt in range(4):
            p = run_date(lake, d)
            if crashed(p.returncode, p.stderr):
                problems.append(f"crash: run {d} exited {p.returncode}: {p.stderr.strip()[-300:]}")
            if p.returncode == 0:
                break
        else:
            problems.append(f"run {d} never exited 0: {p.stderr.strip()[-300:]}")
    for d in DATES:
        r = report(lake, d, out)
        if r.returncode != 0:
            problems.append(f"report {d} exited {r.returncode} after repair: {r.stderr.strip()[-300:]}")
    return problems


def compare(expected, actual, what):
    wrong = [k for k in expected if actual.get(k) != expected[k]]
    extra = [k for k in actual if k not in expected]
    return [f"{what}: {k} differs or is missing" for k in wrong] + [f"{what}: {k} unexpected" for k in extra]


def trial(n, kind, rng, base, work, ref_stages, ref_reports, run_seconds):
    lake = work / f"trial-{n}"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(base, lake)
    notes, problems = [], []
    if kind in ("kill", "term"):
        k = rng.randrange(DAYS)
        for d in DATES[:k]:
            run_date(lake, d)
        d = DATES[k]
        proc = spawn("run", "--lake", str(lake), "--date", d)
        delay = rng.uniform(0.05, run_seconds)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL if kind == "kill" else signal.SIGTERM)
        _, err = proc.communicate()
        notes.append(f"{d} after {delay:.2f}s -> exit {proc.returncode}")
        if kind == "term" and proc.returncode not in (0, 3):
            problems.append(f"SIGTERM gave exit {proc.returncode}: {err.strip()[-300:]}")
        elif proc.returncode >= 0 and crashed(proc.returncode, err):
            problems.append(f"crash: {err.strip()[-300:]}")
    elif kind == "concurrent":
        k = rng.randrange(DAYS - 1)
        for d in DATES[:k]:
            run_date(lake, d)
        picked = DATES[k : k + rng.choice([2, 3])]
        rng.shuffle(picked)
        procs = []
        for d in picked:
            procs.append((d, spawn("run", "--lake", str(lake), "--date", d)))
            time.sleep(rng.uniform(0, 0.5))
        for d, p in procs:
            _, err = p.communicate()
            notes.append(f"{d}:{p.returncode}")
            if crashed(p.returncode, err):
                problems.append(f"crash: run {d} exited {p.returncode}: {err.strip()[-300:]}")
    else:
        for d in DATES:
            run_date(lake, d)
        d = DATES[rng.randrange(DAYS)]
        parts = stage_partitions(lake, d)
        part = rng.choice(parts)
        if kind == "delete":
            shutil.rmtree(part)
        else:
            f = next(part.glob("*.parquet"))
            data = bytearray(f.read_bytes())
            if rng.random() < 0.5:
                data = data[: rng.randrange(len(data))]
            else:
                at = rng.randrange(len(data))
                for i in range(at, min(len(data), at + 64)):
                    data[i] = rng.randrange(256)
            f.write_bytes(bytes(data))
        notes.append(str(part.relative_to(lake)))

    # Before any repair: every report that says it is done must be right.
    early = work / f"trial-{n}-early"
    shutil.rmtree(early, ignore_errors=True)
    silent = 0
    for d in DATES:
        r = report(lake, d, early)
        if crashed(r.returncode, r.stderr):
            problems.append(f"crash: report {d} exited {r.returncode}: {r.stderr.strip()[-300:]}")
        if r.returncode == 0:
            got = digests(early, d)
            want = {k: v for k, v in ref_reports.items() if k.startswith(d + "/")}
            wrong = compare(want, got, f"report {d} (exit 0, before repair)")
            silent += len(wrong)
            problems += wrong
    out = work / f"trial-{n}-out"
    shutil.rmtree(out, ignore_errors=True)
    problems += repair(lake, out, n)
    divergent = compare(ref_stages, digests(lake, "stages"), "stage") + compare(
        ref_reports, {k: v for k, v in digests(out, "").items()}, "report"
    )
    problems += divergent
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(early, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return notes, problems, silent, len(divergent)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--orders", type=int, default=300, help="orders per date")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "chaos")
    ap.add_argument("--kinds", default=",".join(KINDS), help="faults to draw from, comma-separated")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "chaos-results.md")
    args = ap.parse_args()
    if not binary().exists():
        sys.exit(f"{binary()} is missing: run `cargo build --release` first")
    rng = random.Random(args.seed)
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = work / "base"
    ot("gen", "--orders", str(args.orders), "--date", DATES[0], "--days", str(DAYS), "--lake", str(base),
       "--seed", str(args.seed), check=True)

    ref = work / "reference"
    shutil.copytree(base, ref)
    started = time.monotonic()
    for d in DATES:
        ot("run", "--lake", str(ref), "--date", d, check=True)
    run_seconds = (time.monotonic() - started) / DAYS
    ref_out = work / "reference-out"
    for d in DATES:
        ot("report", "--lake", str(ref), "--date", d, "--out", str(ref_out), check=True)
    ref_stages = digests(ref, "stages")
    ref_reports = digests(ref_out, "")
    print(f"reference: {len(DATES)} dates x {args.orders} orders, {len(ref_stages)} stage files, "
          f"{len(ref_reports)} report files, {run_seconds:.1f} s a date")

    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        sys.exit(f"unknown fault kinds {sorted(unknown)}; choose from {KINDS}")
    totals = {k: [0, 0] for k in args.kinds.split(",")}
    silent_total = divergent_total = failed = 0
    lines = []
    for n in range(1, args.trials + 1):
        kinds = args.kinds.split(",")
        kind = kinds[(n - 1) % len(kinds)] if n <= len(kinds) else rng.choice(kinds)
        t0 = time.monotonic()
        notes, problems, silent, divergent = trial(n, kind, rng, base, work, ref_stages, ref_reports, run_seconds)
        totals[kind][0] += 1
        silent_total += silent
        divergent_total += divergent
        if problems:
            totals[kind][1] += 1
            failed += 1
        line = f"trial {n:>3} {kind:<10} {'; '.join(notes):<60} {'FAIL' if problems else 'ok'} ({time.monotonic() - t0:.0f} s)"
        print(line, flush=True)
        for p in problems[:10]:
            print(f"    {p}", flush=True)
        lines.append(line)

    summary = (f"{args.trials} trials, {failed} failed: {silent_total} silently wrong report files, "
               f"{divergent_total} divergent files after repair")
    print(summary)
    table = "\n".join(f"| {k} | {v[0]} | {v[1]} |" for k, v in totals.items())
    args.results.write_text(
        "# Chaos trials (bench/chaos.py)\n\n"
        f"{datetime.date.today()}: `python3 bench/chaos.py --trials {args.trials} --orders {args.orders} "
        f"--seed {args.seed}` on {os.cpu_count()} cores; {len(DATES)} generated dates, "
        f"{len(ref_stages)} stage files and {len(ref_reports)} report files compared per trial.\n\n"
        f"**{summary}.**\n\n| fault | trials | failed |\n|---|---|---|\n{table}\n\n```\n"
        + "\n".join(lines) + "\n```\n"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
