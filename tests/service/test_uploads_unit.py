"""The upload use case (vault/service/uploads.py) on the fakes: what becomes visible, and
when, and what an upload that fails or stalls leaves behind, in milliseconds. The fixed
clock stands in for the minutes a lease takes; tests/test_upload_lease.py runs the same
story on a real index."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.service.support import LEASE_US, PATIENT, REPORT, Scene, commit
from vault.domain.model import DocumentQuery, DocumentStatus, Replacement
from vault.errors import ConflictError, InvalidArgumentError
from vault.service.gate import Call

HALF_A_LEASE = timedelta(microseconds=LEASE_US // 2)


def _listed(scene: Scene) -> list[tuple[str, int]]:
    page = scene.documents.search(PATIENT, scene.dossier, DocumentQuery(), 10, "", Call("ls"))
    return [(str(d.document_id), d.version) for d in page.documents]


def test_an_aborted_upload_leaves_nothing_visible_and_nothing_to_sweep(scene: Scene) -> None:
    upload = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("put"))
    upload.write(b"half of it")
    upload.abort()
    assert _listed(scene) == []
    assert scene.documents.count(PATIENT, scene.dossier, Call("n")) == {}
    assert scene.index.pending_versions(2**62, 10) == []
    assert scene.stored_blobs() == []


def test_content_that_does_not_match_its_digest_is_not_stored(scene: Scene) -> None:
    upload = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("put"))
    upload.write(b"what arrived")
    with pytest.raises(InvalidArgumentError, match="does not match its size and digest"):
        upload.commit(12, hashlib.sha256(b"what was sent").digest())
    upload.abort()
    assert _listed(scene) == []
    assert scene.index.pending_versions(2**62, 10) == []


def test_nothing_is_visible_before_the_commit_and_the_decision_is_journaled_first(
    scene: Scene,
) -> None:
    upload = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("put"))
    upload.write(b"content")
    assert _listed(scene) == []
    assert [e.event.request_id for e in scene.journal.entries()][-1] == "ls"
    put = [e.event for e in scene.journal.entries() if e.event.request_id == "put"]
    assert [(e.action, e.decision) for e in put] == [("document.write", "allow")]
    document = upload.commit(7, hashlib.sha256(b"content").digest())
    assert _listed(scene) == [(str(document.document_id), 1)]


def test_a_replacement_deprecates_the_previous_version_which_stays_readable(
    scene: Scene,
) -> None:
    first = scene.upload(b"first")
    replacement = Replacement(str(first.document_id), 1)
    upload = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("v2"), replaces=replacement)
    second = commit(upload, b"second")
    assert second.version == 2
    assert _listed(scene) == [(str(first.document_id), 2)]
    old, chunks = scene.documents.open(
        PATIENT, scene.dossier, str(first.document_id), 1, Call("get")
    )
    assert (old.status, b"".join(chunks)) == (DocumentStatus.DEPRECATED, b"first")
    with pytest.raises(ConflictError):  # replacing a version that is no longer the latest
        scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("v2b"), replaces=replacement)


def test_an_upload_that_stalled_past_its_lease_loses_its_number_to_the_next_one(
    scene: Scene,
) -> None:
    first = scene.upload(b"first")
    replacement = Replacement(str(first.document_id), 1)
    stalled = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("a"), replaces=replacement)
    stalled.write(b"slow")
    scene.clock.advance(2 * HALF_A_LEASE + timedelta(seconds=1))
    retry = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("b"), replaces=replacement)
    assert commit(retry, b"retried").version == 2
    with pytest.raises(ConflictError):
        stalled.commit(4, hashlib.sha256(b"slow").digest())
    stalled.abort()
    _, chunks = scene.documents.open(PATIENT, scene.dossier, str(first.document_id), 2, Call("g"))
    assert b"".join(chunks) == b"retried"


def test_an_upload_that_keeps_sending_keeps_its_number_past_its_first_lease(
    scene: Scene,
) -> None:
    first = scene.upload(b"first")
    replacement = Replacement(str(first.document_id), 1)
    slow = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("a"), replaces=replacement)
    for _ in range(4):  # two leases' worth of time, a chunk every half lease
        scene.clock.advance(HALF_A_LEASE)
        slow.write(b"x")
    rival = scene.uploads.begin(PATIENT, scene.dossier, REPORT, Call("b"), replaces=replacement)
    with pytest.raises(ConflictError):  # its reservation, made meanwhile, was refused
        commit(rival, b"rival")
    assert slow.commit(4, hashlib.sha256(b"xxxx").digest()).version == 2
