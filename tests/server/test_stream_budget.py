"""Attacks on the server's memory through upload streams (issue #22): streams that go
quiet after their first chunk, and streams that send more than the upload budget lets a
connection hold. Against a real `dossier-vault serve` process, whose memory is measured."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from tests.conftest import PATIENT_INS, free_port
from vault import wire
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.journal.sql import SqlJournal
from vault.journal.verify import verify_export
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb

CLI = [sys.executable, "-m", "vault.cli"]
METADATA = DocumentMetadata("t", DocumentCategory.REPORTS, "application/pdf")
MIB = 1024 * 1024
SILENT_STREAMS = 300  # 1,000 in bench/bench_idle_streams.py: this runs on 2 shared cores
RSS_BOUND_KIB = 800 * 1024


class Served:
    def __init__(self, data_dir: Path, process: subprocess.Popen[bytes], target: str) -> None:
        self.data_dir, self.process, self.target = data_dir, process, target
        self.issuer = load_or_create_dev_issuer(data_dir)

    def token(self, kind: ActorKind = ActorKind.PATIENT, subject: str = PATIENT_INS) -> str:
        return mint_token(self.issuer, kind=kind, subject=subject, ttl_seconds=600)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def pending_rows(self) -> int:
        engine = make_engine(f"sqlite:///{self.data_dir / 'index.sqlite3'}")
        with engine.connect() as conn:
            count = conn.execute(
                text("select count(*) from document_versions where status = 'pending'")
            ).scalar()
        engine.dispose()
        return int(count or 0)

    def journal_verifies(self) -> int:
        with VaultClient(self.target, self.token(ActorKind.AUDITOR, "audit")) as client:
            lines = list(client.export_journal())
        verify_export(lines, None)  # raises on any break in the chain
        return len(lines)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    started: list[tuple[subprocess.Popen[bytes], object]] = []

    def start(**settings: str) -> Served:
        data_dir = tmp_path / f"var{len(started)}"
        target = f"127.0.0.1:{free_port()}"
        env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_LISTEN": target}
        env.update(settings)
        log_path = tmp_path / f"server{len(started)}.log"
        log = log_path.open("w")
        process = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        deadline = time.monotonic() + 30
        while "listening on" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        return Served(data_dir, process, target)

    yield start
    for process, log in started:
        process.terminate()
        assert process.wait(timeout=30) == 0
        log.close()  # type: ignore[attr-defined]


def _put(
    channel: grpc.aio.Channel,
) -> grpc.aio.StreamUnaryMultiCallable[pb.PutDocumentRequest, pb.Document]:
    return channel.stream_unary(
        "/vault.v1.DossierVault/PutDocument",
        request_serializer=pb.PutDocumentRequest.SerializeToString,
        response_deserializer=pb.Document.FromString,
    )


def _channel(target: str) -> grpc.aio.Channel:
    # a TCP connection of its own (channels to one target share one by default)
    return grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def _header(dossier_id: str) -> pb.PutDocumentRequest:
    return pb.PutDocumentRequest(
        header=pb.PutDocumentHeader(
            dossier_id=dossier_id, metadata=wire.metadata_to_proto(METADATA)
        )
    )


async def _silent_upload(
    put: grpc.aio.StreamUnaryMultiCallable[pb.PutDocumentRequest, pb.Document],
    token: str,
    dossier_id: str,
    chunk: bytes,
) -> tuple[grpc.StatusCode, str]:
    """Sends the header and one chunk, then nothing (never half-closes)."""
    call = put(metadata=(("authorization", f"Bearer {token}"),))
    await call.write(_header(dossier_id))
    await call.write(pb.PutDocumentRequest(chunk=chunk))
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def _dossier(served: Served) -> str:
    with VaultClient(served.target, served.token()) as client:
        return str(client.create_dossier(PATIENT_INS).dossier_id)


def test_silent_uploads_are_reaped_and_release_their_rows(serve: object) -> None:
    served: Served = serve(VAULT_STREAM_IDLE_SECONDS="2")  # type: ignore[operator]
    dossier_id = _dossier(served)
    token = served.token()
    peak = [0]

    async def attack() -> list[tuple[grpc.StatusCode, str]]:
        channels = [_channel(served.target) for _ in range(4)]
        try:
            puts = [_put(channel) for channel in channels]
            chunk = os.urandom(1024)
            tasks = [
                asyncio.ensure_future(_silent_upload(puts[i % 4], token, dossier_id, chunk))
                for i in range(SILENT_STREAMS)
            ]
            while not all(task.done() for task in tasks):
                peak[0] = max(peak[0], served.rss_kib())
                await asyncio.sleep(0.2)
            return await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        finally:
            for channel in channels:
                await channel.close()

    outcomes = asyncio.run(attack())
    assert collections.Counter(code for code, _ in outcomes) == {
        grpc.StatusCode.DEADLINE_EXCEEDED: SILENT_STREAMS
    }
    assert all("sent nothing for 2 seconds" in details for _, details in outcomes)
    deadline = time.monotonic() + 30
    while served.pending_rows() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served.pending_rows() == 0
    assert not [p for p in (served.data_dir / "blobs").rglob("*") if p.is_file()]
    assert peak[0] < RSS_BOUND_KIB
    served.journal_verifies()
    # exactly one entry per upload: its allowed decision (abandoned later, as a hang-up)
    journal = SqlJournal(make_engine(f"sqlite:///{served.data_dir / 'index.sqlite3'}"))
    writes = [e.event.decision for e in journal.entries() if e.event.action == "document.write"]
    assert writes == ["allow"] * SILENT_STREAMS


def test_an_upload_over_its_connections_budget_is_refused_while_another_connection_writes(
    serve: object,
) -> None:
    served: Served = serve(  # type: ignore[operator]
        VAULT_UPLOAD_BUDGET_MIB="16",
        VAULT_UPLOAD_CONNECTION_BUDGET_MIB="4",
        VAULT_UPLOAD_BUDGET_WAIT_SECONDS="0.5",
        VAULT_STREAM_IDLE_SECONDS="5",
    )
    dossier_id = _dossier(served)
    token = served.token()

    async def attack() -> tuple[tuple[grpc.StatusCode, str], tuple[grpc.StatusCode, str]]:
        async with _channel(served.target) as greedy:
            put = _put(greedy)
            holding = asyncio.ensure_future(
                _silent_upload(put, token, dossier_id, os.urandom(3 * MIB))
            )
            await asyncio.sleep(1.0)  # its 3 MiB are charged to the connection
            over = await _silent_upload(put, token, dossier_id, os.urandom(MIB + 1))
            with VaultClient(served.target, token) as other:  # another connection
                stored = await asyncio.to_thread(
                    other.put_document, dossier_id, METADATA, os.urandom(MIB)
                )
            assert stored.size == MIB
            return over, await holding

    (code, details), (held_code, _) = asyncio.run(attack())
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    assert details.startswith("the connection's upload memory budget is spent")
    assert held_code == grpc.StatusCode.DEADLINE_EXCEEDED  # then reaped when idle
    deadline = time.monotonic() + 10
    while served.pending_rows() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served.pending_rows() == 0
    served.journal_verifies()


def test_an_upload_over_the_servers_budget_is_refused(serve: object) -> None:
    served: Served = serve(  # type: ignore[operator]
        VAULT_UPLOAD_BUDGET_MIB="4",
        VAULT_UPLOAD_CONNECTION_BUDGET_MIB="4",
        VAULT_UPLOAD_BUDGET_WAIT_SECONDS="0.5",
        VAULT_STREAM_IDLE_SECONDS="3",
    )
    dossier_id = _dossier(served)
    token = served.token()

    async def attack() -> tuple[grpc.StatusCode, str]:
        async with _channel(served.target) as first, _channel(served.target) as second:
            holding = asyncio.ensure_future(
                _silent_upload(_put(first), token, dossier_id, os.urandom(3 * MIB))
            )
            await asyncio.sleep(1.0)
            over = await _silent_upload(_put(second), token, dossier_id, os.urandom(2 * MIB))
            await holding
            return over

    code, details = asyncio.run(attack())
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details.startswith("the server's upload memory budget is spent")
