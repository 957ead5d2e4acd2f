#!/usr/bin/env python3
"""Load-balancer benchmark: terrane's local_load_balancer side by side with nginx and
HAProxy, all on loopback, in one run.

Usage:  python3 bench/lb.py [--duration SECONDS] [--rounds N (10)] [--pingora]

Needs nginx, haproxy and wrk (Debian: apt-get install -y nginx haproxy wrk). Three
backends (a separate nginx instance with its own worker processes, listening on three
ports and answering a 2-byte static response) sit behind each balancer, configured
equivalently: round robin, keep-alive connections to the backends. wrk runs with 2
threads and 50 connections against each balancer in turn, for several interleaved
rounds; the report gives the median of each balancer's rounds, the CPU time the
balancer process spent per request, and terrane's throughput against nginx's paired
round by round (the two run seconds apart, so the machine's drift mostly cancels) with
its mean and 95 % interval. Then it
reports the terrane balancer's memory at 1,000 concurrent connections and the time from
a new replica passing its health check to receiving traffic.

Everything shares this machine's cores with wrk and the backends, so single runs are
noisy; the medians and ratios are the point.

With --pingora it also measures a round-robin balancer built on pingora-proxy
(bench/pingora, built on the way; needs cmake), the other maintained Rust proxy stack the
load balancer could have been built on.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "dist", "terrane")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def build():
    """The dist build the benchmarks run. The load balancer does not depend on the cloud
    providers: the AWS SDK is left out, which saves most of its (fat LTO) link time.
    TERRANE_BENCH_BIN=PATH measures a binary built already instead."""
    global BIN
    if os.environ.get("TERRANE_BENCH_BIN"):
        BIN = os.environ["TERRANE_BENCH_BIN"]
        return
    subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli", "--no-default-features"], cwd=ROOT, check=True)


def build_pingora():
    """The pingora-proxy reference balancer (its own cargo workspace), and its binary."""
    manifest = os.path.join(ROOT, "bench", "pingora", "Cargo.toml")
    subprocess.run(["cargo", "build", "--release", "--manifest-path", manifest, "--target-dir", TARGET], cwd=ROOT, check=True)
    return os.path.join(TARGET, "release", "pingora-bench-proxy")


def nginx_command(d, body, workers, master=True):
    """Writes an nginx configuration with `body` in its http block into directory `d`, and
    returns the command that runs it in the foreground (without a master process, the
    worker is that process: what callgrind needs)."""
    os.makedirs(d)
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(f"""
{"" if master else "master_process off;"}
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  {body}
}}
""")
    return ["nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log", "-g", "daemon off;"]


def static_servers(ports):
    """nginx servers on `ports` answering a 2-byte body over keep-alive: the backends."""
    return "\n".join(f"server {{ listen 127.0.0.1:{p}; keepalive_requests 100000; location / {{ return 200 'ok'; }} }}" for p in ports)


def nginx_balancer(port, backends):
    """nginx as a round-robin balancer on `port`, with keep-alive to `backends`."""
    upstream = "\n".join(f"server 127.0.0.1:{p};" for p in backends)
    return f"""upstream pool {{ {upstream} keepalive 64; }}
  server {{ listen 127.0.0.1:{port}; keepalive_requests 100000;
    location / {{ proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""


def terrane_balancer(port, backends):
    """terrane's round-robin balancer on `port` in front of `backends`, as configuration."""
    return f'''
resource "local_load_balancer" "bench" {{
  listen    = "127.0.0.1:{port}"
  algorithm = "round_robin"
  backends  = [{", ".join(f'"127.0.0.1:{p}"' for p in backends)}]
}}
'''


def stop_processes(procs, grace=5):
    """SIGTERM to each process, the last started first; SIGKILL to one still there after `grace` seconds."""
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()


def wrk(port, connections=50, duration=10):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return rps, ms("50%"), ms("99%"), int(errors.group(1)) if errors else 0, socket_errors.group(1) if socket_errors else ""


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def worker_pids(master_pid):
    """The processes that do a balancer's work: nginx's workers, or the process itself."""
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out] or [master_pid]


def rss_mb(pid, field="VmRSS"):
    """Resident memory in MB: all of it (VmRSS), or the process's own anonymous memory
    (RssAnon: heap and stacks, without the executable's shared, clean code pages)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    duration = int(sys.argv[sys.argv.index("--duration") + 1]) if "--duration" in sys.argv else 5
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 10
    if rounds < 1 or duration < 1:
        sys.exit("--rounds and --duration must be at least 1")
    for tool in ("nginx", "haproxy", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install -y nginx haproxy wrk")
    build()
    pingora = build_pingora() if "--pingora" in sys.argv else None
    tmp = tempfile.mkdtemp(prefix="terrane-lb-bench-")
    procs = []
    ws = None
    try:
        backends = [free_port() for _ in range(3)]
        ng_port, ha_port, tr_port = free_port(), free_port(), free_port()

        def nginx(name, workers, body):
            p = subprocess.Popen(nginx_command(f"{tmp}/{name}", body, workers))
            procs.append(p)
            return p

        # The backends: their own processes, apart from every balancer.
        nginx("backends", 2, static_servers(backends))
        # nginx as a balancer: one worker per core, as it is usually run.
        ng = nginx("nginx", "auto", nginx_balancer(ng_port, backends))
        haproxy = f"""
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:{ha_port}
  default_backend be
backend be
  balance roundrobin
""" + "\n".join(f"  server b{i} 127.0.0.1:{p}" for i, p in enumerate(backends)) + "\n"
        with open(f"{tmp}/haproxy.cfg", "w") as f:
            f.write(haproxy)
        ha = subprocess.Popen(["haproxy", "-db", "-f", f"{tmp}/haproxy.cfg"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ha)

        ws = f"{tmp}/ws"
        os.makedirs(ws)
        with open(f"{ws}/main.tf", "w") as f:
            f.write(terrane_balancer(tr_port, backends))
        env = dict(os.environ, TERRANE_AGENT_LISTEN="127.0.0.1:0")
        subprocess.run([BIN, "-C", ws, "--no-color", "apply", "--auto-approve"], check=True, env=env, stdout=subprocess.DEVNULL)
        for p in backends + [ng_port, ha_port, tr_port]:
            wait_port(p)
        info = json.load(open(f"{ws}/.terrane/agent/agent.json"))
        agent_pid = info["pid"]

        print(f"load-balancer benchmark: wrk -t2 -c50 -d{duration}s x {rounds} interleaved rounds, 3 keep-alive backends, round robin ({os.cpu_count()} cores)\n")
        balancers = [("nginx", ng_port, worker_pids(ng.pid)), ("haproxy", ha_port, [ha.pid]), ("terrane", tr_port, [agent_pid])]
        if pingora:
            pg_port = free_port()
            pg = subprocess.Popen([pingora, f"127.0.0.1:{pg_port}", str(os.cpu_count())] + [f"127.0.0.1:{p}" for p in backends],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(pg)
            wait_port(pg_port)
            balancers.append(("pingora", pg_port, [pg.pid]))
        for _, port, _ in balancers:
            wrk(port, 50, 2)  # warm up pools
        runs = {name: [] for name, _, _ in balancers}
        for r in range(rounds):
            # Each round starts with a different balancer, so none always runs first
            # (or last) on a machine whose load drifts.
            for name, port, pids in balancers[r % len(balancers):] + balancers[:r % len(balancers)]:
                before = cpu_seconds(pids)
                rps, p50, p99, bad, sock = wrk(port, 50, duration)
                cpu_us = (cpu_seconds(pids) - before) / (rps * duration) * 1e6
                runs[name].append((rps, p50, p99, cpu_us, bad, sock))

        def median(values):
            values = sorted(values)
            return values[len(values) // 2]

        print(f"{'balancer':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'non-2xx':>8}  socket errors   (medians; req/s of each round)")
        results = {}
        for name, _, _ in balancers:
            r = runs[name]
            med = tuple(median([x[i] for x in r]) for i in range(4))
            results[name] = med
            rounds_text = ", ".join(f"{x[0]:.0f}" for x in r)
            print(f"{name:<10} {med[0]:>10.0f} {med[1]:>8.2f} {med[2]:>8.2f} {med[3]:>11.1f} {sum(x[4] for x in r):>8}  {';'.join(x[5] for x in r if x[5]) or '-'}   ({rounds_text})")
        n, t = results["nginx"], results["terrane"]
        print(f"\nterrane / nginx: throughput {t[0] / n[0]:.2f}x (target >= 1.0), p99 {t[2] / n[2]:.2f}x (target <= 1.2), CPU per request {t[3] / n[3]:.2f}x")
        # The machine's load drifts between rounds more than the balancers differ: the
        # ratio of the two runs of one round, seconds apart, is the steadier figure.
        paired = [tr[0] / ng[0] for tr, ng in zip(runs["terrane"], runs["nginx"])]
        if len(paired) > 1:
            mean = statistics.mean(paired)
            half = 1.96 * statistics.stdev(paired) / len(paired) ** 0.5
            print(f"terrane / nginx throughput, paired by round: median {median(paired):.3f}x, mean {mean:.3f}x +- {half:.3f} (95 % interval over {len(paired)} rounds)")
        if pingora:
            g = results["pingora"]
            print(f"pingora / nginx: throughput {g[0] / n[0]:.2f}x, p99 {g[2] / n[2]:.2f}x, CPU per request {g[3] / n[3]:.2f}x")

        # Memory at 1,000 concurrent connections.
        before, before_anon = rss_mb(agent_pid), rss_mb(agent_pid, "RssAnon")
        w = subprocess.Popen(["wrk", "-t2", "-c1000", "-d8s", f"http://127.0.0.1:{tr_port}/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak, peak_anon = before, before_anon
        while w.poll() is None:
            peak = max(peak, rss_mb(agent_pid))
            peak_anon = max(peak_anon, rss_mb(agent_pid, "RssAnon"))
            time.sleep(0.1)
        print(f"terrane agent memory: {before:.1f} MB idle, {peak:.1f} MB peak at 1,000 connections (target <= 50 MB); "
              f"of which anonymous (heap, stacks): {before_anon:.1f} MB idle, {peak_anon:.1f} MB peak")

        # Time from a replica becoming healthy to receiving traffic: scale a service 1 -> 2
        # while requests flow, and compare when the agent marks replica 1 healthy with when
        # the balancer first sends it a request.
        svc_port = free_port()
        with open(f"{ws}/main.tf", "a") as f:
            f.write(f'''
resource "local_service" "web" {{
  name     = "web"
  command  = "sh"
  args     = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  replicas = 1
  health_check {{
    http_path = "/"
    interval  = "100ms"
  }}
}}
resource "local_load_balancer" "svc" {{
  listen   = "127.0.0.1:{svc_port}"
  services = [local_service.web.id]
}}
''')
        subprocess.run([BIN, "-C", ws, "--no-color", "apply", "--auto-approve"], check=True, env=env, stdout=subprocess.DEVNULL)
        load = subprocess.Popen(["wrk", "-t1", "-c4", "-d15s", f"http://127.0.0.1:{svc_port}/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        src = open(f"{ws}/main.tf").read().replace("replicas = 1", "replicas = 2")
        open(f"{ws}/main.tf", "w").write(src)
        apply = subprocess.Popen([BIN, "-C", ws, "--no-color", "apply", "--auto-approve"], env=env, stdout=subprocess.DEVNULL)
        api = f"http://{info['address']}"
        token = open(f"{ws}/.terrane/agent/token").read().strip()

        def agent_get(path):
            req = urllib.request.Request(f"{api}{path}", headers={"Authorization": f"Bearer {token}"})
            return json.load(urllib.request.urlopen(req))
        healthy_at = traffic_at = None
        deadline = time.time() + 15
        while time.time() < deadline and traffic_at is None:
            now = time.time()
            svc = agent_get("/v1/services/web")
            r1 = [r for r in svc["replicas"] if r["index"] == 1]
            if r1 and r1[0]["healthy"] and healthy_at is None:
                healthy_at = now
                addr = r1[0]["address"]
            if healthy_at is not None:
                lbs = agent_get(f"/v1/lbs/{next(l['name'] for l in agent_get('/v1/lbs') if l['spec']['services'])}")
                if any(b["address"] == addr and b["requests"] > 0 for b in lbs["backends"]):
                    traffic_at = now
            time.sleep(0.01)
        apply.wait()
        load.terminate()
        if healthy_at and traffic_at:
            print(f"healthy replica to first request: {1000 * (traffic_at - healthy_at):.0f} ms (target <= 1000 ms; polled every 10 ms)")
        else:
            print("healthy replica to first request: not observed within 15 s")
        subprocess.run([BIN, "-C", ws, "--no-color", "destroy", "--auto-approve"], env=env, stdout=subprocess.DEVNULL)
    finally:
        # Also when a step above failed: the agent runs in the background otherwise.
        if ws and os.path.exists(f"{ws}/.terrane/agent/agent.json"):
            subprocess.run([BIN, "-C", ws, "--no-color", "agent", "stop"], stdout=subprocess.DEVNULL)
        stop_processes(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
