"""The PKCS#11 key provider on SoftHSM2: keys stay in the token, wrapped keys stay bound,
provisioning and rotation, a token that stops answering. The checkpoint key is in
test_pkcs11_checkpoint.py, the settings in test_pkcs11_settings.py.

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
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.types import Session

from tests.crypto.conftest import SoftHsm
from tests.crypto.pkcs11_support import CONTEXT, DOSSIER_A, DOSSIER_B, KEY, plant_secret_key
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider, WrappedKey
from vault.crypto.localkeys import FORMAT, LocalKeyFileProvider, create_key_file
from vault.crypto.pkcs11.admin import TokenKeys, add_master_version, provision, token_keys
from vault.crypto.pkcs11.provider import Pkcs11KeyProvider
from vault.crypto.pkcs11.settings import Pkcs11Settings
from vault.errors import (
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
)

INS_INDEX_INPUT = b"DVLT/v1/ins\x00184127645108946"


def _secret_key(session: Session, label: str, key_type: KeyType) -> pkcs11.SecretKey:
    key = session.get_key(ObjectClass.SECRET_KEY, key_type, label=label)
    assert isinstance(key, pkcs11.SecretKey)
    return key


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
    plant_secret_key(
        token_session, settings.master_label(1), KeyType.AES, master, encrypt=True, decrypt=True
    )
    plant_secret_key(token_session, settings.index_label, KeyType.GENERIC_SECRET, index, sign=True)
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
    plant_secret_key(token_session, settings.master_label(1), KeyType.AES, value, extractable=True)
    plant_secret_key(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
    with pytest.raises(ConfigurationError, match="extractable") as caught:
        Pkcs11KeyProvider(settings)
    assert value.hex() not in str(caught.value)


def test_master_key_labelled_twice_is_refused_as_ambiguous(
    softhsm: SoftHsm, token_session: Session
) -> None:
    settings = softhsm.settings()
    for _ in range(2):
        plant_secret_key(token_session, settings.master_label(1), KeyType.AES, os.urandom(32))
    plant_secret_key(token_session, settings.index_label, KeyType.GENERIC_SECRET, os.urandom(32))
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
