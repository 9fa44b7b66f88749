"""Sealed box v1 and the local key provider: wrapped keys are bound to where they belong."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from vault.crypto import sealed
from vault.crypto.keyprovider import WrappedKey
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.errors import ConfigurationError, FailedPreconditionError, IntegrityError

DOSSIER_A, DOSSIER_B = uuid.UUID(int=10), uuid.UUID(int=11)
DOCUMENT = uuid.UUID(int=20)


@pytest.fixture
def provider(tmp_path: Path) -> LocalKeyFileProvider:
    path = tmp_path / "keys.json"
    create_key_file(path)
    return LocalKeyFileProvider(path)


def test_key_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_world_or_group_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        LocalKeyFileProvider(path)


def test_malformed_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError):
        LocalKeyFileProvider(path)


def test_dossier_key_round_trips_through_the_provider(provider: LocalKeyFileProvider) -> None:
    key = os.urandom(32)
    context = sealed.dossier_key_context(DOSSIER_A, 1)
    assert provider.unwrap(provider.wrap(key, context), context) == key


def test_wrapped_key_swapped_between_dossiers_is_rejected(provider: LocalKeyFileProvider) -> None:
    wrapped = provider.wrap(os.urandom(32), sealed.dossier_key_context(DOSSIER_A, 1))
    with pytest.raises(IntegrityError):
        provider.unwrap(wrapped, sealed.dossier_key_context(DOSSIER_B, 1))


def test_wrapped_key_replayed_as_another_key_version_is_rejected(
    provider: LocalKeyFileProvider,
) -> None:
    wrapped = provider.wrap(os.urandom(32), sealed.dossier_key_context(DOSSIER_A, 1))
    with pytest.raises(IntegrityError):
        provider.unwrap(wrapped, sealed.dossier_key_context(DOSSIER_A, 2))


def test_wrong_master_key_version_is_refused(provider: LocalKeyFileProvider) -> None:
    context = sealed.dossier_key_context(DOSSIER_A, 1)
    wrapped = provider.wrap(os.urandom(32), context)
    with pytest.raises(FailedPreconditionError):
        provider.unwrap(WrappedKey(7, wrapped.blob), context)


def test_document_key_moved_to_another_document_is_rejected() -> None:
    dossier_key, document_key = os.urandom(32), os.urandom(32)
    context = sealed.document_key_context(DOSSIER_A, DOCUMENT, 1, 1)
    box = sealed.seal(dossier_key, document_key, sealed.DOCUMENT_KEY_LABEL + context)
    moved = sealed.document_key_context(DOSSIER_A, uuid.UUID(int=21), 1, 1)
    with pytest.raises(IntegrityError):
        sealed.open_sealed(dossier_key, box, sealed.DOCUMENT_KEY_LABEL + moved)


def test_document_key_presented_as_metadata_is_rejected() -> None:
    key = os.urandom(32)
    context = sealed.document_key_context(DOSSIER_A, DOCUMENT, 1, 1)
    box = sealed.seal(key, os.urandom(32), sealed.DOCUMENT_KEY_LABEL + context)
    with pytest.raises(IntegrityError):
        sealed.open_sealed(key, box, sealed.METADATA_LABEL + context)


@pytest.mark.parametrize(
    "box",
    [b"", b"\x01" + bytes(27), b"\x02" + bytes(60)],
    ids=["empty", "short", "unknown-version"],
)
def test_malformed_sealed_box_is_rejected(box: bytes) -> None:
    with pytest.raises(IntegrityError):
        sealed.open_sealed(bytes(32), box, b"")


def test_blind_index_is_keyed_and_stable(tmp_path: Path, provider: LocalKeyFileProvider) -> None:
    other_path = tmp_path / "other.json"
    create_key_file(other_path)
    other = LocalKeyFileProvider(other_path)
    assert provider.blind_index(b"ins") == provider.blind_index(b"ins")
    assert provider.blind_index(b"ins") != other.blind_index(b"ins")
