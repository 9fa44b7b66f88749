"""The tlog-witness `add-checkpoint` request body (c2sp.org/tlog-witness), both ways.

    old <size, decimal, no leading zeros>\\n
    <consistency proof hash, base64>\\n      (0 to 63 lines: RFC 6962 PROOF(old, new))
    \\n
    <the signed checkpoint note>

`encode_request` writes it (the vault's side), `parse_request` reads it strictly (the
witness's side) and raises `BadRequestError` (HTTP 400) on anything else. Pure. What it
does not: check signatures or the proof (vault/witness/witness.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from vault.errors import InvalidArgumentError

MAX_PROOF_LINES = 63
MAX_REQUEST = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"  # the 409 response's body: the witness's size
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})")


class BadRequestError(InvalidArgumentError):
    """Not an add-checkpoint request (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


def encode_request(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_request(data: bytes) -> AddCheckpoint:
    if len(data) > MAX_REQUEST:
        raise BadRequestError("the request is too large")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise BadRequestError("the request is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    lines = head.split("\n")
    old = _OLD.fullmatch(lines[0])
    if not blank or old is None or len(lines) - 1 > MAX_PROOF_LINES:
        raise BadRequestError("expected `old <size>`, at most 63 proof lines, a blank line")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise BadRequestError("a proof line is not base64") from None
        if len(digest) != 32 or base64.b64encode(digest).decode() != line:
            raise BadRequestError("a proof line is not one SHA-256 hash")
        proof.append(digest)
    return AddCheckpoint(int(old.group(1)), tuple(proof), note)
