"""`doc put` refuses a file whose first bytes contradict the declared media type (a PDF
that is not a PDF), before anything is stored; a real one goes through."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_access import token
from tests.conftest import PATIENT_INS, run


def test_a_text_file_declared_as_a_pdf_is_refused_and_a_real_pdf_is_stored(
    served: dict[str, str], tmp_path: Path
) -> None:
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    put = ["doc", "put", "--dossier", dossier, "--title", "CR", "--category", "reports"]
    fake, real = tmp_path / "fake.pdf", tmp_path / "real.pdf"
    fake.write_bytes(b"compte rendu, en texte")
    real.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    refused = run(patient, *put, "--media-type", "application/pdf", str(fake))
    assert refused.returncode == 3
    assert b"not application/pdf" in refused.stderr
    assert b"Traceback" not in refused.stderr
    counted = run(patient, "doc", "count", "--dossier", dossier).stdout.decode().split()
    assert counted == ["total", "0"]  # nothing stored
    stored = run(patient, *put, str(real), "-q")  # media type guessed from the name
    assert stored.returncode == 0, stored.stderr
