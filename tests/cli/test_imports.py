"""What `dossier-vault --help` loads: no adapter library, so that help is instant and
works on a host without them configured; and the file store never loads boto3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("boto3", "botocore", "sqlalchemy", "grpc", "pkcs11", "jwt")
GROUPS = [[], *([group] for group in ("dossier", "doc", "access", "retention", "journal"))]
GROUPS += [["keys"], ["db"], ["gc"], ["serve"], ["dev-token"], ["journal", "verify"]]


def loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running `code`."""
    listed = f"[name for name in {HEAVY!r} if name in sys.modules]"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({listed}))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("argv", GROUPS, ids=lambda argv: " ".join(argv) or "dossier-vault")
def test_help_loads_no_adapter_library(argv: list[str]) -> None:
    code = (
        "import contextlib, io\nfrom vault.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({[*argv, '--help']!r})"
    )
    assert loaded_after(code) == []


def test_retention_help_loads_no_adapter_library() -> None:
    code = (
        "import contextlib, io\nfrom vault.cli.retention import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    assert loaded_after(code) == []


def test_the_file_store_loads_neither_boto3_nor_pkcs11(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\nfrom vault.composition import blob_store, key_provider\n"
        "from vault.config import Config\n"
        f"config = Config(data_dir=Path({str(tmp_path)!r}))\n"
        "blob_store(config)\nkey_provider(config)"
    )
    loaded = loaded_after(code)
    assert "boto3" not in loaded
    assert "pkcs11" not in loaded
