"""Master, index and checkpoint keys in a PKCS#11 token (an HSM; SoftHSM2 in tests).

What it does: `Pkcs11KeyProvider` wraps and unwraps dossier keys *inside* the token with
AES-256-GCM under a versioned master key, computes blind indexes with CKM_SHA256_HMAC
under an index key, and signs journal checkpoints with CKM_EDDSA under an Ed25519 key
(`checkpoint_signer`); `provision` and `add_master_version` generate those keys inside
the token, `token_keys` lists which are there. No secret or private key ever leaves the
token, nor could: one found without CKA_SENSITIVE, or with CKA_EXTRACTABLE, is refused.
What it does not: create or initialise tokens and PINs (operators; tools/softhsm_setup.sh
for tests), retire or destroy master versions, rotate the checkpoint key, nor bound how
long a hung HSM may block a call (PKCS#11 has no timeouts).

Token objects (CKO_SECRET_KEY, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE,
not CKA_COPYABLE, 32 bytes):

    <prefix>-master-v<N>  CKK_AES, encrypt/decrypt only. The highest N is the current
                          version, read when the provider starts and on `refresh()`.
    <prefix>-index        CKK_GENERIC_SECRET, sign/verify only (CKM_SHA256_HMAC; SoftHSM2
                          2.6 cannot generate a CKK_SHA256_HMAC key). Never rotates.

and one key pair (CKK_EC_EDWARDS, CKA_EC_PARAMS the OID 1.3.101.112 of Ed25519):

    <prefix>-checkpoint   CKO_PRIVATE_KEY sign only (not sign-recover), private, sensitive,
                          not extractable, not copyable; CKO_PUBLIC_KEY verify only.
                          CKA_EC_POINT is the DER OCTET STRING of the 32-byte public key
                          (PKCS#11 3.0; raw 32 bytes, as some tokens store it, is accepted
                          too). Every signature is checked against the public key before it
                          is returned: a pair whose halves do not match, or one swapped in
                          under a running signer, never signs a checkpoint.

Wrapped keys are sealed boxes v1 (docs/format.md): 0x01 || nonce (12, os.urandom) ||
ciphertext || tag (16), where ciphertext || tag is exactly what C_Encrypt(CKM_AES_GCM)
returns through python-pkcs11 (PKCS#11 appends the tag; tests/crypto/test_pkcs11.py opens
a token's box with `cryptography` and the reverse). The associated data is the local
provider's, DOSSIER_KEY_LABEL || context || uint32 master version, so both providers bind
a wrapped key to the same dossier, dossier key version and master version.

Concurrency. python-pkcs11 0.10.1 calls C_Initialize(NULL): the application promises
never to call the module from two threads at once, and SoftHSM2 then turns its own locks
off (eight threads with a session each crash the interpreter with SIGSEGV). Login state
belongs to the process, not to a session: a second C_Login answers
CKR_USER_ALREADY_LOGGED_IN and any C_Logout logs out every session. Hence one
process-wide lock around every call into any module, and one logged-in session per
(module, token), shared by all the providers of the process, key handles cached with it.
Serialising costs nothing the module would not serialise itself. A call that fails on a
lost session (HSM restarted, token re-plugged) reopens the session and is retried once.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar, cast

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, MechanismFlag, ObjectClass
from pkcs11.mechanisms import GCMParams, KeyType, Mechanism
from pkcs11.types import (
    DecryptMixin,
    EncryptMixin,
    Key,
    PrivateKey,
    SecretKey,
    Session,
    SignMixin,
)

from vault.crypto import sealed
from vault.crypto.keyprovider import WrappedKey
from vault.errors import (
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
)

DEFAULT_KEY_LABEL_PREFIX = "dossier-vault"
KEY_BITS = 256
TAG_BITS = 128
HMAC_SIZE = 32
SIGNATURE_SIZE = 64
# CKA_EC_PARAMS of an Ed25519 key: the DER OID 1.3.101.112 (RFC 8410), which the vault
# writes; PKCS#11 3.0 also allows the PrintableString "edwards25519" (SoftHSM2 puts it on
# the private half).
ED25519_PARAMS = bytes.fromhex("06032b6570")
_ED25519_PARAMS_ACCEPTED = (ED25519_PARAMS, b"\x13\x0cedwards25519")
_DER_OCTET_STRING_32 = b"\x04\x20"
_KEY_CHECK_MESSAGE = b"dossier-vault: checkpoint key pair check"
_MAX_VERSION = 0xFFFFFFFF
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_T = TypeVar("_T")
_log = logging.getLogger(__name__)

# Every call into a PKCS#11 module, from any provider of this process, holds this lock.
_LOCK = threading.RLock()
# What a token answers when a GCM tag does not verify: SoftHSM2 2.6 says CKR_GENERAL_ERROR,
# others CKR_ENCRYPTED_DATA_INVALID, or codes python-pkcs11 does not map (plain
# PKCS11Error, e.g. PKCS#11 3.0's CKR_AEAD_DECRYPT_FAILED). A liveness probe tells these
# apart from a token that stopped answering.
_TAG_FAILURES = (
    p11.EncryptedDataInvalid,
    p11.EncryptedDataLenRange,
    p11.GeneralError,
    p11.FunctionFailed,
)
_PIN_REFUSED = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked, p11.PinExpired)


@dataclass(frozen=True, slots=True)
class Pkcs11Settings:
    """Where the keys are: module, token, user PIN (never shown) and key label prefix."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    key_label_prefix: str = DEFAULT_KEY_LABEL_PREFIX

    def __post_init__(self) -> None:
        if not self.module or not self.token_label:
            raise ConfigurationError("PKCS#11: the module path and the token label are required")
        if not self.pin:
            raise ConfigurationError("PKCS#11: the user PIN is empty")
        if not _PREFIX.fullmatch(self.key_label_prefix):
            raise ConfigurationError(
                "PKCS#11: the key label prefix must be 1 to 64 of A-Z a-z 0-9 . _ -"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Pkcs11Settings:
        """Reads VAULT_PKCS11_MODULE, _TOKEN_LABEL, _PIN or _PIN_FILE, _KEY_LABEL_PREFIX."""
        return cls(
            module=_required(environ, "VAULT_PKCS11_MODULE"),
            token_label=_required(environ, "VAULT_PKCS11_TOKEN_LABEL"),
            pin=_pin_from_env(environ),
            key_label_prefix=environ.get("VAULT_PKCS11_KEY_LABEL_PREFIX")
            or DEFAULT_KEY_LABEL_PREFIX,
        )

    @classmethod
    def from_env_if_set(cls, environ: Mapping[str, str]) -> Pkcs11Settings | None:
        """`from_env` when any VAULT_PKCS11_* variable is set, else None (no HSM).

        A partial configuration is a ConfigurationError, never a silent fallback to the
        local key file.
        """
        if any(name.startswith("VAULT_PKCS11_") and value for name, value in environ.items()):
            return cls.from_env(environ)
        return None

    def master_label(self, version: int) -> str:
        return f"{self.key_label_prefix}-master-v{version}"

    @property
    def index_label(self) -> str:
        return f"{self.key_label_prefix}-index"

    @property
    def checkpoint_label(self) -> str:
        return f"{self.key_label_prefix}-checkpoint"

    def master_version_of(self, label: str) -> int | None:
        """The version a master key label names, or None for any other label."""
        prefix = f"{self.key_label_prefix}-master-v"
        digits = label[len(prefix) :] if label.startswith(prefix) else ""
        if not re.fullmatch(r"[1-9][0-9]{0,9}", digits) or int(digits) > _MAX_VERSION:
            return None
        return int(digits)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def _pin_from_env(environ: Mapping[str, str]) -> str:
    pin, pin_file = environ.get("VAULT_PKCS11_PIN"), environ.get("VAULT_PKCS11_PIN_FILE")
    if pin and pin_file:
        raise ConfigurationError("set VAULT_PKCS11_PIN or VAULT_PKCS11_PIN_FILE, not both")
    if pin:
        return pin
    if pin_file:
        return _read_pin_file(Path(pin_file))
    raise ConfigurationError("VAULT_PKCS11_PIN or VAULT_PKCS11_PIN_FILE is required")


def _read_pin_file(path: Path) -> str:
    """The PIN on the file's first line; the file must be private, like a key file."""
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"PIN file {path} is accessible to group or others; run chmod 600 on it"
            )
        pin = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"PIN file {path} cannot be read") from e
    if not pin or not pin[0]:
        raise ConfigurationError(f"PIN file {path} is empty")
    return pin[0]


# -- the shared session --------------------------------------------------------------------


class _Connection:
    """The process's one logged-in session on one token, and the key handles found in it.

    Every method is called with `_LOCK` held.
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._session: Session | None = None
        self._keys: dict[str, SecretKey] = {}
        self._pairs: dict[str, _KeyPair] = {}
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
            key = _find_key(self.session(), label, key_type)
            if key is not None:
                self._keys[label] = key
        return key

    def key_pair(self, label: str) -> _KeyPair | None:
        """The token's Ed25519 key pair with this label, looked up once per session."""
        pair = self._pairs.get(label)
        if pair is None:
            pair = _find_key_pair(self.session(), label)
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

    def run(self, op: Callable[[_Connection], _T], *, retry: bool = True) -> _T:
        """Runs `op` under the lock; a PKCS#11 failure reopens the session (once)."""
        with _LOCK:
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

    def _attempt(self, op: Callable[[_Connection], _T]) -> _T:
        self.session()
        return op(self)


_CONNECTIONS: dict[tuple[str, str], _Connection] = {}


def _connection_key(settings: Pkcs11Settings) -> tuple[str, str]:
    # One file is one module, whatever path names it: dlopen shares it, C_Initialize once.
    return os.path.realpath(settings.module), settings.token_label


def _acquire(settings: Pkcs11Settings) -> _Connection:
    """The shared connection for this module and token, logged in (UnavailableError)."""
    with _LOCK:
        conn = _CONNECTIONS.get(_connection_key(settings))
        if conn is None:
            conn = _Connection(settings)
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


def _release(conn: _Connection, settings: Pkcs11Settings) -> None:
    """Drops one user; the last one logs out and closes the session."""
    with _LOCK:
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


# -- keys in the token ---------------------------------------------------------------------


def _find_object(
    session: Session, object_class: ObjectClass, label: str, key_type: KeyType | None = None
) -> Key | None:
    """The one key of this class (and type) with this label; None if absent."""
    try:
        return session.get_key(object_class, key_type, label=label)
    except p11.NoSuchKey:
        return None
    except p11.MultipleObjectsReturned as e:
        raise ConfigurationError(f"several keys in the token are labelled {label!r}") from e


def _find_key(session: Session, label: str, key_type: KeyType) -> SecretKey | None:
    key = _find_object(session, ObjectClass.SECRET_KEY, label, key_type)
    if key is None:
        return None
    _require_protected(key, label)
    return cast(SecretKey, key)


def _require_unextractable(key: Key, label: str) -> None:
    """Refuses a key that could leave the token."""
    found = key.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE])
    if found[Attribute.EXTRACTABLE] or not found[Attribute.SENSITIVE]:
        raise ConfigurationError(
            f"key {label!r} in the token is extractable or not sensitive; refusing to use it"
        )


def _require_protected(key: Key, label: str) -> None:
    """Refuses a secret key that could leave the token, or that is not 32 bytes."""
    _require_unextractable(key, label)
    if key[Attribute.VALUE_LEN] != KEY_BITS // 8:
        raise ConfigurationError(f"key {label!r} in the token is not {KEY_BITS} bits")


@dataclass(frozen=True, slots=True)
class _KeyPair:
    """An Ed25519 key pair of the token: the private key's handle, the public key's value."""

    private: PrivateKey
    public: Ed25519PublicKey


def _find_key_pair(session: Session, label: str) -> _KeyPair | None:
    """The Ed25519 key pair with this label, checked; None if neither half is there."""
    private = _find_object(session, ObjectClass.PRIVATE_KEY, label)
    public = _find_object(session, ObjectClass.PUBLIC_KEY, label)
    if private is None and public is None:
        return None
    if private is None or public is None:
        present = "public" if private is None else "private"
        raise ConfigurationError(
            f"the token holds only the {present} key of key pair {label!r}; "
            "remove it or restore its other half"
        )
    if private.key_type != KeyType.EC_EDWARDS or public.key_type != KeyType.EC_EDWARDS:
        raise ConfigurationError(f"key pair {label!r} in the token is not an Ed25519 key pair")
    _require_unextractable(private, label)
    return _KeyPair(cast(PrivateKey, private), _ed25519_public_key(public, label))


def _ed25519_public_key(public: Key, label: str) -> Ed25519PublicKey:
    """The public key object's value: CKA_EC_POINT, on the curve CKA_EC_PARAMS names."""
    found = public.get_attributes([Attribute.EC_PARAMS, Attribute.EC_POINT])
    if found[Attribute.EC_PARAMS] not in _ED25519_PARAMS_ACCEPTED:
        raise ConfigurationError(f"key pair {label!r} in the token is not on edwards25519")
    point = found[Attribute.EC_POINT]
    if len(point) == 2 + 32 and point.startswith(_DER_OCTET_STRING_32):
        point = point[2:]
    try:
        return Ed25519PublicKey.from_public_bytes(point)
    except ValueError as e:
        raise ConfigurationError(f"the public key {label!r} in the token is malformed") from e


def _master_versions(session: Session, settings: Pkcs11Settings) -> list[int]:
    """The master key versions the token holds under this prefix, in ascending order."""
    query = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
    labels = [str(obj[Attribute.LABEL]) for obj in list(session.get_objects(query))]
    return sorted(v for v in map(settings.master_version_of, labels) if v is not None)


def _current_version(conn: _Connection, settings: Pkcs11Settings) -> int:
    """The highest master version, checked usable; the index key must be there too."""
    versions = _master_versions(conn.session(), settings)
    if not versions:
        raise FailedPreconditionError(
            f"the PKCS#11 token holds no master key labelled {settings.master_label(1)!r} "
            "or later; provision it first"
        )
    conn.key(settings.master_label(versions[-1]), KeyType.AES)
    if conn.key(settings.index_label, KeyType.GENERIC_SECRET) is None:
        raise FailedPreconditionError(
            f"the PKCS#11 token holds no index key {settings.index_label!r}; provision it first"
        )
    return versions[-1]


@dataclass(frozen=True, slots=True)
class _KeySpec:
    key_type: KeyType
    mechanism: Mechanism
    usage: MechanismFlag


_MASTER = _KeySpec(
    KeyType.AES, Mechanism.AES_KEY_GEN, MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
)
_INDEX = _KeySpec(
    KeyType.GENERIC_SECRET,
    Mechanism.GENERIC_SECRET_KEY_GEN,
    MechanismFlag.SIGN | MechanismFlag.VERIFY,
)


def _generate(session: Session, label: str, spec: _KeySpec) -> None:
    """Generates a token key that can never be read out; every other usage flag is off."""
    session.generate_key(
        spec.key_type,
        KEY_BITS,
        label=label,
        store=True,
        capabilities=spec.usage,
        mechanism=spec.mechanism,
        template={
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.COPYABLE: False,
        },
    )
    _log.info("generated key %r in the PKCS#11 token", label)


def _generate_key_pair(session: Session, label: str) -> None:
    """Generates an Ed25519 pair whose private key can only sign, and never be read out."""
    session.generate_keypair(
        KeyType.EC_EDWARDS,
        label=label,
        store=True,
        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
        mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        public_template={Attribute.EC_PARAMS: ED25519_PARAMS, Attribute.VERIFY_RECOVER: False},
        private_template={
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.COPYABLE: False,
            Attribute.SIGN_RECOVER: False,
        },
    )
    _log.info("generated key pair %r in the PKCS#11 token", label)


# -- cryptography inside the token ---------------------------------------------------------


def _gcm_encrypt(master: SecretKey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """C_Encrypt with CKM_AES_GCM: returns ciphertext || 16-byte tag."""
    params = GCMParams(nonce, aad, TAG_BITS)
    out = cast(EncryptMixin, master).encrypt(
        plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=params
    )
    if not isinstance(out, bytes) or len(out) != len(plaintext) + sealed.TAG_SIZE:
        raise ConfigurationError("the token's AES-GCM output is not ciphertext || 16-byte tag")
    return out


def _gcm_decrypt(master: SecretKey, nonce: bytes, sealed_part: bytes, aad: bytes) -> bytes:
    """C_Decrypt with CKM_AES_GCM; a tag that does not verify is an IntegrityError."""
    params = GCMParams(nonce, aad, TAG_BITS)
    try:
        out = cast(DecryptMixin, master).decrypt(
            sealed_part, mechanism=Mechanism.AES_GCM, mechanism_param=params
        )
    except p11.PKCS11Error as e:
        if not _may_be_tag_failure(e) or not _answers(master):
            raise  # the token, not the data: Connection.run reopens or reports it unavailable
        raise IntegrityError("sealed box failed authentication") from e
    if not isinstance(out, bytes):
        raise ConfigurationError("the token's AES-GCM decryption returned no bytes")
    return out


def _may_be_tag_failure(error: p11.PKCS11Error) -> bool:
    return isinstance(error, _TAG_FAILURES) or type(error) is p11.PKCS11Error


def _answers(key: SecretKey) -> bool:
    """Whether the token still answers on this session and knows this key."""
    try:
        key[Attribute.CLASS]
    except p11.PKCS11Error:
        return False
    return True


def _split_box(blob: bytes) -> tuple[bytes, bytes]:
    """Sealed box v1 -> (nonce, ciphertext || tag), or IntegrityError."""
    if len(blob) < sealed.OVERHEAD:
        raise IntegrityError("sealed box truncated")
    if blob[0] != sealed.VERSION:
        raise IntegrityError(f"unsupported sealed box version {blob[0]}")
    return blob[1 : 1 + sealed.NONCE_SIZE], blob[1 + sealed.NONCE_SIZE :]


def _hmac_sha256(key: SecretKey, data: bytes) -> bytes:
    mac = cast(SignMixin, key).sign(data, mechanism=Mechanism.SHA256_HMAC)
    if len(mac) != HMAC_SIZE:
        raise ConfigurationError("the token's HMAC-SHA256 is not 32 bytes")
    return mac


def _eddsa_sign(key: PrivateKey, message: bytes) -> bytes:
    """C_Sign with CKM_EDDSA (pure Ed25519, no parameters): a 64-byte signature."""
    signature = cast(SignMixin, key).sign(message, mechanism=Mechanism.EDDSA)
    if len(signature) != SIGNATURE_SIZE:
        raise ConfigurationError("the token's Ed25519 signature is not 64 bytes")
    return signature


def _require_valid(public: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """A signature the public key does not verify: the pair's halves do not match."""
    try:
        public.verify(signature, message)
    except InvalidSignature:
        raise ConfigurationError(
            "the token's checkpoint signature does not verify under its public key; "
            "refusing to use the key pair"
        ) from None


# -- the provider --------------------------------------------------------------------------


class Pkcs11KeyProvider:
    """A `KeyProvider` whose keys live in a PKCS#11 token. Thread-safe; see the module doc.

    Opening logs in (UnavailableError) and checks that the token holds a master key and
    the index key (FailedPreconditionError); the checkpoint key is checked only by
    `checkpoint_signer()`, so tokens provisioned before it still wrap and unwrap.
    `close()` when done: every later call, its signer's included, is UnavailableError;
    the last provider of a token in the process logs out.
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._conn = _acquire(settings)
        self._closed = False
        try:
            self._current = self._run(lambda conn: _current_version(conn, settings))
        except BaseException:
            self.close()
            raise

    @property
    def current_version(self) -> int:
        return self._current

    def refresh(self) -> int:
        """Rereads the current master version (after `add_master_version`); returns it."""
        self._current = self._run(lambda conn: _current_version(conn, self._settings))
        return self._current

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        version = self._current
        aad = sealed.dossier_key_aad(context, version)

        def encrypt(conn: _Connection) -> bytes:
            nonce = os.urandom(sealed.NONCE_SIZE)
            return nonce + _gcm_encrypt(self._master(conn, version), nonce, key, aad)

        return WrappedKey(version, bytes([sealed.VERSION]) + self._run(encrypt))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        version = wrapped.master_version
        if not 1 <= version <= _MAX_VERSION:
            raise FailedPreconditionError(f"master key version {version} is not available")
        aad = sealed.dossier_key_aad(context, version)

        def decrypt(conn: _Connection) -> bytes:
            master = self._master(conn, version)
            nonce, sealed_part = _split_box(wrapped.blob)
            return _gcm_decrypt(master, nonce, sealed_part, aad)

        return self._run(decrypt)

    def blind_index(self, data: bytes) -> bytes:
        def sign(conn: _Connection) -> bytes:
            key = conn.key(self._settings.index_label, KeyType.GENERIC_SECRET)
            if key is None:
                raise FailedPreconditionError("the index key is not in the PKCS#11 token")
            return _hmac_sha256(key, data)

        return self._run(sign)

    def checkpoint_signer(self) -> Pkcs11CheckpointSigner:
        """The token's Ed25519 checkpoint key, checked by signing once.

        FailedPreconditionError if it is not provisioned; ConfigurationError if it is not a
        usable Ed25519 pair (extractable, half missing, halves that do not match).
        """
        public = self._run(lambda conn: self._key_pair(conn).public)
        signer = Pkcs11CheckpointSigner(self, public)
        signer.sign(_KEY_CHECK_MESSAGE)
        return signer

    def _eddsa(self, message: bytes, public: Ed25519PublicKey) -> bytes:
        """Signs in the token with the checkpoint key; checks the signature under `public`."""
        signature = self._run(lambda conn: _eddsa_sign(self._key_pair(conn).private, message))
        _require_valid(public, signature, message)
        return signature

    def _key_pair(self, conn: _Connection) -> _KeyPair:
        pair = conn.key_pair(self._settings.checkpoint_label)
        if pair is None:
            raise FailedPreconditionError(
                f"the PKCS#11 token holds no checkpoint key "
                f"{self._settings.checkpoint_label!r}; provision it first"
            )
        return pair

    def _run(self, op: Callable[[_Connection], _T]) -> _T:
        """Runs `op` on the shared session, unless this provider is closed."""
        with _LOCK:
            if self._closed:
                raise UnavailableError("the PKCS#11 key provider is closed")
            return self._conn.run(op)

    def _master(self, conn: _Connection, version: int) -> SecretKey:
        key = conn.key(self._settings.master_label(version), KeyType.AES)
        if key is None:
            raise FailedPreconditionError(f"master key version {version} is not available")
        return key

    def close(self) -> None:
        with _LOCK:
            if not self._closed:
                self._closed = True
                _release(self._conn, self._settings)

    def __enter__(self) -> Pkcs11KeyProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Pkcs11CheckpointSigner:
    """A `journal.checkpoint.Signer` whose Ed25519 private key stays in the token.

    Signs through its provider (the process's lock and shared session); once the provider
    is closed, `sign` raises UnavailableError. `public_key` is the value read when the
    signer was made: a key pair swapped in the token later makes `sign` fail
    (ConfigurationError), never sign under a key the verifiers do not know.
    """

    def __init__(self, provider: Pkcs11KeyProvider, public_key: Ed25519PublicKey) -> None:
        self._provider = provider
        self._public_key = public_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._provider._eddsa(message, self._public_key)


# -- provisioning --------------------------------------------------------------------------


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
        versions = _master_versions(session, settings)
        if version not in versions:
            raise FailedPreconditionError(f"master key version {version} is not in the token")
        if version == versions[-1]:
            raise FailedPreconditionError("the current master key version cannot be retired")
        key = _find_key(session, settings.master_label(version), KeyType.AES)
        if key is not None:
            key.destroy()
        return version

    return _administer(settings, retire)


def _provision(session: Session, settings: Pkcs11Settings) -> int:
    if _find_key(session, settings.index_label, KeyType.GENERIC_SECRET) is None:
        _generate(session, settings.index_label, _INDEX)
    if _find_key_pair(session, settings.checkpoint_label) is None:
        _generate_key_pair(session, settings.checkpoint_label)
    versions = _master_versions(session, settings)
    if versions:
        return versions[-1]
    _generate(session, settings.master_label(1), _MASTER)
    return 1


def _add_master(session: Session, settings: Pkcs11Settings) -> int:
    versions = _master_versions(session, settings)
    version = (versions[-1] if versions else 0) + 1
    if version > _MAX_VERSION:
        raise FailedPreconditionError("no master key version is left")
    _generate(session, settings.master_label(version), _MASTER)
    return version


def _token_keys(session: Session, settings: Pkcs11Settings) -> TokenKeys:
    return TokenKeys(
        master_versions=tuple(_master_versions(session, settings)),
        index=_find_key(session, settings.index_label, KeyType.GENERIC_SECRET) is not None,
        checkpoint=_find_key_pair(session, settings.checkpoint_label) is not None,
    )


def _administer(settings: Pkcs11Settings, op: Callable[[Session, Pkcs11Settings], int]) -> int:
    """Runs `op` in a read/write session that rides on the process's login."""
    return _with_connection(settings, lambda conn: _in_rw_session(conn, settings, op), retry=False)


def _with_connection(
    settings: Pkcs11Settings, op: Callable[[_Connection], _T], *, retry: bool = True
) -> _T:
    """Runs `op` on the shared connection, logged in for the time of the call."""
    conn = _acquire(settings)
    try:
        return conn.run(op, retry=retry)
    finally:
        _release(conn, settings)


def _in_rw_session(
    conn: _Connection, settings: Pkcs11Settings, op: Callable[[Session, Pkcs11Settings], int]
) -> int:
    # Opened without a PIN: it shares the login, and closing it logs nobody out.
    rw = conn.session().token.open(rw=True)
    try:
        return op(rw, settings)
    finally:
        rw.close()
