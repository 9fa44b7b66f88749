"""What a decision carries: allowed or not, its reason, and the `Scope` of a dossier's
documents the caller may see (the index applies the same scope in SQL). No rule here:
`rules.py` decides which scope a caller gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.domain.model import DocumentCategory, Visibility
from vault.domain.policy.codes import Reason
from vault.domain.policy.matrix import ALL_CATEGORIES, Categories


@dataclass(frozen=True, slots=True)
class Scope:
    """Which of a dossier's documents a caller may see: none carrying a `hidden` flag,
    and only the `categories` listed; except that a document hidden from the patient
    only and deposited at or before `released_up_to_us` is released (its delay ran), and
    that a document whose author is `author` (the reader, named as the journal and the
    index's `documents.author` name actors) is admitted whatever its category and flags:
    the author exemption, which `documents.authors_own` sets exactly when a single read
    would let the reader read back what they wrote. None: no exemption."""

    hidden: Visibility
    categories: Categories
    released_up_to_us: int | None = None
    author: str | None = None

    def admits(
        self,
        category: DocumentCategory,
        visibility: Visibility,
        deposited_us: int | None = None,
        author: str | None = None,
    ) -> bool:
        """Whether a document of `category`, carrying `visibility`, deposited at
        `deposited_us` and written by `author` (None: unknown, no exemption) is seen."""
        if self.author is not None and author == self.author:
            return True
        return category in self.categories and not visibility & self.hidden_for(deposited_us)

    def hidden_for(self, deposited_us: int | None) -> Visibility:
        """The flags that hide a document deposited at `deposited_us` (None: unknown)."""
        released = self.released_up_to_us
        if released is not None and deposited_us is not None and deposited_us <= released:
            return self.hidden & ~Visibility.HIDDEN_FROM_PATIENT
        return self.hidden


NOTHING = Scope(Visibility.NORMAL, frozenset())
EVERYTHING = Scope(Visibility.NORMAL, ALL_CATEGORIES)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason
    scope: Scope = NOTHING
    emergency: bool = False


def deny(reason: Reason) -> Decision:
    return Decision(False, reason)
