"""What a new user at a terminal meets: no traceback, the lifecycle from the CLI, one time
format, `--json` on every client command, titles checked at the door, visibility flags
added and removed one at a time. One server for the lot (each CLI call is a process)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PATIENT_INS, run
from vault.cli import main
from vault.cli.exitcodes import EXIT_INTERRUPTED, error_codes
from vault.domain.validation import validate_title
from vault.errors import ConfigurationError, InvalidArgumentError, NotFoundError, VaultError

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _put(env: dict[str, str], dossier: str, source: Path, *extra: str) -> dict[str, str]:
    put = run(
        env, "doc", "put", "--dossier", dossier, "--title", "IRM", "--category", "imaging",
        "--media-type", "application/pdf", str(source), "--json", *extra,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    value: dict[str, str] = json.loads(put.stdout)
    return value


def test_a_patient_walks_the_whole_lifecycle_without_a_traceback(
    served: dict[str, str], tmp_path: Path
) -> None:
    env = dict(served)
    minted = run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS)
    env["VAULT_TOKEN"] = minted.stdout.decode().strip()
    dossier = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    empty = run(env, "doc", "count", "--dossier", dossier)
    assert empty.stdout.split() == [b"total", b"0"]

    missing = run(
        env, "doc", "put", "--dossier", dossier, "--title", "x", "--category", "imaging",
        "--media-type", "application/pdf", str(tmp_path / "nope.pdf"),
    )  # fmt: skip
    assert missing.returncode == VaultError.exit_code
    assert b"Traceback" not in missing.stderr
    assert b"No such file" in missing.stderr

    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.7 scan")
    document = _put(env, dossier, source)["document_id"]
    gone = _put(env, dossier, source)  # a second document, to replace a missing version of
    replaced = run(
        env, "doc", "put", "--dossier", dossier, "--title", "IRM", "--category", "imaging",
        "--media-type", "application/pdf", "--replaces", f"{gone['document_id']}:7", str(source),
    )  # fmt: skip
    assert replaced.returncode != 0
    assert b"Traceback" not in replaced.stderr
    assert b"no version 7 of document" in replaced.stderr, replaced.stderr

    got = run(env, "doc", "get", "--dossier", dossier, "--document", document,
              "-o", str(tmp_path / "copy.pdf"), "--json")  # fmt: skip
    assert json.loads(got.stdout)["document_id"] == document
    assert RFC3339.fullmatch(json.loads(got.stdout)["created_at"])
    listed = run(env, "doc", "ls", "--dossier", dossier).stdout.decode()
    assert RFC3339.search(listed)

    masked = run(env, "doc", "visibility", "--dossier", dossier, "--document", document,
                 "--add", "masked", "--json")  # fmt: skip
    assert masked.returncode == 0, masked.stderr
    assert json.loads(masked.stdout)["visibility_names"] == ["masked"]
    both = run(env, "doc", "visibility", "--dossier", dossier, "--document", document,
               "--add", "hidden-from-representatives")  # fmt: skip
    assert b"masked, hidden-from-representatives" in both.stdout  # still masked
    unmasked = run(env, "doc", "visibility", "--dossier", dossier, "--document", document,
                   "--remove", "masked", "--json")  # fmt: skip
    assert json.loads(unmasked.stdout)["visibility_names"] == ["hidden-from-representatives"]

    removed = run(env, "doc", "rm", "--dossier", dossier, "--document", gone["document_id"],
                  "--json")  # fmt: skip
    assert json.loads(removed.stdout)["deleted"] is True
    exported = run(env, "dossier", "export", "--dossier", dossier, "-o",
                   str(tmp_path / "copy.zip"), "--json")  # fmt: skip
    assert json.loads(exported.stdout)["output"] == str(tmp_path / "copy.zip")

    closed = run(env, "dossier", "close", "--dossier", dossier, "--json")
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["state"] != "active"
    reopened = run(env, "dossier", "reopen", "--dossier", dossier)
    assert reopened.returncode == 0, reopened.stderr
    shown = run(env, "dossier", "show", "--id", dossier, "--json")  # the deprecated alias
    assert json.loads(shown.stdout)["state"] == "active"
    history = run(env, "journal", "history", "--dossier", dossier, "--json")
    assert history.returncode == 0, history.stderr
    assert all(RFC3339.fullmatch(record["time"]) for record in json.loads(history.stdout))
    deletion = run(env, "dossier", "request-deletion", "--dossier", dossier, "--json")
    assert deletion.returncode == 0, deletion.stderr
    assert json.loads(deletion.stdout)["closure_reason"] == "deletion_request"


@pytest.mark.parametrize("title", ["", "   ", "scan\x1b[2J", "a\nb", "\x07"])
def test_a_title_that_would_corrupt_a_listing_is_refused_at_the_door(title: str) -> None:
    with pytest.raises(InvalidArgumentError):
        validate_title(title)
    with pytest.raises(SystemExit) as usage:
        main(["doc", "put", "--dossier", "d", "--title", title, "--category", "imaging", "-"])
    assert usage.value.code == 2


def test_ctrl_c_exits_130_with_a_message_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vault.cli import dossiers

    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(dossiers, "cmd_show", interrupted)
    monkeypatch.setenv("VAULT_TOKEN", "t")
    assert main(["dossier", "show", "--dossier", "x"]) == EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_the_exit_code_table_lists_each_code_once() -> None:
    codes = [code for code, _ in error_codes()]
    assert len(codes) == len(set(codes))
    assert any("OutOfRangeError" in names for _, names in error_codes())


def test_journal_verify_without_a_key_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "journal.jsonl"
    export.write_bytes(b"")
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "checkpoint-1.txt").write_text("a signed note\n")
    code = main(["journal", "verify", str(export), "--checkpoints", str(tmp_path / "published")])
    assert code == InvalidArgumentError.exit_code
    assert "no verifier key given" in capsys.readouterr().err


def test_a_missing_replaced_version_is_named_not_found() -> None:
    assert NotFoundError.exit_code != InvalidArgumentError.exit_code


def test_dev_token_creates_no_issuer_silently_in_an_empty_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path / "elsewhere"))
    code = main(["dev-token", "--kind", "patient", "--subject", PATIENT_INS])
    assert code == ConfigurationError.exit_code
    assert "--create-issuer" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()
    assert main(["dev-token", "--kind", "patient", "--subject", PATIENT_INS,
                 "--create-issuer", "--json"]) == 0  # fmt: skip
    minted = json.loads(capsys.readouterr().out)
    assert minted["data_dir"] == str(tmp_path / "elsewhere")
    assert minted["token"].count(".") == 2


@pytest.mark.parametrize("ttl", ["0", "-5", "86401", "soon"])
def test_dev_token_refuses_a_lifetime_the_server_would_refuse(
    ttl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as usage:
        main(["dev-token", "--kind", "patient", "--subject", PATIENT_INS, "--ttl", ttl])
    assert usage.value.code == 2


def test_keys_status_speaks_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path))
    assert main(["keys", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["master_versions"] == []
    assert status["index_key"] is False


def test_ctrl_c_during_a_download_leaves_no_partial_file(
    served: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vault.client import Download

    env = dict(served)
    token = run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS)
    env["VAULT_TOKEN"] = token.stdout.decode().strip()
    dossier = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    source = tmp_path / "scan.pdf"
    source.write_bytes(b"%PDF-1.7" + bytes(3_000_000))
    document = _put(env, dossier, source)["document_id"]
    received = Download.__iter__

    def interrupted(self: Download) -> Iterator[bytes]:
        yield next(received(self))  # a first chunk written, then the user presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(Download, "__iter__", interrupted)
    monkeypatch.setenv("VAULT_TARGET", env["VAULT_LISTEN"])
    monkeypatch.setenv("VAULT_TOKEN", env["VAULT_TOKEN"])
    copy = tmp_path / "out" / "copy.pdf"
    copy.parent.mkdir()
    code = main(["doc", "get", "--dossier", dossier, "--document", document, "-o", str(copy)])
    assert code == EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert list(copy.parent.iterdir()) == []


def test_a_malformed_export_time_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "t")
    code = main(["journal", "export", "-o", str(tmp_path / "j.jsonl"), "--since", "yesterday"])
    assert code == InvalidArgumentError.exit_code
    assert "RFC 3339" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@given(st.text(min_size=1, max_size=50))
def test_a_title_is_accepted_exactly_when_printable_and_not_blank(title: str) -> None:
    printable = title.strip() and not any(unicodedata.category(c) == "Cc" for c in title)
    if printable:
        assert validate_title(title) == title
    else:
        with pytest.raises(InvalidArgumentError):
            validate_title(title)


@pytest.mark.parametrize("command", [["keys", "rotate-dossier"], ["retention", "verify-destroyed"]])
def test_a_dossier_is_named_with_dossier_everywhere(command: list[str]) -> None:
    from vault.cli import build_parser

    parsed = build_parser().parse_args([*command, "--dossier", "abc"])
    assert parsed.dossier == "abc"
    assert build_parser().parse_args([*command, "abc"]).dossier_positional == "abc"  # as before
