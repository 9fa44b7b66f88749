"""`serve --processes N`: N server processes on one port, each with its own pools.

One Python process serves on one core at a time; N processes use N. The parent binds
nothing: it checks the port is free (as one server would: a port another process holds
is the configuration error of vault/server/listen.py), then starts N `dossier-vault
serve` processes with `VAULT_REUSE_PORT=1`, which the kernel balances connections
between (SO_REUSEPORT), and waits. Each worker watches a pipe whose write end only the
parent holds and stops gracefully when it closes: a parent SIGKILLed leaves no worker
serving nor the port held (vault/server/parent_watch.py). It forwards SIGTERM and
SIGINT to them and returns when all have stopped. A worker that exits unexpectedly is
not restarted: the parent stops the others and exits non-zero (the worker's code, else
1), so the process manager (systemd, the orchestrator) sees the failure and restarts the
whole, rather than a crash loop hidden inside a running service (ADR 0012). Which
worker signs checkpoints and sweeps is settled by the singleton lock
(vault/server/singleton.py).
What it does not: serve (vault/server/app.py).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from types import FrameType

from vault.config import Config
from vault.errors import ConfigurationError
from vault.observability import exposition
from vault.server.listen import ListenAddress, check_available

_log = logging.getLogger(__name__)
WORKER_COMMAND = (sys.executable, "-m", "vault.cli", "serve")


def run_workers(config: Config, processes: int) -> int:
    """Runs `processes` servers on `config.listen` until SIGTERM/SIGINT or one dies;
    returns the exit code for the parent."""
    address = ListenAddress.parse(config.listen)
    if address.port == 0:
        raise ConfigurationError("several server processes need a fixed port in VAULT_LISTEN")
    check_available(address, reuse_port=config.reuse_port)
    metrics = exposition.for_workers(config.metrics_listen)  # the workers' sum, on one port
    workers = _Workers(*os.pipe())  # not inheritable: the write end stays here
    previous = {s: signal.signal(s, workers.forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        env = {**os.environ, **metrics.env, "VAULT_PROCESSES": "1", "VAULT_REUSE_PORT": "1"}
        for _ in range(processes):
            if workers.stopping:
                break
            workers.start(env)
        _log.info(
            "started %d server processes on %s: %s",
            len(workers.children),
            address,
            ", ".join(str(pid) for pid in workers.children),
        )
        return workers.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        metrics.close()
        workers.close()


class _Workers:
    def __init__(self, parent_read: int, parent_write: int) -> None:
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self._pipe = (parent_read, parent_write)

    def start(self, env: dict[str, str]) -> None:
        read_end = self._pipe[0]
        child = subprocess.Popen(  # noqa: S603 (this program)
            [*WORKER_COMMAND, "--parent-fd", str(read_end)], env=env, pass_fds=(read_end,)
        )
        self.children[child.pid] = child

    def close(self) -> None:
        for fd in self._pipe:
            os.close(fd)

    def forward(self, signum: int, _frame: FrameType | None = None) -> None:
        """The signal handler: passes SIGTERM or SIGINT on to every running worker."""
        self.stopping = True
        for child in self.children.values():
            if child.returncode is None:
                child.send_signal(signum)

    def wait(self) -> int:
        """Reaps the workers; the first unexpected exit stops the others."""
        code = 0
        running = set(self.children)
        while running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in running:
                continue
            running.discard(pid)
            exit_code = os.waitstatus_to_exitcode(status)
            self.children[pid].returncode = exit_code  # reaped here, not by Popen
            if not self.stopping:
                _log.error(
                    "server process %d exited unexpectedly (code %d): stopping the others",
                    pid,
                    exit_code,
                )
                code = exit_code if exit_code > 0 else 1
                self.forward(signal.SIGTERM)
            elif exit_code != 0 and code == 0:
                _log.error("server process %d stopped with code %d", pid, exit_code)
                code = exit_code if exit_code > 0 else 1
        return code
