"""`dossier-vault journal verify`, as an auditor runs it: files in, a verdict and an exit code
out, with nothing of the vault (no database, no keys) in reach."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.journal.test_verify import KEY, chain, export, note_for
from vault.cli.exitcodes import EXIT_NO_CHECKPOINT, VERIFY_EXIT_CODES
from vault.journal.verify import FailureKind


def verify(tmp_path: Path, lines: list[bytes], *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(lines))
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def test_intact_export_verifies_with_a_summary(tmp_path: Path) -> None:
    result = verify(tmp_path, export(chain(10), (10,)), "--key", KEY.encode())
    assert result.returncode == 0, result.stderr
    assert "journal verified: 10 entries" in result.stdout
    assert "checkpoints matched: 1" in result.stdout


def test_json_output_for_machines(tmp_path: Path) -> None:
    result = verify(tmp_path, export(chain(3)), "--json")
    assert json.loads(result.stdout)["entries"] == 3


def publish(tmp_path: Path, size: int, note: bytes) -> Path:
    published = tmp_path / "published"
    published.mkdir(exist_ok=True)
    (published / f"checkpoint-{size:020d}.txt").write_bytes(note)
    return published


def test_published_checkpoints_catch_a_cut_tail_when_the_export_should_be_complete(
    tmp_path: Path,
) -> None:
    entries = chain(10)
    published = publish(tmp_path, 10, note_for(entries, 10).encode())
    result = verify(
        tmp_path,
        export(entries)[:6],
        "--key",
        KEY.encode(),
        "--checkpoints",
        str(published),
        "--expect-complete",
        "--json",
    )
    assert result.returncode == VERIFY_EXIT_CODES[FailureKind.TAIL_CUT]
    assert json.loads(result.stdout)["kind"] == "tail-cut"


def test_live_journal_export_older_than_a_published_checkpoint_is_no_false_tail_cut(
    tmp_path: Path,
) -> None:
    entries = chain(10)
    published = publish(tmp_path, 10, note_for(entries, 10).encode())
    args = ("--key", KEY.encode(), "--checkpoints", str(published))
    result = verify(tmp_path, export(entries)[:6], *args)
    assert result.returncode == 0, result.stderr
    assert "published checkpoints beyond the export: 1" in result.stdout


def test_missing_checkpoint_directory_is_a_usage_error_not_a_silent_pass(tmp_path: Path) -> None:
    args = ("--key", KEY.encode(), "--checkpoints", str(tmp_path / "typo"))
    result = verify(tmp_path, export(chain(3)), *args)
    assert result.returncode == 3  # InvalidArgumentError
    assert "does not exist" in result.stderr


def test_checkpoint_file_with_invalid_utf8_is_a_clear_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    published = publish(tmp_path, 3, b"\xff\xfe not a note")
    result = verify(
        tmp_path, export(chain(3)), "--key", KEY.encode(), "--checkpoints", str(published)
    )
    assert result.returncode == 3
    assert "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_edited_entry_exits_with_its_code_and_names_the_sequence(tmp_path: Path) -> None:
    lines = export(chain(10))
    lines[2] = lines[2].replace(b'"reason":"holder"', b'"reason":"auditor"')
    result = verify(tmp_path, lines)
    assert result.returncode == VERIFY_EXIT_CODES[FailureKind.EDITED_ENTRY]
    assert "edited-entry at sequence 3" in result.stderr


def test_require_checkpoint_refuses_an_unanchored_export(tmp_path: Path) -> None:
    result = verify(tmp_path, export(chain(3)), "--key", KEY.encode(), "--require-checkpoint")
    assert result.returncode == EXIT_NO_CHECKPOINT


@pytest.mark.parametrize("extra", [(), ("--require-checkpoint",)])
def test_a_signed_export_without_a_key_says_no_verifier_key_given_not_bad_signature(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    result = verify(tmp_path, export(chain(10), (10,)), *extra)
    assert result.returncode == 3  # InvalidArgumentError: a usage error
    assert "no verifier key given" in result.stderr
    assert "bad-signature" not in result.stderr + result.stdout


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = list(VERIFY_EXIT_CODES.values())
    assert len(set(codes)) == len(codes)
    help_text = subprocess.run(
        [sys.executable, "-m", "vault.cli", "journal", "verify", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for kind, code in VERIFY_EXIT_CODES.items():
        assert f"{code:<3} {kind.value}" in help_text
    assert "--expect-complete" in help_text


@pytest.mark.parametrize("key", ["nonsense", "name+00+AAAA"])
def test_malformed_verifier_key_is_a_usage_error(tmp_path: Path, key: str) -> None:
    result = verify(tmp_path, export(chain(2)), "--key", key)
    assert result.returncode == 3  # InvalidArgumentError
