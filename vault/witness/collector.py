"""The vault's side of tlog-witness: collect cosignatures on a new checkpoint, to a quorum.

`Collector.cosign(note, size, tree)` posts the checkpoint to every configured witness at
once (`<url>/add-checkpoint`, c2sp.org/tlog-witness), each with a consistency proof from
the size that witness last cosigned (remembered per witness in memory; 0 at start: a 409
then tells the witness's size, and the request is sent again once with a proof from it).
It keeps each returned cosignature that verifies with that witness's configured key, and
returns the note with them appended if at least `quorum` distinct witnesses cosigned;
otherwise it raises UnavailableError and the checkpointer publishes nothing this round
(it signs again later; appends never wait for it). Every request shares one deadline,
`timeout_seconds` from the start: a witness down or slow costs the publication that long,
nothing more. A witness that answers 409 at the same size (it cosigned another root: a
fork) or 422 is logged as critical and not asked again this round. What it does not:
decide whether a checkpoint is due (vault/journal/checkpointer.py) or verify its own log.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from vault.errors import UnavailableError
from vault.journal.merkle import TreeStore, consistency_ranges
from vault.witness.cosignature import valid_cosigners, with_cosignatures
from vault.witness.protocol import SIZE_CONTENT_TYPE, encode_request
from vault.witness.settings import Witnessing

_log = logging.getLogger(__name__)
_MAX_RESPONSE = 16 * 1024


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    content_type: str
    body: str


class _RefusedError(Exception):
    """This witness will not cosign this checkpoint this round."""


class Collector:
    def __init__(self, witnessing: Witnessing) -> None:
        self._witnessing = witnessing
        self._sizes: dict[str, int] = {}  # url -> the size that witness last cosigned

    def cosign(self, note: str, size: int, tree: TreeStore) -> str:
        """The note with a quorum of cosignatures; UnavailableError short of it."""
        witnesses = self._witnessing.witnesses
        deadline = time.monotonic() + self._witnessing.timeout_seconds
        pool = ThreadPoolExecutor(max_workers=len(witnesses), thread_name_prefix="witness")
        try:
            futures = [pool.submit(self._ask, w.url, note, size, tree, deadline) for w in witnesses]
            done, _ = wait(futures, timeout=self._witnessing.timeout_seconds)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a stuck request ends on its timeout
        lines: list[str] = []
        for future in done:
            if future.exception() is None:
                lines.append(future.result())
        cosigned = with_cosignatures(note, lines)
        count = len(valid_cosigners(cosigned, [w.key for w in witnesses]))
        if count < self._witnessing.quorum:
            raise UnavailableError(
                f"witness quorum not met: {count} of {self._witnessing.quorum} cosignatures; "
                "the checkpoint is not published yet"
            )
        return cosigned

    def _ask(self, url: str, note: str, size: int, tree: TreeStore, deadline: float) -> str:
        """This witness's valid cosignature lines, as one string; raises otherwise."""
        try:
            old = min(self._sizes.get(url, 0), size)
            answer = self._post(url, old, note, size, tree, deadline)
            if answer.status == 409 and answer.content_type.split(";")[0] == SIZE_CONTENT_TYPE:
                old = self._witness_size(url, answer.body, size)
                answer = self._post(url, old, note, size, tree, deadline)
            if answer.status != 200:
                self._refused(url, size, answer)
            self._sizes[url] = size
            return self._valid_lines(url, note, answer.body)
        except _RefusedError:
            raise
        except (OSError, ValueError) as e:  # URLError, timeouts, refused connections
            _log.warning("witness %s unreachable for checkpoint %d: %s", url, size, e)
            raise _RefusedError from None

    def _witness_size(self, url: str, body: str, size: int) -> int:
        old = int(body.strip())
        if not 0 <= old <= size:
            _log.critical(
                "witness %s has cosigned size %d, beyond this log's %d: a fork or a rollback",
                url,
                old,
                size,
            )
            raise _RefusedError
        self._sizes[url] = old
        return old

    @staticmethod
    def _refused(url: str, size: int, answer: _Answer) -> None:
        level = logging.CRITICAL if answer.status in (409, 422) else logging.WARNING
        _log.log(level, "witness %s refused checkpoint %d: HTTP %d", url, size, answer.status)
        raise _RefusedError

    def _valid_lines(self, url: str, note: str, body: str) -> str:
        key = next(w.key for w in self._witnessing.witnesses if w.url == url)
        lines = [line + "\n" for line in body.splitlines() if line.startswith("\u2014 ")]
        valid = [line for line in lines if valid_cosigners(note + line, [key])]
        if not valid:
            _log.warning("witness %s answered without a valid cosignature", url)
            raise _RefusedError
        return "".join(valid)

    @staticmethod
    def _post(
        url: str, old: int, note: str, size: int, tree: TreeStore, deadline: float
    ) -> _Answer:
        proof: Sequence[bytes] = tree.prove(consistency_ranges(old, size)) if old else []
        request = urllib.request.Request(  # noqa: S310 (http(s) URLs only: settings.py)
            url.rstrip("/") + "/add-checkpoint",
            data=encode_request(old, proof, note),
            method="POST",
        )
        timeout = max(0.05, deadline - time.monotonic())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return _Answer(response.status, "", response.read(_MAX_RESPONSE).decode())
        except urllib.error.HTTPError as error:
            body = error.read(_MAX_RESPONSE).decode(errors="replace")
            content_type = error.headers.get("Content-Type", "")
            return _Answer(error.code, content_type, body)
