"""The scrub (vault/scrub.py) against stores that lie: bytes rotten behind the vault's
back, an object deleted, an object the index lists but the store answers 404. Each on a
real server (file store; moto and SeaweedFS, tests/s3_servers.py): GetDocument answers
DATA_LOSS for that document and keeps serving the others, and the scrub names exactly
the damaged versions, resumes from its saved cursor, and paces its reads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import pytest

from tests.blobstore.support import admin_client
from tests.conftest import PATIENT_INS, RunningVault, vault_on_s3
from tests.index.test_sql import LEASE_US, add_dossier, version
from tests.s3_servers import S3Server
from tests.server.test_grpc import REPORT
from tests.service.memory_index import MemoryIndex
from vault.cli.scrub import STATE_FILE, open_scrubber, run_scrub
from vault.composition import blob_store, key_provider, open_index
from vault.config import Config
from vault.domain.ids import new_object_key
from vault.errors import IntegrityError, InvalidArgumentError
from vault.index.base import DocumentIndex, ScrubIndex, VersionRecord
from vault.index.sql import SqlIndex
from vault.scrub import DamageKind, RateLimiter, Scrubber, ScrubCursor, ScrubSource
from vault.sqlstore import make_engine

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


class ScrubTestIndex(ScrubIndex, DocumentIndex, Protocol):
    """The walk, and the writes that give it something to walk."""


Documents = dict[str, tuple[uuid.UUID, uuid.UUID]]  # role -> (dossier id, document id)


class FakeTime:
    """A monotonic clock that moves only when slept on; the sleeps it was asked for."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def unlimited() -> RateLimiter:
    fake = FakeTime()
    return RateLimiter(None, None, fake.clock, fake.sleep)


def content(role: str) -> bytes:
    return f"{role} ".encode() * 999


def store(vault: RunningVault, roles: list[str]) -> Documents:
    """One small document per role in one dossier; each content names its role."""
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        return {
            role: (
                dossier.dossier_id,
                client.put_document(
                    dossier.dossier_id, REPORT, f"{role} ".encode() * 999
                ).document_id,
            )
            for role in roles
        }


def blob_keys(config: Config) -> dict[uuid.UUID, str]:
    """Each committed document's blob key, as the index records it."""
    index = open_index(config)
    try:
        return {r.document_id: r.blob_key for r in index.committed_versions_after(None, 100)}
    finally:
        index.engine.dispose()


def assert_served_or_data_loss(vault: RunningVault, documents: Documents, sound: str) -> None:
    with vault.client() as client:
        for role, (dossier_id, document_id) in documents.items():
            if role == sound:
                assert b"".join(client.get_document(dossier_id, document_id)) == content(role)
            else:
                with pytest.raises(IntegrityError):
                    b"".join(client.get_document(dossier_id, document_id))


def scrub_findings(config: Config, stored: int) -> set[tuple[uuid.UUID, DamageKind]]:
    with open_scrubber(config, unlimited()) as scrubber:
        progress = scrubber.run()
    assert progress.checked == stored
    return {(d.document_id, d.kind) for d in progress.damaged}


# -- the file store -------------------------------------------------------------------


def blob_file(config: Config, key: str) -> Path:
    (path,) = config.blob_dir.rglob(Path(key).name)
    return path


def test_rotten_and_lost_files_are_data_loss_and_the_scrub_names_exactly_them(
    running_vault: RunningVault,
) -> None:
    config = running_vault.config
    documents = store(running_vault, ["sound", "rotten", "lost"])
    keys = blob_keys(config)
    rotten = blob_file(config, keys[documents["rotten"][1]])
    body = bytearray(rotten.read_bytes())
    body[-20] ^= 0x01  # bit rot inside the last segment: the file's size unchanged
    rotten.write_bytes(bytes(body))
    blob_file(config, keys[documents["lost"][1]]).unlink()

    assert_served_or_data_loss(running_vault, documents, sound="sound")
    assert scrub_findings(config, 3) == {
        (documents["rotten"][1], DamageKind.CORRUPT),
        (documents["lost"][1], DamageKind.MISSING),
    }


def test_an_interrupted_scrub_resumes_after_its_saved_cursor_and_keeps_what_it_found(
    running_vault: RunningVault,
) -> None:
    config = running_vault.config
    documents = store(running_vault, ["a", "b", "c"])
    keys = blob_keys(config)
    first = min(keys)  # the walk's order: document ids
    blob_file(config, keys[first]).unlink()
    state = config.data_dir / STATE_FILE

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    stopped = RateLimiter(None, 1.0, lambda: 0.0, interrupt)  # stops after the first read
    with open_scrubber(config, stopped) as scrubber, pytest.raises(KeyboardInterrupt):
        run_scrub(scrubber, state, resume=False)
    saved = json.loads(state.read_text())
    assert saved["cursor"] == f"{first}:1"
    assert saved["checked"] == 1
    assert [d["document_id"] for d in saved["damaged"]] == [str(first)]

    with open_scrubber(config, unlimited()) as scrubber:
        report = run_scrub(scrubber, state, resume=True)
    assert report.checked == 3  # 1 before the interruption, the 2 after the cursor
    assert [(d["document_id"], d["kind"]) for d in report.damaged] == [(str(first), "missing")]
    assert not state.exists()  # a walk that reached the end leaves no cursor behind
    assert {str(document) for _, document in documents.values()} == {str(k) for k in keys}


class DeletesBehindThePage:
    """The index, but each page's first document is deleted (row and blob) once the
    page was read: what a DeleteDocument or a destruction does while the scrub runs."""

    def __init__(self, index: SqlIndex, config: Config) -> None:
        self._index = index
        self._blobs = blob_store(config)

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)

    def committed_versions_after(
        self, after: tuple[uuid.UUID, int] | None, limit: int
    ) -> list[VersionRecord]:
        page = self._index.committed_versions_after(after, limit)
        if page:
            for key in self._index.delete_document(page[0].dossier_id, page[0].document_id):
                self._blobs.delete(key)
        return page


def test_a_document_deleted_while_the_scrub_runs_is_not_damage(
    running_vault: RunningVault,
) -> None:
    config = running_vault.config
    store(running_vault, ["deleted", "kept"])
    index = open_index(config)
    try:
        racing = cast(ScrubSource, DeletesBehindThePage(index, config))
        progress = Scrubber(racing, blob_store(config), key_provider(config), unlimited()).run()
    finally:
        index.engine.dispose()
    assert (progress.checked, progress.damaged) == (2, [])


def test_the_scrub_sleeps_what_the_object_ceiling_requires(running_vault: RunningVault) -> None:
    store(running_vault, ["a", "b", "c"])
    fake = FakeTime()
    with open_scrubber(running_vault.config, RateLimiter(None, 2.0, fake.clock, fake.sleep)) as s:
        assert s.run().checked == 3
    assert fake.sleeps == [0.5, 0.5, 0.5]  # instantaneous reads, two objects a second


# -- the index's walk, on the fake and on SQL ----------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def scrub_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScrubTestIndex]:
    if request.param == "memory":
        yield MemoryIndex()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    sql = SqlIndex(make_engine(url))
    sql.create_schema()
    yield sql
    sql.engine.dispose()


def test_the_walk_pages_through_committed_versions_only_in_key_order(
    scrub_index: ScrubTestIndex,
) -> None:
    dossier = add_dossier(scrub_index)  # type: ignore[arg-type]
    committed = []
    for _ in range(3):
        first = version(dossier)
        scrub_index.reserve_version(first, LEASE_US)
        scrub_index.commit_version(first)
        second = replace(first, version=2, blob_key=new_object_key())
        scrub_index.reserve_version(second, LEASE_US)
        scrub_index.commit_version(second)
        committed += [(first.document_id, 1), (first.document_id, 2)]
    scrub_index.reserve_version(version(dossier), LEASE_US)  # pending: not a blob to read

    walked: list[tuple[uuid.UUID, int]] = []
    after = None
    while page := scrub_index.committed_versions_after(after, 4):
        walked += [(r.document_id, r.version) for r in page]
        after = walked[-1]
    assert walked == sorted(committed)
    assert scrub_index.committed_versions_after(sorted(committed)[2], 2) == [
        r for r in scrub_index.committed_versions_after(None, 6)[3:5]
    ]


# -- the rate limiter and the cursor ------------------------------------------------


def test_the_byte_ceiling_spaces_reads_by_what_was_read() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2 * 1024 * 1024, None, fake.clock, fake.sleep)
    limiter.start()
    assert limiter.account(1024 * 1024, 1) == 0.5
    assert limiter.account(3 * 1024 * 1024, 1) == 1.5  # 4 MiB due at 2 s, 0.5 s spent
    fake.now += 10.0  # a slow read: already behind the ceiling
    assert limiter.account(1024 * 1024, 1) == 0.0
    assert fake.sleeps == [0.5, 1.5]


def test_the_stricter_of_the_two_ceilings_wins() -> None:
    fake = FakeTime()
    limiter = RateLimiter(1024 * 1024 * 1024, 4.0, fake.clock, fake.sleep)
    limiter.start()
    assert limiter.account(1024, 1) == 0.25  # the object ceiling, not the byte one
    assert RateLimiter(None, None, fake.clock, fake.sleep).account(10**12, 10**6) == 0.0


def test_a_cursor_that_is_not_one_is_refused() -> None:
    document = uuid.uuid4()
    assert ScrubCursor.parse(f"{document}:7") == ScrubCursor(document, 7)
    for text in ("", "x:1", f"{document}", f"{document}:v"):
        with pytest.raises(InvalidArgumentError):
            ScrubCursor.parse(text)


# -- S3: moto and SeaweedFS -----------------------------------------------------------


@pytest.fixture
def s3_vault_and_admin(
    db_url: str, tmp_path: Path, s3_server: S3Server
) -> Iterator[tuple[RunningVault, str, S3Client, str]]:
    with vault_on_s3(db_url, tmp_path / "data", s3_server.endpoint) as (vault, bucket):
        yield vault, bucket, admin_client(s3_server.endpoint), s3_server.name


def s3_key(admin: S3Client, bucket: str, key: str) -> str:
    """The object's key in the bucket (prefix and shards before the index's key)."""
    listing = admin.list_objects_v2(Bucket=bucket).get("Contents", [])
    (found,) = [o["Key"] for o in listing if o["Key"].endswith("/" + key)]
    return found


def rot(admin: S3Client, bucket: str, key: str, server: str) -> None:
    """Different bytes under the key (a new version). moto keeps the sound bytes'
    checksum (a stand-in for bit rot); SeaweedFS refuses a mismatch, so none there."""
    head = admin.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = bytearray(admin.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-20] ^= 0x01
    if server == "moto":
        checksum = head.get("ChecksumSHA256", "")
        admin.put_object(Bucket=bucket, Key=key, Body=bytes(body), ChecksumSHA256=checksum)
    else:
        admin.put_object(Bucket=bucket, Key=key, Body=bytes(body))


def purge(admin: S3Client, bucket: str, key: str) -> None:
    """Every version of the key removed: a plain 404, not a delete marker."""
    listing = admin.list_object_versions(Bucket=bucket, Prefix=key)
    for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
        admin.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])


def test_objects_rotten_deleted_and_gone_under_s3_are_named_by_the_scrub(
    s3_vault_and_admin: tuple[RunningVault, str, S3Client, str],
) -> None:
    vault, bucket, admin, server = s3_vault_and_admin
    documents = store(vault, ["sound", "rotten", "deleted", "gone"])
    keys = {d: s3_key(admin, bucket, k) for d, k in blob_keys(vault.config).items()}
    rot(admin, bucket, keys[documents["rotten"][1]], server)
    admin.delete_object(Bucket=bucket, Key=keys[documents["deleted"][1]])  # a delete marker
    purge(admin, bucket, keys[documents["gone"][1]])  # listed by the index, read as 404

    assert_served_or_data_loss(vault, documents, sound="sound")
    assert scrub_findings(vault.config, 4) == {
        (documents["rotten"][1], DamageKind.CORRUPT),
        (documents["deleted"][1], DamageKind.MISSING),
        (documents["gone"][1], DamageKind.MISSING),
    }
