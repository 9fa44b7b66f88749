"""Every benchmark in bench/ still runs: its smallest configuration, as a subprocess.

Benchmarks run on demand, never in CI, so nothing else notices when a change to the
service breaks one (one did: the document model's media types refused the benchmarks'
uploads). These runs measure nothing and assert no timing: a benchmark exits 0 and
prints the JSON it promises, or the test fails with its stderr. About 30 seconds in all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]

SMOKE_RUNS = {
    "bench_calls": [
        *("--clients", "1", "--calls", "get_dossier", "--processes", "1"),
        *("--seconds", "1", "--warmup", "0.2", "--documents", "2"),
    ],
    "bench_crypto": ["--sizes", "1KiB", "--implementations", "raw", "vault", "--repeat", "1"],
    "bench_documents": ["--sizes", "1", "--repeat", "1"],
    "bench_idle_streams": [
        *("--streams", "2", "--chunk-mib", "0.01", "--connections", "1"),
        *("--idle-seconds", "1", "--after-seconds", "0"),
    ],
    "bench_load": [
        *("--seconds", "1", "--warmup", "0.2", "--server-processes", "1"),
        *("--clients", "2", "--client-processes", "1", "--documents", "7"),
        *("--sample-seconds", "0.5"),
    ],
    "bench_s3": [
        "--sizes",
        "0.001",
        "--repeat",
        "1",
        "--s3-latency-ms",
        "1",
        "--s3-bandwidth-mb-s",
        "1000",
    ],
    "bench_journal": ["--seconds", "0.2", "--verify-entries", "1000"],
    "bench_merkle": ["--entries", "600", "--proofs", "5"],
    "bench_tiles": [
        "--entries",
        "600",
        "--every",
        "200",
        "--proof-entries",
        "600",
        "--proofs",
        "5",
    ],
    "bench_put_commits": ["--threads", "1,2", "--seconds", "0.3"],
    "bench_rotation": ["--keys", "100"],
    "bench_index": ["--quick"],
    "bench_retention": ["--quick"],
}
USES_POSTGRES = {"bench_journal", "bench_rotation", "bench_index", "bench_retention"}


@pytest.mark.parametrize("name", sorted(SMOKE_RUNS))
def test_benchmark_runs(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if name in USES_POSTGRES:
        request.getfixturevalue("postgres_url")  # skips, or fails in CI, without PostgreSQL
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *SMOKE_RUNS[name], "--json"],
        cwd=ROOT,
        env={**os.environ, "VAULT_BENCH_POSTGRES_URL": POSTGRES_URL, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout)


def test_every_benchmark_has_a_smoke_run() -> None:
    benchmarks = {path.stem for path in (ROOT / "bench").glob("bench_*.py")}
    assert benchmarks == set(SMOKE_RUNS)


def _bench_calls(tmp_path: Path, *arguments: str) -> Any:
    """`bench_calls`' smoke run with `arguments` added, its JSON report."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.bench_calls", *SMOKE_RUNS["bench_calls"]),
            *arguments,
            "--json",
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def test_bench_calls_counts_the_cpu_of_a_vault_in_two_processes(tmp_path: Path) -> None:
    """With `--server-processes 2` the work is the workers': their CPU is the vault's
    (the parent's alone would be about nothing)."""
    (row,) = _bench_calls(tmp_path, "--server-processes", "2", "--channels", "2")["rows"]
    assert row["vault"]["calls"] > 0
    assert row["vault"]["server_cpu_s"] > 0.05


def test_bench_calls_reads_as_an_authorised_professional(tmp_path: Path) -> None:
    """`--reader professional`: every read answers (the physician is authorised on each
    read dossier), so the gate's standing read is what the run measures."""
    report = _bench_calls(tmp_path, "--calls", "get_dossier,list,get", "--reader", "professional")
    assert report["settings"]["reader"] == "professional"
    for row in report["rows"]:
        assert row["vault"]["calls"] > 0, row["kind"]
        assert row["vault"]["errors"] == 0, row["kind"]
