"""What one vault call costs beside its time: the vault server's CPU and the S3
requests it sent, for `bench.bench_s3`.

- CPU: the sum over the server's threads of the time each ran on a CPU
  (`/proc/<pid>/task/*/schedstat`, nanoseconds), read just before and just after the
  call; background work the call started counts as long as it ran by the call's end.
  A thread that exits between the two reads takes its time with it (the server's pools
  keep theirs).
- S3 requests (when asked: `log` set): the vault server is started with
  `bench/s3_counter` on its PYTHONPATH, which logs one line per request its botocore
  sessions send (the operation's name); a call's requests are the lines written between
  the two reads. A request the server sends after answering (none is expected) counts
  for the next call. Each line is a write(2), which releases the GIL in the server: a
  wait for it under contention, so timing runs leave the count out.

Linux only (/proc). What it does not: time anything (bench_s3 does).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

COUNTER_DIR = Path(__file__).parent / "s3_counter"
REQUESTS_LOG_VARIABLE = "VAULT_BENCH_S3_REQUESTS"


def counting_env(log: Path) -> dict[str, str]:
    """The environment that has a Python process log its S3 requests to `log`."""
    path = os.environ.get("PYTHONPATH")
    return {
        "PYTHONPATH": f"{COUNTER_DIR}{os.pathsep}{path}" if path else str(COUNTER_DIR),
        REQUESTS_LOG_VARIABLE: str(log),
    }


def cpu_ns(pid: int) -> int:
    """CPU time of the process's live threads so far, in nanoseconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited meanwhile
    return total


@dataclass
class CallCosts:
    """CPU (ms) and S3 requests of each call measured, per kind of call."""

    pid: int
    log: Path | None  # None: requests not counted
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, list[Counter[str]]] = field(default_factory=dict)
    _offset: int = 0
    _cpu: int = 0

    def start(self) -> None:
        self._offset = self._log_size()
        self._cpu = cpu_ns(self.pid)

    def stop(self, kind: str) -> None:
        cpu = cpu_ns(self.pid) - self._cpu
        sent: Counter[str] = Counter()
        if self.log is not None and self.log.exists():
            with self.log.open("rb") as lines:
                lines.seek(self._offset)
                sent.update(line.decode().strip() for line in lines.read().splitlines())
        self.cpu_ms.setdefault(kind, []).append(cpu / 1e6)
        self.requests.setdefault(kind, []).append(sent)

    def _log_size(self) -> int:
        return self.log.stat().st_size if self.log is not None and self.log.exists() else 0

    def reset(self) -> None:
        self.cpu_ms.clear()
        self.requests.clear()


def requests_per_call(calls: list[Counter[str]]) -> dict[str, float]:
    """Mean requests per call, by S3 operation."""
    total: Counter[str] = Counter()
    for sent in calls:
        total.update(sent)
    return {operation: count / len(calls) for operation, count in sorted(total.items())}
