"""Master and index keys in a local file: the embedded default, for development.

File format (JSON, mode 0600, refused if group- or world-accessible):

    {"format": "dossier-vault-local-keys/1", "current": 1,
     "master": {"1": "<base64 32 bytes>"}, "index": "<base64 32 bytes>",
     "checkpoint": "<base64 32-byte Ed25519 private seed>"}

Master keys are versioned so that rotation can add one and retire an old one. Wrapping
is a sealed box (sealed.py) whose associated data is the dossier-key label, the caller's
context and the master version, so a blob cannot be replayed under another version.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vault.crypto.keyprovider import WrappedKey
from vault.crypto.sealed import KEY_SIZE, dossier_key_aad, open_sealed, seal
from vault.durable import replace_atomically
from vault.errors import ConfigurationError, FailedPreconditionError

FORMAT = "dossier-vault-local-keys/1"


def create_key_file(path: Path) -> None:
    """Writes a new key file (mode 0600) with master version 1 and a fresh index key."""
    document = {
        "format": FORMAT,
        "current": 1,
        "master": {"1": base64.b64encode(os.urandom(KEY_SIZE)).decode()},
        "index": base64.b64encode(os.urandom(KEY_SIZE)).decode(),
        "checkpoint": base64.b64encode(os.urandom(KEY_SIZE)).decode(),
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out)
        out.flush()
        os.fsync(out.fileno())


def _version(text: str) -> int:
    if not text.isdigit() or str(int(text)) != text or not 0 < int(text) < 2**32:
        raise ConfigurationError("key file: a master key version is not a positive integer")
    return int(text)


def _decode_key(text: object) -> bytes:
    if not isinstance(text, str):
        raise ConfigurationError("key file: a key is not a base64 string")
    key = base64.b64decode(text, validate=True)
    if len(key) != KEY_SIZE:
        raise ConfigurationError("key file: a key is not 32 bytes")
    return key


class LocalCheckpointSigner:
    """A `journal.checkpoint.Signer` over an in-memory Ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def _read(path: Path) -> dict[str, Any]:
    """The key file's JSON; refused if group or others can access it."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigurationError(f"key file {path} cannot be read") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"key file {path} is accessible to group or others; run chmod 600 on it"
        )
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigurationError(f"key file {path} is malformed") from e
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigurationError(f"key file {path} has an unknown format")
    return document


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialises the commands that rewrite the key file (flock on `<file>.lock`)."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(path: Path, document: dict[str, Any]) -> None:
    """Replaces the key file atomically (temporary file, fsync, rename, directory fsync)."""
    replace_atomically(path, json.dumps(document).encode(), 0o600)


def add_master_version(path: Path) -> int:
    """Adds master key version N+1 to the key file and makes it current; returns N+1.
    Running servers pick it up on their next `refresh()` (within a minute)."""
    with _locked(path):
        document = _read(path)
        version = max(_version(v) for v in document["master"]) + 1
        document["master"][str(version)] = base64.b64encode(os.urandom(KEY_SIZE)).decode()
        document["current"] = version
        _write(path, document)
    return version


def retire_master_version(path: Path, version: int) -> None:
    """Removes a master key version for good: whatever it still wraps, in the index or in
    any backup of it, can never be unwrapped again. The caller checks that nothing in the
    index still needs it; the current version cannot be retired."""
    with _locked(path):
        document = _read(path)
        if version == int(document["current"]):
            raise FailedPreconditionError("the current master key version cannot be retired")
        if document["master"].pop(str(version), None) is None:
            raise FailedPreconditionError(f"master key version {version} is not in the key file")
        _write(path, document)


class LocalKeyFileProvider:
    """A `KeyProvider` over a local key file. Keys stay in this object's memory."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.refresh()

    def refresh(self) -> int:
        """Rereads the key file (after a rotation or a retirement); returns the current
        master version."""
        document = _read(self._path)
        try:  # built aside, then swapped in at once: a concurrent wrap never sees a mix
            master = {_version(v): _decode_key(k) for v, k in document["master"].items()}
            current = int(document["current"])
            index_key = _decode_key(document["index"])
            seed = document.get("checkpoint")
            checkpoint = (
                None if seed is None else Ed25519PrivateKey.from_private_bytes(_decode_key(seed))
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigurationError(f"key file {self._path} is malformed") from e
        if current not in master:
            raise ConfigurationError("key file: the current master version has no key")
        self._master, self._current = master, current
        self._index_key, self._checkpoint_key = index_key, checkpoint
        return current

    @property
    def master_versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._master))

    @property
    def current_version(self) -> int:
        return self._current

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        version = self._current
        box = seal(self._master[version], key, dossier_key_aad(context, version))
        return WrappedKey(version, box)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        master = self._master.get(wrapped.master_version)
        if master is None:
            raise FailedPreconditionError(
                f"master key version {wrapped.master_version} is not available"
            )
        return open_sealed(master, wrapped.blob, dossier_key_aad(context, wrapped.master_version))

    def checkpoint_signer(self) -> LocalCheckpointSigner:
        """The Ed25519 key that signs journal checkpoints."""
        if self._checkpoint_key is None:
            raise ConfigurationError("key file has no checkpoint signing key")
        return LocalCheckpointSigner(self._checkpoint_key)

    def blind_index(self, data: bytes) -> bytes:
        mac = hmac.HMAC(self._index_key, hashes.SHA256())
        mac.update(data)
        return mac.finalize()
