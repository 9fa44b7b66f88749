"""`dossier-vault dossier create --born YYYY-MM-DD`: the holder's date of birth, given by
a parent opening a minor's dossier; refused for an adult, and in any other form before a
request is sent. `dossier born` corrects it later; `access add-representative --until`
records a protected adult's representative until their measure ends."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cli.test_access import token
from tests.conftest import OTHER_INS, PATIENT_INS, run
from tests.server.test_access import ins
from vault.cli import build_parser
from vault.cli.exitcodes import EXIT_CODES
from vault.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError


def test_born_is_read_as_a_date_and_any_other_form_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    args = parser.parse_args(["dossier", "create", "--ins", PATIENT_INS, "--born", "2011-02-28"])
    assert args.born == date(2011, 2, 28)
    guardian = ["dossier", "create", "--for-minor", "--ins", PATIENT_INS, "--until", "2030-06-30"]
    assert parser.parse_args(guardian).until == "2030-06-30"  # a protected adult's measure
    with pytest.raises(SystemExit) as usage:
        parser.parse_args(["dossier", "create", "--ins", PATIENT_INS, "--born", "28/02/2011"])
    assert usage.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_a_parent_opens_a_minors_dossier_with_the_date_of_birth_not_an_adults(
    served: dict[str, str],
) -> None:
    parent = token(served, "legal_representative", OTHER_INS)
    create = ["dossier", "create", "--for-minor", "-q", "--ins"]
    child = run(parent, *create, PATIENT_INS, "--born", "2016-03-01")
    assert child.returncode == 0, child.stderr
    adult = run(parent, *create, ins("1800675123457"), "--born", "1980-05-01")
    assert adult.returncode == EXIT_CODES[FailedPreconditionError], adult.stderr


def test_a_parent_corrects_a_minors_date_of_birth_but_never_to_an_adults(
    served: dict[str, str],
) -> None:
    parent = token(served, "legal_representative", OTHER_INS)
    child = run(parent, "dossier", "create", "--for-minor", "-q", "--ins", PATIENT_INS)
    assert child.returncode == 0, child.stderr
    dossier = child.stdout.decode().strip()
    corrected = run(parent, "dossier", "born", "--dossier", dossier, "--date", "2016-03-02")
    assert corrected.returncode == 0, corrected.stderr
    assert b"date of birth recorded" in corrected.stdout
    adult = run(parent, "dossier", "born", "--dossier", dossier, "--date", "1980-05-01")
    assert adult.returncode == EXIT_CODES[PermissionDeniedError], adult.stderr


def test_a_holder_records_a_guardian_until_the_measure_ends_and_sees_the_expiry(
    served: dict[str, str],
) -> None:
    holder = token(served, "patient", PATIENT_INS)
    dossier = run(holder, "dossier", "create", "-q", "--ins", PATIENT_INS).stdout.decode().strip()
    until = f"{date.today().year + 3}-06-30T00:00:00+00:00"
    add = ["access", "add-representative", "--dossier", dossier, "--ins", OTHER_INS]
    added = run(holder, *add, "--until", until)
    assert added.returncode == 0, added.stderr
    listed = run(holder, "access", "ls", "--dossier", dossier)
    assert f"until {date.today().year + 3}-06-30T00:00:00" in listed.stdout.decode()
    past = run(holder, *add, "--until", "2001-01-01T00:00:00")
    assert past.returncode == EXIT_CODES[InvalidArgumentError], past.stderr
