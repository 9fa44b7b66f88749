"""The wire contract passes `buf lint` (buf.yaml: the STANDARD rules, less the three that
version 1 of the contract predates and cannot follow without breaking its clients), and
`buf breaking` against the contract as released (protos/released/vault-v1.image.json, a
buf image without source info: comments may change, names, numbers and types may not).

The image is rewritten only at a release, on purpose:
`clients/node/node_modules/.bin/buf build --exclude-source-info -o
protos/released/vault-v1.image.json` (ADR 0036)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests import node_client

RELEASED = "protos/released/vault-v1.image.json"


def _buf(*args: str, cwd: Path = node_client.ROOT) -> subprocess.CompletedProcess[str]:
    node_client.require("@bufbuild/buf")
    return subprocess.run(
        [str(node_client.MODULES / ".bin" / "buf"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_proto_passes_buf_lint() -> None:
    result = _buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_proto_keeps_the_released_contract() -> None:
    result = _buf("breaking", "--against", RELEASED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_renumbered_field_breaks_the_released_contract(tmp_path: Path) -> None:
    shutil.copytree(node_client.ROOT / "protos", tmp_path / "protos")
    shutil.copy(node_client.ROOT / "buf.yaml", tmp_path)
    proto = tmp_path / "protos" / "vault" / "v1" / "vault.proto"
    text = proto.read_text()
    assert "  string title = 1;\n" in text
    proto.write_text(text.replace("  string title = 1;\n", "  string title = 99;\n"))
    result = _buf("breaking", "--against", str(node_client.ROOT / RELEASED), cwd=tmp_path)
    assert result.returncode != 0
    assert 'field "1" with name "title"' in result.stdout
