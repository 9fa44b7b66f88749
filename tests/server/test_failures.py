"""What goes wrong after a request was allowed: tampered or missing blobs, callers who
hang up, actors whose identifier must not reach the journal."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_grpc import REPORT, _journal
from vault.domain.model import ActorKind
from vault.errors import IntegrityError, InvalidArgumentError, PermissionDeniedError
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc


def iter_into(chunks: Iterable[bytes], received: bytearray) -> Iterator[bytes]:
    """Passes chunks on, keeping what arrived before a failure in `received`."""
    for chunk in chunks:
        received.extend(chunk)
        yield b""


def only_blob(vault: RunningVault) -> Path:
    (blob,) = [p for p in (vault.config.blob_dir / "objects").rglob("*") if p.is_file()]
    return blob


def stored(vault: RunningVault, size: int = 3 * 1024 * 1024) -> tuple[str, str]:
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        document = client.put_document(dossier.dossier_id, REPORT, os.urandom(size))
    return str(dossier.dossier_id), str(document.document_id)


def test_tampered_blob_ends_the_stream_with_data_loss_and_one_journal_entry(
    running_vault: RunningVault,
) -> None:
    dossier, document = stored(running_vault)
    blob = only_blob(running_vault)
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0x01  # inside the last segment: the first ones still authenticate
    blob.write_bytes(bytes(data))
    before = len(_journal(running_vault))
    received = bytearray()
    with running_vault.client() as client, pytest.raises(IntegrityError):
        received.extend(b"".join(iter_into(client.get_document(dossier, document), received)))
    assert 0 < len(received) < 3 * 1024 * 1024  # authenticated segments only, then DATA_LOSS
    entries = _journal(running_vault)[before:]
    assert [(e["action"], e["decision"]) for e in entries] == [("document.read", "allow")]


def test_blob_deleted_behind_the_vaults_back_is_data_loss(running_vault: RunningVault) -> None:
    dossier, document = stored(running_vault, 10)
    only_blob(running_vault).unlink()
    with running_vault.client() as client, pytest.raises(IntegrityError):
        b"".join(client.get_document(dossier, document))


def _pending_rows(vault: RunningVault) -> int:
    engine = make_engine(vault.config.index_url)
    with engine.connect() as conn:
        count = conn.execute(
            text("select count(*) from document_versions where status = 'pending'")
        ).scalar()
    engine.dispose()
    return int(count or 0)


def test_a_caller_hanging_up_mid_upload_leaves_nothing_behind(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)

    def messages() -> Iterator[pb.PutDocumentRequest]:
        header = pb.PutDocumentHeader(
            dossier_id=str(dossier.dossier_id),
            metadata=pb.DocumentMetadata(
                title="t", category=pb.DOCUMENT_CATEGORY_REPORTS, media_type="application/pdf"
            ),
        )
        yield pb.PutDocumentRequest(header=header)
        for _ in range(3):
            yield pb.PutDocumentRequest(chunk=os.urandom(1024 * 1024))
        time.sleep(30)  # the caller stalls; the call is cancelled meanwhile

    with grpc.insecure_channel(running_vault.server.target) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        call = stub.PutDocument.future(
            messages(), metadata=(("authorization", f"Bearer {running_vault.token()}"),)
        )
        time.sleep(1.0)
        call.cancel()
    deadline = time.monotonic() + 10
    while _pending_rows(running_vault) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pending_rows(running_vault) == 0
    assert list((running_vault.config.blob_dir / "tmp").iterdir()) == []
    assert not (running_vault.config.blob_dir / "objects").exists() or not [
        p for p in (running_vault.config.blob_dir / "objects").rglob("*") if p.is_file()
    ]


def test_a_legal_representatives_ins_never_reaches_the_journal(
    running_vault: RunningVault,
) -> None:
    dossier, _ = stored(running_vault, 1)
    representative = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, "292057512345668")
    with running_vault.client(representative) as client, pytest.raises(PermissionDeniedError):
        client.list_documents(dossier)
    entry = _journal(running_vault)[-1]
    assert str(entry["actor_ref"]).startswith("ins-hmac:")
    assert "292057512345668" not in str(entry)


def test_get_dossier_by_a_malformed_ins_is_invalid(running_vault: RunningVault) -> None:
    with running_vault.client() as client, pytest.raises(InvalidArgumentError):
        client.get_dossier(ins="18412764510894X")


def _raw_put(vault: RunningVault, dossier: str, tail: list[pb.PutDocumentRequest]) -> grpc.RpcError:
    header = pb.PutDocumentHeader(
        dossier_id=dossier,
        metadata=pb.DocumentMetadata(
            title="t", category=pb.DOCUMENT_CATEGORY_REPORTS, media_type="text/plain"
        ),
    )
    messages = [pb.PutDocumentRequest(header=header), pb.PutDocumentRequest(chunk=b"abc"), *tail]
    with grpc.insecure_channel(vault.server.target) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.PutDocument(
                iter(messages), metadata=(("authorization", f"Bearer {vault.token()}"),)
            )
    return caught.value


FINISH_OK = pb.PutDocumentRequest(
    finish=pb.PutDocumentFinish(
        size=3,
        sha256=bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    )
)


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        ([], grpc.StatusCode.INVALID_ARGUMENT),
        (
            [pb.PutDocumentRequest(finish=pb.PutDocumentFinish(size=3, sha256=bytes(32)))],
            grpc.StatusCode.INVALID_ARGUMENT,  # the request contradicts itself: nothing stored
        ),
        (
            [pb.PutDocumentRequest(finish=pb.PutDocumentFinish(size=4, sha256=bytes(32)))],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ([FINISH_OK, pb.PutDocumentRequest(chunk=b"more")], grpc.StatusCode.INVALID_ARGUMENT),
    ],
    ids=["stream-cut-without-finish", "wrong-digest", "wrong-size", "chunk-after-finish"],
)
def test_an_upload_that_does_not_end_as_announced_stores_nothing(
    running_vault: RunningVault, tail: list[pb.PutDocumentRequest], status: grpc.StatusCode
) -> None:
    with running_vault.client() as client:
        dossier = str(client.create_dossier(PATIENT_INS).dossier_id)
    assert _raw_put(running_vault, dossier, tail).code() is status
    with running_vault.client() as client:
        assert client.list_documents(dossier).documents == ()
    assert _pending_rows(running_vault) == 0
