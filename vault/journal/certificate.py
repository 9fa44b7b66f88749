"""Destruction certificates v1: what the retention job destroyed, signed, anchored in the
journal.

A certificate is a signed note (c2sp.org/signed-note, the format of journal checkpoints,
signed by the same journal key) whose body is:

    dossier-vault/destruction-certificate/v1
    dossier <dossier id>
    reason <deadline | deletion_request>
    job <job id>
    started <microseconds since the epoch>
    completed <microseconds since the epoch>
    decision <seq> <hex chain hash of that journal entry>
    keys-destroyed <dossier key versions, comma-separated, or ->
    store-confirmed <object-lock | none>   (optional: certificates since ADR 0024)
    object <document id> <version> <object key> <hex fingerprint> <bytes> <object versions deleted>
    ...  (one `object` line per document version, sorted by document id then version)

`decision` anchors the certificate in the journal: the entry with that sequence number,
whose chain hash commits to it and to everything before it, records the decision to
destroy this dossier (`dossier.destroy`). `dossier-vault journal verify --certificate`
checks the signature, then that the export holds that very entry. A `fingerprint` is
SHA-256 of the version's wrapped document key and sealed metadata as the index held them:
with a database backup from before the destruction, an auditor can tell which version a
line stands for; without one, it reveals nothing. `object versions deleted` is how many
versions of the object the store removed (more than one in a versioned bucket; 0 when an
earlier, interrupted run had already removed them).

`store-confirmed` says that, after the deletions, the store itself answered that each
object is gone (a read refused: no such key), and whether it enforced Object Lock (so a
deletion before the deadline would have been refused by the store itself).

The first line differs from every checkpoint's origin line, so a certificate is never
taken for a checkpoint or the other way round. Pure: format, parse, verify.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from vault.errors import IntegrityError
from vault.journal.checkpoint import Signer, VerifierKey, sign_note, verified_body

__all__ = ["Certificate", "DestroyedObject", "open_certificate", "sign", "sign_note"]

HEADER = "dossier-vault/destruction-certificate/v1"
MAX_SIZE = 64 * 1024 * 1024
_HEX = re.compile(r"[0-9a-f]{64}")
_OBJECT_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class DestroyedObject:
    document_id: uuid.UUID
    version: int
    object_key: str
    fingerprint: bytes
    size: int
    versions_deleted: int


@dataclass(frozen=True, slots=True)
class Certificate:
    dossier_id: uuid.UUID
    reason: str
    job_id: uuid.UUID
    started_us: int
    completed_us: int
    decision_seq: int
    decision_chain_hash: bytes
    keys_destroyed: tuple[int, ...]
    objects: tuple[DestroyedObject, ...]
    store_confirmed: str = ""  # "" in certificates before ADR 0024

    def body(self) -> str:
        keys = ",".join(str(v) for v in self.keys_destroyed) or "-"
        lines = [
            HEADER,
            f"dossier {self.dossier_id}",
            f"reason {self.reason}",
            f"job {self.job_id}",
            f"started {self.started_us}",
            f"completed {self.completed_us}",
            f"decision {self.decision_seq} {self.decision_chain_hash.hex()}",
            f"keys-destroyed {keys}",
        ]
        if self.store_confirmed:
            lines.append(f"store-confirmed {self.store_confirmed}")
        for o in sorted(self.objects, key=lambda o: (str(o.document_id), o.version)):
            lines.append(
                f"object {o.document_id} {o.version} {o.object_key} {o.fingerprint.hex()}"
                f" {o.size} {o.versions_deleted}"
            )
        return "\n".join(lines) + "\n"


def sign(certificate: Certificate, name: str, signer: Signer) -> str:
    return sign_note(certificate.body(), name, signer)


def open_certificate(note: str, key: VerifierKey) -> Certificate:
    """A certificate whose signature `key` verifies; IntegrityError otherwise."""
    lines = verified_body(note, key, MAX_SIZE).removesuffix("\n").split("\n")
    try:
        certificate = _parse(lines)
    except (ValueError, IndexError) as e:
        raise IntegrityError("malformed destruction certificate") from e
    if certificate.body() != "\n".join(lines) + "\n":
        raise IntegrityError("destruction certificate is not in canonical form")
    return certificate


def _parse(lines: list[str]) -> Certificate:
    if lines[0] != HEADER:
        raise ValueError("not a destruction certificate")
    fields = [_field(line, name) for line, name in zip(lines[1:8], _HEAD_FIELDS, strict=True)]
    seq, chain_hash = fields[5].split(" ")
    keys = () if fields[6] == "-" else tuple(int(v) for v in fields[6].split(","))
    confirmed, objects = "", lines[8:]
    if objects and objects[0].startswith("store-confirmed "):
        confirmed, objects = _field(objects[0], "store-confirmed"), objects[1:]
    return Certificate(
        dossier_id=uuid.UUID(fields[0]),
        reason=fields[1],
        job_id=uuid.UUID(fields[2]),
        started_us=int(fields[3]),
        completed_us=int(fields[4]),
        decision_seq=int(seq),
        decision_chain_hash=_hash(chain_hash),
        keys_destroyed=keys,
        objects=tuple(_object(_field(line, "object")) for line in objects),
        store_confirmed=confirmed,
    )


_HEAD_FIELDS = ("dossier", "reason", "job", "started", "completed", "decision", "keys-destroyed")


def _field(line: str, name: str) -> str:
    label, _, value = line.partition(" ")
    if label != name or not value:
        raise ValueError(f"expected {name}")
    return value


def _hash(text: str) -> bytes:
    if not _HEX.fullmatch(text):
        raise ValueError("not a SHA-256 in lowercase hex")
    return bytes.fromhex(text)


def _object(value: str) -> DestroyedObject:
    document, version, key, fingerprint, size, deleted = value.split(" ")
    if not _OBJECT_KEY.fullmatch(key):
        raise ValueError("not an object key")
    return DestroyedObject(
        uuid.UUID(document), int(version), key, _hash(fingerprint), int(size), int(deleted)
    )
