"""The DMP's access rules: one pure function from plain values to a decision.

`decide` does no I/O and reads no clock: the service gathers the facts (who is calling,
what the dossier records about them, the dossier's state, the document concerned, the
time) and journals whatever comes back, allowed or denied. Reason codes are stable
strings: they are written to the journal and shown to patients and auditors, so renaming
one is a format change. docs/access-control.md states the rules in prose.

The rules (CSP L.1111-14 to L.1111-24, the DMP's regulatory articles R.1111-40 and
following; each rule's article is in docs/access-control.md, "Where each rule comes
from"):

* the holder and their legal representatives (until the holder's majority) run the
  dossier; the patient side does not see a document held back for an announcement
  consultation until its author or the treating physician releases it, or its delay
  (`Facts.release_months`) ran; representatives never see a minor's confidential care
  (L.1111-5), which an author may declare but only the minor (holder) lifts;
* the treating physician sees everything, masked documents included, unblockable: the
  national insurer designating a blocked professional lifts the block (`block-lifted`);
* another professional needs an unexpired authorisation (or declares consent, for the
  day: `consent`), or membership of an open care team the patient let in (`teams`),
  never once blocked, reads only what the matrix gives their profession, never masked, but
  for a document they wrote, which they read back masked or not, matrix or not;
* an emergency physician (profession and specialty) may break the glass unless the
  patient refused it, for a short window, masked documents still hidden; a blocked
  professional never;
* only a document's author replaces it, while it is in the author's scope;
* the national insurer writes the reimbursement history and sets the treating physician,
  and reads nothing; complementary insurers, occupational and insurance physicians and
  operators get nothing; auditors get the journal only;
* a dossier that is not active is closed to everyone, but for its holder's copy of a
  dossier closed at their request or suspended, during its conservation.

What a caller may see of a dossier's documents is a `Scope`; the index applies the same
scope in SQL so that listings, counts and page tokens never reveal a hidden document.

The package, one concept a module: `codes` (actions, reasons), `facts` (what the policy
is told), `scope` (what a decision carries), `matrix` (the default authorisation matrix),
`rules` (`decide`), `documents` (the rules about one document), `teams` (care teams'
hook into `rules`) and `consent` (how long a declared consent lasts). Import from here.
"""

from __future__ import annotations

from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import DocumentFacts, Facts, Standing
from vault.domain.policy.matrix import (
    DEFAULT_MATRIX,
    EMERGENCY_PROFESSIONS,
    EMERGENCY_SPECIALTIES,
    AccessMatrix,
    Categories,
)
from vault.domain.policy.rules import decide
from vault.domain.policy.scope import EVERYTHING, NOTHING, Decision, Scope

__all__ = [
    "DEFAULT_MATRIX",
    "EMERGENCY_PROFESSIONS",
    "EMERGENCY_SPECIALTIES",
    "EVERYTHING",
    "NOTHING",
    "AccessMatrix",
    "Action",
    "Categories",
    "Decision",
    "DocumentFacts",
    "Facts",
    "Reason",
    "Scope",
    "Standing",
    "decide",
]
