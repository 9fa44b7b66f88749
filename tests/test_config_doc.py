"""docs/configuration.md is what tools/gen_config_doc.py makes from vault/config.py: a
setting added, renamed or given another default without regenerating the table fails here
(as `make proto-check` does for the generated protobuf code)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.gen_config_doc import DOC, ROOT, render
from vault.config import Config
from vault.settings import declared


def test_the_configuration_table_is_the_one_generated_from_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python tools/gen_config_doc.py`"
    )


def test_every_setting_has_its_row_with_its_variable_and_file_key() -> None:
    table = render()
    for one in declared(Config):
        assert f"| `{one.variable}` | `" in table
    assert "| `VAULT_S3_BUCKET` | `[s3] bucket` |" in table
    assert "| `VAULT_PKCS11_PIN` | `[pkcs11] pin` | (required) |" in table


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "tools/gen_config_doc.py", "--check", "--path", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_check_mode_passes_on_the_committed_table_and_fails_on_a_stale_one(
    tmp_path: Path,
) -> None:
    assert _check(DOC).returncode == 0
    stale = tmp_path / "configuration.md"
    stale.write_text(DOC.read_text().replace("| 16 |", "| 32 |"), encoding="utf-8")
    done = _check(stale)
    assert done.returncode == 1
    assert "drifted from vault/config.py" in done.stderr
