"""The end of a legal representation that has lapsed, with the holder's notice, for the
gate, after a representative's refusal.

When it ends is decided by the policy (`Standing.representative_until_us`,
vault/domain/majority.py, vault/domain/representation.py) from the standing the gate
read (vault/service/standings.py, the holder's majority from vault/service/majorities.py);
here only the writes after it. Not here: recording the date (service/dossiers.py,
service/births.py) or re-sealing it (rotation.py).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from vault.domain.model import Relation
from vault.domain.notices import representative_ended
from vault.domain.policy import Facts
from vault.errors import VaultError
from vault.index.base import AccessIndex, NoticeIndex


class RepresentationIndex(AccessIndex, NoticeIndex, Protocol):
    """The representation and the holder's outbox."""


def end_lapsed_representation(
    index: RepresentationIndex, dossier_id: uuid.UUID, subject: str, refused: Facts, request_id: str
) -> None:
    """After a refusal is journaled: if it was a representative's past the holder's
    majority or the representation's expiry, ends the representation and tells the
    holder (`rights_ended`).

    At the former representative's first request after the end: the first time the
    vault learns of it without opening every minor's date of birth on a schedule. Once:
    only the request whose removal takes the row queues the notice (later ones find no
    representation and read no date). Two index transactions: a crash between them loses
    the notice, never repeats it. Its time is now, never the majority: the outbox is in
    clear, and a birthday there would give the date of birth away."""
    standing, now_us = refused.standing, refused.now_us
    until = standing.representative_until_us
    if not standing.representative or until is None or now_us is None or now_us < until:
        return
    relation = Relation.REPRESENTATIVE
    try:
        if index.remove_relationship(dossier_id, relation, subject, now_us, request_id):
            index.queue_notice(representative_ended(dossier_id, subject, now_us, request_id))
    except VaultError:  # the refusal stands; the representation ends at a later request
        return
