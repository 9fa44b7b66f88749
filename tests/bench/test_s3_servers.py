"""`bench.bench_s3` still runs against SeaweedFS (`--s3 seaweedfs`), not only moto.

Its smallest configuration as a subprocess, as tests/bench/test_smoke.py runs every
benchmark against moto: it measures nothing and asserts no timing. Its temporary
directory stays under the system's (no TMPDIR of pytest's): `weed mini`'s unix sockets
live there, and a socket's path is limited to 107 bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.s3_servers import WeedMissingError, weed_binary

ROOT = Path(__file__).resolve().parents[2]
SMALLEST = ("--sizes", "0.001", "--repeat", "1", "--json")


def test_bench_s3_runs_against_seaweedfs() -> None:
    try:
        weed_binary()
    except WeedMissingError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: SeaweedFS is required in CI")
        pytest.skip(str(missing))
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_s3", "--s3", "seaweedfs", *SMALLEST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout)["s3"] == "seaweedfs"


def test_the_network_model_is_refused_against_seaweedfs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_s3", "--s3", "seaweedfs", "--s3-latency-ms", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "need --s3 moto" in done.stderr
