"""Where the Node.js client (clients/node/) and its npm modules are, for the tests that
run it or its tools; `make test` installs the modules (`npm ci --prefix clients/node`).

Without Node.js or the modules, those tests are skipped on a developer's machine and
fail in CI (`CI` set): CI must never pass without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "node"
MODULES = CLIENT / "node_modules"


def require(*needed: str) -> str:
    """The `node` executable, once `needed` (paths under node_modules/) are installed."""
    node = shutil.which("node")
    missing = [] if node else ["node (Node.js 20 or later)"]
    missing += [f"clients/node/node_modules/{n}" for n in needed if not (MODULES / n).exists()]
    if missing:
        message = f"missing {', '.join(missing)}: run `npm ci --prefix clients/node`"
        if os.environ.get("CI"):
            pytest.fail(message + " (required in CI)")
        pytest.skip(message)
    assert node is not None
    return node
