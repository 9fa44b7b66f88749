"""Master key rotation: rewrap every dossier key under the current master version.

Online: the service keeps serving reads and writes (a dossier key is the same key before
and after, only its wrapping changes; no document is re-encrypted). Resumable: the
rotation selects whatever is still wrapped by another version, so a run killed at any
point is finished by the next one. Each row is replaced only if it still holds the
wrapping that was read, so a concurrent rotation never loses a key. When no dossier key
remains under an old version, that version may be retired (`retire_allowed`); retiring
it also makes every older backup of the index unable to unwrap what it held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider, WrappedKey
from vault.errors import FailedPreconditionError
from vault.index.base import DossierKeyRecord, Index

BATCH = 1000


@dataclass(frozen=True, slots=True)
class RotationReport:
    master_version: int
    rewrapped: int
    remaining: int  # keys still under older versions (wrapped meanwhile by stale servers)


def _rewrapped(keys: KeyProvider, record: DossierKeyRecord) -> WrappedKey:
    context = sealed.dossier_key_context(record.dossier_id, record.version)
    return keys.wrap(keys.unwrap(record.wrapped, context), context)


def rewrap_all(
    index: Index,
    keys: KeyProvider,
    on_batch: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> RotationReport:
    """Rewraps every dossier key not under the current master version, in batches."""
    current = keys.refresh()
    done = 0
    while records := index.dossier_keys_not_under(current, batch):
        index.rewrap_dossier_keys([(record, _rewrapped(keys, record)) for record in records])
        done += len(records)
        if on_batch is not None:
            on_batch(done)
        if len(records) < batch:
            break
    counts = index.master_version_counts()
    remaining = sum(n for version, n in counts.items() if version != current)
    return RotationReport(current, done, remaining)


def retire_allowed(index: Index, keys: KeyProvider, version: int) -> None:
    """Raises FailedPreconditionError unless master `version` wraps nothing any more."""
    if version == keys.refresh():
        raise FailedPreconditionError("the current master key version cannot be retired")
    still = index.master_version_counts().get(version, 0)
    if still:
        raise FailedPreconditionError(
            f"master key version {version} still wraps {still} dossier keys: "
            "run `dossier-vault keys rotate-master` first"
        )
