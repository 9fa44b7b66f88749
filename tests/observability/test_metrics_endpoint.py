"""The metrics port of a real server (issue #17 item 3): counts move, no identifier leaks.

A real server in this process (`BackgroundServer`, over the file store and over a real
S3 server) with `metrics_listen` on an ephemeral port is called as a patient, a
professional and a stranger would call it, then scraped over HTTP and parsed with
prometheus-client's own parser. Without `VAULT_METRICS_LISTEN` the server opens its
gRPC port and nothing else.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.blobstore.support import create_bucket, s3_settings
from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from vault.auth import load_or_create_dev_issuer
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.errors import VaultError
from vault.server.app import BackgroundServer

RPPS = "10003500005"
TITLE = "Compte rendu operatoire du genou gauche"
NOTE = DocumentMetadata(TITLE, DocumentCategory.TREATMENTS_AND_CARE, "text/plain")
ALLOWED_LABELS = {"method", "code", "operation", "outcome"}


@pytest.fixture(params=["file", "s3"])
def observed_vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningVault]:
    """A server with metrics on, over the file store or a real S3 server (moto)."""
    s3 = None
    if request.param == "s3":
        admin = request.getfixturevalue("s3_admin")
        endpoint = request.getfixturevalue("s3_endpoint")
        s3 = s3_settings(endpoint, create_bucket(admin, versioned=True))
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        workers=4,
        metrics_listen="127.0.0.1:0",
        s3=s3,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer)
    finally:
        server.stop()


def scrape(port: int) -> list[Sample]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _traffic(vault: RunningVault) -> list[str]:
    """Calls as a patient, a professional and a stranger; returns the identifiers used."""
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        document = patient.put_document(dossier.dossier_id, NOTE, b"x" * 70_000)
        patient.authorise(dossier.dossier_id, RPPS)
        assert b"".join(patient.get_document(dossier.dossier_id, document.document_id))
    doctor = vault.token(ActorKind.PROFESSIONAL, RPPS, profession="physician")
    with vault.client(doctor) as professional:
        professional.list_documents(dossier.dossier_id)
    with vault.client(vault.token(subject=OTHER_INS)) as stranger, pytest.raises(VaultError):
        stranger.get_dossier(dossier_id=dossier.dossier_id)
    return [
        str(dossier.dossier_id),
        str(document.document_id),
        PATIENT_INS,
        OTHER_INS,
        RPPS,
        TITLE,
    ]


def test_scraped_counts_move_by_method_and_status_and_no_label_names_anyone(
    observed_vault: RunningVault,
) -> None:
    port = observed_vault.server.metrics_port
    assert port is not None
    before = scrape(port)
    assert value(before, "vault_requests_total", method="CreateDossier") == 0
    identifiers = _traffic(observed_vault)
    deadline = time.monotonic() + 30  # the journal observer runs just after its waiters,
    while not _all_counted(samples := scrape(port)):  # a call's count just after its answer
        assert time.monotonic() < deadline, "the calls and journal appends were not counted"
        time.sleep(0.05)
    assert value(samples, "vault_requests_total", method="CreateDossier", code="OK") == 1
    assert value(samples, "vault_requests_total", method="PutDocument", code="OK") == 1
    assert value(samples, "vault_requests_total", method="GetDocument", code="OK") == 1
    assert value(samples, "vault_requests_total", method="ListDocuments", code="OK") == 1
    assert value(samples, "vault_requests_total", method="GetDossier") == 1  # the stranger
    assert value(samples, "vault_requests_total", method="GetDossier", code="OK") == 0
    assert value(samples, "vault_request_duration_seconds_count", method="PutDocument") == 1
    assert value(samples, "vault_received_bytes_total", method="PutDocument") >= 70_000
    assert value(samples, "vault_sent_bytes_total", method="GetDocument") >= 70_000
    assert value(samples, "vault_requests_in_progress", method="PutDocument") == 0
    assert value(samples, "vault_blob_store_operations_total", operation="commit") == 1
    assert value(samples, "vault_key_provider_operations_total", operation="wrap") >= 1
    assert value(samples, "vault_journal_commit_batch_size_count") >= 1
    assert value(samples, "process_resident_memory_bytes") > 0
    for sample in samples:
        if sample.name.startswith("vault_"):
            assert set(sample.labels) - {"le"} <= ALLOWED_LABELS, sample
        for label in sample.labels.values():
            assert not any(i in label for i in identifiers), sample


def _all_counted(samples: list[Sample]) -> bool:
    """Every call of `_traffic` and its journal entry counted (the stranger's call last)."""
    return (
        value(samples, "vault_journal_appends_total", outcome="ok") >= 6
        and value(samples, "vault_requests_total", method="GetDossier") >= 1
        and value(samples, "vault_requests_in_progress", method="PutDocument") == 0
    )


def _listening_inodes() -> set[str]:
    """Socket inodes this process holds that listen on TCP (IPv4 or IPv6)."""
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    listening = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in mine:  # 0A: LISTEN
                listening.add(fields[9])
    return listening


def test_without_a_metrics_address_the_server_opens_no_metrics_port(tmp_path: Path) -> None:
    config = Config(listen="127.0.0.1:0", data_dir=tmp_path / "data", workers=2)
    assert Config.from_env({}).metrics_listen is None
    before = _listening_inodes()
    server = BackgroundServer(config).start()
    try:
        opened = _listening_inodes() - before
        assert server.metrics_port is None
        assert len(opened) == 1  # the gRPC port alone
    finally:
        server.stop()
