"""The policy's stable codes: the actions a request is decided for, and the reasons a
decision gives. Both are written to the journal and shown to patients and auditors, so
renaming one is a format change. This module decides nothing (`rules.py` does).
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    DOSSIER_CREATE = "dossier.create"
    DOSSIER_READ = "dossier.read"
    DOSSIER_CLOSE = "dossier.close"  # the patient side asks for closure
    DOSSIER_CLOSE_DECLARED = "dossier.close-declared"  # the insurer: death, suspension
    DOSSIER_REOPEN = "dossier.reopen"
    DOSSIER_DELETION_REQUEST = "dossier.deletion-request"
    DOSSIER_HOLD = "dossier.hold"
    DOSSIER_RELEASE = "dossier.release"
    DOSSIER_EXPORT = "dossier.export"
    DOCUMENT_WRITE = "document.write"
    DOCUMENT_REPLACE = "document.replace"  # a new version of an existing document
    DOCUMENT_READ = "document.read"
    DOCUMENT_LIST = "document.list"
    DOCUMENT_DELETE = "document.delete"
    DOCUMENT_VISIBILITY = "document.visibility"
    ACCESS_READ = "access.read"
    ACCESS_AUTHORISE = "access.authorise"
    ACCESS_REVOKE = "access.revoke"
    ACCESS_BLOCK = "access.block"
    ACCESS_UNBLOCK = "access.unblock"
    EMERGENCY_SETTING = "access.emergency-setting"
    REPRESENTATIVE_ADD = "access.representative-add"
    REPRESENTATIVE_REMOVE = "access.representative-remove"
    CONSENT_RECORD = "access.consent"
    CARE_TEAM_ADD = "access.team-add"  # the patient side lets a care team in
    CARE_TEAM_REMOVE = "access.team-remove"  # ... or refuses it, as a whole
    TREATING_PHYSICIAN_SET = "access.treating-physician"
    BREAK_GLASS = "access.break-glass"
    OCCUPATIONAL_GRANT = "access.occupational-grant"  # the holder's express consent
    OCCUPATIONAL_REVOKE = "access.occupational-revoke"
    CATEGORY_OPEN = "access.category-open"  # the patient opens a category to a professional
    CATEGORY_CLOSE = "access.category-close"  # ... or closes one to them
    CATEGORY_CLEAR = "access.category-clear"  # ... or lets the matrix decide it again
    ACCESS_CHANGE = "access.change"  # a change request naming no change: malformed
    NOTIFICATIONS_READ = "notifications.read"
    JOURNAL_READ = "journal.read"
    JOURNAL_EXPORT = "journal.export"
    # The retention job's, decided by the lifecycle's rules (vault/domain/lifecycle.py),
    # never by `decide`: journaled with the reasons below.
    DOSSIER_DESTROY = "dossier.destroy"
    DOSSIER_DESTROYED = "dossier.destroyed"
    DOCUMENT_EXPIRE = "document.expire"
    DOCUMENT_RELEASE = "document.release"  # a held-back document's delay ran
    # A deceased holder's heirs (issue 15, item 4: vault/domain/policy/heirs.py).
    HEIR_GRANT = "dossier.heir-grant"  # an operator grants an heir's access
    POSTHUMOUS_OBJECTION = "dossier.posthumous-objection"  # the holder objects, or not
    # The holder's notices (issue 15, item 9).
    NOTIFICATIONS_SETTING = "notifications.setting"
    # Operators and auditors list a dossier's legal holds (issue 21, item 7).
    DOSSIER_HOLD_LIST = "dossier.hold-list"
    # The holder's date of birth set or corrected after creation (issue 15, item 3).
    BIRTH_DATE_SET = "dossier.birth-date"


class Reason(StrEnum):
    """Why a request was allowed or refused, as written to the journal."""

    HOLDER = "holder"
    REPRESENTATIVE = "representative"
    TREATING_PHYSICIAN = "treating-physician"
    AUTHORISED = "authorised"
    CONSENT = "consent"
    CARE_TEAM = "care-team"  # a member of a care team the patient side let in
    EMERGENCY = "emergency"
    REGULATION = "samu-regulation"  # the SAMU regulator's emergency access (centre 15)
    OCCUPATIONAL_GRANT = "occupational-grant"  # the holder's express grant to one physician
    PROFESSIONAL_LOOKUP = "professional-lookup"
    INSURER = "insurer"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    NOT_HOLDER = "not-holder"
    NOT_REPRESENTATIVE = "not-representative"
    ACTOR_NEVER_ALLOWED = "actor-never-allowed"
    ACTION_NOT_PERMITTED = "action-not-permitted"
    NO_AUTHORISATION = "no-authorisation"
    AUTHORISATION_EXPIRED = "authorisation-expired"
    BLOCKED = "blocked"
    EMERGENCY_REFUSED = "emergency-refused"
    NOT_EMERGENCY_PROFESSIONAL = "not-emergency-professional"
    REGULATION_REFUSED = "regulation-refused"  # the patient objected to the regulator's access
    NO_OCCUPATIONAL_GRANT = "no-occupational-grant"  # an occupational physician, no grant
    CATEGORY_NOT_WRITABLE = "category-not-writable"
    DOCUMENT_HIDDEN = "document-hidden"
    NOT_AUTHOR = "not-author"
    VISIBILITY_NOT_SETTABLE = "visibility-not-settable"
    DOSSIER_NOT_ACTIVE = "dossier-not-active"
    CONSERVATION_DEADLINE = "conservation-deadline"
    DELETION_REQUESTED = "deletion-requested"
    ROLLING_WINDOW = "rolling-window"
    RELEASE_DELAY = "release-delay"  # a held-back document's delay ran: released
    BLOCK_LIFTED = "block-lifted"  # a blocked professional designated treating physician
    LEGAL_HOLD = "legal-hold"  # a deletion refused while a legal hold is in force
    # Creation and death (issue 15, items 4 and 5).
    ASSISTED_CREATION = "assisted-creation"  # a professional or insurer opened it
    HEIR = "heir"  # an heir reads a deceased holder's documents, on a grant
    HEIR_ACCESS_EXPIRED = "heir-access-expired"
    NOT_DECEASED = "not-deceased"  # heirs' access to a dossier not closed for a death
    POSTHUMOUS_OBJECTION = "posthumous-objection"  # the deceased objected while alive
    HOLDER_OF_AGE = "holder-of-age"  # a representative's date would make the holder of age
    # Refusals decided before or beside the policy, journaled all the same.
    UNAUTHENTICATED = "unauthenticated"
    INVALID_ARGUMENT = "invalid-argument"
    NOT_FOUND = "not-found"
    ALREADY_EXISTS = "already-exists"
    CONFLICT = "conflict"  # a concurrent change won (a newer version, say)
    FAILED = "failed"
