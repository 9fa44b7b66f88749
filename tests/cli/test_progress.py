"""`Progress`: one line on a terminal's stderr, nothing anywhere else."""

from __future__ import annotations

import io
import sys

import pytest

from vault.cli.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_it_shows_the_share_then_clears_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    shown = Progress(4 * 2**20)
    shown(3 * 2**20)
    shown(5 * 2**20)  # past the total (an archive's overhead): never over 100%
    shown.close()
    assert " 75.0% 3.0 MiB" in terminal.getvalue()
    assert "100.0%" not in terminal.getvalue()  # redrawn at most four times a second
    assert terminal.getvalue().endswith("\r" + " " * 40 + "\r")


def test_it_prints_nothing_off_a_terminal_or_for_json(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    Progress(10)(5)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    quiet = Progress(10, enabled=False)
    quiet(5)
    quiet.close()
    assert piped.getvalue() == ""
    assert terminal.getvalue() == ""
