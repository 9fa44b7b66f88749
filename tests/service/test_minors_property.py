"""Property: whatever the sequence of uploads, visibility changes and professionals'
accesses, nothing a legal representative can call reveals that the dossier holds a
minor's confidential care (CSP L.1111-5, `hidden_from_representatives`).

Two worlds run the same steps through the service on the in-memory index: in one, some
steps concern secret documents (written by the holder or a professional, read, masked,
held back) or are made in the secret connection (a listing); the other skips them, as
if those documents and that session never existed. After each step the representative
calls everything it may (list, page by page, counts, the access history page by page,
the outbox, the access rules, its copy) in both worlds, and the answers must be equal
once renamed (ids by order of creation; journal sequence numbers, notification ids and
page tokens dropped: they are global counters and sealed bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import uuid
import zipfile
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.test_access import PARENT as PARENT_INS_OF_TESTS
from tests.service.support import PATIENT, PHYSICIAN, RPPS, Scene, make_scene
from vault import archive
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.domain.clock import to_us
from vault.domain.model import (
    Actor,
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    DocumentQuery,
    Relation,
    Relationship,
    Visibility,
)
from vault.errors import NotFoundError
from vault.journal.store import EntryFilter
from vault.notification_watch import WatchSettings
from vault.pagetokens import PageTokens
from vault.service.access import AccessControl
from vault.service.gate import Call
from vault.service.journal import JournalReads
from vault.service.notifications import Notices

PARENT_INS = PARENT_INS_OF_TESTS
PARENT = Actor(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS)
SECRET = Visibility.HIDDEN_FROM_REPRESENTATIVES
SECRET_CARE = replace(PHYSICIAN, secret_care=True)  # the same physician, secret connection
YEAR_US = 365 * 24 * 3600 * 10**6
CATEGORIES = (DocumentCategory.REPORTS, DocumentCategory.VACCINATION, DocumentCategory.BIOLOGY)

# A step: (what, by whom or which document, a detail). "secret" steps exist only in the
# world with the care; a step naming a document index names the n-th document of its kind.
Step = tuple[str, int, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("upload"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("upload-secret"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("read"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("read-secret"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("mask"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("mask-secret"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("list"), st.just(0), st.just(0)),
        st.tuples(st.just("list-secret"), st.just(0), st.just(0)),  # the secret connection
        st.tuples(st.just("count"), st.just(0), st.just(0)),
        st.tuples(st.just("days"), st.integers(1, 40), st.just(0)),
    ),
    max_size=12,
)


@dataclass
class World:
    scene: Scene
    journal: JournalReads
    access: AccessControl
    notices: Notices
    with_care: bool
    visible: list[uuid.UUID] = field(default_factory=list)
    secret: list[uuid.UUID] = field(default_factory=list)

    def run(self, number: int, step: Step) -> None:
        what, which, detail = step
        self.scene.clock.advance(timedelta(seconds=1))  # listings order by time: no ties
        if what.endswith("secret") and not self.with_care:
            return  # as if the care never existed
        call = Call(f"step-{number}")
        scene, writer = self.scene, PATIENT if which % 2 == 0 else PHYSICIAN
        documents = self.secret if what.endswith("secret") else self.visible
        if what.startswith("upload"):
            visibility = Visibility.NORMAL
            if writer is PHYSICIAN and detail == 2:
                visibility |= Visibility.HIDDEN_FROM_PATIENT  # held back for a month
            if what == "upload-secret":
                visibility |= SECRET
            metadata = DocumentMetadata("t", CATEGORIES[detail], "text/plain")
            upload = scene.uploads.begin(writer, scene.dossier, metadata, call, visibility)
            upload.write(b"x")
            documents.append(upload.commit(1, hashlib.sha256(b"x").digest()).document_id)
        elif what.startswith("read") and documents:
            document = documents[which % len(documents)]
            try:
                _, chunks = scene.documents.open(
                    PHYSICIAN, scene.dossier, str(document), None, call
                )
                b"".join(chunks)
            except NotFoundError:
                pass  # masked, or held back: the refusal is journaled all the same
        elif what.startswith("mask") and documents:
            document = documents[which % len(documents)]
            record = scene.index.version(scene.record.dossier_id, document, None)
            assert record is not None
            flipped = record.visibility ^ Visibility.MASKED_FROM_PROFESSIONALS
            with contextlib.suppress(NotFoundError):  # held back from the holder too
                scene.documents.set_visibility(PATIENT, scene.dossier, str(document), flipped, call)
        elif what.startswith("list"):
            actor = SECRET_CARE if what == "list-secret" else PHYSICIAN
            scene.documents.search(actor, scene.dossier, DocumentQuery(), 100, "", call)
        elif what == "count":
            scene.documents.count(PHYSICIAN, scene.dossier, call)
        elif what == "days":
            scene.clock.advance(timedelta(days=which))

    def labels(self) -> dict[str, str]:
        named = {str(self.scene.record.dossier_id): "D"}
        named.update({str(d): f"V{n}" for n, d in enumerate(self.visible)})
        return named

    def seen_by_parent(self, number: int) -> object:
        """Everything the representative may call, renamed."""
        scene = self.scene

        def call(what: str) -> Call:
            return Call(f"parent-{number}-{what}")

        answers: list[object] = []
        for size in (1, 2, 50):
            token, pages = "", []
            while True:
                page = scene.documents.search(
                    PARENT, scene.dossier, DocumentQuery(), size, token, call(f"list{size}")
                )
                pages.append(
                    [(str(d.document_id), d.metadata, d.visibility) for d in page.documents]
                )
                token = page.next_page_token
                if not token:
                    break
            answers.append(pages)
        answers.append(sorted(scene.documents.count(PARENT, scene.dossier, call("count")).items()))
        token, history = "", []
        while True:
            where = EntryFilter(dossier=scene.dossier)
            entries, token = self.journal.query(PARENT, call("history"), where, 2, token)
            history.append([asdict(e.event) for e in entries])
            if not token:
                break
        answers.append(history)
        after, outbox = 0, []
        while notices := self.notices.page(PARENT, scene.dossier, after, 2, call("notices")):
            outbox.append([(n.kind, n.subject, n.profession, n.request_id) for n in notices])
            after = notices[-1].notification_id
        answers.append(outbox)
        answers.append(self.access.rules(PARENT, scene.dossier, call("rules")))
        answers.append(self._copy(call("copy")))
        return _renamed(repr(answers), self.labels())

    def _copy(self, call: Call) -> object:
        copy = io.BytesIO()
        summary, chunks = self.scene.documents.export(PARENT, self.scene.dossier, call)
        for chunk in chunks:
            copy.write(chunk)
        with zipfile.ZipFile(copy) as zipped:
            metadata = json.loads(zipped.read(archive.METADATA))
            entries = json.loads(zipped.read(archive.HISTORY))
        history = [{k: v for k, v in entry.items() if k != "seq"} for entry in entries]
        return summary, metadata, history  # the announced size too: it must not count them


def _renamed(text: str, labels: dict[str, str]) -> str:
    for real, label in labels.items():
        text = text.replace(real, label)
    return text


def _world(tmp: Path, key_file: Path, with_care: bool) -> World:
    scene = make_scene(tmp, key_file)
    keys = LocalKeyFileProvider(key_file)
    journal = JournalReads(
        scene.gate, index=scene.index, journal_log=scene.journal, tokens=PageTokens(keys)
    )
    access = AccessControl(scene.gate, index=scene.index)
    now_us = to_us(scene.clock.now())
    parent = Relationship(
        scene.record.dossier_id, Relation.REPRESENTATIVE, scene.gate.actor_ref(PARENT), now_us
    )
    scene.index.set_relationship(parent, "parent")
    physician = Relationship(
        scene.record.dossier_id, Relation.AUTHORISED, RPPS, now_us, now_us + 10 * YEAR_US
    )
    scene.index.set_relationship(physician, "authorise")
    notices = Notices(scene.gate, index=scene.index, watch=WatchSettings())
    return World(scene, journal, access, notices, with_care)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_nothing_a_representative_calls_reveals_a_minors_confidential_care(
    key_file: Path, steps: list[Step]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with_care = _world(Path(tmp) / "with", key_file, True)
        without = _world(Path(tmp) / "without", key_file, False)
        for number, step in enumerate(steps):
            with_care.run(number, step)
            without.run(number, step)
            assert with_care.seen_by_parent(number) == without.seen_by_parent(number)
