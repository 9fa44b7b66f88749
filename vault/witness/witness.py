"""The witness's one decision: cosign a submitted checkpoint, or refuse (c2sp.org/tlog-witness).

`Witness.add_checkpoint(request body)` runs the spec's checks in this order, each refusal
an error the HTTP edge maps to its status (vault/witness/server.py):

| check                                                        | error              | HTTP |
|--------------------------------------------------------------|--------------------|------|
| the body is `old N`, proof lines, a blank line, a note       | BadRequestError    | 400  |
| the note's origin is a log this witness knows                 | NotFoundError      | 404  |
| the note carries a valid signature by that log's key          | PermissionDenied   | 403  |
| a canonical v2 checkpoint (a Merkle root), old <= its size    | InvalidArgument    | 400  |
| old size = the size of the last checkpoint cosigned (0: none) | StaleSizeError     | 409 (*) |
| at that same size, the same root (else a fork)                | ForkError          | 409  |
| the proof proves old -> new (RFC 6962); empty when old is 0   | InconsistentProof  | 422  |

(*) its body is that size and a newline, its Content-Type `text/x.tlog.size`.

Then it records the checkpoint durably (vault/witness/state.py) and only then returns its
cosignature line (vault/witness/cosignature.py), timestamped with its clock. The check of
the old size and the write are under one lock, so two requests cannot roll the state back.
A refused fork is logged (origin and sizes: the evidence is the request, which its sender
keeps). What it does not: speak HTTP, or know the vault (any log whose key it is given).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from vault.errors import (
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from vault.journal.checkpoint import Signer, VerifierKey, open_note, verified_body
from vault.journal.merkle import ProofError, verify_consistency
from vault.witness.cosignature import WitnessKey, cosign
from vault.witness.protocol import parse_request
from vault.witness.state import LogState, StateFile

_log = logging.getLogger(__name__)
_MAX_NOTE = 16 * 1024  # the log's note with other witnesses' cosignatures


class StaleSizeError(ConflictError):
    """The old size is not the witness's: the body of the 409 is `size`."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the witness's latest cosigned size is {size}")
        self.size = size


class ForkError(ConflictError):
    """A checkpoint of a size the witness cosigned, with another root."""


class InconsistentProofError(IntegrityError):
    """The consistency proof does not prove the old tree a prefix of the new (HTTP 422)."""


class Witness:
    def __init__(
        self,
        name: str,
        signer: Signer,
        logs: Sequence[VerifierKey],
        state: StateFile,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = WitnessKey(name, signer.public_key)
        self._signer = signer
        self._logs = {key.name: key for key in logs}
        self._state = state
        self._latest = state.load()  # a corrupt file stops the witness here
        self._clock = clock
        self._lock = threading.Lock()

    def latest(self, origin: str) -> LogState | None:
        return self._latest.get(origin)

    def add_checkpoint(self, data: bytes) -> str:
        """The cosignature line of a checkpoint that passed every check; raises otherwise."""
        request = parse_request(data)
        origin = request.note.partition("\n")[0]
        key = self._logs.get(origin)
        if key is None:
            raise NotFoundError("this witness does not know the checkpoint's origin")
        try:
            verified_body(request.note, key, _MAX_NOTE)
        except IntegrityError:
            raise PermissionDeniedError("no valid signature by the log's key") from None
        try:
            checkpoint = open_note(request.note, key)
        except IntegrityError as e:
            raise InvalidArgumentError(f"not a checkpoint: {e}") from None
        root = checkpoint.root
        if root is None:
            raise InvalidArgumentError("a v1 checkpoint commits to no Merkle root")
        if request.old_size > checkpoint.size:
            raise InvalidArgumentError("the old size is larger than the checkpoint's")
        with self._lock:
            latest = self._latest.get(origin)
            self._check(origin, request.old_size, request.proof, checkpoint.size, root, latest)
            logs = dict(self._latest)
            logs[origin] = LogState(checkpoint.size, root, request.note)
            self._state.save(logs)  # durable before the cosignature leaves
            self._latest = logs
            return cosign(checkpoint.body(), self.key.name, self._signer, int(self._clock()))

    @staticmethod
    def _check(
        origin: str,
        old: int,
        proof: tuple[bytes, ...],
        size: int,
        root: bytes,
        latest: LogState | None,
    ) -> None:
        known = 0 if latest is None else latest.size
        if old != known:
            raise StaleSizeError(known)
        if latest is None:
            if proof:
                raise InconsistentProofError("a proof from size 0 must be empty")
            return
        if size == latest.size and root != latest.root:
            _log.critical(
                "witness REFUSED a fork of %s: another root at size %d, which it cosigned",
                origin,
                size,
            )
            raise ForkError("another root at a size this witness cosigned: a fork")
        try:
            verify_consistency(latest.size, size, latest.root, root, proof)
        except ProofError as e:
            _log.critical(
                "witness REFUSED %s at size %d: no consistency with size %d (%s)",
                origin,
                size,
                latest.size,
                e,
            )
            raise InconsistentProofError(f"the consistency proof fails: {e}") from None
