"""The PKCS#11 key provider on SoftHSM2: keys stay in the token, wrapped keys stay bound.

Each test is named after the attack or failure it stops. The token is shared by the
session; every test works under a key label prefix of its own (tests/crypto/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.types import Session

from tests.crypto.conftest import SoftHsm, fresh_prefix
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider, WrappedKey
from vault.crypto.localkeys import FORMAT, LocalKeyFileProvider, create_key_file
from vault.crypto.pkcs11 import (
    DEFAULT_KEY_LABEL_PREFIX,
    ED25519_PARAMS,
    Pkcs11KeyProvider,
    Pkcs11Settings,
    TokenKeys,
    add_master_version,
    provision,
    token_keys,
)
from vault.errors import (
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
)
from vault.journal.checkpoint import Checkpoint, Signer, VerifierKey, open_note, sign

DOSSIER_A, DOSSIER_B = uuid.UUID(int=10), uuid.UUID(int=11)
KEY = bytes(range(32))
CONTEXT = sealed.dossier_key_context(DOSSIER_A, 1)
INS_INDEX_INPUT = b"DVLT/v1/ins\x00184127645108946"


def _secret_key(session: Session, label: str, key_type: KeyType) -> pkcs11.SecretKey:
    key = session.get_key(ObjectClass.SECRET_KEY, key_type, label=label)
    assert isinstance(key, pkcs11.SecretKey)
    return key


def _plant(session: Session, label: str, key_type: KeyType, value: bytes, **flags: bool) -> None:
    """Imports a key whose value the test knows (the provider never does this)."""
    template: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: key_type,
        Attribute.VALUE: value,
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
    }
    template.update({getattr(Attribute, name.upper()): value for name, value in flags.items()})
    session.create_object(template)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _plant_pair(
    session: Session,
    label: str,
    private_key: Ed25519PrivateKey,
    public_key: Ed25519PublicKey,
    point: bytes | None = None,
    **flags: bool,
) -> None:
    """Imports an Ed25519 pair the test knows; `point` overrides CKA_EC_POINT."""
    seed = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    common: dict[Attribute, Any] = {
        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
        Attribute.EC_PARAMS: ED25519_PARAMS,
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
    }
    private: dict[Attribute, Any] = {
        **common,
        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
        Attribute.VALUE: seed,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
    }
    private.update({getattr(Attribute, name.upper()): value for name, value in flags.items()})
    session.create_object(private)
    public_point = b"\x04\x20" + _raw(public_key) if point is None else point
    session.create_object(
        {**common, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.EC_POINT: public_point}
    )


def _local_provider(path: Path, master: bytes, index: bytes) -> LocalKeyFileProvider:
    """A local key file holding the given keys (format in vault/crypto/localkeys.py)."""
    document = {
        "format": FORMAT,
        "current": 1,
        "master": {"1": base64.b64encode(master).decode()},
        "index": base64.b64encode(index).decode(),
    }
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return LocalKeyFileProvider(path)


# -- the provider does its job -------------------------------------------------------------


def test_dossier_key_round_trips_through_the_hsm(hsm_provider: Pkcs11KeyProvider) -> None:
    provider: KeyProvider = hsm_provider
    wrapped = provider.wrap(KEY, CONTEXT)
    assert wrapped.master_version == provider.current_version == 1
    assert len(wrapped.blob) == sealed.OVERHEAD + len(KEY)
    assert KEY not in wrapped.blob
    assert provider.unwrap(wrapped, CONTEXT) == KEY


def test_two_wraps_of_one_key_never_share_a_nonce(hsm_provider: Pkcs11KeyProvider) -> None:
    blobs = {hsm_provider.wrap(KEY, CONTEXT).blob[1:13] for _ in range(200)}
    assert len(blobs) == 200


def test_hsm_boxes_are_sealed_boxes_v1_bound_like_the_local_providers(
    softhsm: SoftHsm, token_session: Session, tmp_path: Path
) -> None:
    """Same keys in both providers: each opens the other's boxes and computes the same
    blind index. This pins the token's GCM output to ciphertext || tag (docs/format.md)."""
    master, index = os.urandom(32), os.urandom(32)
    settings = softhsm.settings()
    _plant(token_session, settings.master_label(1), KeyType.AES, master, encrypt=True, decrypt=True)
    _plant(token_session, settings.index_label, KeyType.GENERIC_SECRET, index, sign=True)
    local = _local_provider(tmp_path / "keys.json", master, index)
    with Pkcs11KeyProvider(settings) as hsm:
        assert local.unwrap(hsm.wrap(KEY, CONTEXT), CONTEXT) == KEY
        assert hsm.unwrap(local.wrap(KEY, CONTEXT), CONTEXT) == KEY
        assert hsm.blind_index(INS_INDEX_INPUT) == local.blind_index(INS_INDEX_INPUT)
        assert hsm.blind_index(b"") == hmac.new(index, b"", hashlib.sha256).digest()


def test_concurrent_wraps_from_eight_threads_all_round_trip(
    hsm_provider: Pkcs11KeyProvider,
) -> None:
    def work(thread: int) -> list[bool]:
        results = []
        for n in range(150):
            key = os.urandom(32)
            context = sealed.dossier_key_context(uuid.UUID(int=thread), n)
            wrapped = hsm_provider.wrap(key, context)
            results.append(hsm_provider.unwrap(wrapped, context) == key)
            results.append(len(hsm_provider.blind_index(key)) == 32)
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [ok for batch in pool.map(work, range(8)) for ok in batch]
    assert len(outcomes) == 8 * 150 * 2
    assert all(outcomes)


# -- keys cannot leave the token -----------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "key_type", "allowed", "forbidden"),
    [
        ("master", KeyType.AES, ["ENCRYPT", "DECRYPT"], ["SIGN", "VERIFY"]),
        ("index", KeyType.GENERIC_SECRET, ["SIGN", "VERIFY"], ["ENCRYPT", "DECRYPT"]),
    ],
    ids=["master", "index"],
)
def test_provisioned_keys_cannot_be_read_out_of_the_token(
    hsm_settings: Pkcs11Settings,
    token_session: Session,
    which: str,
    key_type: KeyType,
    allowed: list[str],
    forbidden: list[str],
) -> None:
    label = hsm_settings.master_label(1) if which == "master" else hsm_settings.index_label
    key = _secret_key(token_session, label, key_type)
    true = ["SENSITIVE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LOCAL", "PRIVATE", "TOKEN"]
    false = ["EXTRACTABLE", "COPYABLE", "WRAP", "UNWRAP", "DERIVE", *forbidden]
    for name in [*true, *allowed]:
        assert key[getattr(Attribute, name)] is True, name
    for name in false:
        assert key[getattr(Attribute, name)] is False, name
    assert key[Attribute.VALUE_LEN] == 32
    with pytest.raises(p11.AttributeSensitive):
        key[Attribute.VALUE]
    with pytest.raises(p11.PKCS11Error):
        key[Attribute.EXTRACTABLE] = True
    with pytest.raises(p11.PKCS11Error):
        key[Attribute.SENSITIVE] = False


def test_extractable_master_key_planted_in_the_token_is_refused(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    value = os.urandom(32)
    _plant(token_session, settings.master_label(1), KeyType.AES, value, extractable=True)
    _plant(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
    with pytest.raises(ConfigurationError, match="extractable") as caught:
        Pkcs11KeyProvider(settings)
    assert value.hex() not in str(caught.value)


def test_master_key_labelled_twice_is_refused_as_ambiguous(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    for _ in range(2):
        _plant(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    _plant(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
    with pytest.raises(ConfigurationError, match="several keys"):
        Pkcs11KeyProvider(settings)


# -- wrapped keys stay where they belong ---------------------------------------------------


def test_wrapped_key_swapped_between_dossiers_is_rejected(
    hsm_provider: Pkcs11KeyProvider,
) -> None:
    wrapped = hsm_provider.wrap(KEY, sealed.dossier_key_context(DOSSIER_A, 1))
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(wrapped, sealed.dossier_key_context(DOSSIER_B, 1))


def test_wrapped_key_replayed_as_another_dossier_key_version_is_rejected(
    hsm_provider: Pkcs11KeyProvider,
) -> None:
    wrapped = hsm_provider.wrap(KEY, sealed.dossier_key_context(DOSSIER_A, 1))
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(wrapped, sealed.dossier_key_context(DOSSIER_A, 2))


def test_wrapped_key_replayed_under_another_master_version_is_rejected(
    hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider
) -> None:
    under_v1 = hsm_provider.wrap(KEY, CONTEXT)
    add_master_version(hsm_settings)
    hsm_provider.refresh()
    under_v2 = hsm_provider.wrap(KEY, CONTEXT)
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(WrappedKey(2, under_v1.blob), CONTEXT)
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(WrappedKey(1, under_v2.blob), CONTEXT)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: bytes([2]) + b[1:],  # unknown box version
        lambda b: b[:1] + bytes([b[1] ^ 1]) + b[2:],  # nonce
        lambda b: b[:13] + bytes([b[13] ^ 1]) + b[14:],  # ciphertext
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # tag
        lambda b: b[:-1],  # truncated tag
        lambda b: b[: sealed.OVERHEAD - 1],  # shorter than any box
        lambda b: b"",
        lambda b: b + b"\x00",  # appended byte
    ],
    ids=["version", "nonce", "ciphertext", "tag", "cut-tag", "too-short", "empty", "appended"],
)
def test_tampered_wrapped_key_is_rejected(hsm_provider: Pkcs11KeyProvider, tamper: Any) -> None:
    wrapped = hsm_provider.wrap(KEY, CONTEXT)
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(WrappedKey(1, tamper(wrapped.blob)), CONTEXT)
    assert hsm_provider.unwrap(wrapped, CONTEXT) == KEY  # the session survived the failures


def test_blob_wrapped_by_the_local_key_file_does_not_open_in_the_hsm(
    hsm_provider: Pkcs11KeyProvider, tmp_path: Path
) -> None:
    create_key_file(tmp_path / "keys.json")
    local = LocalKeyFileProvider(tmp_path / "keys.json")
    wrapped = local.wrap(KEY, CONTEXT)
    assert wrapped.master_version == 1
    with pytest.raises(IntegrityError):
        hsm_provider.unwrap(wrapped, CONTEXT)


@pytest.mark.parametrize("version", [2, 7, 0, -1, 2**32])
def test_master_version_the_token_does_not_hold_is_a_failed_precondition(
    hsm_provider: Pkcs11KeyProvider, version: int
) -> None:
    wrapped = hsm_provider.wrap(KEY, CONTEXT)
    with pytest.raises(FailedPreconditionError, match="not available"):
        hsm_provider.unwrap(WrappedKey(version, wrapped.blob), CONTEXT)


# -- blind index ---------------------------------------------------------------------------


def test_blind_index_is_stable_and_keyed(softhsm: SoftHsm, hsm_provider: Pkcs11KeyProvider) -> None:
    first = hsm_provider.blind_index(INS_INDEX_INPUT)
    assert len(first) == 32
    assert hsm_provider.blind_index(INS_INDEX_INPUT) == first
    assert hsm_provider.blind_index(INS_INDEX_INPUT + b"0") != first
    assert first != hashlib.sha256(INS_INDEX_INPUT).digest()
    other_settings = softhsm.settings()
    provision(other_settings)
    with Pkcs11KeyProvider(other_settings) as other:
        assert other.blind_index(INS_INDEX_INPUT) != first


# -- provisioning and rotation -------------------------------------------------------------


def test_provisioning_twice_creates_no_second_key(
    hsm_settings: Pkcs11Settings, token_session: Session
) -> None:
    assert provision(hsm_settings) == 1
    for label in (hsm_settings.master_label(1), hsm_settings.index_label):
        assert len(list(token_session.get_objects({Attribute.LABEL: label}))) == 1
    assert not list(token_session.get_objects({Attribute.LABEL: hsm_settings.master_label(2)}))


def test_rotation_wraps_under_the_new_version_and_still_unwraps_the_old(
    hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider
) -> None:
    old = hsm_provider.wrap(KEY, CONTEXT)
    assert add_master_version(hsm_settings) == 2
    assert hsm_provider.current_version == 1  # until refreshed
    assert hsm_provider.refresh() == 2
    new = hsm_provider.wrap(KEY, CONTEXT)
    assert (old.master_version, new.master_version) == (1, 2)
    assert hsm_provider.unwrap(old, CONTEXT) == hsm_provider.unwrap(new, CONTEXT) == KEY
    with Pkcs11KeyProvider(hsm_settings) as restarted:
        assert restarted.current_version == 2
        assert restarted.unwrap(old, CONTEXT) == KEY


def test_unprovisioned_token_is_a_failed_precondition(softhsm: SoftHsm) -> None:
    with pytest.raises(FailedPreconditionError, match="provision"):
        Pkcs11KeyProvider(softhsm.settings())


# -- the checkpoint key -------------------------------------------------------------------

CHECKPOINT = Checkpoint("dossier-vault/journal", 42, bytes(range(32)), 1_700_000_000_000_000)
KEY_NAME = "dossier-vault/journal"


def test_checkpoint_signed_in_the_token_verifies_with_its_verifier_key(
    hsm_provider: Pkcs11KeyProvider,
) -> None:
    signer: Signer = hsm_provider.checkpoint_signer()
    note = sign(CHECKPOINT, KEY_NAME, signer)
    verifier = VerifierKey.parse(VerifierKey(KEY_NAME, signer.public_key).encode())
    assert open_note(note, verifier) == CHECKPOINT
    forged = note.replace("\n42\n", "\n43\n")
    with pytest.raises(IntegrityError, match="invalid"):
        open_note(forged, verifier)
    stranger = VerifierKey(KEY_NAME, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(IntegrityError):
        open_note(note, stranger)


def test_checkpoint_public_key_is_the_tokens_ec_point(
    hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider, token_session: Session
) -> None:
    """CKA_EC_POINT is a DER OCTET STRING of the 32-byte key on SoftHSM2 2.6."""
    public = token_session.get_key(ObjectClass.PUBLIC_KEY, label=hsm_settings.checkpoint_label)
    raw = _raw(hsm_provider.checkpoint_signer().public_key)
    assert public[Attribute.EC_POINT] == b"\x04\x20" + raw
    assert public[Attribute.EC_PARAMS] == ED25519_PARAMS


def test_checkpoint_private_key_cannot_be_read_out_of_the_token(
    hsm_settings: Pkcs11Settings, token_session: Session
) -> None:
    label = hsm_settings.checkpoint_label
    private = token_session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=label)
    true = ["SENSITIVE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LOCAL", "PRIVATE", "SIGN"]
    for name in [*true, "TOKEN"]:
        assert private[getattr(Attribute, name)] is True, name
    for name in ["EXTRACTABLE", "COPYABLE", "DECRYPT", "UNWRAP", "DERIVE", "SIGN_RECOVER"]:
        assert private[getattr(Attribute, name)] is False, name
    with pytest.raises(p11.AttributeSensitive):
        private[Attribute.VALUE]
    with pytest.raises(p11.PKCS11Error):
        private[Attribute.EXTRACTABLE] = True
    with pytest.raises(p11.PKCS11Error):
        private[Attribute.SENSITIVE] = False
    public = token_session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=label)
    assert public[Attribute.VERIFY] is True
    for name in ["ENCRYPT", "WRAP", "DERIVE", "VERIFY_RECOVER"]:
        assert public[getattr(Attribute, name)] is False, name


def test_provisioning_twice_keeps_the_same_checkpoint_key(
    hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider, token_session: Session
) -> None:
    first = _raw(hsm_provider.checkpoint_signer().public_key)
    provision(hsm_settings)
    label = hsm_settings.checkpoint_label
    assert len(list(token_session.get_objects({Attribute.LABEL: label}))) == 2  # the pair
    with Pkcs11KeyProvider(hsm_settings) as restarted:
        assert _raw(restarted.checkpoint_signer().public_key) == first


def test_signer_of_a_closed_provider_refuses_to_sign_while_another_is_open(
    hsm_settings: Pkcs11Settings,
) -> None:
    still_open = Pkcs11KeyProvider(hsm_settings)
    closed = Pkcs11KeyProvider(hsm_settings)
    try:
        signer = closed.checkpoint_signer()
        closed.close()
        with pytest.raises(UnavailableError, match="closed"):
            signer.sign(b"after close")
        with pytest.raises(UnavailableError, match="closed"):
            closed.wrap(KEY, CONTEXT)
        assert len(still_open.checkpoint_signer().sign(b"still open")) == 64
    finally:
        still_open.close()
    with pytest.raises(UnavailableError, match="closed"):
        signer.sign(b"after every close")


def test_unprovisioned_checkpoint_key_is_a_failed_precondition(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    _plant(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    _plant(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
    # A token provisioned before checkpoint keys:
    with (
        Pkcs11KeyProvider(settings) as provider,
        pytest.raises(FailedPreconditionError, match="provision"),
    ):
        provider.checkpoint_signer()
    provision(settings)
    with Pkcs11KeyProvider(settings) as provider:
        assert len(provider.checkpoint_signer().sign(b"m")) == 64


def test_extractable_checkpoint_key_planted_in_the_token_is_refused(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    key = Ed25519PrivateKey.generate()
    _plant_pair(token_session, settings.checkpoint_label, key, key.public_key(), extractable=True)
    with pytest.raises(ConfigurationError, match="extractable"):
        provision(settings)


def test_checkpoint_key_pair_whose_halves_differ_never_signs(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    provision(settings)
    for obj in token_session.get_objects({Attribute.LABEL: settings.checkpoint_label}):
        obj.destroy()
    one, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    _plant_pair(token_session, settings.checkpoint_label, one, other.public_key())
    with (
        Pkcs11KeyProvider(settings) as provider,
        pytest.raises(ConfigurationError, match="does not verify"),
    ):
        provider.checkpoint_signer()


def test_checkpoint_key_replaced_under_a_running_signer_never_signs_unverifiably(
    hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider, token_session: Session
) -> None:
    signer = hsm_provider.checkpoint_signer()
    for obj in token_session.get_objects({Attribute.LABEL: hsm_settings.checkpoint_label}):
        obj.destroy()
    provision(hsm_settings)  # a new pair under the same label
    with pytest.raises(ConfigurationError, match="does not verify"):
        signer.sign(b"m")


def test_half_a_checkpoint_key_pair_is_refused(softhsm: SoftHsm, token_session: Session) -> None:
    settings = softhsm.settings()
    provision(settings)
    private = token_session.get_key(ObjectClass.PRIVATE_KEY, label=settings.checkpoint_label)
    private.destroy()
    with pytest.raises(ConfigurationError, match="only the public key"):
        provision(settings)
    with (
        Pkcs11KeyProvider(settings) as provider,
        pytest.raises(ConfigurationError, match="only the public key"),
    ):
        provider.checkpoint_signer()


def test_raw_ec_point_from_another_token_is_accepted(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    key = Ed25519PrivateKey.generate()
    _plant_pair(token_session, settings.checkpoint_label, key, key.public_key(), point=None)
    _plant(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    _plant(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
    other = softhsm.settings()
    raw_key = Ed25519PrivateKey.generate()
    _plant_pair(
        token_session,
        other.checkpoint_label,
        raw_key,
        raw_key.public_key(),
        point=_raw(raw_key.public_key()),
    )
    provision(other)
    for which, expected in ((settings, key), (other, raw_key)):
        with Pkcs11KeyProvider(which) as provider:
            signer = provider.checkpoint_signer()
            assert _raw(signer.public_key) == _raw(expected.public_key())
            expected.public_key().verify(signer.sign(b"m"), b"m")


@pytest.mark.parametrize(
    "point",
    [b"", b"\x04\x20" + bytes(31), b"\x04\x21" + bytes(33), bytes(33)],
    ids=["empty", "short-der", "long-der", "33-raw"],
)
def test_malformed_checkpoint_public_key_is_refused(
    softhsm: SoftHsm, token_session: Session, point: bytes
) -> None:
    settings = softhsm.settings()
    key = Ed25519PrivateKey.generate()
    _plant_pair(token_session, settings.checkpoint_label, key, key.public_key(), point=point)
    with pytest.raises(ConfigurationError, match="malformed"):
        provision(settings)


def test_concurrent_checkpoint_signatures_and_wraps_share_the_session(
    hsm_provider: Pkcs11KeyProvider,
) -> None:
    signer = hsm_provider.checkpoint_signer()

    def work(thread: int) -> bool:
        ok = True
        for n in range(40):
            message = f"{thread}/{n}".encode()
            signer.public_key.verify(signer.sign(message), message)
            ok &= hsm_provider.unwrap(hsm_provider.wrap(KEY, CONTEXT), CONTEXT) == KEY
        return ok

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(8)))


def test_checkpoint_signer_survives_an_hsm_restart(
    softhsm: SoftHsm, hsm_provider: Pkcs11KeyProvider
) -> None:
    signer = hsm_provider.checkpoint_signer()
    pkcs11.lib(os.path.realpath(softhsm.module)).reinitialize()  # every session is gone
    signer.public_key.verify(signer.sign(b"m"), b"m")


def test_token_keys_lists_what_provisioning_created(softhsm: SoftHsm) -> None:
    settings = softhsm.settings()
    assert token_keys(settings) == TokenKeys((), index=False, checkpoint=False)
    assert token_keys(settings).current_version is None
    provision(settings)
    add_master_version(settings)
    listed = token_keys(settings)
    assert listed == TokenKeys((1, 2), index=True, checkpoint=True)
    assert listed.current_version == 2


# -- the token is unreachable --------------------------------------------------------------


def test_wrong_pin_is_unavailable_and_not_echoed(softhsm: SoftHsm) -> None:
    with pytest.raises(UnavailableError, match="PinIncorrect") as caught:
        Pkcs11KeyProvider(softhsm.settings(pin="wrong-pin-0000"))
    assert "wrong-pin-0000" not in str(caught.value)
    assert softhsm.user_pin not in str(caught.value)


def test_wrong_pin_cannot_ride_on_another_providers_login(
    softhsm: SoftHsm, hsm_settings: Pkcs11Settings, hsm_provider: Pkcs11KeyProvider
) -> None:
    intruder = softhsm.settings(prefix=hsm_settings.key_label_prefix, pin="wrong-pin-0000")
    with pytest.raises(UnavailableError, match="refused") as caught:
        Pkcs11KeyProvider(intruder)
    assert "wrong-pin-0000" not in str(caught.value)
    with pytest.raises(UnavailableError):
        add_master_version(intruder)
    assert hsm_provider.unwrap(hsm_provider.wrap(KEY, CONTEXT), CONTEXT) == KEY


def test_missing_module_is_unavailable() -> None:
    settings = Pkcs11Settings("/nonexistent/libpkcs11-missing.so", "any", "5678")
    with pytest.raises(UnavailableError, match="cannot be loaded"):
        Pkcs11KeyProvider(settings)


def test_unknown_token_is_unavailable(softhsm: SoftHsm) -> None:
    settings = Pkcs11Settings(softhsm.module, "no-such-token", softhsm.user_pin)
    with pytest.raises(UnavailableError, match="not found"):
        Pkcs11KeyProvider(settings)


def test_hsm_that_stops_answering_is_unavailable_then_recovers(
    softhsm: SoftHsm,
    hsm_provider: Pkcs11KeyProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrapped = hsm_provider.wrap(KEY, CONTEXT)
    # Finalize the module under the provider and make it fail to come back.
    pkcs11.lib(os.path.realpath(softhsm.module)).finalize()
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "missing.conf"))
    with pytest.raises(UnavailableError) as caught:
        hsm_provider.unwrap(wrapped, CONTEXT)
    assert KEY.hex() not in str(caught.value)
    with pytest.raises(UnavailableError):
        hsm_provider.blind_index(b"x")
    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm.conf))
    assert hsm_provider.unwrap(wrapped, CONTEXT) == KEY


def test_closed_provider_does_not_log_in_again(hsm_settings: Pkcs11Settings) -> None:
    provider = Pkcs11KeyProvider(hsm_settings)
    wrapped = provider.wrap(KEY, CONTEXT)
    provider.close()
    provider.close()  # idempotent
    with pytest.raises(UnavailableError, match="closed"):
        provider.unwrap(wrapped, CONTEXT)


def test_hsm_restart_under_a_running_provider_is_survived(
    softhsm: SoftHsm, hsm_provider: Pkcs11KeyProvider
) -> None:
    wrapped = hsm_provider.wrap(KEY, CONTEXT)
    pkcs11.lib(os.path.realpath(softhsm.module)).reinitialize()  # every session is gone
    assert hsm_provider.unwrap(wrapped, CONTEXT) == KEY


# -- settings ------------------------------------------------------------------------------


def test_settings_from_env_read_the_documented_variables() -> None:
    settings = Pkcs11Settings.from_env(
        {
            "VAULT_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
        }
    )
    assert settings == Pkcs11Settings("/usr/lib/softhsm/libsofthsm2.so", "vault", "5678")
    assert settings.key_label_prefix == DEFAULT_KEY_LABEL_PREFIX == "dossier-vault"
    assert settings.master_label(3) == "dossier-vault-master-v3"
    assert settings.index_label == "dossier-vault-index"


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({"VAULT_MASTER_KEY_FILE": "/k.json", "VAULT_PKCS11_MODULE": ""}, False),
        (
            {
                "VAULT_PKCS11_MODULE": "/m.so",
                "VAULT_PKCS11_TOKEN_LABEL": "vault",
                "VAULT_PKCS11_PIN": "5678",
            },
            True,
        ),
    ],
    ids=["nothing", "empty-module", "complete"],
)
def test_hsm_is_used_only_when_configured(environ: dict[str, str], configured: bool) -> None:
    assert (Pkcs11Settings.from_env_if_set(environ) is not None) is configured


@pytest.mark.parametrize("name", ["VAULT_PKCS11_TOKEN_LABEL", "VAULT_PKCS11_PIN_FILE"])
def test_partial_hsm_settings_are_refused_not_ignored(name: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_PKCS11_MODULE"):
        Pkcs11Settings.from_env_if_set({name: "x"})


def test_pin_never_appears_in_the_settings_repr() -> None:
    settings = Pkcs11Settings("/m.so", "vault", "s3cret-pin")
    assert "s3cret-pin" not in repr(settings)


def test_pin_is_read_from_a_private_pin_file(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("s3cret-pin\n")
    pin_file.chmod(0o600)
    environ = {
        "VAULT_PKCS11_MODULE": "/m.so",
        "VAULT_PKCS11_TOKEN_LABEL": "vault",
        "VAULT_PKCS11_PIN_FILE": str(pin_file),
        "VAULT_PKCS11_KEY_LABEL_PREFIX": "dmp-prod",
    }
    settings = Pkcs11Settings.from_env(environ)
    assert (settings.pin, settings.key_label_prefix) == ("s3cret-pin", "dmp-prod")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_group_or_world_readable_pin_file_is_refused(tmp_path: Path, mode: int) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("s3cret-pin\n")
    pin_file.chmod(mode)
    environ = {
        "VAULT_PKCS11_MODULE": "/m.so",
        "VAULT_PKCS11_TOKEN_LABEL": "vault",
        "VAULT_PKCS11_PIN_FILE": str(pin_file),
    }
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        Pkcs11Settings.from_env(environ)
    assert "s3cret-pin" not in str(caught.value)


@pytest.mark.parametrize(
    "environ",
    [
        {"VAULT_PKCS11_TOKEN_LABEL": "vault", "VAULT_PKCS11_PIN": "5678"},
        {"VAULT_PKCS11_MODULE": "/m.so", "VAULT_PKCS11_PIN": "5678"},
        {"VAULT_PKCS11_MODULE": "/m.so", "VAULT_PKCS11_TOKEN_LABEL": "vault"},
        {
            "VAULT_PKCS11_MODULE": "/m.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
            "VAULT_PKCS11_PIN_FILE": "/run/secrets/pin",
        },
        {
            "VAULT_PKCS11_MODULE": "/m.so",
            "VAULT_PKCS11_TOKEN_LABEL": "vault",
            "VAULT_PKCS11_PIN": "5678",
            "VAULT_PKCS11_KEY_LABEL_PREFIX": "bad prefix/with-master-v1",
        },
    ],
    ids=["no-module", "no-token", "no-pin", "pin-and-pin-file", "bad-prefix"],
)
def test_incomplete_or_ambiguous_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Pkcs11Settings.from_env(environ)
    assert "5678" not in str(caught.value)


def test_master_labels_of_another_prefix_are_not_taken_for_versions() -> None:
    settings = Pkcs11Settings("/m.so", "vault", "5678", key_label_prefix="dmp")
    assert settings.master_version_of("dmp-master-v12") == 12
    for label in ["dmp-master-v0", "dmp-master-v01", "dmp2-master-v3", "dmp-master-v3x", "dmp"]:
        assert settings.master_version_of(label) is None, label
    assert fresh_prefix() != fresh_prefix()
