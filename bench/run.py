#!/usr/bin/env python3
"""Engine benchmark: plan/apply speed and peak memory at 10k and 100k resources, and
parallel apply efficiency with a 50 ms-per-create provider.

Usage:  python3 bench/run.py [--quick]      (builds terrane with the dist profile first;
        TERRANE_BENCH_BIN=PATH measures that binary instead)

Configurations are generated in a temporary directory: null_resources where each one
depends on a resource picked from the previous tenth of the list, the dependency shape
of a large real configuration (many short chains, wide fan-out). Every figure is the
wall time and peak RSS of one `terrane` process, measured with /usr/bin/time.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "dist", "terrane")

TARGETS = {
    "plan_10k_empty": ("s", 1.0), "apply_10k": ("s", 5.0), "plan_10k_noop": ("s", 1.0),
    "rss_10k": ("MB", 200.0), "plan_100k_empty": ("s", 10.0), "rss_100k": ("MB", 1536.0),
}


def generate(d, n, changed=None):
    os.makedirs(d, exist_ok=True)
    lines = []
    for i in range(n):
        if i == 0:
            lines.append('resource "null_resource" "r0" {\n  triggers = { v = "0" }\n}\n')
            continue
        window = max(1, i // 10)
        # A deterministic pick from the previous tenth.
        j = i - 1 - ((i * 2654435761) % window)
        v = "changed" if changed == i else str(i)
        lines.append(
            f'resource "null_resource" "r{i}" {{\n  triggers = {{ v = "{v}", dep = null_resource.r{j}.id }}\n}}\n'
        )
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write("".join(lines))


def run(d, *args, env=None):
    cmd = ["/usr/bin/time", "-f", "%e %M", BIN, "-C", d, "--no-color", *args]
    e = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=e)
    last = p.stderr.strip().splitlines()[-1]
    secs, kb = last.split()
    if p.returncode not in (0, 2):
        sys.exit(f"terrane {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return float(secs), int(kb) / 1024.0, p.stderr


def report(name, value, unit):
    target = TARGETS.get(name)
    verdict = ""
    if target:
        verdict = "  (target ≤ %g %s: %s)" % (target[1], target[0], "ok" if value <= target[1] else "MISSED")
    print(f"{name:<34} {value:10.3f} {unit}{verdict}", flush=True)


def main():
    quick = "--quick" in sys.argv
    global BIN
    if os.environ.get("TERRANE_BENCH_BIN"):
        # A binary built already (e.g. `scripts/dist dist-local --no-default-features`).
        BIN = os.environ["TERRANE_BENCH_BIN"]
    else:
        subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="terrane-bench-")
    try:
        print(f"terrane engine benchmark ({os.cpu_count()} cores)\n")
        d = os.path.join(tmp, "10k")
        generate(d, 10_000)
        t, rss, _ = run(d, "plan")
        report("plan_10k_empty", t, "s"); peak = rss
        t, rss, _ = run(d, "apply", "--auto-approve")
        report("apply_10k", t, "s"); peak = max(peak, rss)
        t, rss, _ = run(d, "plan", "--detailed-exitcode")
        report("plan_10k_noop", t, "s"); peak = max(peak, rss)
        report("rss_10k", peak, "MB")

        d = os.path.join(tmp, "sleep")
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write('resource "time_sleep" "s" {\n  count = 1000\n  create_duration = "50ms"\n}\n')
        t, rss, _ = run(d, "apply", "--auto-approve", "--parallelism", "10")
        ideal = 1000 * 0.050 / 10
        report("apply_1000x50ms_parallelism10", t, "s")
        print(f"{'  overhead vs ideal 5 s':<34} {100.0 * (t - ideal) / ideal:10.1f} %  (target ≤ 5 %)")

        if not quick:
            d = os.path.join(tmp, "100k")
            generate(d, 100_000)
            t, rss, _ = run(d, "plan")
            report("plan_100k_empty", t, "s"); peak = rss
            t, rss, _ = run(d, "apply", "--auto-approve")
            report("apply_100k", t, "s"); peak = max(peak, rss)
            t, rss, _ = run(d, "plan", "--detailed-exitcode")
            report("plan_100k_noop", t, "s"); peak = max(peak, rss)
            generate(d, 100_000, changed=99_999)
            t, rss, err = run(d, "apply", "--auto-approve", env={"TERRANE_LOG": "terrane_engine::writer=debug"})
            report("apply_100k_one_change", t, "s"); peak = max(peak, rss)
            report("rss_100k", peak, "MB")
            micros = [int(m) for m in re.findall(r"state write.*?micros=(\d+)", err)]
            db = sqlite3.connect(os.path.join(d, ".terrane", "state.db"))
            serial = db.execute("SELECT max(serial) FROM serials").fetchone()[0]
            rows = db.execute("SELECT count(*) FROM resources WHERE serial_from = ?", (serial,)).fetchone()[0]
            print(f"{'rows_written_one_change':<34} {rows:10d} rows (state serial {serial}; the state holds 100000 rows; r99999 has no dependents)")
            print(f"{'state_write_one_change':<34} {sum(micros) / 1000.0:10.3f} ms ({len(micros)} write(s))")

    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
