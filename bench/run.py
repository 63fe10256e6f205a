#!/usr/bin/env python3
"""Release benchmark of the whole ordertrail pipeline on synthetic days (issue #7).

For each size (orders per day): generate the day once into a cached lake
(`$ORDERTRAIL_BENCH_DIR/<N>`, default `~/.cache/ordertrail/bench/<N>`, reused when present),
then time `ordertrail run` (every stage, then every check) and `ordertrail report` (report
stages and every destination's files) under a memory limit, each under `/usr/bin/time -v`.
Per stage it records wall time, rows and messages per second (FIX messages of the day /
stage seconds); per command the wall time and peak RSS.

Results go to bench/results.json (latest run per size, merged with earlier sizes),
bench/results.md (rendered from it) and bench/stage_times.csv (one row per stage, check and
report step, for comparisons with other engines). Timing is never a pass/fail test.

    python3 bench/run.py [--memory-limit 2G] [SIZE ...]      # default 100000 1000000 10000000
    python3 bench/run.py --from-logs 10000000   # record a run stopped during `report` from its logs
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATE = "2026-11-19"
SEED = 1


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ordertrail/target"))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def timed(cmd, log):
    """Run cmd under /usr/bin/time -v; return (exit code, wall s, peak RSS KiB, CPU s)."""
    started = time.monotonic()
    with open(log, "w") as out:
        # info: each stage's "done" line (time, buckets, peak RSS) is in the log as it ends,
        # so a run stopped early still shows where it was and what it used.
        env = {"RUST_LOG": "ordertrail=info", **os.environ}
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=out, stderr=subprocess.STDOUT, env=env)
    wall = time.monotonic() - started
    text = Path(log).read_text(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return proc.returncode, wall, int(m.group(1)) if m else None, cpu_seconds(text)


def cpu_seconds(text):
    """User plus system CPU seconds from `/usr/bin/time -v` output, or None."""
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    return float(user.group(1)) + float(system.group(1)) if user and system else None


def from_log(log):
    """(exit code, wall s, peak RSS KiB) of a step timed earlier, read from its log's
    `/usr/bin/time -v` lines; None when the log has none (the step was stopped)."""
    text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
    code = re.search(r"Exit status: (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not (code and wall and rss):
        return None
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return int(code.group(1)), seconds, int(rss.group(1)), cpu_seconds(text)


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal:")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
    }


def git_commit():
    commit = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    # The benchmark's own outputs do not make the tree dirty.
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", ".",
                ":!bench/results.json", ":!bench/results.md", ":!bench/stage_times.csv"])
    return commit + ("+dirty" if dirty else "")


def generate(binary, lake, orders, logs):
    marker = lake / "gen.json"
    if marker.exists():
        return json.loads(marker.read_text())
    if lake.exists():
        shutil.rmtree(lake)
    lake.mkdir(parents=True)
    print(f"  generating {orders} orders into {lake} ...", flush=True)
    code, wall, rss, _ = timed(
        [str(binary), "gen", "--orders", str(orders), "--date", DATE, "--lake", str(lake), "--seed", str(SEED)],
        logs / f"gen-{orders}.log",
    )
    if code != 0:
        sys.exit(f"generation failed, see {logs / f'gen-{orders}.log'}")
    raw = sum(f.stat().st_size for f in (lake / "raw").rglob("*.parquet"))
    info = {"orders": orders, "seed": SEED, "date": DATE, "gen_s": round(wall, 1),
            "gen_peak_rss_mib": round(rss / 1024), "raw_bytes": raw}
    marker.write_text(json.dumps(info, indent=2) + "\n")
    return info


def buckets_for(orders):
    """The lake's bucket count for a day of `orders`: about 300k orders a bucket, so that two
    buckets at once fit a 2G limit (8 at 1M, 32 at 10M)."""
    n = 8
    while orders / n > 320_000:
        n *= 2
    return n


def bench_config(lake, records_per_file, buckets):
    """config/ordertrail.toml with CAT files of `records_per_file` events and the lake's bucket
    count (the shipped config's records_per_file fits the fixtures, not 10M orders)."""
    text = (ROOT / "config" / "ordertrail.toml").read_text()
    text, n = re.subn(r"(?m)^records_per_file = \d+", f"records_per_file = {records_per_file}", text)
    if n == 0:
        sys.exit("bench: config/ordertrail.toml has no records_per_file line to change")
    text, n = re.subn(r"(?m)^buckets = \d+", f"buckets = {buckets}", text)
    if n == 0:
        sys.exit("bench: config/ordertrail.toml has no buckets line to change")
    path = lake / "bench-config.toml"
    path.write_text(text)
    return path


def bench_size(binary, orders, args, logs):
    lake = Path(args.cache_dir) / str(orders)
    if args.from_logs:
        gen = json.loads((lake / "gen.json").read_text())
    else:
        gen = generate(binary, lake, orders, logs)
        # The cached day keeps its raw tables; stages, state and reports start afresh (a lake
        # keeps the bucket count it was first written with).
        for folder in (".tmp", "stages", "state", "reports"):
            shutil.rmtree(lake / folder, ignore_errors=True)
    buckets = args.buckets or buckets_for(orders)
    config = bench_config(lake, args.records_per_file, buckets)
    limit = ["--memory-limit", args.memory_limit, "--config", str(config)]
    result = {"orders": orders, "generation": gen, "records_per_file": args.records_per_file,
              "buckets": buckets, "commands": {}}
    steps = [
        # --restate: the lake is reused between benchmarks; redo every window whatever its state
        ("run", ["run", "--lake", str(lake), "--date", DATE, "--restate", *limit]),
        ("report", ["report", "--lake", str(lake), "--date", DATE, "--out", str(lake / "reports"), *limit]),
    ]
    if args.no_report:
        steps = steps[:1]
    for name, cmd in steps:
        metrics = logs / f"{name}-{orders}.json"
        log = logs / f"{name}-{orders}.log"
        print(f"  ordertrail {name} ...", flush=True)
        if args.from_logs:
            timing = from_log(log)
            if timing is None:
                result["commands"][name] = {"command": "ordertrail " + " ".join(cmd), "exit_code": None,
                                            "wall_s": 0, "peak_rss_mib": None,
                                            "error": "stopped before it finished (not timed)"}
                print("    stopped before it finished", flush=True)
                break
            code, wall, rss, cpu = timing
        else:
            code, wall, rss, cpu = timed([str(binary), *cmd, "--metrics", str(metrics)], log)
        entry = {"command": "ordertrail " + " ".join(cmd), "exit_code": code, "wall_s": round(wall, 2),
                 "peak_rss_mib": round(rss / 1024) if rss else None,
                 "cpu_s": round(cpu, 1) if cpu is not None else None}
        if code not in (0, 1) or not metrics.exists():
            tail = log.read_text(errors="replace").splitlines()
            entry["error"] = next((l for l in tail if l.startswith("ordertrail:")), "see log")
            print(f"    FAILED (exit {code}): {entry['error']}", flush=True)
            result["commands"][name] = entry
            break
        m = json.loads(metrics.read_text())
        entry.update(stages=m["stages"], checks=m["checks"], report_files_ms=m.get("report_files_ms"))
        failed = [x["check"] for x in m["checks"] if x["status"] == "fail"]
        if failed:
            entry["failed_checks"] = failed
        result["commands"][name] = entry
        print(f"    {wall:.1f} s, peak RSS {entry['peak_rss_mib']} MiB, exit {code}", flush=True)
    stages = [s for c in result["commands"].values() for s in c.get("stages", [])]
    messages = next((s["rows"] for s in stages if s["stage"] == "stg_fix_msg"), None)
    result["messages"] = messages
    cmds = result["commands"].values()
    result["complete"] = len(result["commands"]) == len(steps) and all("error" not in c for c in cmds)
    if args.no_report:
        result["note"] = "run only (--no-report): the report was not timed"
    result["wall_s"] = round(sum(c["wall_s"] for c in cmds), 2)
    result["peak_rss_mib"] = max((c["peak_rss_mib"] or 0) for c in cmds)
    if messages and result["complete"]:
        result["messages_per_s"] = round(messages / result["wall_s"])
    return result


def limit_mib(text):
    """--memory-limit as MiB ("2G", "512M", "1.5GiB"; a bare number is bytes), None if unreadable."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        return None
    scale = {"": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}[m.group(2).upper()]
    return float(m.group(1)) * scale


def over_limit(r):
    """The commands of a run whose peak RSS went over its --memory-limit."""
    limit = limit_mib(r["memory_limit"])
    if limit is None:
        return []
    return [name for name, c in r["commands"].items() if (c.get("peak_rss_mib") or 0) > limit]


def fmt_ms(ms):
    return f"{ms / 1000:.1f}" if ms >= 100 else f"{ms / 1000:.2f}"


def done(r):
    return ("yes" if r["complete"] else "NO") + (" (run only)" if r.get("note") else "")


def peak(r):
    over = over_limit(r)
    return f"{r['peak_rss_mib']} OVER ({', '.join(over)})" if over else f"{r['peak_rss_mib']}"


def render(doc):
    lines = [
        "# ordertrail benchmark results",
        "",
        "Written by `bench/run.py` (`just bench [SIZE ...]`); do not edit by hand.",
        "Synthetic days from `ordertrail gen --date %s --seed %d`, release build." % (DATE, SEED),
        "",
        "A peak RSS marked OVER went over the run's `--memory-limit` (the engine's pool is three",
        "quarters of it; what is over is memory the pool does not see).",
        "",
        "| orders | messages | complete | wall s | msgs/s | peak RSS MiB | memory limit | commit | date |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    runs = sorted(doc["runs"].values(), key=lambda r: (r["orders"], r["memory_limit"]))
    for r in runs:
        lines.append(
            f"| {r['orders']:,} | {r['messages'] or '-':,} | {done(r)} | {r['wall_s']} "
            f"| {r.get('messages_per_s', '-'):,} | {peak(r)} | {r['memory_limit']} | {r['commit']} | {r['date']} |"
            if r["messages"] else
            f"| {r['orders']:,} | - | {done(r)} | {r['wall_s']} | - | {peak(r)} "
            f"| {r['memory_limit']} | {r['commit']} | {r['date']} |"
        )
    for r in runs:
        lines += ["", f"## {r['orders']:,} orders, memory limit {r['memory_limit']}", ""]
        m = r["machine"]
        lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}. ")
        g = r["generation"]
        lines.append(f"Generation (cached, not in the totals): {g['gen_s']} s, peak RSS {g['gen_peak_rss_mib']} MiB, "
                     f"raw Parquet {g['raw_bytes'] / 2**20:.0f} MiB."
                     + (f" CAT files of {r['records_per_file']:,} events." if r.get("records_per_file") else ""))
        lines.append("")
        for name, c in r["commands"].items():
            cpu = (f", CPU {c['cpu_s']} s ({c['cpu_s'] / c['wall_s']:.2f} cores)"
                   if c.get("cpu_s") and c["wall_s"] else "")
            lines.append(f"- `{c['command']}`: {c['wall_s']} s wall{cpu}, peak RSS {c['peak_rss_mib']} MiB, "
                         f"exit {c['exit_code']}" + (f" — **{c['error']}**" if "error" in c else "")
                         + (f" (failed checks: {', '.join(c['failed_checks'])})" if c.get("failed_checks") else ""))
        if r.get("buckets"):
            lines.append(f"Lake of {r['buckets']} buckets.")
        if r.get("note"):
            lines.append(f"Note: {r['note']}.")
        lines += ["", "| step | rows | seconds | msgs/s | peak RSS MiB | runs | cores busy |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, c in r["commands"].items():
            for s in c.get("stages", []):
                rate = f"{r['messages'] / (s['elapsed_ms'] / 1000):,.0f}" if r["messages"] and s["elapsed_ms"] else "-"
                rss = f"{s['peak_rss_kib'] / 1024:.0f}" if s.get("peak_rss_kib") else "-"
                busy = f"{s['cpu_ms'] / s['elapsed_ms']:.2f}" if s.get("cpu_ms") and s["elapsed_ms"] else "-"
                lines.append(f"| {s['stage']} | {s['rows']:,} | {fmt_ms(s['elapsed_ms'])} | {rate} | {rss} "
                             f"| {s.get('buckets', '-')} | {busy} |")
            checks = c.get("checks", [])
            if checks:
                total = sum(x["elapsed_ms"] for x in checks)
                slow = sorted(checks, key=lambda x: -x["elapsed_ms"])[:3]
                peaks = [x["peak_rss_kib"] for x in checks if x.get("peak_rss_kib")]
                lines.append(f"| checks ({len(checks)}; slowest: "
                             + ", ".join(f"{x['check']} {fmt_ms(x['elapsed_ms'])}" for x in slow)
                             + f") | - | {fmt_ms(total)} | - | {f'{max(peaks) / 1024:.0f}' if peaks else '-'} | - | - |")
            if c.get("report_files_ms") is not None:
                lines.append(f"| report files | - | {fmt_ms(c['report_files_ms'])} | - | - | - | - |")
    return "\n".join(lines) + "\n"


def stage_csv(doc):
    rows = ["engine,orders,messages,kind,step,rows,elapsed_ms,memory_limit,commit"]
    for r in sorted(doc["runs"].values(), key=lambda r: (r["orders"], r["memory_limit"])):
        for name, c in r["commands"].items():
            for s in c.get("stages", []):
                kind = "report_stage" if name == "report" else "stage"
                rows.append(f"datafusion,{r['orders']},{r['messages']},{kind},{s['stage']},{s['rows']},"
                            f"{s['elapsed_ms']:.1f},{r['memory_limit']},{r['commit']}")
            for x in c.get("checks", []):
                rows.append(f"datafusion,{r['orders']},{r['messages']},check,{x['check']},,"
                            f"{x['elapsed_ms']:.1f},{r['memory_limit']},{r['commit']}")
            if c.get("report_files_ms") is not None:
                rows.append(f"datafusion,{r['orders']},{r['messages']},report_files,report_files,,"
                            f"{c['report_files_ms']:.1f},{r['memory_limit']},{r['commit']}")
    return "\n".join(rows) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000, 10_000_000])
    p.add_argument("--memory-limit", default="2G")
    p.add_argument("--buckets", type=int,
                   help="the lake's bucket count [default: 8 up to 2.5M orders, doubling with the day]")
    p.add_argument("--records-per-file", type=int, default=1_000_000,
                   help="CAT events per file in the benchmark's config [default: 1000000]")
    p.add_argument("--cache-dir", default=os.environ.get(
        "ORDERTRAIL_BENCH_DIR", str(Path.home() / ".cache/ordertrail/bench")))
    p.add_argument("--no-report", action="store_true",
                   help="time `run` (stages and checks) only, not `report`")
    p.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    p.add_argument("--binary", help="the ordertrail binary [default: the release build]")
    p.add_argument("--results", default=str(ROOT / "bench"), help="where results.{json,md} go")
    p.add_argument("--from-logs", action="store_true",
                   help="record the last run's figures from its logs and metrics instead of running "
                        "(e.g. after stopping a long run; a step without timing counts as stopped)")
    args = p.parse_args()

    if not args.no_build and not args.binary and not args.from_logs:
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    binary = Path(args.binary) if args.binary else target_dir() / "release" / "ordertrail"
    logs = Path(args.cache_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = Path(args.results)
    doc_path = results / "results.json"
    doc = json.loads(doc_path.read_text()) if doc_path.exists() else {"runs": {}}
    # the code measured is the checkout's when the run starts (a long run outlives commits)
    commit = git_commit()
    over = []
    for orders in args.sizes:
        print(f"{orders} orders:", flush=True)
        r = bench_size(binary, orders, args, logs)
        r.update(
            memory_limit=args.memory_limit,
            commit=commit if not args.binary else f"{commit} (binary {args.binary})",
            date=datetime.date.today().isoformat(),
            machine=machine(),
            bench_command="python3 bench/run.py --memory-limit %s %d" % (args.memory_limit, orders),
        )
        doc["runs"][f"{orders}@{args.memory_limit}"] = r
        doc_path.write_text(json.dumps(doc, indent=2) + "\n")
        (results / "results.md").write_text(render(doc))
        (results / "stage_times.csv").write_text(stage_csv(doc))
        print(f"  total {r['wall_s']} s, peak RSS {r['peak_rss_mib']} MiB, complete: {r['complete']}", flush=True)
        for name in over_limit(r):
            over.append(f"{orders} orders: {name} peaked at {r['commands'][name]['peak_rss_mib']} MiB")
            print(f"  OVER THE LIMIT: {over[-1]}, --memory-limit {args.memory_limit}", flush=True)
    if over:
        sys.exit(f"peak RSS over --memory-limit {args.memory_limit}: " + "; ".join(over))


if __name__ == "__main__":
    main()
