"""The figures of a batch job's last run (the retention run) as a Prometheus text file, for
node_exporter's textfile collector: a job that runs and exits has nothing to scrape.

Written once at the end of a run, atomically (a temporary file in the same directory,
synced, then renamed over the last one), so the collector never reads half a file. Each
figure is a gauge of that run (`vault_retention_last_run_<name>`) beside the run's end
time; Prometheus keeps the history. No label at all, so nothing can carry an identifier.
The file is readable by others (0644, whatever the command's umask): it holds counts of
dossiers, objects and bytes, no health data, and the collector runs as a user of its own.

What it does not: push anywhere, or read the previous run's figures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from vault.durable import replace_atomically

_MODE = 0o644


def write_last_run(path: Path, job: str, figures: Mapping[str, tuple[str, float]]) -> None:
    """Writes `figures` (name: (meaning, value)) and the end time of `job`'s run to `path`."""
    registry = CollectorRegistry()
    for name, (meaning, value) in figures.items():
        Gauge(f"vault_{job}_last_run_{name}", meaning, registry=registry).set(value)
    ended = Gauge(
        f"vault_{job}_last_run_end_timestamp_seconds",
        "when the run ended (Unix time)",
        registry=registry,
    )
    ended.set(time.time())
    replace_atomically(path, generate_latest(registry), _MODE, exact=True)
