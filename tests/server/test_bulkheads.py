"""Bulkheads and timeouts (docs/adr/0010): a stalled dependency ends the calls that need
it within their deadline, never starves the others, turns health NOT_SERVING until it
answers again, and leaves a journal that still verifies.

The stalled dependencies are real servers (moto S3, PostgreSQL) behind `StallingProxy`,
which keeps accepting connections but forwards nothing while stalled. Bounds are
generous: these tests assert behaviour, not timings."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from tests.blobstore.support import create_bucket, s3_settings
from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_grpc import REPORT
from tests.stalling_proxy import StallingProxy
from vault import deadlines
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import Config
from vault.domain.model import ActorKind
from vault.errors import UnavailableError
from vault.journal.verify import verify_export
from vault.server.app import BackgroundServer
from vault.server.bulkheads import Bulkheads, Compartment

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

DEADLINE = 5.0  # seconds each call of these tests allows itself
LATE = DEADLINE + 3.0  # a call that ends later than this did not end at its deadline
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
PROBE_EVERY, PROBE_TIMEOUT = 0.3, 1.0  # seconds: health follows a stall quickly


def _health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(service=""), timeout=2
            )
        except grpc.RpcError:
            return -1
        return int(reply.status)


def _wait_for_health(target: str, status: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while (seen := _health(target)) != status:
        assert time.monotonic() < deadline, f"health stayed {seen}, expected {status}"
        time.sleep(0.1)


def _ends_unavailable_in_time(call: Callable[[], object]) -> float:
    """Runs a call that must fail UNAVAILABLE or DEADLINE_EXCEEDED (both UnavailableError
    to the client) before its deadline has long passed; returns how long it took."""
    began = time.monotonic()
    with pytest.raises(UnavailableError):
        call()
    elapsed = time.monotonic() - began
    assert elapsed < LATE
    return elapsed


def _journal_verifies(vault: RunningVault) -> None:
    auditor = mint_token(vault.issuer, kind=ActorKind.AUDITOR, subject="audit", ttl_seconds=600)
    with VaultClient(vault.server.target, auditor, timeout=30) as client:
        summary = verify_export(list(client.export_journal()), None)
    assert summary.anchored_at_genesis


def _serving(config: Config, proxy: StallingProxy) -> Iterator[tuple[RunningVault, StallingProxy]]:
    """A server on `config` until the test ends; the proxy forwards again before it stops."""
    issuer = load_or_create_dev_issuer(config.data_dir)
    vault = RunningVault(BackgroundServer(config).start(), issuer)
    try:
        yield vault, proxy
    finally:
        proxy.resume()
        vault.server.stop()


# -- S3 that accepts connections and never answers -------------------------------------


@pytest.fixture
def stalling_s3(
    tmp_path: Path, s3_endpoint: str, s3_admin: S3Client
) -> Iterator[tuple[RunningVault, StallingProxy]]:
    """A server on SQLite whose S3 is moto behind a stalling proxy; small compartments
    (2 threads, 2 waiting) so that a few stalled calls would fill a shared pool."""
    bucket = create_bucket(s3_admin, versioned=True)
    host, port = s3_endpoint.removeprefix("http://").rsplit(":", 1)
    with StallingProxy(host, int(port)) as proxy:
        settings = s3_settings(f"http://127.0.0.1:{proxy.port}", bucket)
        config = Config(
            listen="127.0.0.1:0",
            data_dir=tmp_path / "data",
            workers=2,
            blob_workers=2,
            blob_queue=2,
            s3=dataclasses.replace(settings, connect_timeout=1.0, read_timeout=4.0),
            health_probe_seconds=PROBE_EVERY,
            health_probe_timeout_seconds=PROBE_TIMEOUT,
        )
        yield from _serving(config, proxy)


def test_a_stalled_s3_fails_blob_calls_in_time_and_never_blocks_listings(
    stalling_s3: tuple[RunningVault, StallingProxy],
) -> None:
    vault, proxy = stalling_s3
    content = os.urandom(100_000)
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS).dossier_id
        stored = client.put_document(dossier, REPORT, content)
    _wait_for_health(vault.server.target, SERVING)

    proxy.stall()
    with ThreadPoolExecutor(8) as callers:

        def blob_call(n: int) -> float:
            with VaultClient(vault.server.target, vault.token(), timeout=DEADLINE) as client:
                if n % 2:
                    return _ends_unavailable_in_time(
                        lambda: b"".join(client.get_document(dossier, stored.document_id))
                    )
                return _ends_unavailable_in_time(
                    lambda: client.put_document(dossier, REPORT, content)
                )

        stalled: list[Future[float]] = [callers.submit(blob_call, n) for n in range(8)]
        time.sleep(0.5)  # the blob compartment is full, and its queue too
        with VaultClient(vault.server.target, vault.token(), timeout=DEADLINE) as client:
            for _ in range(5):
                assert [d.document_id for d in client.list_documents(dossier).documents] == [
                    stored.document_id
                ]
                assert client.get_dossier(dossier_id=dossier).dossier_id == dossier
        _wait_for_health(vault.server.target, NOT_SERVING)
        for future in stalled:
            future.result(timeout=LATE + 5)  # each ended UNAVAILABLE/DEADLINE_EXCEEDED in time

    proxy.resume()
    _wait_for_health(vault.server.target, SERVING)
    with vault.client() as client:  # the compartment's threads came back
        assert b"".join(client.get_document(dossier, stored.document_id)) == content
        client.put_document(dossier, REPORT, content)
    _journal_verifies(vault)


# -- PostgreSQL that stops answering ---------------------------------------------------


@pytest.fixture
def stalling_postgres(
    tmp_path: Path, postgres_url: str
) -> Iterator[tuple[RunningVault, StallingProxy]]:
    url = make_url(postgres_url)
    with StallingProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        config = Config(
            listen="127.0.0.1:0",
            data_dir=tmp_path / "data",
            database_url=proxied.render_as_string(hide_password=False),
            workers=4,
            db_connect_timeout_seconds=2,
            db_pool_timeout_seconds=1,
            health_probe_seconds=PROBE_EVERY,
            health_probe_timeout_seconds=PROBE_TIMEOUT,
        )
        yield from _serving(config, proxy)


def test_a_stalled_postgres_ends_calls_within_their_deadline_and_health_follows_it(
    stalling_postgres: tuple[RunningVault, StallingProxy],
) -> None:
    vault, proxy = stalling_postgres
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS).dossier_id
    _wait_for_health(vault.server.target, SERVING)

    proxy.stall()
    # a shorter deadline than the S3 test's: six calls, more than the four workers, each
    # ending at its deadline (a call that held its worker longer would starve the next)
    with VaultClient(vault.server.target, vault.token(), timeout=2.0) as client:
        for _ in range(3):
            _ends_unavailable_in_time(lambda: client.get_dossier(dossier_id=dossier))
            _ends_unavailable_in_time(lambda: client.list_documents(dossier))
    _wait_for_health(vault.server.target, NOT_SERVING)

    proxy.resume()
    _wait_for_health(vault.server.target, SERVING)
    with vault.client() as client:
        assert client.get_dossier(dossier_id=dossier).dossier_id == dossier
    _journal_verifies(vault)


# -- the compartments themselves -------------------------------------------------------


def test_a_full_compartment_refuses_at_once_instead_of_queueing() -> None:
    compartment = Compartment("test", workers=1, queue=1)
    release = threading.Event()
    try:
        running = compartment.submit(release.wait)
        waiting = compartment.submit(lambda: "done")
        began = time.monotonic()
        with pytest.raises(UnavailableError):
            compartment.submit(lambda: "refused")
        assert time.monotonic() - began < 1.0
        release.set()
        assert running.result(timeout=5) is True
        assert waiting.result(timeout=5) == "done"
        assert compartment.submit(lambda: "room again").result(timeout=5) == "room again"
    finally:
        release.set()
        compartment.shutdown()


def test_work_outside_a_blob_call_runs_in_the_general_compartment() -> None:
    bulkheads = Bulkheads(Compartment("general", 1, 0), Compartment("blob", 1, 0))
    try:
        name = bulkheads.submit(lambda: threading.current_thread().name).result(timeout=5)
        assert name.startswith("vault-general")
    finally:
        bulkheads.shutdown()


def test_the_calls_deadline_reaches_the_thread_that_runs_its_work() -> None:
    bulkheads = Bulkheads(Compartment("general", 1, 0), Compartment("blob", 1, 0))
    try:
        with deadlines.within(30):
            left = bulkheads.submit(deadlines.remaining).result(timeout=5)
        assert left is not None
        assert 0 < left <= 30
        assert bulkheads.submit(deadlines.remaining).result(timeout=5) is None
    finally:
        bulkheads.shutdown()
