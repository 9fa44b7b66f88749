"""Files written whole or not at all (vault/durable.py): what a crash or a failed rename
must never leave behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vault.durable import replace_atomically, write_temporary


@pytest.mark.parametrize(("exact", "mode"), [(False, 0o600), (True, 0o644)])
def test_a_replaced_file_holds_the_new_bytes_and_its_mode_narrowed_unless_exact(
    tmp_path: Path, exact: bool, mode: int
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    previous = os.umask(0o077)  # the server's: narrows 0644 to 0600
    try:
        replace_atomically(target, b"new", 0o644, exact=exact)
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a rename over a directory fails
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError):
        replace_atomically(target, b"new")
    assert (target / "inside").read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_temporary_is_never_written_over_an_existing_file(tmp_path: Path) -> None:
    first = write_temporary(tmp_path, b"a", 0o600, "x")
    second = write_temporary(tmp_path, b"b", 0o600, "x")
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"a", b"b")
    assert first.name.startswith(".x.")
    assert first.name.endswith(".tmp")
