#!/usr/bin/env python3
"""Compare `terrane scan` with Checkov on the scan fixtures, and time both.

    python3 bench/checkov_compare.py                 # every fixture, then the timing run
    python3 bench/checkov_compare.py s3 network      # some fixtures only
    python3 bench/checkov_compare.py --resources 2000 --skip-bench

Checkov is installed from PyPI into a virtualenv at $HOME/.cache/terrane-checkov-venv
the first time (python3 -m venv, then pip install checkov); later runs reuse it.
The terrane binary is $TERRANE_BIN, else $CARGO_TARGET_DIR/debug/terrane, else
target/debug/terrane.

Checkov's failed checks are mapped to terrane rules through the `checkov` lists of
crates/policy/rules/catalog.json. For each fixture the script prints, per terrane rule
and per Checkov check that maps to no rule, which resources each tool flagged. Then:

- GAP: Checkov flags a resource with a check that the catalog maps to terrane rules,
  and terrane reports none of those rules on that resource.
- FALSE POSITIVE: terrane reports anything on a fixture whose name starts with
  "compliant".

The exit status is 1 when there is a gap or a false positive, else 0. Findings that
terrane suppressed (inline comment or scan block) count as reported: a suppression
is a decision, not a miss.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "policy" / "tests" / "fixtures" / "scan"
CATALOG = ROOT / "crates" / "policy" / "rules" / "catalog.json"
VENV = Path.home() / ".cache" / "terrane-checkov-venv"
CHECKOV = VENV / "bin" / "checkov"


# --- tools ----------------------------------------------------------------------------


def ensure_checkov():
    """Installs Checkov into the virtualenv unless it is already there."""
    if CHECKOV.exists():
        return
    print(f"installing checkov into {VENV} (once; this takes a few minutes)", file=sys.stderr)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["checkov"], check=True)
    if not CHECKOV.exists():
        sys.exit(f"pip finished but {CHECKOV} is missing")


def terrane_binary(given):
    if given:
        return Path(given)
    if os.environ.get("TERRANE_BIN"):
        return Path(os.environ["TERRANE_BIN"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "terrane"
    return ROOT / "target" / "debug" / "terrane"


def run_checkov(directory):
    """Checkov's failed checks on a directory: ({(check_id, address)}, {check_id: name}, seconds)."""
    cmd = [
        str(CHECKOV), "-d", str(directory), "--framework", "terraform",
        "-o", "json", "--quiet", "--compact", "--skip-download",
    ]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    # Exit 1 means "some check failed"; anything else without JSON is a real failure.
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"checkov failed on {directory} (exit {p.returncode}):\n{p.stderr[-2000:]}")
    reports = doc if isinstance(doc, list) else [doc]
    failed, names = set(), {}
    for report in reports:
        # A directory with nothing Checkov knows gives a bare summary, no "results".
        for f in report.get("results", {}).get("failed_checks", []):
            failed.add((f["check_id"], checkov_address(f["resource"])))
            names[f["check_id"]] = f.get("check_name") or ""
    return failed, names, seconds


def checkov_address(resource):
    """Checkov names a provider block "aws.default" (or "aws.ALIAS"); terrane says
    "provider.aws" (or "provider.aws.ALIAS"). Resource addresses are the same in both,
    count and for_each keys and module paths included."""
    m = re.fullmatch(r"([a-z0-9]+)\.([A-Za-z0-9_-]+)", resource)
    if m and "_" not in m.group(1):
        return "provider." + m.group(1) + ("" if m.group(2) == "default" else "." + m.group(2))
    return resource


def run_terrane(binary, directory):
    """terrane's findings on a directory: ({(rule, address): suppressed_reason_or_None}, seconds)."""
    start = time.perf_counter()
    p = subprocess.run([str(binary), "scan", str(directory), "--format", "json"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"terrane scan failed on {directory} (exit {p.returncode}):\n{p.stderr[-2000:]}")
    findings = {}
    for f in doc.get("findings", []):
        findings[(f["rule"], f["address"])] = f.get("suppressed")
    return findings, seconds


# --- comparison -----------------------------------------------------------------------


def load_catalog():
    catalog = json.loads(CATALOG.read_text())
    rules_of_check = {}
    for rule in catalog:
        for check in rule.get("checkov", []):
            rules_of_check.setdefault(check, []).append(rule["id"])
    return catalog, rules_of_check


def compare(name, terrane, checkov, check_names, catalog, rules_of_check):
    """Prints the fixture's table; returns (gaps, false_positives) as lists of strings."""
    terrane_flagged = set(terrane)  # suppressed findings count as reported
    rows, gaps = [], []

    def covered(check, address):
        return any((rule, address) in terrane_flagged for rule in rules_of_check.get(check, []))

    for rule in catalog:
        rid = rule["id"]
        checks = set(rule.get("checkov", []))
        t_addrs = {a for (r, a) in terrane_flagged if r == rid}
        c_hits = {}
        for check, address in checkov:
            if check in checks:
                c_hits.setdefault(address, set()).add(check)
        for address in sorted(t_addrs | set(c_hits)):
            by_checkov = ", ".join(sorted(c_hits.get(address, ())))
            suppressed = terrane.get((rid, address))
            if address in t_addrs and address in c_hits:
                status = "both"
            elif address in t_addrs:
                status = "terrane only"
            else:
                others = sorted(
                    {r for check in c_hits[address] for r in rules_of_check[check]
                     if r != rid and (r, address) in terrane_flagged}
                )
                status = f"checkov only; terrane reports it as {', '.join(others)}" if others else "checkov only"
            if suppressed:
                status += " [suppressed]"
            rows.append((rid, address, "yes" if address in t_addrs else "-", by_checkov or "-", status))
    unmapped = sorted((c, a) for (c, a) in checkov if c not in rules_of_check)
    for check, address in unmapped:
        rows.append((check, address, "-", "yes", "unmapped: " + check_names.get(check, "")[:60]))
    for check, address in sorted(checkov):
        if check in rules_of_check and not covered(check, address):
            gaps.append(f"{name}: {check} on {address} (maps to {', '.join(rules_of_check[check])})")
    false_positives = []
    if name.startswith("compliant"):
        false_positives = [f"{name}: {r} on {a}" for (r, a), s in sorted(terrane.items()) if not s]
    if rows:
        widths = [max(len(str(r[i])) for r in rows + [HEADER]) for i in range(4)]
        print("  " + "  ".join(h.ljust(w) for h, w in zip(HEADER, widths)) + "  " + HEADER[4])
        for r in rows:
            print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    else:
        print("  (neither tool flags anything)")
    return gaps, false_positives


HEADER = ("rule / check", "resource", "terrane", "checkov", "status")


# --- a large configuration for timing -----------------------------------------------


def generate(n, directory):
    """Writes a configuration of about n resources: a mix of the supported AWS and local
    types, every other group of resources compliant, the rest misconfigured."""
    out = [
        'provider "aws" {\n  region = "us-east-1"\n}\n',
        'variable "db_password" {\n  type      = string\n  sensitive = true\n  default   = "bench-only-password"\n}\n',
    ]
    count, i = 0, 0
    while count < n:
        ok = i % 2 == 0
        groups = [
            lambda: bucket(i, ok),
            lambda: security_group(i, ok),
            lambda: instance(i, ok),
            lambda: volume(i, ok),
            lambda: database(i, ok),
            lambda: policy(i, ok),
            lambda: local_file(i, ok),
            lambda: queue(i),
        ]
        for g in groups:
            text, k = g()
            out.append(text)
            count += k
            if count >= n:
                break
        i += 1
    (directory / "main.tf").write_text("\n".join(out))
    return count


def bucket(i, ok):
    text = f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "bench-bucket-{i}"\n}}\n'
    if not ok:
        return text, 1
    text += f'''
resource "aws_s3_bucket_versioning" "b{i}" {{
  bucket = aws_s3_bucket.b{i}.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}

resource "aws_s3_bucket_server_side_encryption_configuration" "b{i}" {{
  bucket = aws_s3_bucket.b{i}.id
  rule {{
    apply_server_side_encryption_by_default {{
      sse_algorithm = "aws:kms"
    }}
  }}
}}

resource "aws_s3_bucket_public_access_block" "b{i}" {{
  bucket                  = aws_s3_bucket.b{i}.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}
'''
    return text, 4


def security_group(i, ok):
    port, cidr = (443, "0.0.0.0/0") if ok else (22, "0.0.0.0/0")
    return f'''resource "aws_security_group" "sg{i}" {{
  name        = "bench-sg-{i}"
  description = "bench"

  ingress {{
    from_port   = {port}
    to_port     = {port}
    protocol    = "tcp"
    cidr_blocks = ["{cidr}"]
  }}
}}

resource "aws_vpc_security_group_ingress_rule" "sg{i}" {{
  security_group_id = aws_security_group.sg{i}.id
  ip_protocol       = "tcp"
  from_port         = {443 if ok else 3389}
  to_port           = {443 if ok else 3389}
  cidr_ipv4         = "{"10.0.0.0/8" if ok else "0.0.0.0/0"}"
}}
''', 2


def instance(i, ok):
    extra = '''
  root_block_device {
    encrypted = true
  }

  metadata_options {
    http_tokens = "required"
  }
''' if ok else ""
    return f'''resource "aws_instance" "vm{i}" {{
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
{extra}}}
''', 1


def volume(i, ok):
    return f'''resource "aws_ebs_volume" "v{i}" {{
  availability_zone = "us-east-1a"
  size              = 10
  encrypted         = {"true" if ok else "false"}
}}
''', 1


def database(i, ok):
    return f'''resource "aws_db_instance" "db{i}" {{
  identifier          = "bench-db-{i}"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "app"
  password            = var.db_password
  storage_encrypted   = {"true" if ok else "false"}
  publicly_accessible = {"false" if ok else "true"}
  skip_final_snapshot = true
}}
''', 1


def policy(i, ok):
    action, resource = ('"s3:GetObject"', f'"arn:aws:s3:::bench-bucket-{i}/*"') if ok else ('"*"', '"*"')
    return f'''resource "aws_iam_policy" "p{i}" {{
  name = "bench-policy-{i}"
  policy = jsonencode({{
    Version   = "2012-10-17"
    Statement = [{{ Effect = "Allow", Action = {action}, Resource = {resource} }}]
  }})
}}
''', 1


def local_file(i, ok):
    mode = '"0644"' if ok else '"0666"'
    return f'''resource "local_file" "f{i}" {{
  filename             = "${{path.module}}/out/f{i}.txt"
  content              = "bench"
  file_permission      = {mode}
  directory_permission = "0755"
}}
''', 1


def queue(i):
    return f'resource "aws_sqs_queue" "q{i}" {{\n  name = "bench-queue-{i}"\n}}\n', 1


# --- main -----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fixtures", nargs="*", help="fixture names (default: all)")
    ap.add_argument("--terrane", help="terrane binary (default: $TERRANE_BIN, $CARGO_TARGET_DIR/debug/terrane, target/debug/terrane)")
    ap.add_argument("--resources", type=int, default=1000, help="size of the generated configuration (default 1000)")
    ap.add_argument("--skip-bench", action="store_true", help="compare on the fixtures only, no generated configuration")
    args = ap.parse_args()

    ensure_checkov()
    binary = terrane_binary(args.terrane)
    if not binary.exists():
        sys.exit(f"no terrane binary at {binary}: build it (cargo build -p terrane-cli) or set TERRANE_BIN")
    catalog, rules_of_check = load_catalog()

    names = args.fixtures or sorted(p.name for p in FIXTURES.iterdir() if (p / "main.tf").exists())
    gaps, false_positives, times = [], [], []
    for name in names:
        directory = FIXTURES / name
        checkov, check_names, ck_seconds = run_checkov(directory)
        terrane, tr_seconds = run_terrane(binary, directory)
        times.append((name, tr_seconds, ck_seconds))
        print(f"\n== {name}  (terrane {tr_seconds:.2f}s, checkov {ck_seconds:.2f}s)")
        g, fp = compare(name, terrane, checkov, check_names, catalog, rules_of_check)
        gaps += g
        false_positives += fp

    if not args.skip_bench:
        with tempfile.TemporaryDirectory(prefix="terrane-bench-") as tmp:
            tmp = Path(tmp)
            n = generate(args.resources, tmp)
            _, _, ck_seconds = run_checkov(tmp)
            findings, tr_seconds = run_terrane(binary, tmp)
            times.append((f"generated ({n} resources, {len(findings)} terrane findings)", tr_seconds, ck_seconds))
            shutil.rmtree(tmp / "out", ignore_errors=True)

    print("\n== wall time")
    width = max(len(t[0]) for t in times)
    print(f"  {'configuration'.ljust(width)}  {'terrane':>9}  {'checkov':>9}  checkov/terrane")
    for name, tr, ck in times:
        ratio = f"{ck / tr:.1f}x" if tr > 0 else "-"
        print(f"  {name.ljust(width)}  {tr:8.2f}s  {ck:8.2f}s  {ratio}")

    print("\n== summary")
    for g in gaps:
        print("  GAP            " + g)
    for fp in false_positives:
        print("  FALSE POSITIVE " + fp)
    if not gaps and not false_positives:
        print("  no gaps, no false positives")
    return 1 if gaps or false_positives else 0


if __name__ == "__main__":
    sys.exit(main())
