"""`dossier-vault access ...` and the document commands of the access rules, as people
type them against a served process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import PATIENT_INS, run
from vault.domain.clock import france_date
from vault.errors import NotFoundError, PermissionDeniedError

CARDIOLOGIST = "10000000017"
REGULATOR = "10000000041"


def token(env: dict[str, str], kind: str, subject: str, *extra: str) -> dict[str, str]:
    minted = run(env, "dev-token", "--kind", kind, "--subject", subject, *extra)
    assert minted.returncode == 0, minted.stderr
    return {**env, "VAULT_TOKEN": minted.stdout.decode().strip()}


def test_a_patient_manages_access_and_sees_an_emergency(
    served: dict[str, str], tmp_path: Path
) -> None:
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    report = tmp_path / "report.txt"
    report.write_text("compte rendu")
    put = ["doc", "put", "--dossier", dossier, "--title", "CR", "--category", "reports"]
    document = run(patient, *put, str(report), "-q").stdout.decode().strip()
    run(patient, *put, "--masked", str(report), "-q")

    authorised = run(patient, "access", "authorise", "--dossier", dossier, "--rpps", CARDIOLOGIST)
    assert authorised.returncode == 0, authorised.stderr
    rules = json.loads(run(patient, "access", "ls", "--dossier", dossier, "--json").stdout)
    assert [(e["relation"], e["subject"]) for e in rules["entries"]] == [
        ("authorised", CARDIOLOGIST)
    ]

    cardiologist = token(served, "professional", CARDIOLOGIST, "--profession", "physician")
    counted = json.loads(run(cardiologist, "doc", "count", "--dossier", dossier, "--json").stdout)
    assert counted == {"reports": 1}
    hidden = run(
        patient,
        "doc",
        "visibility",
        "--dossier",
        dossier,
        "--document",
        document,
        "--add",
        "masked",
    )
    assert hidden.returncode == 0, hidden.stderr
    assert run(cardiologist, "doc", "count", "--dossier", dossier, "--json").stdout.strip() == b"{}"

    blocked = run(patient, "access", "block", "--dossier", dossier, "--rpps", CARDIOLOGIST)
    assert blocked.returncode == 0, blocked.stderr
    refused = run(cardiologist, "doc", "ls", "--dossier", dossier)
    assert refused.returncode == PermissionDeniedError.exit_code
    assert b"blocked" in refused.stderr

    regulator = token(
        served,
        "professional",
        REGULATOR,
        "--profession",
        "physician",
        "--specialty",
        "medical_regulation",
    )
    glass = run(
        regulator, "access", "break-glass", "--dossier", dossier, "--reason", "samu_regulation"
    )
    assert glass.returncode == 0, glass.stderr
    notices = run(patient, "access", "notifications", "--dossier", dossier, "--json")
    kinds = [(n["kind"], n["subject"]) for n in json.loads(notices.stdout)]
    assert kinds[0] == ("first_access", CARDIOLOGIST)
    assert ("emergency_access", REGULATOR) in kinds

    removed = run(patient, "doc", "rm", "--dossier", dossier, "--document", document)
    assert removed.returncode == 0, removed.stderr
    again = run(patient, "doc", "rm", "--dossier", dossier, "--document", document)
    assert again.returncode == NotFoundError.exit_code


def test_a_patient_lets_a_care_team_in_and_an_auditor_counts_declared_consents(
    served: dict[str, str],
) -> None:
    """`access team add/ls/rm` for the patient, a member through their structure, and
    `journal consents --day` for the auditor."""
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    add = ["access", "team", "add", "--dossier", dossier, "--name", "Maison de santé"]
    added = run(patient, *add, "--member", "750712184", "--member", CARDIOLOGIST, "--json")
    assert added.returncode == 0, added.stderr
    team = json.loads(added.stdout)
    listed = json.loads(run(patient, "access", "team", "ls", "--dossier", dossier, "--json").stdout)
    assert [(t["team_id"], t["name"], t["members"]) for t in listed] == [
        (team["team_id"], "Maison de santé", [CARDIOLOGIST, "750712184"])
    ]
    nurse = token(
        served, "professional", REGULATOR, "--profession", "nurse", "--structure", "750712184"
    )
    assert run(nurse, "doc", "ls", "--dossier", dossier).returncode == 0

    cardiologist = token(served, "professional", CARDIOLOGIST, "--profession", "physician")
    consent = run(cardiologist, "access", "consent", "--dossier", dossier, "--json")
    assert consent.returncode == 0, consent.stderr
    auditor = token(served, "auditor", "cnil")
    day = _day_in_france(json.loads(consent.stdout)["created_us"])
    found = run(auditor, "journal", "consents", "--day", day, "--json")
    assert found.returncode == 0, found.stderr
    counted = [
        (d["professional"], d["declarations"], d["dossiers"]) for d in json.loads(found.stdout)
    ]
    assert counted == [(CARDIOLOGIST, 1, 1)]

    removed = run(patient, "access", "team", "rm", "--dossier", dossier, "--team", team["team_id"])
    assert removed.returncode == 0, removed.stderr
    refused = run(nurse, "doc", "ls", "--dossier", dossier)
    assert refused.returncode == PermissionDeniedError.exit_code
    assert b"no-authorisation" in refused.stderr


def test_a_patient_opens_and_closes_a_document_class_to_a_professional(
    served: dict[str, str],
) -> None:
    """`access class open/close/ls/clear` for the patient (docs/access-control.md, "The
    patient's overrides")."""
    patient = token(served, "patient", PATIENT_INS)
    dossier = run(patient, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    rule = ["--dossier", dossier, "--rpps", CARDIOLOGIST]
    opened = run(patient, "access", "class", "open", *rule, "--category", "imaging", "--json")
    assert opened.returncode == 0, opened.stderr
    assert (json.loads(opened.stdout)["category"], json.loads(opened.stdout)["opened"]) == (
        "imaging",
        True,
    )
    closed = run(patient, "access", "class", "close", *rule, "--category", "biology")
    assert closed.returncode == 0, closed.stderr
    assert f"class biology closed to {CARDIOLOGIST}".encode() in closed.stdout
    listed = json.loads(
        run(patient, "access", "class", "ls", "--dossier", dossier, "--json").stdout
    )
    assert [(o["category"], o["opened"]) for o in listed] == [("biology", False), ("imaging", True)]
    cleared = run(patient, "access", "class", "clear", *rule, "--category", "imaging")
    assert cleared.returncode == 0, cleared.stderr
    again = run(patient, "access", "class", "clear", *rule, "--category", "imaging")
    assert again.returncode == NotFoundError.exit_code


def _day_in_france(time_us: int) -> str:
    return france_date(time_us).isoformat()
