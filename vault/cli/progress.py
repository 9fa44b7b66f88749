"""`Progress`: one progress line on stderr, redrawn at most four times a second, shown only
when stderr is a terminal and the command prints no JSON. Used by `doc put`, `doc get`,
`dossier export` (bytes moved) and `journal verify` (lines checked). It prints nothing
else and never touches stdout, where a command's data goes."""

from __future__ import annotations

import sys
import time

_REDRAW_SECONDS = 0.25


class Progress:
    def __init__(self, total: int | None, *, enabled: bool = True) -> None:
        self.total = total
        self._enabled = enabled and sys.stderr.isatty()
        self._shown = 0.0

    def __call__(self, done: int, detail: str | None = None) -> None:
        """`done` units of `total` (bytes, unless `detail` says what was done)."""
        now = time.monotonic()
        if not self._enabled or now - self._shown < _REDRAW_SECONDS:
            return
        self._shown = now
        share = f"{100 * min(done, self.total) / self.total:5.1f}% " if self.total else ""
        line = f"{share}{detail if detail is not None else _mib(done)}"
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Clears the line (a no-op when nothing was shown)."""
        if self._enabled and self._shown:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def _mib(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB"
