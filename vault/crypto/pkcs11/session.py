"""The process's one logged-in session per (module, token), and every call's lock.

python-pkcs11 0.10.1 calls C_Initialize(NULL): the application promises never to call the
module from two threads at once, and SoftHSM2 then turns its own locks off (eight threads
with a session each crash the interpreter with SIGSEGV). Login state belongs to the
process, not to a session: a second C_Login answers CKR_USER_ALREADY_LOGGED_IN and any
C_Logout logs out every session. Hence one process-wide lock (`LOCK`) around every call
into any module, and one logged-in `Connection` per (module, token), shared by all the
providers of the process, key handles cached with it. Serialising costs nothing the
module would not serialise itself. A call that fails on a lost session (HSM restarted,
token re-plugged) reopens the session and is retried once; failing again, or failing to
load the module, find the token (looked for again after reinitialising the module, which
may list its tokens only then) or log in, it is an UnavailableError.

What it does not: use the keys (provider.py) or create them (admin.py).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import pkcs11
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import KeyType
from pkcs11.types import SecretKey, Session

from vault.crypto.pkcs11.objects import KeyPair, find_key, find_key_pair
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.errors import UnavailableError

_T = TypeVar("_T")
_log = logging.getLogger(__name__)

# Every call into a PKCS#11 module, from any provider of this process, holds this lock.
LOCK = threading.RLock()
_PIN_REFUSED = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked, p11.PinExpired)


class Connection:
    """The process's one logged-in session on one token, and the key handles found in it.

    Every method is called with `LOCK` held.
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._session: Session | None = None
        self._keys: dict[str, SecretKey] = {}
        self._pairs: dict[str, KeyPair] = {}
        self.users = 0

    def same_pin(self, settings: Pkcs11Settings) -> bool:
        return hmac.compare_digest(settings.pin.encode(), self._settings.pin.encode())

    def session(self) -> Session:
        if self._session is None:
            self._session = _login(self._settings)
        return self._session

    def key(self, label: str, key_type: KeyType) -> SecretKey | None:
        """The token's key with this label, looked up once per session; None if absent."""
        key = self._keys.get(label)
        if key is None:
            key = find_key(self.session(), label, key_type)
            if key is not None:
                self._keys[label] = key
        return key

    def key_pair(self, label: str) -> KeyPair | None:
        """The token's Ed25519 key pair with this label, looked up once per session."""
        pair = self._pairs.get(label)
        if pair is None:
            pair = find_key_pair(self.session(), label)
            if pair is not None:
                self._pairs[label] = pair
        return pair

    def reset(self) -> None:
        """Forgets the session and its handles; the next call logs in again."""
        session, self._session = self._session, None
        self._keys.clear()
        self._pairs.clear()
        if session is not None:
            try:
                session.close()
            except p11.PKCS11Error as e:  # the session is already gone: nothing to close
                _log.debug("PKCS#11 session close failed (%s)", type(e).__name__)

    def run(self, op: Callable[[Connection], _T], *, retry: bool = True) -> _T:
        """Runs `op` under the lock; a PKCS#11 failure reopens the session (once)."""
        with LOCK:
            if self.users == 0:
                raise UnavailableError("the PKCS#11 key provider is closed")
            if retry:
                try:
                    return self._attempt(op)
                except p11.PKCS11Error as e:
                    _log.warning(
                        "PKCS#11 call failed (%s); reopening the session", type(e).__name__
                    )
                    self.reset()
            try:
                return self._attempt(op)
            except p11.PKCS11Error as e:
                self.reset()
                raise UnavailableError(
                    f"the PKCS#11 token {self._settings.token_label!r} is not answering "
                    f"({type(e).__name__})"
                ) from e

    def _attempt(self, op: Callable[[Connection], _T]) -> _T:
        self.session()
        return op(self)


_CONNECTIONS: dict[tuple[str, str], Connection] = {}


def _connection_key(settings: Pkcs11Settings) -> tuple[str, str]:
    # One file is one module, whatever path names it: dlopen shares it, C_Initialize once.
    return os.path.realpath(settings.module), settings.token_label


def acquire(settings: Pkcs11Settings) -> Connection:
    """The shared connection for this module and token, logged in (UnavailableError)."""
    with LOCK:
        conn = _CONNECTIONS.get(_connection_key(settings))
        if conn is None:
            conn = Connection(settings)
            conn.session()
            _CONNECTIONS[_connection_key(settings)] = conn
        elif not conn.same_pin(settings):
            # The token would not check this PIN: the process is logged in already.
            raise UnavailableError(
                f"PKCS#11 login to token {settings.token_label!r} refused "
                "(not the PIN this process logged in with)"
            )
        conn.users += 1
        return conn


def release(conn: Connection, settings: Pkcs11Settings) -> None:
    """Drops one user; the last one logs out and closes the session."""
    with LOCK:
        conn.users -= 1
        if conn.users == 0:
            conn.reset()
            _CONNECTIONS.pop(_connection_key(settings), None)


def _login(settings: Pkcs11Settings) -> Session:
    """Loads the module, finds the token and opens a read-only session as its user."""
    try:
        lib = pkcs11.lib(os.path.realpath(settings.module))
    except p11.PKCS11Error as e:
        raise UnavailableError(f"the PKCS#11 module {settings.module} cannot be loaded") from e
    token_name = repr(settings.token_label)
    try:
        try:
            token = lib.get_token(token_label=settings.token_label)
        except p11.PKCS11Error:
            # A module may list its tokens only at C_Initialize (SoftHSM2 does): a token
            # that went away and came back is found again only after reinitialising. The
            # sessions that closes (LOCK is held) fail their next call, which reopens them.
            lib.reinitialize()
            token = lib.get_token(token_label=settings.token_label)
    except p11.PKCS11Error as e:
        raise UnavailableError(f"PKCS#11 token {token_name} not found ({type(e).__name__})") from e
    try:
        session = token.open(user_pin=settings.pin)
    except _PIN_REFUSED as e:
        raise UnavailableError(
            f"PKCS#11 login to token {token_name} refused ({type(e).__name__})"
        ) from e
    except p11.PKCS11Error as e:
        raise UnavailableError(
            f"cannot open a session on PKCS#11 token {token_name} ({type(e).__name__})"
        ) from e
    _log.info("PKCS#11 session opened on token %s", token_name)
    return session
