#!/usr/bin/env python3
"""AWS provider benchmark: a 200-resource stack against moto, on loopback.

Usage:  python3 bench/aws.py [--resources N] [--parallelism P]
        TERRANE_BIN=target/debug/terrane python3 bench/aws.py   (no dist build)

Starts moto_server (pip install 'moto[server]') behind a small counting proxy, applies
a generated stack (S3 buckets with versioning, SQS queues, SNS topics and DynamoDB
tables in equal parts), then runs a no-change plan and a destroy. For each step it
prints the wall time and the number of AWS API calls per resource, counted by the
proxy. moto answers in a few milliseconds, so the figures show terrane's own overhead
and how many calls it makes; against real AWS the calls dominate.
"""
import http.client
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
# TERRANE_BIN runs an already built binary (say, the debug build) instead of building
# the dist profile first.
BIN = os.environ.get("TERRANE_BIN") or os.path.join(TARGET, "dist", "terrane")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.by_action = {}

    def add(self, action):
        with self.lock:
            self.calls += 1
            self.by_action[action] = self.by_action.get(action, 0) + 1

    def take(self):
        with self.lock:
            n, self.calls = self.calls, 0
            by, self.by_action = self.by_action, {}
            return n, by


def action_of(method, path, headers, body):
    """The API action a request makes: the query protocol's `Action=`, the JSON
    protocol's `X-Amz-Target`, or the method for S3's REST calls."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    if body:
        for part in body.split(b"&"):
            if part.startswith(b"Action="):
                return part[len(b"Action="):].decode()
    return f"S3 {method}"


def proxy(listen_port, upstream_port, counter):
    """Forwards every request to moto and counts them."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            counter.add(action_of(self.command, self.path, self.headers, body))
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def generate(n):
    """Half the stack is one object per resource block (S3, SQS, SNS, DynamoDB); the
    other half is EC2 objects made with `count` (a VPC, subnets, instances, volumes),
    whose refresh is batched into one Describe call per resource block."""
    out = ['provider "aws" {\n  region = "us-east-1"\n  s3_use_path_style = true\n}\n']
    ec2 = n // 2
    subnets, volumes = ec2 // 10, ec2 * 3 // 10
    instances = ec2 - 1 - subnets - volumes
    out.append(f'''data "aws_ami" "linux" {{
  most_recent = true
  owners      = ["amazon"]
  filter {{
    name   = "name"
    values = ["amzn2-ami-hvm-*-x86_64-gp2"]
  }}
}}
resource "aws_vpc" "main" {{
  cidr_block = "10.0.0.0/16"
}}
resource "aws_subnet" "s" {{
  count      = {subnets}
  vpc_id     = aws_vpc.main.id
  cidr_block = cidrsubnet("10.0.0.0/16", 8, count.index)
}}
resource "aws_instance" "i" {{
  count         = {instances}
  ami           = data.aws_ami.linux.id
  instance_type = "t3.micro"
  subnet_id     = aws_subnet.s[count.index % {subnets}].id
}}
resource "aws_ebs_volume" "v" {{
  count             = {volumes}
  availability_zone = "us-east-1a"
  size              = 8
}}
''')
    per = (n - ec2) // 5
    for i in range(per):
        out.append(f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "bench-{i}"\n}}\n')
        out.append(f'resource "aws_s3_bucket_versioning" "b{i}" {{\n  bucket = aws_s3_bucket.b{i}.id\n  versioning_configuration {{\n    status = "Enabled"\n  }}\n}}\n')
        out.append(f'resource "aws_sqs_queue" "q{i}" {{\n  name = "bench-{i}"\n}}\n')
        out.append(f'resource "aws_sns_topic" "t{i}" {{\n  name = "bench-{i}"\n}}\n')
        out.append(f'resource "aws_dynamodb_table" "d{i}" {{\n  name = "bench-{i}"\n  billing_mode = "PAY_PER_REQUEST"\n  hash_key = "id"\n  attribute {{\n    name = "id"\n    type = "S"\n  }}\n}}\n')
    return "\n".join(out), per * 5 + ec2


def main():
    n = int(sys.argv[sys.argv.index("--resources") + 1]) if "--resources" in sys.argv else 200
    par = sys.argv[sys.argv.index("--parallelism") + 1] if "--parallelism" in sys.argv else "10"
    if not os.environ.get("TERRANE_BIN"):
        subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli"], cwd=ROOT, check=True)
    moto_port, proxy_port = free_port(), free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", moto_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        counter = Counter()
        proxy(proxy_port, moto_port, counter)
        ws = tempfile.mkdtemp(prefix="terrane-aws-bench-")
        text, count = generate(n)
        with open(os.path.join(ws, "main.tf"), "w") as f:
            f.write(text)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy_port}",
                   AWS_EC2_METADATA_DISABLED="true")
        print(f"AWS provider benchmark: {count} resources against moto, --parallelism {par} ({os.cpu_count()} cores)\n")
        print(f"{'step':<22} {'wall s':>8} {'API calls':>10} {'calls/resource':>15}")
        for step, args in (("apply", ["apply", "--auto-approve", "--parallelism", par]),
                           ("plan (no changes)", ["plan", "--detailed-exitcode", "--parallelism", par]),
                           ("destroy", ["destroy", "--auto-approve", "--parallelism", par])):
            counter.take()
            t = time.time()
            r = subprocess.run([BIN, "-C", ws, "--no-color"] + args, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.time() - t
            calls, by_action = counter.take()
            if r.returncode not in (0,):
                sys.exit(f"{step} failed ({r.returncode}): {r.stderr[-2000:]}")
            print(f"{step:<22} {wall:>8.2f} {calls:>10} {calls / count:>15.2f}")
            if step.startswith("plan"):
                refresh = by_action
        print("\nrefresh calls by action (plan with no changes):")
        for action, n in sorted(refresh.items(), key=lambda kv: -kv[1]):
            print(f"  {action:<32} {n:>5}")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
