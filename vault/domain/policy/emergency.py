"""Emergencies: who may open a dossier without authorisation, and what an open window
gives. Two accesses, two objections the patient makes separately (CSP L.1111-17):

* **break-the-glass**: any professional whose matrix row allows emergency access
  (`Rights.emergency`), unless the patient objected to it (`emergency-refused`);
* **the SAMU regulator's access** (centre 15): a break-the-glass request stating the
  regulation reason (`Facts.regulation`), by a professional whose row allows emergency
  access and whose specialty is medical regulation, unless the patient objected to the
  regulator's access (`regulation-refused`).

A window, once open, gives what the matrix gives the profession to read, never a masked
document, while the objection of its own kind is not made (the service also closes open
windows for good when an objection is made). Pure: no I/O, no clock. The blocked
professional's refusal and the rest of a professional's rules are `rules.py`'s.
"""

from __future__ import annotations

from vault.domain.model import Visibility
from vault.domain.policy.codes import Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.matrix import REGULATION_SPECIALTY, AccessMatrix
from vault.domain.policy.scope import Decision, Scope, deny
from vault.domain.policy.windows import is_open


def decide_break_glass(facts: Facts, matrix: AccessMatrix) -> Decision:
    """Opening a window: the profession in the token (not a claimed specialty alone)
    must be one the matrix allows for emergency access."""
    if not matrix.rights(facts.profession, facts.specialty).emergency:
        return deny(Reason.NOT_EMERGENCY_PROFESSIONAL)
    if facts.regulation:
        if facts.specialty != REGULATION_SPECIALTY:
            return deny(Reason.NOT_EMERGENCY_PROFESSIONAL)
        if facts.standing.regulation_refused:
            return deny(Reason.REGULATION_REFUSED)
        return Decision(True, Reason.REGULATION, emergency=True)
    if facts.standing.emergency_refused:
        return deny(Reason.EMERGENCY_REFUSED)
    return Decision(True, Reason.EMERGENCY, emergency=True)


def window_decision(facts: Facts, matrix: AccessMatrix) -> Decision | None:
    """What the caller's open window gives, or None if they have none open (passed, or
    its kind objected to since)."""
    standing = facts.standing
    if not is_open(standing.emergency_until_us, facts.now_us):
        return None
    regulation = standing.emergency_regulation
    if standing.regulation_refused if regulation else standing.emergency_refused:
        return None
    readable = matrix.rights(facts.profession, facts.specialty).read
    reason = Reason.REGULATION if regulation else Reason.EMERGENCY
    scope = Scope(Visibility.MASKED_FROM_PROFESSIONALS, readable)
    return Decision(True, reason, scope, emergency=True)
