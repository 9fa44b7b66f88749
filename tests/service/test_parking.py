"""The lot of resumable uploads (vault/service/parking.py): a resume key finds its upload
only for the actor and dossier it is bound to, only once parked and before its lease ends;
every miss is the same NOT_FOUND, so a stolen or guessed key tells nothing."""

from __future__ import annotations

import os
import uuid
from typing import cast

import pytest

from vault.errors import InvalidArgumentError, NotFoundError, UnavailableError
from vault.service.parking import ParkedUploads, key_hash
from vault.service.upload import Upload

OWNER = "patient:ins-hmac:aa"
DOSSIER = uuid.uuid4()
UPLOAD = cast(Upload, object())  # the lot only holds it


def _parked(until_us: int = 1_000) -> tuple[ParkedUploads, bytes]:
    lot, digest = ParkedUploads(), key_hash(os.urandom(32))
    lot.add(digest, UPLOAD, OWNER, DOSSIER)
    lot.park(digest, until_us)
    return lot, digest


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_resume_key_of_another_length_is_refused(size: int) -> None:
    with pytest.raises(InvalidArgumentError):
        key_hash(os.urandom(size))


def test_the_lot_keeps_a_hash_of_the_key_not_the_key() -> None:
    key = os.urandom(32)
    assert key not in key_hash(key)
    assert len(key_hash(key)) == 32


@pytest.mark.parametrize(
    ("digest_of", "owner", "dossier"),
    [
        ("guessed", OWNER, DOSSIER),
        ("own", "patient:ins-hmac:bb", DOSSIER),  # another patient with the stolen key
        ("own", "professional:10000000017", DOSSIER),
        ("own", OWNER, uuid.uuid4()),  # the owner, another dossier
    ],
)
def test_a_key_finds_nothing_for_anyone_else_and_says_the_same(
    digest_of: str, owner: str, dossier: uuid.UUID
) -> None:
    lot, digest = _parked()
    if digest_of == "guessed":
        digest = key_hash(os.urandom(32))
    with pytest.raises(NotFoundError) as refused:
        lot.find(digest, owner, dossier, now_us=0)
    with pytest.raises(NotFoundError) as missing:
        ParkedUploads().find(digest, owner, dossier, now_us=0)
    assert str(refused.value) == str(missing.value)


def test_an_upload_still_fed_by_its_stream_is_unavailable() -> None:
    lot, digest = ParkedUploads(), key_hash(os.urandom(32))
    lot.add(digest, UPLOAD, OWNER, DOSSIER)
    with pytest.raises(UnavailableError):
        lot.find(digest, OWNER, DOSSIER, now_us=0)


def test_a_lapsed_lease_finds_nothing_and_is_handed_to_the_expiry() -> None:
    lot, digest = _parked(until_us=1_000)
    assert lot.find(digest, OWNER, DOSSIER, now_us=999).upload is UPLOAD
    with pytest.raises(NotFoundError):
        lot.find(digest, OWNER, DOSSIER, now_us=1_000)
    assert lot.next_end_us() == 1_000
    assert lot.expired(now_us=999) == []
    assert lot.expired(now_us=1_000) == [UPLOAD]
    assert len(lot) == 0
    assert lot.next_end_us() is None


def test_two_resumes_of_one_upload_cannot_both_take_it() -> None:
    lot, digest = _parked()
    first = lot.find(digest, OWNER, DOSSIER, now_us=0)
    second = lot.find(digest, OWNER, DOSSIER, now_us=0)
    lot.attach(digest, first)
    with pytest.raises(UnavailableError):
        lot.attach(digest, second)


def test_a_key_in_use_is_refused() -> None:
    lot, digest = _parked()
    with pytest.raises(InvalidArgumentError):
        lot.require_free(digest)
    with pytest.raises(InvalidArgumentError):
        lot.add(digest, UPLOAD, OWNER, DOSSIER)
    lot.remove(digest)
    lot.require_free(digest)
