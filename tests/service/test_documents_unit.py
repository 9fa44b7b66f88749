"""The document use cases (vault/service/documents.py) on the fakes: reads, listings,
counts, visibility and deletion, each decided and journaled by the gate, in
milliseconds. The same use cases over a real server are tests/server's."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.service.support import PATIENT, PHYSICIAN, RPPS, Scene
from vault.domain.model import (
    Actor,
    ActorKind,
    DocumentCategory,
    DocumentQuery,
    NotificationKind,
    Visibility,
)
from vault.domain.policy import Reason
from vault.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError
from vault.service.gate import Call


def test_a_patient_reads_back_exactly_what_they_uploaded(scene: Scene) -> None:
    content = os.urandom(1000)  # 16 segments of 64 bytes, the last one short
    stored = scene.upload(content)
    document, chunks = scene.documents.open(
        PATIENT, scene.dossier, str(stored.document_id), None, Call("get")
    )
    assert b"".join(chunks) == content
    assert document == stored
    assert (scene.journal.last().action, scene.journal.last().decision) == (
        "document.read",
        "allow",
    )


def test_a_range_read_releases_only_the_bytes_asked_for(scene: Scene) -> None:
    content = os.urandom(1000)
    stored = scene.upload(content)
    _, chunks = scene.documents.open(
        PATIENT, scene.dossier, str(stored.document_id), 1, Call("get"), offset=100, length=300
    )
    assert b"".join(chunks) == content[100:400]


def test_a_listing_continues_from_its_page_token_newest_first_without_repeats(
    scene: Scene,
) -> None:
    uploaded = []
    for n in range(5):
        uploaded.append(scene.upload(b"document %d" % n))
        scene.clock.advance(timedelta(seconds=1))
    seen, token, pages = [], "", 0
    while True:
        page = scene.documents.search(PATIENT, scene.dossier, DocumentQuery(), 2, token, Call("ls"))
        seen += [d.document_id for d in page.documents]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [d.document_id for d in reversed(uploaded)]


def test_a_page_token_only_resumes_the_query_that_made_it(scene: Scene) -> None:
    for _ in range(3):
        scene.upload()
    first = scene.documents.search(PATIENT, scene.dossier, DocumentQuery(), 1, "", Call("ls"))
    other = DocumentQuery(categories=frozenset({DocumentCategory.BIOLOGY}))
    with pytest.raises(InvalidArgumentError):
        scene.documents.search(PATIENT, scene.dossier, other, 1, first.next_page_token, Call("x"))
    assert scene.journal.last().decision == "deny"


def test_a_document_masked_from_professionals_is_neither_counted_nor_listed_for_them(
    scene: Scene,
) -> None:
    scene.upload(b"shown")
    masked = scene.upload(b"masked")
    scene.documents.set_visibility(
        PATIENT,
        scene.dossier,
        str(masked.document_id),
        Visibility.MASKED_FROM_PROFESSIONALS,
        Call("mask"),
    )
    scene.authorise(RPPS)
    assert scene.documents.count(PATIENT, scene.dossier, Call("n")) == {DocumentCategory.REPORTS: 2}
    assert scene.documents.count(PHYSICIAN, scene.dossier, Call("n")) == {
        DocumentCategory.REPORTS: 1
    }
    listed = scene.documents.search(PHYSICIAN, scene.dossier, DocumentQuery(), 10, "", Call("l"))
    assert masked.document_id not in {d.document_id for d in listed.documents}
    with pytest.raises(NotFoundError):  # as if it did not exist
        scene.documents.open(PHYSICIAN, scene.dossier, str(masked.document_id), None, Call("g"))
    assert scene.journal.last().reason == Reason.DOCUMENT_HIDDEN.value


def test_a_refused_access_is_journaled_and_notifies_nobody(scene: Scene) -> None:
    stored = scene.upload()
    with pytest.raises(PermissionDeniedError) as refused:
        scene.documents.open(PHYSICIAN, scene.dossier, str(stored.document_id), None, Call("r1"))
    assert refused.value.reason == Reason.NO_AUTHORISATION.value
    denied = scene.journal.last()
    assert (denied.decision, denied.reason, denied.request_id) == (
        "deny",
        Reason.NO_AUTHORISATION.value,
        "r1",
    )
    assert (denied.actor_ref, denied.dossier) == (RPPS, scene.dossier)
    assert scene.index.notifications(scene.record.dossier_id, 0, 10) == []


def test_a_professionals_first_access_is_notified_once(scene: Scene) -> None:
    scene.upload()
    scene.authorise(RPPS)
    for request in ("c1", "c2"):
        scene.documents.count(PHYSICIAN, scene.dossier, Call(request))
    outbox = scene.index.notifications(scene.record.dossier_id, 0, 10)
    assert [(n.kind, n.subject, n.request_id) for n in outbox] == [
        (NotificationKind.FIRST_ACCESS, RPPS, "c1")
    ]


def test_a_stranger_patient_learns_nothing_and_is_journaled(scene: Scene) -> None:
    stranger = Actor(ActorKind.PATIENT, "292057512345668")
    with pytest.raises(PermissionDeniedError):
        scene.documents.count(stranger, scene.dossier, Call("who"))
    assert scene.journal.last().reason == Reason.NOT_HOLDER.value
    assert scene.journal.last().actor_ref.startswith("ins-hmac:")  # never the INS


def test_a_deleted_document_is_gone_with_its_blob(scene: Scene) -> None:
    stored = scene.upload()
    assert len(scene.stored_blobs()) == 1
    scene.documents.delete(PATIENT, scene.dossier, str(stored.document_id), Call("rm"))
    assert scene.stored_blobs() == []
    with pytest.raises(NotFoundError):
        scene.documents.open(PATIENT, scene.dossier, str(stored.document_id), None, Call("g"))
    assert scene.documents.count(PATIENT, scene.dossier, Call("n")) == {}
