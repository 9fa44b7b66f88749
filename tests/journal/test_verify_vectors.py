"""The journal export vectors (tests/vectors/journal-v1.json): every valid export verifies
with its summary, and `dossier-vault journal verify` refuses every invalid one with the
failure kind, sequence number and exit code docs/format.md gives it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tools.journal_vectors import build
from tools.make_vectors import JOURNAL_VECTORS
from vault.cli import main
from vault.cli.exitcodes import VERIFY_EXIT_CODES
from vault.journal.checkpoint import VerifierKey
from vault.journal.verify import FailureKind, VerificationError, verify_export

STORED: dict[str, Any] = json.loads(JOURNAL_VECTORS.read_text())
KEY = VerifierKey.parse(STORED["verifier_key"])
IN_PROCESS = [case for case in STORED["invalid"] if case["kind"] and not case["certificates"]]


def _lines(case: dict[str, Any]) -> list[bytes]:
    return io.BytesIO(case["export"].encode()).readlines()


def _cli(tmp_path: Path, case: dict[str, Any]) -> int:
    """Runs the verifier's command line over the vector's files; its exit code."""
    export = tmp_path / "export.jsonl"
    export.write_bytes(case["export"].encode())
    argv = ["journal", "verify", str(export), "--key", STORED["verifier_key"], *case["flags"]]
    if case["published"]:
        published = tmp_path / "published"
        published.mkdir()
        for name, note in case["published"].items():
            (published / name).write_text(note)
        argv += ["--checkpoints", str(published)]
    for number, note in enumerate(case["certificates"]):
        path = tmp_path / f"certificate-{number}.txt"
        path.write_text(note)
        argv += ["--certificate", str(path)]
    return main(argv)


def test_stored_journal_vectors_are_what_the_code_produces() -> None:
    assert build() == STORED


def test_every_failure_kind_has_a_negative_vector() -> None:
    kinds = {case["kind"] for case in STORED["invalid"]}
    assert kinds == {kind.value for kind in FailureKind} | {None}  # None: no checkpoint


@pytest.mark.parametrize("case", STORED["valid"], ids=lambda case: case["name"])
def test_valid_export_vector_verifies_with_its_summary(case: dict[str, Any]) -> None:
    summary = verify_export(_lines(case), KEY, list(case["published"].items()))
    assert {field: getattr(summary, field) for field in case["summary"]} == case["summary"]


@pytest.mark.parametrize("case", STORED["valid"], ids=lambda case: case["name"])
def test_verifier_cli_accepts_every_valid_vector(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(tmp_path, {**case, "flags": ["--require-checkpoint"], "certificates": []}) == 0


@pytest.mark.parametrize("case", IN_PROCESS, ids=lambda case: case["name"])
def test_verifier_refuses_invalid_vector_with_its_kind_and_place(case: dict[str, Any]) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_export(
            _lines(case),
            KEY,
            list(case["published"].items()),
            expect_complete="--expect-complete" in case["flags"],
        )
    assert (caught.value.kind.value, caught.value.seq) == (case["kind"], case["seq"])


@pytest.mark.parametrize("case", STORED["invalid"], ids=lambda case: case["name"])
def test_verifier_cli_exits_with_the_code_of_each_invalid_vector(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(tmp_path, case) == case["exit_code"]
    if case["kind"] is not None:
        assert VERIFY_EXIT_CODES[FailureKind(case["kind"])] == case["exit_code"]
        assert f"{case['kind']}" in capsys.readouterr().err
