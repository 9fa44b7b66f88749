"""The wire contract passes `buf lint` (buf.yaml: the STANDARD rules, less the three that
version 1 of the contract predates and cannot follow without breaking its clients)."""

from __future__ import annotations

import subprocess

from tests import node_client


def test_the_proto_passes_buf_lint() -> None:
    node_client.require("@bufbuild/buf")
    buf = node_client.MODULES / ".bin" / "buf"
    result = subprocess.run(
        [str(buf), "lint"],
        cwd=node_client.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
