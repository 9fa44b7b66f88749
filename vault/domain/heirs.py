"""Posthumous access for a deceased holder's heirs, partner or cohabitant: the request an
operator records, and the checks on it.

As we read CSP L.1110-4 (article numbering unverified offline): after a death, the
information in the record is given to the heirs, the partner (PACS) or the cohabitant
(concubin) insofar as they need it to know the cause of death, to defend the memory of
the deceased or to assert their own rights, unless the deceased objected while alive.
Here it is a distinct access, never a reopening: an operator grants it on a recorded
request (its reference, one of the three purposes, the heir's identity, an expiry), the
grant is journaled, and it ends at its expiry; the dossier stays closed and its
conservation runs. What an heir may then read is the policy's (`policy/heirs.py`).

Pure: plain values in, plain values out, the time always passed in (Unix microseconds,
UTC). What it does not: decide who may grant (the policy) or store anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from vault.domain.lifecycle import Lifecycle
from vault.domain.model import ClosureReason, DossierState
from vault.errors import FailedPreconditionError, InvalidArgumentError

_DAY_US = 86_400 * 1_000_000
MAX_REFERENCE_LENGTH = 200


class HeirPurpose(StrEnum):
    """Why an heir asks (L.1110-4, as we read it): one of three, never free text."""

    CAUSE_OF_DEATH = "cause-of-death"
    DEFEND_MEMORY = "defend-memory"
    ASSERT_RIGHTS = "assert-rights"


@dataclass(frozen=True, slots=True)
class HeirGrant:
    """One heir's access to a deceased holder's documents. `heir` names the heir as the
    journal does (`ins-hmac:…`), `granted_by` the operator; `request_reference` is the
    recorded request's reference (a case number, never health data)."""

    dossier_id: uuid.UUID
    heir: str = field(repr=False)
    purpose: HeirPurpose
    request_reference: str
    granted_us: int
    expires_us: int
    granted_by: str
    request_id: str
    grant_id: int = 0


def request_reference(text: str) -> str:
    """The recorded request's reference: a case number, short, printable, one line
    (never health data: it is stored in clear)."""
    reference = text.strip()
    if not reference or len(reference) > MAX_REFERENCE_LENGTH or not reference.isprintable():
        raise InvalidArgumentError(
            f"an heir's access needs its request's reference: 1 to {MAX_REFERENCE_LENGTH} "
            "printable characters"
        )
    return reference


def is_deceased(lifecycle: Lifecycle) -> bool:
    """Whether the dossier was closed for its holder's death (and is not destroyed)."""
    return (
        lifecycle.state is DossierState.CLOSED and lifecycle.closure_reason is ClosureReason.DEATH
    )


def check_expiry(lifecycle: Lifecycle, now_us: int, expires_us: int, max_days: int) -> None:
    """An heir's access ends: after now, at most `max_days` later, and never after the
    dossier's conservation deadline (nothing is kept for it past that)."""
    if expires_us <= now_us:
        raise InvalidArgumentError("the access must expire in the future")
    if expires_us > now_us + max_days * _DAY_US:
        raise InvalidArgumentError(f"an heir's access lasts at most {max_days} days")
    deadline = lifecycle.destroy_after_us
    if deadline is not None and expires_us > deadline:
        raise FailedPreconditionError("the access would outlast the dossier's conservation")


def latest_expiry(grants: list[HeirGrant]) -> int | None:
    """Until when an heir's grants give access: the latest expiry among them (None: no
    grant). One that has passed is returned too: the policy then says
    `heir-access-expired` rather than treat the heir as a stranger."""
    return max((g.expires_us for g in grants), default=None)
