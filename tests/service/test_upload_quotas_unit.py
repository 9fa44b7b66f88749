"""Quotas on uploads (vault/service/uploads.py) on the fakes: a document past the
document quota is cut at the chunk that crosses it, a dossier past its quota is refused
at the header or at the finish, a replaced version's bytes no longer count, and every
refusal is journaled and keeps nothing. tests/server/test_quotas.py runs the same through
the real server on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from tests.service.support import LEASE_US, PATIENT, REPORT, Inline, Scene, commit
from vault.blobstore.file import FileBlobStore
from vault.domain.model import Replacement
from vault.errors import DocumentTooLargeError, DossierQuotaExceededError
from vault.service.gate import Call
from vault.service.uploads import UploadQuota, Uploads

QUOTA = UploadQuota(document_bytes=100, dossier_bytes=250)


@pytest.fixture
def quoted(scene: Scene) -> Scene:
    uploads = Uploads(
        scene.gate,
        index=scene.index,
        blobs=FileBlobStore(scene.blobs),
        background=Inline(),
        segment_size=64,
        lease_us=LEASE_US,
        quota=QUOTA,
    )
    return replace(scene, uploads=uploads)


def _decisions(scene: Scene, request_id: str) -> list[str]:
    return [e.event.decision for e in scene.journal.entries() if e.event.request_id == request_id]


def _nothing_left(scene: Scene) -> bool:
    return scene.index.pending_versions(2**62, 10) == []


def test_a_chunk_crossing_the_document_quota_is_refused_before_it_is_kept(quoted: Scene) -> None:
    upload = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("big"))
    upload.write(b"x" * 60)
    with pytest.raises(DocumentTooLargeError, match="at most 100 bytes") as refused:
        upload.write(b"x" * 41)
    assert refused.value.error_reason == "DOCUMENT_TOO_LARGE"
    assert upload.buffered == 60  # none of the crossing chunk was taken in
    upload.abort()
    assert _decisions(quoted, "big") == ["allow", "deny"]
    assert _nothing_left(quoted)
    assert quoted.stored_blobs() == []
    assert quoted.index.content_size(quoted.record.dossier_id) == 0


def test_a_document_exactly_at_the_quota_is_stored(quoted: Scene) -> None:
    document = quoted.upload(b"y" * 100)
    assert document.size == 100
    assert quoted.index.content_size(quoted.record.dossier_id) == 100


def test_a_full_dossier_refuses_a_new_document_at_its_header(quoted: Scene) -> None:
    for size in (100, 100, 50):
        quoted.upload(b"z" * size)
    with pytest.raises(DossierQuotaExceededError) as refused:
        quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("full"))
    assert refused.value.grpc_status == "RESOURCE_EXHAUSTED"
    assert _decisions(quoted, "full") == ["deny"]
    assert _nothing_left(quoted)


def test_a_document_that_does_not_fit_is_refused_at_its_finish(quoted: Scene) -> None:
    quoted.upload(b"a" * 100)
    quoted.upload(b"b" * 100)
    blobs_before = quoted.stored_blobs()
    upload = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("late"))
    with pytest.raises(DossierQuotaExceededError):
        commit(upload, b"c" * 51)  # 251 bytes live: one past the quota
    assert _decisions(quoted, "late") == ["allow", "deny"]
    assert _nothing_left(quoted)
    assert quoted.stored_blobs() == blobs_before
    assert quoted.index.content_size(quoted.record.dossier_id) == 200


def test_a_replaced_version_no_longer_counts_against_the_dossier(quoted: Scene) -> None:
    quoted.upload(b"a" * 100)
    quoted.upload(b"b" * 100)
    first = quoted.upload(b"c" * 50)  # full: 250
    replacement = Replacement(str(first.document_id), first.version)
    upload = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("v2"), replaces=replacement)
    second = commit(upload, b"d" * 40)
    assert second.version == 2
    assert quoted.index.content_size(quoted.record.dossier_id) == 240


def test_a_replacement_that_grows_past_the_dossier_quota_is_refused(quoted: Scene) -> None:
    quoted.upload(b"a" * 100)
    quoted.upload(b"b" * 100)
    first = quoted.upload(b"c" * 40)
    replacement = Replacement(str(first.document_id), first.version)
    upload = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("v2"), replaces=replacement)
    with pytest.raises(DossierQuotaExceededError):
        commit(upload, b"d" * 51)
    assert quoted.index.content_size(quoted.record.dossier_id) == 240


def test_the_commit_refuses_what_a_concurrent_upload_filled_meanwhile(quoted: Scene) -> None:
    """Both pass the finish's plain read; the commit's check (under the dossier's lock in
    SQL) stops the second, which keeps neither its row nor its blob."""
    quoted.upload(b"a" * 100)
    first = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("one"))
    second = quoted.uploads.begin(PATIENT, quoted.dossier, REPORT, Call("two"))
    first.write(b"b" * 80)
    second.write(b"c" * 80)
    index = quoted.index
    seen = index.content_size
    index.content_size = lambda dossier_id: 100  # type: ignore[method-assign]
    try:  # the second's plain read sees the dossier as before the first's commit
        first.commit(80, hashlib.sha256(b"b" * 80).digest())
        with pytest.raises(DossierQuotaExceededError):
            second.commit(80, hashlib.sha256(b"c" * 80).digest())
    finally:
        index.content_size = seen  # type: ignore[method-assign]
    second.abort()
    assert index.content_size(quoted.record.dossier_id) == 180
    assert _decisions(quoted, "two") == ["allow", "deny"]
    assert _nothing_left(quoted)
    assert len(quoted.stored_blobs()) == 2
