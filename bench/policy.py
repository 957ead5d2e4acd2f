#!/usr/bin/env python3
"""Policy and scan benchmark.

Usage:  python3 bench/policy.py            (builds terrane with the dist profile first)
        TERRANE_BIN=path/to/terrane python3 bench/policy.py

1. `terrane scan` of a generated 1,000-resource AWS and local configuration (the
   generator of bench/checkov_compare.py: half misconfigured) with the whole built-in
   pack; target ≤ 0.5 s. Best of 5 runs.
2. `terrane plan` of 10,000 resources (bench/run.py's null_resource graph), first with
   only the built-in scan (which runs on every plan), then with a policy set that
   checks every resource change (a required-tags rule, a deny on deletes, a warn).
   The check's own time is read from the debug log line the CLI writes for it
   (`policy check of the plan`) and weighed against the rest of the plan (median of
   three runs); target ≤ 10 %.
"""
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = os.environ.get("TERRANE_BIN") or str(TARGET / "dist" / "terrane")


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


POLICY = r'''package bench.tags

import rego.v1

deny contains msg if {
    some rc in input.resource_changes
    rc.mode == "managed"
    "create" in rc.change.actions
    startswith(rc.type, "aws_")
    not rc.change.after.tags.team
    msg := sprintf("%s needs a team tag", [rc.address])
}

deny contains msg if {
    some rc in input.resource_changes
    "delete" in rc.change.actions
    rc.type == "aws_db_instance"
    msg := sprintf("%s: databases are not deleted by plans", [rc.address])
}

warn contains msg if {
    n := count([rc | some rc in input.resource_changes; rc.change.actions == ["create"]])
    n > 50000
    msg := sprintf("%d creates in one plan", [n])
}
'''


def timed(args, env=None):
    t = time.perf_counter()
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, **(env or {})))
    return time.perf_counter() - t, p


def main():
    if not os.environ.get("TERRANE_BIN"):
        subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli"], cwd=ROOT, check=True)
    compare = load("checkov_compare")
    engine = load("run")
    with tempfile.TemporaryDirectory(prefix="terrane-policy-bench-") as tmp:
        tmp = Path(tmp)
        scan_dir = tmp / "scan"
        scan_dir.mkdir()
        n = compare.generate(1000, scan_dir)
        times = []
        for _ in range(5):
            secs, p = timed(["-C", str(scan_dir), "scan", "--format", "json"])
            if p.returncode not in (0, 2):
                sys.exit(f"scan failed ({p.returncode}): {p.stderr[-2000:]}")
            times.append(secs)
        import json
        findings = len(json.loads(p.stdout)["findings"])
        best = min(times)
        print(f"scan, {n} resources, {findings} findings: best {best:.3f} s, median {sorted(times)[2]:.3f} s"
              f"  (target ≤ 0.5 s: {'ok' if best <= 0.5 else 'MISSED'})")

        plan_dir = tmp / "plan"
        engine.generate(str(plan_dir), 10_000)
        (plan_dir / "policy").mkdir()
        (plan_dir / "policy" / "tags.rego").write_text(POLICY)
        measure(plan_dir, "built-in scan only (every plan)")
        with open(plan_dir / "main.tf", "a") as f:
            f.write('\npolicy "tags" {\n  source            = "./policy"\n  enforcement_level = "advisory"\n}\n')
        measure(plan_dir, "with a policy set over every change")


def measure(plan_dir, what):
    rows = []
    for _ in range(3):
        secs, p = timed(["-C", str(plan_dir), "--no-color", "plan"],
                        env={"TERRANE_LOG": "terrane=debug,warn"})
        if p.returncode != 0:
            sys.exit(f"plan failed ({p.returncode}): {p.stderr[-2000:]}")
        m = re.search(r"document_ms=([\d.]+) total_ms=([\d.]+)", p.stderr)
        if not m:
            sys.exit("no policy timing line in the debug log:\n" + p.stderr[-2000:])
        rows.append((secs, float(m.group(1)) / 1e3, float(m.group(2)) / 1e3))
    secs, doc, check = sorted(rows)[1]
    added = check / (secs - check)
    print(f"plan, 10,000 resources, {what}: {secs:.3f} s, of which the policy check {check:.3f} s "
          f"(building its input {doc:.3f} s): the check adds {added * 100:.1f} % to the plan"
          f"  (target ≤ 10 %: {'ok' if added <= 0.10 else 'MISSED'})")


if __name__ == "__main__":
    main()
