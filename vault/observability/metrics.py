"""The vault's Prometheus metrics, defined on a registry the caller gives.

`VaultMetrics(registry)` creates every metric on that registry (a server makes its own, so
two servers in one test process never share counts), and turns observations into
samples: `request` for the gRPC edge, `dependency_observer` for the instrumented blob
store and key provider, `journal_commit` for the journal's group commit, `sweep` for the
sweeper. Labels are RPC methods, status codes, operations and outcomes, all from small
fixed sets: never an identifier (docs/operations.md lists every metric).
What it does not: serve the registry (vault/observability/exposition.py) or time anything.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vault.errors import VaultError
from vault.observability.instrumented import Instruments

# Seconds: 1 ms to 30 s (a stalled dependency ends at its own timeout, 5-30 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # GroupCommitJournal.max_batch: 512
DependencyObserver = Callable[[str, float, BaseException | None], None]
BLOB_STORE = "blob_store"
KEY_PROVIDER = "key_provider"


def outcome_of(error: BaseException | None) -> str:
    """`ok`, the status name of a VaultError (`unavailable`, `integrity`...), or `error`."""
    if error is None:
        return "ok"
    if isinstance(error, VaultError):
        return error.grpc_status.lower()
    return "error"


class VaultMetrics:
    """Every metric of a server process, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "vault_requests",
            "Finished gRPC calls, by RPC method and status code.",
            ("method", "code"),
            registry=registry,
        )
        self.request_seconds = Histogram(
            "vault_request_duration_seconds",
            "Duration of gRPC calls, from the handler's start to its status, by RPC method.",
            ("method",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "vault_requests_in_progress",
            "gRPC calls running now, by RPC method (PutDocument: uploads in progress).",
            ("method",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.received_bytes = Counter(
            "vault_received_bytes",
            "Serialized request message bytes received, by RPC method.",
            ("method",),
            registry=registry,
        )
        self.sent_bytes = Counter(
            "vault_sent_bytes",
            "Serialized response message bytes sent, by RPC method.",
            ("method",),
            registry=registry,
        )
        self.journal_appends = Counter(
            "vault_journal_appends",
            "Journal entries appended through the group commit, by outcome.",
            ("outcome",),
            registry=registry,
        )
        self.journal_batch = Histogram(
            "vault_journal_commit_batch_size",
            "Entries per group-commit transaction.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.journal_commit_seconds = Histogram(
            "vault_journal_commit_duration_seconds",
            "Duration of one group-commit transaction.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._dependencies = {
            name: (
                Histogram(
                    f"vault_{name}_duration_seconds",
                    f"Duration of {name.replace('_', '-')} operations, by operation.",
                    ("operation",),
                    buckets=LATENCY_BUCKETS,
                    registry=registry,
                ),
                Counter(
                    f"vault_{name}_operations",
                    f"Finished {name.replace('_', '-')} operations, by operation and outcome.",
                    ("operation", "outcome"),
                    registry=registry,
                ),
            )
            for name in (BLOB_STORE, KEY_PROVIDER)
        }
        self.sweeps = Counter(
            "vault_sweeps",
            "Sweeper runs in this server, by outcome.",
            ("outcome",),
            registry=registry,
        )
        self.swept = Counter(
            "vault_swept",
            "What the sweeper removed, by operation (pending_discarded, "
            "incomplete_writes_removed, orphan_blobs_deleted; blobs_protected: deletes "
            "the store refused, left).",
            ("operation",),
            registry=registry,
        )

    def instruments(self) -> Instruments:
        return Instruments(
            self.dependency_observer(BLOB_STORE),
            self.dependency_observer(KEY_PROVIDER),
            self.journal_commit,
        )

    def request(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        self.request_seconds.labels(method).observe(seconds)

    def dependency_observer(self, name: str) -> DependencyObserver:
        """The callback an instrumented port reports each operation to."""
        seconds, operations = self._dependencies[name]

        def observe(operation: str, duration: float, error: BaseException | None) -> None:
            seconds.labels(operation).observe(duration)
            operations.labels(operation, outcome_of(error)).inc()

        return observe

    def journal_commit(self, size: int, seconds: float, error: BaseException | None) -> None:
        self.journal_appends.labels(outcome_of(error)).inc(size)
        self.journal_batch.observe(size)
        self.journal_commit_seconds.observe(seconds)

    def sweep(self, removed: dict[str, int] | None, error: BaseException | None) -> None:
        self.sweeps.labels(outcome_of(error)).inc()
        for operation, count in (removed or {}).items():
            self.swept.labels(operation).inc(count)
