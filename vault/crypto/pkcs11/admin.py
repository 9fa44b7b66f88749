"""Key administration, what the `keys` CLI runs: generate the vault's keys in the token
(`provision`, `add_master_version`), list them (`token_keys`), and destroy a master
version that is no longer current (`retire_master_version`).

Each call logs in through the shared session (session.py) for its own duration and
works in a read/write session riding on that login; generated keys can never leave the
token (objects.py). What it does not: check that no dossier key is still wrapped under
a version it retires (the `keys` CLI does, through vault/rotation.py), rewrap dossier
keys, or run safely twice at once (two concurrent `add_master_version` could both create
N+1, which providers then refuse as ambiguous).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pkcs11.mechanisms import KeyType
from pkcs11.types import Session

from vault.crypto.pkcs11.objects import (
    INDEX_KEY,
    MASTER_KEY,
    find_key,
    find_key_pair,
    generate_key,
    generate_key_pair,
    master_versions,
)
from vault.crypto.pkcs11.session import Connection, acquire, release
from vault.crypto.pkcs11.settings import MAX_VERSION, Pkcs11Settings
from vault.errors import FailedPreconditionError

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """Which of the vault's keys the token holds under a label prefix (never key values)."""

    master_versions: tuple[int, ...]
    index: bool
    checkpoint: bool

    @property
    def current_version(self) -> int | None:
        return self.master_versions[-1] if self.master_versions else None


def provision(settings: Pkcs11Settings) -> int:
    """Generates in the token the index key, the checkpoint key pair and master key v1,
    each only when absent.

    Idempotent. Returns the current (highest) master version.
    """
    return _administer(settings, _provision)


def token_keys(settings: Pkcs11Settings) -> TokenKeys:
    """Which keys the token holds under the settings' prefix, each checked as a provider
    would check it (ConfigurationError for one that could leave the token)."""
    return _with_connection(settings, lambda conn: _token_keys(conn.session(), settings))


def add_master_version(settings: Pkcs11Settings) -> int:
    """Generates master key version N+1 in the token and returns N+1.

    Running providers keep wrapping under N until `refresh()` (or a restart); every
    version stays available to unwrap. Run it once at a time: two concurrent runs could
    both create N+1, which providers then refuse as ambiguous (ConfigurationError).
    """
    return _administer(settings, _add_master)


def retire_master_version(settings: Pkcs11Settings, version: int) -> int:
    """Destroys master key version `version` in the token, for good; returns it. The
    current (highest) version cannot be retired; the caller checks that nothing in the
    index still needs it."""

    def retire(session: Session, settings: Pkcs11Settings) -> int:
        versions = master_versions(session, settings)
        if version not in versions:
            raise FailedPreconditionError(f"master key version {version} is not in the token")
        if version == versions[-1]:
            raise FailedPreconditionError("the current master key version cannot be retired")
        key = find_key(session, settings.master_label(version), KeyType.AES)
        if key is not None:
            key.destroy()
        return version

    return _administer(settings, retire)


def _provision(session: Session, settings: Pkcs11Settings) -> int:
    if find_key(session, settings.index_label, KeyType.GENERIC_SECRET) is None:
        generate_key(session, settings.index_label, INDEX_KEY)
    if find_key_pair(session, settings.checkpoint_label) is None:
        generate_key_pair(session, settings.checkpoint_label)
    versions = master_versions(session, settings)
    if versions:
        return versions[-1]
    generate_key(session, settings.master_label(1), MASTER_KEY)
    return 1


def _add_master(session: Session, settings: Pkcs11Settings) -> int:
    versions = master_versions(session, settings)
    version = (versions[-1] if versions else 0) + 1
    if version > MAX_VERSION:
        raise FailedPreconditionError("no master key version is left")
    generate_key(session, settings.master_label(version), MASTER_KEY)
    return version


def _token_keys(session: Session, settings: Pkcs11Settings) -> TokenKeys:
    return TokenKeys(
        master_versions=tuple(master_versions(session, settings)),
        index=find_key(session, settings.index_label, KeyType.GENERIC_SECRET) is not None,
        checkpoint=find_key_pair(session, settings.checkpoint_label) is not None,
    )


def _administer(settings: Pkcs11Settings, op: Callable[[Session, Pkcs11Settings], int]) -> int:
    """Runs `op` in a read/write session that rides on the process's login."""
    return _with_connection(settings, lambda conn: _in_rw_session(conn, settings, op), retry=False)


def _with_connection(
    settings: Pkcs11Settings, op: Callable[[Connection], _T], *, retry: bool = True
) -> _T:
    """Runs `op` on the shared connection, logged in for the time of the call."""
    conn = acquire(settings)
    try:
        return conn.run(op, retry=retry)
    finally:
        release(conn, settings)


def _in_rw_session(
    conn: Connection, settings: Pkcs11Settings, op: Callable[[Session, Pkcs11Settings], int]
) -> int:
    # Opened without a PIN: it shares the login, and closing it logs nobody out.
    rw = conn.session().token.open(rw=True)
    try:
        return op(rw, settings)
    finally:
        rw.close()
