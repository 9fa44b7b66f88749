"""Opaque, authenticated page tokens (docs/format.md, "Page tokens").

A token is base64url (no padding) of `payload || tag`, where
`tag = HMAC-SHA256(index key, "DVLT/v1/page-token\\0" || payload)[:16]` is computed by the
key provider. The payload's first byte says what it is a cursor for, so a token of one
query is refused by another. Clients cannot forge, edit or move tokens: anything else is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from vault.crypto.keyprovider import KeyProvider
from vault.errors import InvalidArgumentError

TAG_SIZE = 16
_LABEL = b"DVLT/v1/page-token\x00"


class PageTokens:
    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys

    def _tag(self, payload: bytes) -> bytes:
        return self._keys.blind_index(_LABEL + payload)[:TAG_SIZE]

    def seal(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode()

    def open(self, token: str, payload_size: int, purpose: int) -> bytes:
        """The payload of a token this vault issued for `purpose`, or InvalidArgumentError."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            raise InvalidArgumentError("malformed page token") from None
        payload, tag = raw[:payload_size], raw[payload_size:]
        if len(payload) != payload_size or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidArgumentError("malformed page token")
        if payload[0] != purpose:
            raise InvalidArgumentError("page token belongs to another query")
        return payload
