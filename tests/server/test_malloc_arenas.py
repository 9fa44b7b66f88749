"""The server caps glibc's malloc arenas (vault/server/malloc_arenas.py), unless told otherwise.

What it stops: the cap silently not applying on the C library the server runs on, and
overriding an operator's own MALLOC_ARENA_MAX."""

from __future__ import annotations

import platform

import pytest

from vault.server.malloc_arenas import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_arena_cap_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas()


def test_an_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas()
