"""The checkpoint key in SoftHSM2: signatures made in the token verify, the private key
cannot be read out, and a pair that is extractable, half missing, mismatched or swapped
in never signs. Same conventions as test_pkcs11.py.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.types import Session

from tests.crypto.conftest import SoftHsm
from tests.crypto.pkcs11_support import CONTEXT, KEY, plant_secret_key
from vault.crypto.pkcs11.admin import provision
from vault.crypto.pkcs11.objects import ED25519_PARAMS
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.errors import (
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
)
from vault.journal.checkpoint import Checkpoint, Signer, VerifierKey, open_note, sign


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
    plant_secret_key(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    plant_secret_key(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
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
    plant_secret_key(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    plant_secret_key(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
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
