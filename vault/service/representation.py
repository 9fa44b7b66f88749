"""A legal representative's standing, for the gate: when it ends (the earlier of the
holder's majority, from their date of birth sealed under the dossier key, and the expiry
recorded with the representation, a protected adult's measure), and the end of a
representation that has lapsed, with the holder's notice.

Decided by the policy (`Standing.representative_until_us`, vault/domain/majority.py,
vault/domain/representation.py); here only the reads and writes around it. Not here:
recording the date (service/dossiers.py, service/births.py) or re-sealing it
(rotation.py).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from vault.birth_secrets import open_birth_date
from vault.crypto.dossierkeys import unwrap_dossier_key
from vault.crypto.keyprovider import KeyProvider
from vault.domain.majority import majority_us
from vault.domain.model import Relation, Relationship
from vault.domain.notices import representative_ended
from vault.domain.policy import Facts
from vault.domain.representation import representation_end
from vault.errors import VaultError
from vault.index.base import AccessIndex, KeyIndex, NoticeIndex
from vault.index.births import BirthIndex


class RepresentationIndex(BirthIndex, KeyIndex, AccessIndex, NoticeIndex, Protocol):
    """The sealed date of birth and its key; the representation and the holder's outbox."""


def majority_of(index: RepresentationIndex, keys: KeyProvider, dossier_id: uuid.UUID) -> int | None:
    """When the holder comes of age; None if no date of birth is recorded. Read for a
    representative's request only: it costs a dossier key unwrap."""
    birth = index.sealed_birth(dossier_id)
    if birth is None:
        return None
    key = unwrap_dossier_key(index, keys, dossier_id, birth.key_version)
    return majority_us(open_birth_date(key, dossier_id, birth.key_version, birth.sealed))


def representation_until(
    index: RepresentationIndex, keys: KeyProvider, representative: Relationship | None
) -> int | None:
    """When a representation ends (None: not a representative, or no end known): the
    earlier of the holder's majority and the expiry recorded with it."""
    if representative is None:
        return None
    majority = majority_of(index, keys, representative.dossier_id)
    return representation_end(majority, representative.expires_us)


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
