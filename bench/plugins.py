#!/usr/bin/env python3
"""Plugin benchmark: plan and apply of N resources through one provider plugin, terrane
beside Terraform 1.15 on the same plugin and machine.

Usage:  python3 bench/plugins.py [--n 1000] [--rounds 3] [--parallelism 10]

Needs: a terrane binary (TERRANE_BIN, default $CARGO_TARGET_DIR/release/terrane), the
plugin peers (scripts/plugin-peers) and Terraform (TERRANE_TERRAFORM, as .ci/run sets
it). The plugin is pyvider (Python): N `pyvider_file_content` resources, each a small
file. Each round runs both tools, alternating which goes first, each in a fresh
directory initialised from the same filesystem mirror:
  plan     a plan of N creates
  apply    the apply (it plans again first, as `apply -auto-approve` does)
  noop     a plan with nothing to do (N reads)
  destroy  destroying the N objects
Figures are wall-clock seconds, median over the rounds. Plugin start-up is measured
separately: `terrane validate` of a one-resource configuration (start the plugin, read
its schema, stop it) minus the same without the plugin.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TERRANE = os.environ.get("TERRANE_BIN", os.path.join(TARGET, "release", "terrane"))
TERRAFORM = os.environ.get("TERRANE_TERRAFORM")
PEERS = os.path.expanduser("~/.cache/terrane-plugins")


def config(n):
    head = """terraform {
  required_providers {
    pyvider = { source = "local/pyvider", version = "~> 0.8" }
  }
}
"""
    body = "".join(
        f'resource "pyvider_file_content" "f{i}" {{\n  filename = "${{path.module}}/out/f{i}.txt"\n  content  = "file {i}"\n}}\n'
        for i in range(n)
    )
    return head + body


def env_for(d):
    e = dict(os.environ)
    e.update(
        TF_CLI_CONFIG_FILE=os.path.join(PEERS, "terraformrc"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        NO_COLOR="1",
    )
    return e


def timed(cmd, d):
    t = time.monotonic()
    p = subprocess.run(cmd, cwd=d, env=env_for(d), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    secs = time.monotonic() - t
    if p.returncode not in (0, 2):
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return secs


def tool_cmds(tool, par):
    if tool == "terraform":
        base = [TERRAFORM]
        return {
            "init": base + ["init", "-no-color"],
            "plan": base + ["plan", "-no-color", f"-parallelism={par}"],
            "apply": base + ["apply", "-auto-approve", "-no-color", f"-parallelism={par}"],
            "noop": base + ["plan", "-no-color", f"-parallelism={par}"],
            "destroy": base + ["destroy", "-auto-approve", "-no-color", f"-parallelism={par}"],
        }
    base = [TERRANE, "--no-color"]
    return {
        "init": base + ["init"],
        "plan": base + ["plan", "--parallelism", str(par)],
        "apply": base + ["apply", "--auto-approve", "--parallelism", str(par)],
        "noop": base + ["plan", "--parallelism", str(par)],
        "destroy": base + ["destroy", "--auto-approve", "--parallelism", str(par)],
    }


def one_round(tool, n, par):
    d = tempfile.mkdtemp(prefix=f"bench-plugin-{tool}-")
    try:
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(config(n))
        os.makedirs(os.path.join(d, "out"))
        cmds = tool_cmds(tool, par)
        timed(cmds["init"], d)
        return {step: timed(cmds[step], d) for step in ("plan", "apply", "noop", "destroy")}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def startup():
    """Median wall time of terrane validate with the plugin, minus without it."""
    d = tempfile.mkdtemp(prefix="bench-plugin-start-")
    try:
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(config(1))
        timed([TERRANE, "--no-color", "init"], d)
        with_plugin = statistics.median(timed([TERRANE, "--no-color", "validate"], d) for _ in range(5))
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write('resource "terraform_data" "x" {}\n')
        without = statistics.median(timed([TERRANE, "--no-color", "validate"], d) for _ in range(5))
        return with_plugin - without
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parallelism", type=int, default=10)
    a = ap.parse_args()
    if not TERRAFORM:
        sys.exit("TERRANE_TERRAFORM must name Terraform 1.15 (bash .ci/run sets it)")
    if not os.path.exists(os.path.join(PEERS, "terraformrc")):
        sys.exit("run scripts/plugin-peers first")
    results = {"terraform": [], "terrane": []}
    for r in range(a.rounds):
        order = ["terraform", "terrane"] if r % 2 == 0 else ["terrane", "terraform"]
        for tool in order:
            res = one_round(tool, a.n, a.parallelism)
            results[tool].append(res)
            print(f"round {r + 1} {tool:9}: " + "  ".join(f"{k} {v:6.2f}s" for k, v in res.items()), flush=True)
    print(f"\n{a.n} pyvider_file_content through one plugin, parallelism {a.parallelism}, median of {a.rounds} rounds:")
    print(f"{'step':8} {'terraform':>10} {'terrane':>10} {'ratio':>7}")
    worse = []
    for step in ("plan", "apply", "noop", "destroy"):
        tf = statistics.median(x[step] for x in results["terraform"])
        tr = statistics.median(x[step] for x in results["terrane"])
        print(f"{step:8} {tf:9.2f}s {tr:9.2f}s {tr / tf:6.2f}x")
        if tr > tf:
            worse.append(step)
    print(f"\nplugin start-up (start, handshake, schema, stop): {startup() * 1000:.0f} ms")
    if worse:
        print(f"TARGET MISSED: terrane slower than Terraform at {', '.join(worse)}")
    else:
        print("target met: terrane no slower than Terraform at every step")


if __name__ == "__main__":
    main()
