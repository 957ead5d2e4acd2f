#!/usr/bin/env python3
"""Instructions per proxied request: terrane's local_load_balancer against nginx, counted
by valgrind's callgrind.

Usage:  python3 bench/lb_instructions.py [--requests-seconds SECONDS]
        TERRANE_BIN=path/to/terrane python3 bench/lb_instructions.py   (another build)

Needs valgrind, nginx and wrk (Debian: apt-get install -y valgrind nginx wrk).

Wall-clock throughput on a shared 2-core machine moves by several per cent from one
run to the next (bench/lb.py); an instruction count does not. Each balancer runs under
callgrind with one worker (terrane: TERRANE_LB_THREADS=1; nginx: one worker, no master)
in front of one keep-alive nginx backend returning a 2-byte body. After a warm-up the
counters are zeroed, `wrk -t1 -c10` runs, the counters are dumped, and the total is
divided by the requests wrk completed. The figure covers everything the balancer's
process executes in user space in that window (the kernel's share is not counted:
see bench/lb.py for CPU time per request, kernel included).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The helpers of the wall-clock benchmark (this script's directory is on sys.path).
from lb import (TARGET, build, free_port, nginx_balancer, nginx_command, static_servers, stop_processes,
                terrane_balancer, wait_port)

# TERRANE_BIN measures a binary built elsewhere (another commit, say) instead.
BIN = os.environ.get("TERRANE_BIN") or os.path.join(TARGET, "dist", "terrane")


def measure(pid, port, seconds, out_prefix):
    """Zeroes the counters of the callgrind run `pid`, drives load, dumps, and returns
    (instructions, requests)."""
    subprocess.run(["wrk", "-t1", "-c10", "-d3s", f"http://127.0.0.1:{port}/"], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "--zero", str(pid)], capture_output=True, check=True)
    out = subprocess.run(["wrk", "-t1", "-c10", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    subprocess.run(["callgrind_control", "--dump=measured", str(pid)], capture_output=True, check=True)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    # The dump requested last is the newest file of that process.
    dumps = sorted(glob.glob(f"{out_prefix}.{pid}.*"), key=os.path.getmtime)
    if not dumps:
        sys.exit(f"callgrind wrote no dump for process {pid}")
    with open(dumps[-1]) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("summary:") or line.startswith("totals:"))
    return total, requests


def main():
    seconds = int(sys.argv[sys.argv.index("--requests-seconds") + 1]) if "--requests-seconds" in sys.argv else 10
    for tool in ("valgrind", "callgrind_control", "nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install -y valgrind nginx wrk")
    if not os.environ.get("TERRANE_BIN"):
        build()
    tmp = tempfile.mkdtemp(prefix="terrane-lb-instr-")
    procs = []
    try:
        backend = free_port()
        procs.append(subprocess.Popen(nginx_command(f"{tmp}/backend", static_servers([backend]), 1)))
        wait_port(backend)
        results = {}

        # terrane: the agent (and the worker process it starts) under callgrind.
        port, ws = free_port(), f"{tmp}/ws"
        os.makedirs(ws)
        with open(f"{ws}/main.tf", "w") as f:
            f.write(terrane_balancer(port, [backend]))
        env = dict(os.environ, TERRANE_LB_THREADS="1", TERRANE_AGENT_LISTEN="127.0.0.1:0")
        prefix = f"{tmp}/terrane.cg"
        agent = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={prefix}.%p",
                                  BIN, "agent"], cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(agent)
        info = f"{ws}/.terrane/agent/agent.json"
        deadline = time.time() + 120
        while not os.path.exists(info) and time.time() < deadline:
            time.sleep(0.5)
        subprocess.run([BIN, "-C", ws, "--no-color", "apply", "--auto-approve"], check=True, env=env, stdout=subprocess.DEVNULL)
        wait_port(port, 120)
        pid = json.load(open(info))["pid"]
        results["terrane"] = measure(pid, port, seconds, prefix)
        subprocess.run([BIN, "-C", ws, "--no-color", "agent", "stop"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # nginx: one worker, no master, under callgrind.
        port = free_port()
        prefix = f"{tmp}/nginx.cg"
        ng = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p"]
                              + nginx_command(f"{tmp}/nginx", nginx_balancer(port, [backend]), 1, master=False),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ng)
        wait_port(port, 120)
        results["nginx"] = measure(ng.pid, port, seconds, prefix)

        print(f"instructions per proxied request (callgrind, one worker, wrk -t1 -c10 -d{seconds}s, 2-byte body, keep-alive backend)\n")
        for name, (total, requests) in results.items():
            print(f"{name:<8} {total / requests:>9,.0f}   ({total:,} instructions / {requests:,} requests)")
        t, n = (results[k][0] / results[k][1] for k in ("terrane", "nginx"))
        print(f"\nterrane / nginx: {t / n:.2f}x the instructions per request")
    finally:
        # callgrind writes its last dump on the way out, which takes a while.
        stop_processes(procs, grace=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
