"""Who sets or corrects the holder's date of birth once the dossier exists (issue 15,
item 3): the holder, always; a legal representative only while still one (their
standing ends at the majority the recorded date gives, `rules._represents`) and never to
a date that makes the holder of age already (`holder-of-age`: the date would end their
own rights, or those of the holder's other representatives, at once). Nobody else: not a
professional, not the insurer (the patient side's action, `rules._PATIENT_SIDE`).

Pure: `Facts.new_majority_us` is the majority the date being set gives (None: unknown,
which a representative may not set). Not here: whether the date is in the future (a
malformed argument, vault/domain/majority.py) or agrees with the holder's NIR
(vault/domain/representation.py), both checked by the service.
"""

from __future__ import annotations

from vault.domain.policy.codes import Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.scope import NOTHING, Decision, deny


def decide_birth_date(facts: Facts, decision: Decision) -> Decision:
    """Narrows the patient side's allowed `decision` for `dossier.birth-date`."""
    if decision.reason is Reason.HOLDER:
        return Decision(True, Reason.HOLDER, NOTHING)
    majority, now_us = facts.new_majority_us, facts.now_us
    if majority is None or now_us is None or majority <= now_us:
        return deny(Reason.HOLDER_OF_AGE)
    return Decision(True, decision.reason, NOTHING)
