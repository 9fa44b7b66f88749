"""Key rotation: master keys (rewrap dossier keys) and dossier keys (re-encrypt documents).

Master key rotation rewraps every dossier key under the current master version.
Online: the service keeps serving reads and writes (a dossier key is the same key before
and after, only its wrapping changes; no document is re-encrypted). Resumable: the
rotation selects whatever is still wrapped by another version, so a run killed at any
point is finished by the next one. Each row is replaced only if it still holds the
wrapping that was read, so a concurrent rotation never loses a key. When no dossier key
remains under an old version, that version may be retired (`retire_allowed`); retiring
it also makes every older backup of the index unable to unwrap what it held.

Dossier key rotation (for a dossier whose key is suspected compromised) makes a new
dossier key version that new writes use at once, re-encrypts every stored version of
every document under a fresh document key sealed by it (a new blob, then the index row;
the old blob is left to the sweeper so reads in flight finish), and then destroys the
old dossier key versions that no version row uses any more, in one statement; an upload
begun under an old version keeps it alive until a later run. The holder's date of birth
is re-sealed under the new version first (a care team's name is not: its version is
kept while the name uses it). `shred_dossier_keys`
destroys every version of a dossier's key: its documents and metadata become
unrecoverable from all the vault holds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from vault import birth_secrets, version_secrets
from vault.blobstore.base import BlobStore
from vault.crypto import sealed
from vault.crypto.dossierkeys import unwrap_dossier_key
from vault.crypto.keyprovider import KeyProvider, WrappedKey
from vault.crypto.objectformat import (
    DEFAULT_SEGMENT_SIZE,
    ObjectEncryptor,
    ObjectRef,
    decrypt_views,
)
from vault.domain.ids import new_object_key
from vault.errors import FailedPreconditionError, NotFoundError
from vault.index.base import DossierIndex, DossierKeyRecord, DossierRecord, KeyIndex, VersionRecord
from vault.index.births import BirthIndex, SealedBirth

BATCH = 1000  # document versions per query when re-encrypting a dossier
REWRAP_BATCH = 5000  # dossier keys per transaction (bench_rotation: 1,000 gave ~25% fewer/s)


class DossierKeyRotationIndex(DossierIndex, KeyIndex, BirthIndex, Protocol):
    """What rotating a dossier's key needs: the dossier (its current key version), its
    keys and versions, and the holder's sealed date of birth."""


@dataclass(frozen=True, slots=True)
class RotationReport:
    master_version: int
    rewrapped: int
    remaining: int  # keys still under older versions (wrapped meanwhile by stale servers)


def _rewrapped(keys: KeyProvider, record: DossierKeyRecord) -> WrappedKey:
    context = sealed.dossier_key_context(record.dossier_id, record.version)
    return keys.wrap(keys.unwrap(record.wrapped, context), context)


def rewrap_all(
    index: KeyIndex,
    keys: KeyProvider,
    on_batch: Callable[[int], None] | None = None,
    batch: int = REWRAP_BATCH,
) -> RotationReport:
    """Rewraps every dossier key not under the current master version, in batches, in
    one pass in key order: each batch starts after the previous one's last key, so a
    rotation reads each key once instead of skipping the ones already done again."""
    current = keys.refresh()
    done = 0
    last = None
    while records := index.dossier_keys_not_under(current, batch, after=last):
        index.rewrap_dossier_keys([(record, _rewrapped(keys, record)) for record in records])
        done += len(records)
        if on_batch is not None:
            on_batch(done)
        if len(records) < batch:
            break
        last = records[-1]
    counts = index.master_version_counts()
    remaining = sum(n for version, n in counts.items() if version != current)
    return RotationReport(current, done, remaining)


def retire_allowed(index: KeyIndex, keys: KeyProvider, version: int) -> None:
    """Raises FailedPreconditionError unless master `version` wraps nothing any more."""
    if version == keys.refresh():
        raise FailedPreconditionError("the current master key version cannot be retired")
    still = index.master_version_counts().get(version, 0)
    if still:
        raise FailedPreconditionError(
            f"master key version {version} still wraps {still} dossier keys: "
            "run `dossier-vault keys rotate-master` first"
        )


@dataclass(frozen=True, slots=True)
class DossierKeyRotation:
    key_version: int
    reencrypted: int
    destroyed_key_versions: int
    waiting_for_uploads: int


def _new_dossier_key_version(index: KeyIndex, keys: KeyProvider, dossier: DossierRecord) -> int:
    version = dossier.key_version + 1
    context = sealed.dossier_key_context(dossier.dossier_id, version)
    wrapped = keys.wrap(os.urandom(sealed.KEY_SIZE), context)
    index.add_dossier_key(DossierKeyRecord(dossier.dossier_id, version, wrapped), True)
    return version


def _reencrypt(
    index: KeyIndex,
    blobs: BlobStore,
    old_key: bytes,
    new_key: bytes,
    record: VersionRecord,
    key_version: int,
    segment_size: int,
) -> None:
    document = version_secrets.open_metadata(old_key, record)
    old_document_key = version_secrets.unwrap_document_key(old_key, record)
    document_key = os.urandom(sealed.KEY_SIZE)
    new = replace(record, blob_key=new_object_key(), dossier_key_version=key_version)
    new = replace(new, wrapped_key=version_secrets.wrap_document_key(new_key, new, document_key))
    ref = ObjectRef(new.dossier_id, new.document_id, new.version, key_version)
    old_ref = replace(ref, dossier_key_version=record.dossier_key_version)
    writer = blobs.create(new.blob_key)
    reader = blobs.open(record.blob_key)
    try:
        encryptor = ObjectEncryptor(document_key, ref, writer.write, segment_size=segment_size)
        for view in decrypt_views(old_document_key, old_ref, reader, record.ciphertext_size):
            encryptor.write(view)  # copied before the view's buffer takes the next segment
        encryptor.close()
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        reader.close()
    metadata = version_secrets.seal_metadata(
        new_key, new, document.metadata, document.sha256, document.author
    )
    new = replace(new, sealed_metadata=metadata, ciphertext_size=encryptor.ciphertext_size)
    if not index.replace_encryption(record, new):
        blobs.delete(new.blob_key)  # the version changed meanwhile: ours is not needed
    # the old blob is left to the sweeper (after its grace period): reads in flight keep
    # going, and it is ciphertext whose key is destroyed below


def rotate_dossier_key(
    index: DossierKeyRotationIndex,
    blobs: BlobStore,
    keys: KeyProvider,
    dossier_id: uuid.UUID,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> DossierKeyRotation:
    """New dossier key version, every document re-encrypted under it, old versions
    destroyed. Resumable: a run killed midway is finished by the next one."""
    dossier = index.dossier(dossier_id)
    if dossier is None:
        raise NotFoundError("no such dossier")
    current = dossier.key_version
    if not index.versions_not_under_key(dossier_id, current, 1):
        current = _new_dossier_key_version(index, keys, dossier)
    new_key = unwrap_dossier_key(index, keys, dossier_id, current)
    old_keys: dict[int, bytes] = {}
    done = 0
    while records := index.versions_not_under_key(dossier_id, current, BATCH):
        for record in records:
            if record.dossier_key_version not in old_keys:
                old_keys[record.dossier_key_version] = unwrap_dossier_key(
                    index, keys, dossier_id, record.dossier_key_version
                )
            _reencrypt(
                index,
                blobs,
                old_keys[record.dossier_key_version],
                new_key,
                record,
                current,
                segment_size,
            )
            done += 1
    _reseal_birth(index, keys, dossier_id, current, new_key)
    waiting = index.uploads_under_other_key(dossier_id, current)
    destroyed = index.destroy_dossier_keys(dossier_id, below_version=current)
    return DossierKeyRotation(current, done, destroyed, waiting)


def _reseal_birth(
    index: DossierKeyRotationIndex,
    keys: KeyProvider,
    dossier_id: uuid.UUID,
    current: int,
    new_key: bytes,
) -> None:
    """Re-seals the holder's date of birth under key version `current`, so the old
    versions can go. If it changed meanwhile (compare-and-set), the destruction spares
    the version it is still under and the next run re-seals it."""
    birth = index.sealed_birth(dossier_id)
    if birth is None or birth.key_version == current:
        return
    old_key = unwrap_dossier_key(index, keys, dossier_id, birth.key_version)
    born = birth_secrets.open_birth_date(old_key, dossier_id, birth.key_version, birth.sealed)
    box = birth_secrets.seal_birth_date(new_key, dossier_id, current, born)
    index.reseal_birth(birth, SealedBirth(dossier_id, current, box))


def shred_dossier_keys(index: KeyIndex, dossier_id: uuid.UUID) -> int:
    """Destroys every version of the dossier's key (crypto-shredding); returns how many."""
    return index.destroy_dossier_keys(dossier_id, below_version=None)
