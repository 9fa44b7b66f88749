"""`Pkcs11KeyProvider`: a `KeyProvider` whose keys are used inside the token, and its
`Pkcs11CheckpointSigner`.

Wrapped keys are sealed boxes v1 (docs/format.md): 0x01 || nonce (12, os.urandom) ||
ciphertext || tag (16), where ciphertext || tag is exactly what C_Encrypt(CKM_AES_GCM)
returns through python-pkcs11 (PKCS#11 appends the tag; tests/crypto/test_pkcs11.py opens
a token's box with `cryptography` and the reverse). The associated data is the local
provider's, DOSSIER_KEY_LABEL || context || uint32 master version, so both providers bind
a wrapped key to the same dossier, dossier key version and master version. A tag that
does not verify is an IntegrityError, told apart from a token that stopped answering.

Blind indexes are CKM_SHA256_HMAC under the index key. Checkpoints are signed with
CKM_EDDSA, and every signature is checked against the public key before it is returned:
a pair whose halves do not match, or one swapped in under a running signer, never signs
a checkpoint. Every call goes through the shared session (session.py).
What it does not: generate or destroy keys (admin.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute
from pkcs11.mechanisms import GCMParams, KeyType, Mechanism
from pkcs11.types import DecryptMixin, EncryptMixin, PrivateKey, SecretKey, SignMixin

from vault.crypto import sealed
from vault.crypto.keyprovider import WrappedKey
from vault.crypto.pkcs11.objects import KeyPair, master_versions
from vault.crypto.pkcs11.session import LOCK, Connection, acquire, release
from vault.crypto.pkcs11.settings import MAX_VERSION, Pkcs11Settings
from vault.errors import (
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
)

TAG_BITS = 128
HMAC_SIZE = 32
SIGNATURE_SIZE = 64
_KEY_CHECK_MESSAGE = b"dossier-vault: checkpoint key pair check"
_T = TypeVar("_T")
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


def _current_version(conn: Connection, settings: Pkcs11Settings) -> int:
    """The highest master version, checked usable; the index key must be there too."""
    versions = master_versions(conn.session(), settings)
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


class Pkcs11KeyProvider:
    """A `KeyProvider` whose keys live in a PKCS#11 token. Thread-safe (session.py).

    Opening logs in (UnavailableError) and checks that the token holds a master key and
    the index key (FailedPreconditionError); the checkpoint key is checked only by
    `checkpoint_signer()`, so tokens provisioned before it still wrap and unwrap.
    `close()` when done: every later call, its signer's included, is UnavailableError;
    the last provider of a token in the process logs out.
    """

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._conn = acquire(settings)
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

        def encrypt(conn: Connection) -> bytes:
            nonce = os.urandom(sealed.NONCE_SIZE)
            return nonce + _gcm_encrypt(self._master(conn, version), nonce, key, aad)

        return WrappedKey(version, bytes([sealed.VERSION]) + self._run(encrypt))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        version = wrapped.master_version
        if not 1 <= version <= MAX_VERSION:
            raise FailedPreconditionError(f"master key version {version} is not available")
        aad = sealed.dossier_key_aad(context, version)

        def decrypt(conn: Connection) -> bytes:
            master = self._master(conn, version)
            nonce, sealed_part = _split_box(wrapped.blob)
            return _gcm_decrypt(master, nonce, sealed_part, aad)

        return self._run(decrypt)

    def blind_index(self, data: bytes) -> bytes:
        def sign(conn: Connection) -> bytes:
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

    def _key_pair(self, conn: Connection) -> KeyPair:
        pair = conn.key_pair(self._settings.checkpoint_label)
        if pair is None:
            raise FailedPreconditionError(
                f"the PKCS#11 token holds no checkpoint key "
                f"{self._settings.checkpoint_label!r}; provision it first"
            )
        return pair

    def _run(self, op: Callable[[Connection], _T]) -> _T:
        """Runs `op` on the shared session, unless this provider is closed."""
        with LOCK:
            if self._closed:
                raise UnavailableError("the PKCS#11 key provider is closed")
            return self._conn.run(op)

    def _master(self, conn: Connection, version: int) -> SecretKey:
        key = conn.key(self._settings.master_label(version), KeyType.AES)
        if key is None:
            raise FailedPreconditionError(f"master key version {version} is not available")
        return key

    def close(self) -> None:
        with LOCK:
            if not self._closed:
                self._closed = True
                release(self._conn, self._settings)

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
