"""`dossier-vault hold place|ls|release`, as an operator types them against a served
process: `hold ls` gives the id `hold release` needs; an auditor lists, a patient cannot."""

from __future__ import annotations

import json

from tests.cli.test_access import token
from tests.conftest import PATIENT_INS, run


def test_an_operator_finds_the_id_of_the_hold_to_release_with_hold_ls(
    served: dict[str, str],
) -> None:
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    operator = token(served, "operator", "op-1")
    empty = run(operator, "hold", "ls", "--dossier", dossier)
    assert (empty.returncode, empty.stdout.decode().strip()) == (0, "no legal hold"), empty.stderr
    for reason in ("TJ Paris 26/00123", "TJ Lyon 26/00456"):
        placed = run(operator, "hold", "place", "--dossier", dossier, "--reason", reason, "-q")
        assert placed.returncode == 0, placed.stderr
    in_force = run(operator, "hold", "ls", "--dossier", dossier, "-q").stdout.decode().split()
    assert len(in_force) == 2
    release = ["hold", "release", "--dossier", dossier, "--hold", in_force[0], "--reason", "done"]
    assert run(operator, *release).returncode == 0
    auditor = token(served, "auditor", "cnil-1")
    listed = run(auditor, "hold", "ls", "--dossier", dossier, "--json")
    assert listed.returncode == 0, listed.stderr
    first, second = json.loads(listed.stdout)
    assert (first["hold_id"], first["in_force"], first["release_reason"]) == (
        int(in_force[0]),
        False,
        "done",
    )
    assert first["released_at"].endswith("Z")
    assert first["placed_at"].endswith("Z")
    assert (second["reason"], second["in_force"], second["released_at"]) == (
        "TJ Lyon 26/00456",
        True,
        None,
    )
    text = run(operator, "hold", "ls", "--dossier", dossier).stdout.decode().splitlines()
    assert "released=" in text[0]
    assert text[1].endswith("in force")
    refused = run(patient, "hold", "ls", "--dossier", dossier)
    assert refused.returncode != 0
    assert b"Traceback" not in refused.stderr
