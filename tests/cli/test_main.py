"""The `dossier-vault` command as a person uses it: `serve` in one process, the README's
example in another, exit codes for what goes wrong."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

from tests.conftest import CLI, OTHER_INS, PATIENT_INS, free_port, run
from vault import archive
from vault.cli import build_parser
from vault.cli.exitcodes import EXIT_CODES
from vault.errors import (
    ConflictError,
    InvalidArgumentError,
    PermissionDeniedError,
    UnauthenticatedError,
)


def test_readme_example_round_trip(served: dict[str, str], tmp_path: Path) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    created = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q")
    assert created.returncode == 0, created.stderr
    dossier = created.stdout.decode().strip()
    source, copy = tmp_path / "scan.pdf", tmp_path / "copy.pdf"
    source.write_bytes(
        b"%PDF-1.7\n" + os.urandom(3_000_000)
    )  # a PDF's signature: doc put checks it
    put = run(
        env,
        "doc",
        "put",
        "--dossier",
        dossier,
        "--title",
        "IRM",
        "--category",
        "imaging",
        "--media-type",
        "application/pdf",
        str(source),
        "--json",
    )
    assert put.returncode == 0, put.stderr
    document = json.loads(put.stdout)["document_id"]
    listed = run(env, "doc", "ls", "--dossier", dossier)
    assert document in listed.stdout.decode()
    got = run(env, "doc", "get", "--dossier", dossier, "--document", document, "-o", str(copy))
    assert got.returncode == 0, got.stderr
    assert copy.read_bytes() == source.read_bytes()
    shown = json.loads(run(env, "dossier", "show", "--ins", PATIENT_INS, "--json").stdout)
    assert shown["dossier_id"] == dossier
    piped = run(
        env,
        "doc",
        "put",
        "--dossier",
        dossier,
        "--title",
        "note",
        "--category",
        "synthesis",
        "--media-type",
        "text/plain",
        "-",
        "-q",
        stdin=b"hello",
    )
    assert piped.returncode == 0, piped.stderr


def test_versions_and_searches_from_the_command_line(
    served: dict[str, str], tmp_path: Path
) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    dossier = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    directives = tmp_path / "directives.txt"  # the media type is guessed: text/plain
    directives.write_text("je refuse l'acharnement thérapeutique")
    put = ["doc", "put", "--dossier", dossier, "--title", "DA", "--category", "advance_directives"]
    first = run(env, *put, "--type-code", "EXPPAT_3", "--care-date", "2026-01-15", str(directives))
    assert first.returncode == 0, first.stderr
    document = first.stdout.decode().split()[1]
    second = run(env, *put, "--replaces", f"{document}:1", str(directives), "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["metadata"]["type_code"] == "EXPPAT_3"  # kept
    stale = run(env, *put, "--replaces", f"{document}:1", str(directives))
    assert stale.returncode == EXIT_CODES[ConflictError], stale.stderr

    def listed(*filters: str) -> list[tuple[int, str]]:
        found = run(env, "doc", "ls", "--dossier", dossier, *filters, "--json")
        assert found.returncode == 0, found.stderr
        return [(d["version"], d["status"]) for d in json.loads(found.stdout)]

    assert listed() == [(2, "current")]
    assert listed("--document", document) == [(2, "current"), (1, "deprecated")]
    assert listed("--status", "deprecated", "--type-code", "EXPPAT_3") == [(1, "deprecated")]
    assert listed("--care-from", "2026-01-15", "--care-until", "2026-01-16") == [(2, "current")]
    assert listed("--category", "biology") == []
    backwards = run(
        env,
        "doc",
        "ls",
        "--dossier",
        dossier,
        "--care-from",
        "2026-02-01",
        "--care-until",
        "2026-01-01",
    )
    assert backwards.returncode == EXIT_CODES[InvalidArgumentError]
    unguessable = run(env, *put, str(tmp_path))
    assert unguessable.returncode == EXIT_CODES[InvalidArgumentError]
    copy = tmp_path / "copy.zip"
    exported = run(env, "dossier", "export", "--dossier", dossier, "-o", str(copy))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(copy) as zipped:
        records = json.loads(zipped.read(archive.METADATA))["documents"]
    assert [(d["version"], d["status"], d["type_code"]) for d in records] == [
        (1, "deprecated", "EXPPAT_3"),
        (2, "current", "EXPPAT_3"),
    ]


def test_errors_map_to_stable_exit_codes(served: dict[str, str]) -> None:
    env = dict(served)
    assert (
        run(env, "dossier", "create", "--ins", PATIENT_INS).returncode
        == EXIT_CODES[UnauthenticatedError]
    )
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    bad_ins = run(env, "dossier", "create", "--ins", "184127645108947")
    assert bad_ins.returncode == EXIT_CODES[InvalidArgumentError]
    assert b"184127645108947" not in bad_ins.stderr
    other = run(env, "dossier", "create", "--ins", OTHER_INS)
    assert other.returncode == EXIT_CODES[PermissionDeniedError]


def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path),
        "VAULT_TOKEN": "x",
        "VAULT_TARGET": f"127.0.0.1:{free_port()}",
    }
    assert run(env, "dossier", "show", "--ins", PATIENT_INS).returncode == 10


def test_help_documents_every_exit_code() -> None:
    epilog = build_parser().format_help()
    lines = epilog.splitlines()
    for kind, code in EXIT_CODES.items():
        assert any(
            line.strip().startswith(f"{code:<3} ") and kind.__name__ in line for line in lines
        )


def test_usage_error_exits_2() -> None:
    assert subprocess.run([*CLI, "doc"], capture_output=True, check=False).returncode == 2


def test_journal_history_as_json_lists_the_holders_own_accesses(
    served: dict[str, str],
) -> None:
    env = dict(served)
    env["VAULT_TOKEN"] = (
        run(env, "dev-token", "--kind", "patient", "--subject", PATIENT_INS).stdout.decode().strip()
    )
    dossier = run(env, "dossier", "create", "--ins", PATIENT_INS, "-q").stdout.decode().strip()
    history = run(env, "journal", "history", "--dossier", dossier, "--json")
    assert history.returncode == 0, history.stderr
    entries = json.loads(history.stdout)
    assert [(e["action"], e["decision"]) for e in entries][:1] == [("dossier.create", "allow")]
    assert all(isinstance(e["seq"], int) for e in entries)
