"""The vault's key objects in the token: found by label and checked, or generated.

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
                          too).

A key found with a weaker template (extractable, not sensitive, the wrong size or curve),
under a label held twice, or half a key pair, is a ConfigurationError. Labels come from
`Pkcs11Settings`. What it does not: take the lock or open sessions (its callers do), or
decide which keys to generate (admin.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, MechanismFlag, ObjectClass
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import Key, PrivateKey, SecretKey, Session

from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.errors import ConfigurationError

KEY_BITS = 256
# CKA_EC_PARAMS of an Ed25519 key: the DER OID 1.3.101.112 (RFC 8410), which the vault
# writes; PKCS#11 3.0 also allows the PrintableString "edwards25519" (SoftHSM2 puts it on
# the private half).
ED25519_PARAMS = bytes.fromhex("06032b6570")
_ED25519_PARAMS_ACCEPTED = (ED25519_PARAMS, b"\x13\x0cedwards25519")
_DER_OCTET_STRING_32 = b"\x04\x20"
_log = logging.getLogger(__name__)


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


def find_key(session: Session, label: str, key_type: KeyType) -> SecretKey | None:
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
class KeyPair:
    """An Ed25519 key pair of the token: the private key's handle, the public key's value."""

    private: PrivateKey
    public: Ed25519PublicKey


def find_key_pair(session: Session, label: str) -> KeyPair | None:
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
    return KeyPair(cast(PrivateKey, private), _ed25519_public_key(public, label))


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


def master_versions(session: Session, settings: Pkcs11Settings) -> list[int]:
    """The master key versions the token holds under this prefix, in ascending order."""
    query = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
    labels = [str(obj[Attribute.LABEL]) for obj in list(session.get_objects(query))]
    return sorted(v for v in map(settings.master_version_of, labels) if v is not None)


@dataclass(frozen=True, slots=True)
class KeySpec:
    key_type: KeyType
    mechanism: Mechanism
    usage: MechanismFlag


MASTER_KEY = KeySpec(
    KeyType.AES, Mechanism.AES_KEY_GEN, MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
)
INDEX_KEY = KeySpec(
    KeyType.GENERIC_SECRET,
    Mechanism.GENERIC_SECRET_KEY_GEN,
    MechanismFlag.SIGN | MechanismFlag.VERIFY,
)


def generate_key(session: Session, label: str, spec: KeySpec) -> None:
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


def generate_key_pair(session: Session, label: str) -> None:
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
