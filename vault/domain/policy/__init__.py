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
  for a document they wrote, which they read back masked or not, matrix or not, alone
  and in their listings and counts (`Scope.author`);
* a professional whose profession the matrix allows for emergency access may break the
  glass unless the patient objected to it, and the SAMU regulator (medical regulation)
  open the regulator's access unless the patient objected to that, a distinct
  objection; each for a short window, masked documents still hidden; a blocked
  professional never (`emergency`);
* an occupational physician (specialty `occupational_medicine`) gets nothing but
  under the holder's express grant to them (`occupational`);
* a professional writes only the categories their matrix row gives (`writing`), the
  treating physician any;
* only a document's author replaces it, while it is in the author's scope;
* the national insurer writes the reimbursement history and sets the treating physician,
  and reads nothing; complementary insurers, occupational and insurance physicians and
  operators get nothing; auditors get the journal only (beside a dossier's legal holds,
  which operators place, list and release);
* a dossier that is not active is closed to everyone, but for its holder's copy of a
  dossier closed at their request or suspended, during its conservation.

What a caller may see of a dossier's documents is a `Scope`; the index applies the same
scope in SQL so that listings, counts and page tokens never reveal a hidden document.

The package, one concept a module: `codes` (actions, reasons), `facts` (what the policy
is told), `scope` (what a decision carries), `matrix` (the default authorisation matrix),
`rules` (`decide`), `documents` (the rules about one document), `teams` (care teams'
hook into `rules`), `consent` (how long a declared consent lasts), `emergency`,
`occupational`, `writing` and `windows` (the rules `decide` delegates to). Import from
here.
"""

from __future__ import annotations

from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import DocumentFacts, Facts, Standing
from vault.domain.policy.matrix import (
    DEFAULT_MATRIX,
    NO_RIGHTS,
    OCCUPATIONAL_SPECIALTY,
    REGULATION_SPECIALTY,
    AccessMatrix,
    Categories,
    Rights,
)
from vault.domain.policy.rules import decide
from vault.domain.policy.scope import EVERYTHING, NOTHING, Decision, Scope

__all__ = [
    "DEFAULT_MATRIX",
    "EVERYTHING",
    "NOTHING",
    "NO_RIGHTS",
    "OCCUPATIONAL_SPECIALTY",
    "REGULATION_SPECIALTY",
    "AccessMatrix",
    "Action",
    "Categories",
    "Decision",
    "DocumentFacts",
    "Facts",
    "Reason",
    "Rights",
    "Scope",
    "Standing",
    "decide",
]
