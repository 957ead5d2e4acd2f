#!/usr/bin/env python3
"""Cost benchmark: pricing a 10,000-resource plan.

Usage:  python3 bench/cost.py            (builds terrane with the dist profile first)
        TERRANE_BIN=path/to/terrane python3 bench/cost.py

Generates a configuration of 10,000 AWS resources of the priced types (instances with
root volumes, EBS volumes, RDS instances, ElastiCache clusters, NAT gateways, S3
buckets with usage, DynamoDB tables, VPCs), saves a plan of it (`terrane plan --out`,
no AWS calls: every resource is a create), then prices the saved plan with
`terrane cost --plan FILE --format json` five times. The pricing step's own time is
read from the debug line the CLI writes (`plan priced`, `price_ms`); the wall time of
the whole command (reading and decoding the plan file, pricing, printing the JSON) is
reported beside it. Target: pricing ≤ 200 ms.
"""
import json
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

PROVIDER = '''provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "bench"
  secret_key                  = "bench"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
}
'''

# (share of the 10,000, resource template with {i} and {n})
KINDS = [
    (0.30, '''resource "aws_instance" "web{i}" {{
  count         = {n}
  ami           = "ami-12345678"
  instance_type = "{itype}"
  root_block_device {{
    volume_size = 20
    volume_type = "gp3"
  }}
}}
'''),
    (0.15, '''resource "aws_ebs_volume" "data{i}" {{
  count             = {n}
  availability_zone = "eu-west-1a"
  size              = 100
  type              = "gp3"
  iops              = 4000
}}
'''),
    (0.10, '''resource "aws_db_instance" "db{i}" {{
  count             = {n}
  identifier        = "db{i}-${{count.index}}"
  engine            = "postgres"
  instance_class    = "db.m5.large"
  allocated_storage = 50
  multi_az          = true
  username          = "app"
  password          = var.db_password
}}
'''),
    (0.10, '''resource "aws_elasticache_cluster" "cache{i}" {{
  count           = {n}
  cluster_id      = "cache{i}-${{count.index}}"
  engine          = "redis"
  node_type       = "cache.m5.large"
  num_cache_nodes = 1
}}
'''),
    (0.15, '''resource "aws_s3_bucket" "b{i}" {{
  count  = {n}
  bucket = "bench-bucket-{i}-${{count.index}}"
}}
'''),
    (0.10, '''resource "aws_dynamodb_table" "t{i}" {{
  count        = {n}
  name         = "t{i}-${{count.index}}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {{
    name = "id"
    type = "S"
  }}
}}
'''),
    (0.10, '''resource "aws_vpc" "v{i}" {{
  count      = {n}
  cidr_block = "10.0.0.0/16"
}}
'''),
]

TYPES = ["m5.large", "c5.xlarge", "r5.large", "t3.medium", "m6i.2xlarge"]

USAGE = '''version: 0.1
resource_usage:
  "aws_s3_bucket.*":
    storage_gb: 250
    monthly_tier_1_requests: 100000
    monthly_tier_2_requests: 2000000
'''


def generate(path: Path, total: int) -> int:
    path.mkdir(parents=True, exist_ok=True)
    parts = [PROVIDER, 'variable "db_password" {\n  type      = string\n  sensitive = true\n  default   = "bench-password-123"\n}\n']
    count = 0
    blocks_per_kind = 20
    for k, (share, tmpl) in enumerate(KINDS):
        n_kind = int(total * share)
        per = n_kind // blocks_per_kind
        for i in range(blocks_per_kind):
            n = per if i < blocks_per_kind - 1 else n_kind - per * (blocks_per_kind - 1)
            parts.append(tmpl.format(i=f"{k}x{i}", n=n, itype=TYPES[i % len(TYPES)]))
            count += n
    (path / "main.tf").write_text("\n".join(parts))
    (path / "terrane-usage.yml").write_text(USAGE)
    return count


def run(args, env=None):
    t = time.perf_counter()
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, **(env or {})))
    return time.perf_counter() - t, p


def main():
    if not os.environ.get("TERRANE_BIN"):
        subprocess.run(["cargo", "build", "--profile", "dist", "-p", "terrane-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory(prefix="terrane-cost-bench-") as tmp:
        ws = Path(tmp) / "ws"
        n = generate(ws, 10_000)
        secs, p = run(["-C", str(ws), "--no-color", "plan", "--out", "bench.tfplan"])
        if p.returncode != 0:
            sys.exit(f"plan failed ({p.returncode}): {p.stderr[-2000:]}")
        print(f"plan of {n} AWS resources saved in {secs:.2f} s")
        price_ms, walls = [], []
        for _ in range(5):
            secs, p = run(["-C", str(ws), "cost", "--plan", "bench.tfplan", "--format", "json"],
                          env={"TERRANE_LOG": "terrane=debug,warn"})
            if p.returncode != 0:
                sys.exit(f"cost failed ({p.returncode}): {p.stderr[-2000:]}")
            m = re.search(r"price_ms=([\d.]+)", p.stderr)
            if not m:
                sys.exit("no pricing line in the debug log:\n" + p.stderr[-2000:])
            price_ms.append(float(m.group(1)))
            walls.append(secs)
        doc = json.loads(p.stdout)
        s = doc["summary"]
        print(f"priced {s['resources']} resources: {s['priced']} priced, {s['partly_priced']} partly, "
              f"{s['not_priced']} not priced, {s['free']} free; total ${doc['total_monthly_cost']:,.2f}/month")
        best, median = min(price_ms), sorted(price_ms)[2]
        print(f"pricing: best {best:.1f} ms, median {median:.1f} ms"
              f"  (target ≤ 200 ms: {'ok' if median <= 200 else 'MISSED'})")
        print(f"whole `terrane cost --plan` command (decode the plan file, price, print JSON): "
              f"best {min(walls):.3f} s, median {sorted(walls)[2]:.3f} s")


if __name__ == "__main__":
    main()
