#!/usr/bin/env python3
"""State encryption benchmark: what encrypting state adds to apply and plan at 10,000
resources.

Usage:  python3 bench/secrets.py            (builds terrane with the dist profile first)
        TERRANE_BIN=path/to/terrane python3 bench/secrets.py

Three configurations of 10,000 null_resources (bench/run.py's dependency graph), each
with a token in its triggers:
  plain      the token is an ordinary variable: nothing is encrypted;
  sensitive  the token is `sensitive = true`: every resource holds a sensitive value,
             encrypted one by one in state (the default);
  all        as `sensitive`, with whole-state encryption (`state = "all"`): every
             attribute of every row is encrypted.
Each runs `apply` into an empty state and then a no-change `plan`, seven times (alternated); the
medians are compared with `plain`. Target: encryption adds ≤ 10 %. The key provider is
the default (the workspace's generated age identity); a passphrase adds one argon2id
derivation (about 30–50 ms) per command that meets an encrypted value.
"""
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = os.environ.get("TERRANE_BIN") or str(TARGET / "dist" / "terrane")
N = 10_000
ROUNDS = 7


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_config(d, engine, mode):
    engine.generate(str(d), N)
    main = d / "main.tf"
    text = main.read_text().replace("triggers = {", "triggers = { token = var.token,")
    sensitive = "\n  sensitive = true" if mode != "plain" else ""
    text += f'\nvariable "token" {{\n  default = "tok-3f9a1c7e5b2d4086"{sensitive}\n}}\n'
    if mode == "all":
        text += '\nterraform {\n  encryption {\n    state = "all"\n  }\n}\n'
    main.write_text(text)


def timed(d, *args):
    """(wall seconds, CPU seconds: user + system) of one terrane run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([BIN, "-C", str(d), "--no-color", *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit(f"terrane {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return secs, cpu


def main():
    if not os.environ.get("TERRANE_BIN"):
        subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli"], cwd=ROOT, check=True)
    engine = load("run")
    modes = ["plain", "sensitive", "all"]
    results = {m: {"apply": [], "plan": []} for m in modes}
    with tempfile.TemporaryDirectory(prefix="terrane-secrets-bench-") as tmp:
        for rnd in range(ROUNDS):
            # Alternate the modes so each sees the same machine load.
            for m in modes:
                d = Path(tmp) / f"{m}-{rnd}"
                write_config(d, engine, m)
                results[m]["apply"].append(timed(d, "apply", "--auto-approve"))
                results[m]["plan"].append(timed(d, "plan"))
                if rnd == 0 and m != "plain":
                    raw = (d / ".terrane" / "state.db").read_bytes()
                    assert b"tok-3f9a1c7e5b2d4086" not in raw, f"{m}: the token is in the state in plaintext"
                shutil.rmtree(d)
    def median(xs):
        return sorted(xs)[ROUNDS // 2]

    med = {m: {op: (median([w for w, _ in v]), median([c for _, c in v])) for op, v in r.items()}
           for m, r in results.items()}
    print(f"10,000 resources; medians of {ROUNDS} runs, wall time and CPU time (user + system)")
    print(f"  plain     apply {med['plain']['apply'][0]:.3f} s (CPU {med['plain']['apply'][1]:.3f} s), "
          f"plan {med['plain']['plan'][0]:.3f} s (CPU {med['plain']['plan'][1]:.3f} s)")
    for m in ("sensitive", "all"):
        for op in ("apply", "plan"):
            (bw, bc), (w, c) = med["plain"][op], med[m][op]
            added_w, added_c = (w - bw) / bw, (c - bc) / bc
            worst = max(added_w, added_c)
            print(f"  {m:<9} {op:<5} {w:.3f} s ({added_w * 100:+.1f} %), CPU {c:.3f} s ({added_c * 100:+.1f} %)"
                  f"  (target ≤ 10 %: {'ok' if worst <= 0.10 else 'MISSED'})")

if __name__ == "__main__":
    main()
