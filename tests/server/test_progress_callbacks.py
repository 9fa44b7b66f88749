"""The client tells a progress display how far a put, a download and a patient's copy
went: after each chunk, the bytes moved so far, ending at the whole (through the real
server)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from tests.conftest import PATIENT_INS, RunningVault
from vault.domain.model import DocumentCategory, DocumentMetadata

REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")
CHUNK = 64 * 1024
CONTENT = os.urandom(5 * CHUNK + 123)


def _rising_to(seen: list[int], whole: int) -> bool:
    return seen == sorted(seen) and len(seen) > 1 and seen[-1] == whole


def test_a_put_reports_its_progress_whether_resumable_or_not(running_vault: RunningVault) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS).dossier_id
        for content in (CONTENT, iter([CONTENT[:CHUNK], CONTENT[CHUNK:]])):
            seen: list[int] = []
            client.put_document(dossier, REPORT, content, chunk_size=CHUNK, on_progress=seen.append)
            assert _rising_to(seen, len(CONTENT))


def test_a_download_and_an_export_report_their_progress(
    running_vault: RunningVault, tmp_path: Path
) -> None:
    with running_vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS).dossier_id
        stored = client.put_document(dossier, REPORT, CONTENT)
        downloaded: list[int] = []
        out = tmp_path / "copy.pdf"
        client.download(dossier, stored.document_id, out, on_progress=downloaded.append)
        assert out.read_bytes() == CONTENT
        assert downloaded[-1] == len(CONTENT)
        assert downloaded == sorted(downloaded)
        exported: list[int] = []
        archive = io.BytesIO()
        client.export_dossier(dossier, archive, on_progress=exported.append)
        assert exported[-1] == len(archive.getvalue())
        assert exported == sorted(exported)
