"""OpenTelemetry spans (VAULT_TRACING, issue #17 item 3): present when on, nameless, and
nothing of opentelemetry loaded when off.

A real server in this process with tracing on exports to the SDK's in-memory exporter
while a patient, a professional and a stranger call it: the spans of token, decision,
journal append and commit, crypto (the key provider) and the blob store appear under
their RPC's span, and no attribute names anyone. With tracing off, a server run in a
fresh interpreter never imports opentelemetry.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import RunningVault
from tests.observability.test_metrics_endpoint import _traffic
from vault.auth import load_or_create_dev_issuer
from vault.config import Config
from vault.observability import tracing
from vault.server.app import BackgroundServer

EXPECTED = {
    "vault.rpc",
    "vault.token",
    "vault.decision",
    "vault.journal.append",
    "vault.journal.commit",
    "vault.crypto",
    "vault.blob_store",
}


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    trace.set_tracer_provider(provider)  # once per process: the API allows no second
    return exported


@pytest.fixture
def traced_vault(tmp_path: Path, exporter: InMemorySpanExporter) -> Iterator[RunningVault]:
    config = Config(listen="127.0.0.1:0", data_dir=tmp_path / "data", workers=4, tracing=True)
    issuer = load_or_create_dev_issuer(config.data_dir)
    exporter.clear()
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer)
    finally:
        server.stop()
        tracing.disable()  # the tracer is the process's: later tests run untraced


def _names(exporter: InMemorySpanExporter) -> set[str]:
    return {span.name for span in exporter.get_finished_spans()}


def _all_ended(exporter: InMemorySpanExporter) -> bool:
    """Every seam's span, and the six RPCs' (a span may end just after its reply)."""
    spans = exporter.get_finished_spans()
    return _names(exporter) >= EXPECTED and sum(s.name == "vault.rpc" for s in spans) >= 6


def test_spans_cover_each_seam_and_no_attribute_names_anyone(
    traced_vault: RunningVault, exporter: InMemorySpanExporter
) -> None:
    identifiers = _traffic(traced_vault)
    deadline = time.monotonic() + 10
    while not _all_ended(exporter):
        assert time.monotonic() < deadline, EXPECTED - _names(exporter)
        time.sleep(0.05)
    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    rpcs = {s.attributes.get("rpc"): s.attributes.get("status") for s in spans if s.attributes}
    assert rpcs.get("dossier.create") == "OK", rpcs
    assert "PERMISSION_DENIED" in rpcs.values() or "NOT_FOUND" in rpcs.values(), rpcs
    rpc_ids = {s.context.span_id for s in spans if s.name == "vault.rpc"}
    for name in ("vault.token", "vault.decision", "vault.journal.append"):
        children = [s for s in spans if s.name == name]
        assert any(s.parent is not None and s.parent.span_id in rpc_ids for s in children), name
    for span in spans:
        attributes = dict(span.attributes or {})
        assert set(attributes) <= tracing.ATTRIBUTES, span
        for text in (span.name, *map(str, attributes.values())):
            assert not any(i in text for i in identifiers), span


def test_with_tracing_off_a_server_never_imports_opentelemetry(tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from vault.config import Config
from vault.server.app import BackgroundServer
from vault.auth import load_or_create_dev_issuer
from tests.conftest import RunningVault
from tests.observability.test_metrics_endpoint import _traffic
config = Config(listen="127.0.0.1:0", data_dir=Path({str(tmp_path / "data")!r}), workers=2)
issuer = load_or_create_dev_issuer(config.data_dir)
server = BackgroundServer(config).start()
try:
    _traffic(RunningVault(server, issuer))
finally:
    server.stop()
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
