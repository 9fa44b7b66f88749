"""A patient's INS is blinded by the key provider once, not on each request: the blind
index (an HSM's HMAC in production) never changes, so the gate keeps it; the dossier
found and the journal's actor are the same as without the cache."""

from __future__ import annotations

from tests.service.support import PATIENT, Scene
from vault.crypto.keyprovider import KeyProvider
from vault.domain.identifiers import parse_ins
from vault.domain.model import DocumentQuery
from vault.service import Call


class _Counting:
    """The scene's key provider, counting blind indexes."""

    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys
        self.blinded = 0

    def blind_index(self, data: bytes) -> bytes:
        self.blinded += 1
        return self._keys.blind_index(data)


def test_a_patients_requests_blind_their_ins_once(scene: Scene) -> None:
    gate = scene.gate
    counting = _Counting(gate._keys)
    gate._keys = counting  # type: ignore[assignment]
    expected = counting._keys.blind_index(b"DVLT/v1/ins\x00" + PATIENT.subject.encode())
    for n in range(3):
        scene.documents.search(PATIENT, scene.dossier, DocumentQuery(), 20, "", Call(f"l{n}"))
    assert counting.blinded <= 1
    assert gate.patient_index(parse_ins(PATIENT.subject)) == expected
    assert scene.journal.entries_written[-1].event.actor_ref == f"ins-hmac:{expected.hex()}"
