"""Serving the metrics: an HTTP endpoint on `VAULT_METRICS_LISTEN`, apart from the gRPC port.

`serve_metrics(listen, registry)` starts prometheus-client's HTTP server (a thread) for
one registry and returns a handle to stop it. One server process serves its own
registry, with the process collectors (memory, CPU, open files, garbage collection).
Under `serve --processes N` the N processes share nothing in memory, and Prometheus
would otherwise see one of them per scrape at random: `for_workers` (run by the parent,
vault/server/workers.py) makes a private directory for prometheus-client's multiprocess
mode, passes it to the workers in `PROMETHEUS_MULTIPROC_DIR` (which the library reads
when it is imported), and serves on the metrics port the sum over the workers that
`MultiProcessCollector` reads from it; a worker records into the directory and serves
no port (`multiprocess_directory`). The directory is removed when the parent stops.
What it does not: define metrics (vault/observability/metrics.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    multiprocess,
    start_http_server,
)

from vault.errors import ConfigurationError
from vault.observability.metrics import VaultMetrics
from vault.server.listen import ListenAddress

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class MetricsServer:
    """A running metrics endpoint."""

    port: int
    _server: Any = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _address(listen: str) -> ListenAddress:
    try:
        return ListenAddress.parse(listen)
    except ConfigurationError:
        raise ConfigurationError(
            f"VAULT_METRICS_LISTEN {listen!r} is not an address (host:port)"
        ) from None


def serve_metrics(listen: str, registry: CollectorRegistry) -> MetricsServer:
    """Serves `registry` on `listen` (host:port); a taken port is a ConfigurationError."""
    address = _address(listen)
    try:
        server, _thread = start_http_server(address.port, address.host, registry)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigurationError(f"cannot serve metrics on {address}: {reason}") from None
    return MetricsServer(server.server_port, server)


def process_registry() -> CollectorRegistry:
    """A fresh registry with this process's own collectors (memory, CPU, GC, Python)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def multiprocess_directory() -> Path | None:
    """The directory this worker records into, if a `serve --processes N` parent serves
    the metrics; None for a server process on its own."""
    value = os.environ.get(MULTIPROCESS_VARIABLE, "").strip()
    return Path(value) if value else None


def worker_stopped(directory: Path) -> None:
    """Drops this process's live gauges (calls in progress) from the shared directory."""
    multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


@dataclass
class WorkersMetrics:
    """The parent's side of multiprocess mode: the variables for the workers, the server."""

    env: dict[str, str]
    _directory: Path | None = None
    _server: MetricsServer | None = None

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def for_workers(listen: str | None) -> WorkersMetrics:
    """Nothing when metrics are off; else the directory and the summing endpoint."""
    if listen is None:
        return WorkersMetrics({})
    _address(listen)  # a malformed address stops the parent before any directory is made
    directory = Path(tempfile.mkdtemp(prefix="vault-metrics-"))  # mode 0700
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    try:
        server = serve_metrics(listen, registry)
    except ConfigurationError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return WorkersMetrics({MULTIPROCESS_VARIABLE: str(directory)}, directory, server)


@dataclass
class ServerMetrics:
    """One server process's metrics: off, served on its own port, or recorded for the
    `serve --processes N` parent to serve."""

    metrics: VaultMetrics | None = None
    server: MetricsServer | None = None
    directory: Path | None = None  # multiprocess mode: this worker's records go there

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.directory is not None:
            worker_stopped(self.directory)


def for_server(listen: str | None) -> ServerMetrics:
    """Metrics for a server process (started before the service is built, so a taken
    metrics port stops it early): a worker records into the parent's directory, a lone
    server serves a fresh registry of its own on `listen`, else nothing."""
    directory = multiprocess_directory()
    if directory is not None:
        return ServerMetrics(VaultMetrics(CollectorRegistry()), directory=directory)
    if listen is None:
        return ServerMetrics()
    registry = process_registry()
    metrics = VaultMetrics(registry)
    return ServerMetrics(metrics, serve_metrics(listen, registry))
