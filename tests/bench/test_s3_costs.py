"""`bench.bench_s3 --count-s3-requests` counts the vault server's S3 requests per call
and measures its CPU per call (bench/s3_costs.py, bench/s3_counter).

Its smallest run against moto, as a subprocess: what it stops is a counter that counts
nothing (a `sitecustomize` not picked up, a botocore event renamed) and so reports a
put as costing no request. It asserts counts, never a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_counted_run_reports_one_put_object_per_small_put() -> None:
    command = [sys.executable, "-m", "bench.bench_s3", "--sizes", "0.001", "--repeat", "2"]
    done = subprocess.run(
        [*command, "--count-s3-requests", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (result,) = json.loads(done.stdout)["results"]
    assert result["s3_requests_per_put"] == {"PutObject": 1.0}
    assert result["s3_requests_per_get"] == {"GetObject": 1.0}
    assert result["vault_put_cpu_ms"] > 0
    assert result["vault_get_cpu_ms"] > 0
