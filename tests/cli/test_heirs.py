"""`dossier-vault dossier create --assisted`, `dossier heir-access grant`,
`dossier posthumous-objection` and `dossier notices`, as people type them against a
served process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.test_access import CARDIOLOGIST, token
from tests.conftest import OTHER_INS, PATIENT_INS, run


def test_an_assisted_creation_then_a_death_and_an_operators_grant_to_the_heir(
    served: dict[str, str],
) -> None:
    pharmacist = token(served, "professional", CARDIOLOGIST, "--profession", "pharmacist")
    created = run(pharmacist, "dossier", "create", "--ins", PATIENT_INS, "--assisted", "-q")
    assert created.returncode == 0, created.stderr
    dossier = created.stdout.decode().strip()
    insurer = token(served, "insurer", "cnam")
    closed = run(insurer, "dossier", "close", "--dossier", dossier, "--reason", "death")
    assert closed.returncode == 0, closed.stderr
    operator = token(served, "operator", "op-1")
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    grant = [
        "dossier", "heir-access", "grant", "--dossier", dossier, "--heir-ins", OTHER_INS,
        "--purpose", "cause-of-death", "--reference", "TJ 26/1", "--expires", expires, "--json",
    ]  # fmt: skip
    granted = run(operator, *grant)
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["purpose"] == "cause-of-death"
    heir = token(served, "patient", OTHER_INS)
    listed = run(heir, "doc", "ls", "--dossier", dossier, "--json")
    assert listed.returncode == 0, listed.stderr


def test_the_holder_records_then_withdraws_an_objection_and_asks_for_new_document_notices(
    served: dict[str, str],
) -> None:
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    for extra in ((), ("--withdraw",)):
        done = run(patient, "dossier", "posthumous-objection", "--dossier", dossier, *extra)
        assert done.returncode == 0, done.stderr
    asked = run(patient, "dossier", "notices", "--dossier", dossier, "--new-documents", "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout) == {"dossier_id": dossier, "new_documents": True}
