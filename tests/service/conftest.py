"""The service's unit tests run on fakes (tests/service/support.py): one `Scene` each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.support import Scene, make_scene
from vault.crypto.localkeys import create_key_file


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local master key file for the session: a test key, never a real one."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    create_key_file(path)
    return path


@pytest.fixture
def scene(tmp_path: Path, key_file: Path) -> Scene:
    return make_scene(tmp_path, key_file)
