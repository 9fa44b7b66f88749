"""Running the server: grpc.aio on its port, health, reflection, signals.

`serve` builds the service (vault/composition.py) and runs it until cancelled, on a
plaintext port or, with `VAULT_TLS_*`, a TLS one (vault/server/tls_credentials.py), with the
periodic tasks (checkpoints, key refresh, sweeps, dependency probes behind the health
service: vault/server/probes.py), blocking work in the call compartments
(vault/server/bulkheads.py). The port is this process's alone unless `VAULT_REUSE_PORT`
shares it within the deployment (vault/server/listen.py); of the deployment's
processes, the one holding the singleton lock (vault/server/singleton.py) signs the
checkpoints and sweeps (ADR 0012). Every call is logged and, with `VAULT_METRICS_LISTEN`,
counted (vault/observability/, ADR 0015). `BackgroundServer` runs one in a
thread of the calling process (tests and benchmarks use it to get a real server on an
ephemeral port). What it does not: build adapters (vault/composition.py) or handle a
request (vault/server/servicer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from vault.auth import TokenVerifier, load_or_create_dev_issuer, load_public_key
from vault.claims import load_providers
from vault.composition import Components, build
from vault.config import Config
from vault.errors import ConfigurationError, VaultError
from vault.journal.checkpointer import Checkpointer
from vault.observability import exposition, tracing
from vault.observability.interceptor import ObservingInterceptor
from vault.observability.metrics import VaultMetrics
from vault.server import parent_watch, probes, singleton, tls_credentials
from vault.server.budget import MIB, UploadBudget
from vault.server.bulkheads import Bulkheads, Compartment, CompartmentInterceptor
from vault.server.chain import RebuiltOnce
from vault.server.decoding import DecodingInterceptor
from vault.server.handlers import RebuildingInterceptor
from vault.server.listen import ListenAddress, check_available
from vault.server.malloc_arenas import trim_heap
from vault.server.reflection import enable_reflection
from vault.server.servicer import DossierVaultServicer
from vault.sweeper import Sweeper
from vault.tls_material import ClientKinds
from vault.v1 import vault_pb2, vault_pb2_grpc

_log = logging.getLogger(__name__)
SERVICE_NAME = vault_pb2.DESCRIPTOR.services_by_name["DossierVault"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 64 * 1024  # a 4 MiB chunk and its envelope


def _verifier(config: Config, client_kinds: ClientKinds | None) -> TokenVerifier:
    providers = {}
    if config.token_providers_file is not None:
        providers = load_providers(config.token_providers_file)
    if config.token_public_keys or providers:
        keys = [load_public_key(path) for path in config.token_public_keys]
    else:
        keys = [load_or_create_dev_issuer(config.data_dir).public_key()]
        _log.warning("trusting the DEVELOPMENT token issuer in %s", config.data_dir)
    return TokenVerifier.from_keys(
        keys, config.token_issuer, config.token_audience, client_kinds, providers
    )


def _add_port(
    server: grpc.aio.Server, config: Config, server_tls: tls_credentials.ServerTls | None
) -> int:
    tls_credentials.warn_if_exposed(config.listen, config.tls)
    try:
        if server_tls is None:
            port = server.add_insecure_port(config.listen)
        else:
            port = server.add_secure_port(config.listen, server_tls.credentials)
    except RuntimeError:  # gRPC's "failed to bind": taken since check_available
        port = 0
    if port == 0:
        raise ConfigurationError(f"cannot listen on {config.listen}")
    return port


def _upload_budget(config: Config, executor: Bulkheads) -> UploadBudget:
    """The upload memory budget (ADR 0011); the heap is trimmed in the general pool after
    waves (a full pool skips a trim: the next wave asks again)."""

    def trim() -> None:
        with contextlib.suppress(VaultError):
            executor.general.submit(trim_heap)

    return UploadBudget(
        int(config.upload_budget_mib * MIB),
        int(config.upload_connection_budget_mib * MIB),
        config.upload_budget_wait_seconds,
        trim=trim,
    )


def _transport(server_tls: tls_credentials.ServerTls | None) -> str:
    if server_tls is None:
        return "plaintext"
    if server_tls.client_kinds is None:
        return "TLS"
    return "mutual TLS, client certificates required"


async def _periodically(
    name: str,
    task: Callable[[], object],
    every_seconds: float,
    executor: Executor,
    stop: asyncio.Event,
) -> None:
    """Runs `task` in the pool every `every_seconds` (the first run after one period)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
        if stop.is_set():
            return
        try:
            await loop.run_in_executor(executor, task)
        except Exception:  # a periodic task must outlive any one failure
            _log.exception("%s failed; will retry", name)


async def _checkpoint_loop(
    checkpointer: Checkpointer,
    lock: singleton.SingletonLock,
    executor: Executor,
    stop: asyncio.Event,
) -> None:
    """Polls the singleton lock every second and, while this process holds it, signs
    checkpoints as they fall due (`checkpoint_every` entries or seconds)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            held_before = lock.held
            if await loop.run_in_executor(executor, lock.poll):
                if not held_before:
                    _log.info(
                        "process %d holds the singleton lock: it signs the journal "
                        "checkpoints and sweeps",
                        os.getpid(),
                    )
                await loop.run_in_executor(executor, checkpointer.maybe_checkpoint)
        except Exception:  # a periodic task must outlive any one failure
            _log.exception("journal checkpoint failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def _bulkheads(config: Config) -> Bulkheads:
    """The call compartments (docs/adr/0010): blob-store calls apart from the others."""
    return Bulkheads(
        Compartment("general", config.workers, config.worker_queue),
        Compartment("blob", config.blob_workers, config.blob_queue),
    )


def _probes(config: Config, components: Components) -> probes.Probes:
    """The index, the journal (if it has a database of its own) and the blob store."""
    index, journal = components.engines
    checks = [probes.Probe("index", probes.select_one(index))]
    if config.journal_url != config.index_url:
        checks.append(probes.Probe("journal", probes.select_one(journal)))
    if components.blobs is not None:
        checks.append(probes.Probe("blob store", components.blobs.probe))
    return probes.Probes(checks, config.health_probe_timeout_seconds)


def _sweep_if_held(
    lock: singleton.SingletonLock,
    sweeper: Sweeper,
    grace: timedelta,
    metrics: VaultMetrics | None = None,
) -> None:
    if not lock.held:
        return
    try:
        report = sweeper.sweep(grace)
    except Exception as error:
        if metrics is not None:
            metrics.sweep(None, error)
        raise
    if metrics is not None:
        metrics.sweep(
            {
                "pending_discarded": report.pending_discarded,
                "incomplete_writes_removed": report.incomplete_writes_removed,
                "orphan_blobs_deleted": report.orphan_blobs_deleted,
                "blobs_protected": report.blobs_protected,
            },
            None,
        )


def _final_checkpoint(lock: singleton.SingletonLock, checkpointer: Checkpointer) -> None:
    """Signs the tail if this process holds the lock or gets it within 5 seconds (all
    the deployment's processes stopping at once: each signs the tail after its own last
    append, one at a time); else the holder signs it in its next round."""
    if singleton.wait_for(lock, seconds=5.0):
        checkpointer.checkpoint()
    else:
        _log.info("the singleton lock's holder signs the tail of this run")


async def serve(
    config: Config,
    started: threading.Event | None = None,
    bound: list[int] | None = None,
    stop: asyncio.Event | None = None,
    metrics_bound: list[int] | None = None,
    parent_fd: int | None = None,
) -> None:
    """Runs the server until `stop` is set (default: until SIGTERM or SIGINT), then
    stops gracefully: health turns
    NOT_SERVING, calls in flight get 5 seconds, and a last journal checkpoint is signed
    (by the singleton lock's holder, or by a process that gets it within 5 seconds). A
    malformed address or a port another process holds, the gRPC port or the metrics
    port (`VAULT_METRICS_LISTEN`, whose port goes to `metrics_bound`), is a
    ConfigurationError before anything is built. A worker of `serve --processes N`
    also stops when `parent_fd`, its parent's pipe, closes (vault/server/parent_watch.py)."""
    check_available(ListenAddress.parse(config.listen), reuse_port=config.reuse_port)
    server_tls = tls_credentials.load(config.tls) if config.tls is not None else None  # fail early
    observed = exposition.for_server(config.metrics_listen)
    metrics = observed.metrics
    try:
        with singleton.starting(config.data_dir):  # the first creates keys and schema
            if config.tracing:
                tracing.enable()
            instruments = metrics.instruments() if metrics is not None else None
            components = build(config, tracing.instruments(instruments))
            client_kinds = server_tls.client_kinds if server_tls is not None else None
            verifier = _verifier(config, client_kinds)
    except BaseException:
        observed.close()
        raise
    if metrics_bound is not None and observed.port is not None:
        metrics_bound.append(observed.port)
    executor = _bulkheads(config)
    interceptors: list[RebuildingInterceptor] = [
        ObservingInterceptor(metrics),  # first: its duration covers the others
        CompartmentInterceptor(),
        DecodingInterceptor(SERVICE_NAME),
    ]
    if client_kinds is not None:
        interceptors.insert(1, tls_credentials.PeerInterceptor())
    server = grpc.aio.server(
        interceptors=[RebuiltOnce(interceptors)],  # each method's handler built once
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1 if config.reuse_port else 0),
        ],
    )
    vault_pb2_grpc.add_DossierVaultServicer_to_server(
        DossierVaultServicer(
            components.vault,
            verifier,
            executor,
            budget=_upload_budget(config, executor),
            idle_seconds=config.stream_idle_seconds,
        ),
        server,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection((SERVICE_NAME, health.SERVICE_NAME), server)
    port = _add_port(server, config, server_tls)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = config.listen.rsplit(":", 1)[0]
    _log.info(
        "dossier-vault listening on %s:%d, %s (data directory %s, process %d)",
        host,
        port,
        _transport(server_tls),
        config.data_dir.resolve(),
        os.getpid(),
    )
    if bound is not None:
        bound.append(port)
    if started is not None:
        started.set()
    if stop is None:  # running as the process's server: stop gracefully on a signal
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    if parent_fd is not None:
        parent_watch.watch(parent_fd, stop)
    lock = singleton.for_config(config)
    background = [
        asyncio.create_task(_checkpoint_loop(components.checkpointer, lock, executor, stop))
    ]
    background.append(
        asyncio.create_task(
            _periodically(
                "key refresh",
                components.refresh_keys,
                config.key_refresh_seconds,
                executor,
                stop,
            )
        )
    )  # new wraps use a new master version within a minute of a rotation
    if config.gc_interval_seconds > 0:
        grace = timedelta(seconds=config.gc_grace_seconds)
        background.append(
            asyncio.create_task(
                _periodically(
                    "sweep",
                    functools.partial(_sweep_if_held, lock, components.sweeper, grace, metrics),
                    config.gc_interval_seconds,
                    executor.blob,  # the sweep talks to the blob store too
                    stop,
                )
            )
        )
    dependencies = _probes(config, components)
    if config.health_probe_seconds > 0:
        background.append(
            asyncio.create_task(
                probes.watch(
                    dependencies,
                    health_servicer,
                    ("", SERVICE_NAME),
                    config.health_probe_seconds,
                    stop,
                )
            )
        )
    try:
        await stop.wait()
        _log.info("stopping: draining calls in flight")
    finally:
        stop.set()
        await health_servicer.enter_graceful_shutdown()
        await server.stop(grace=5)
        await asyncio.gather(*background, return_exceptions=True)
        components.close_journal()  # every journal append has committed
        try:  # a last checkpoint covers the tail of this run
            await asyncio.get_running_loop().run_in_executor(
                executor, _final_checkpoint, lock, components.checkpointer
            )
        except VaultError:
            _log.exception("final journal checkpoint failed")
        finally:
            lock.release()
        executor.shutdown(wait=True)
        dependencies.close()
        components.close()
        observed.close()


@dataclass
class BackgroundServer:
    """A real server on its own event loop in a thread of this process."""

    config: Config
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._bound: list[int] = []
        self._metrics_bound: list[int] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="vault-server", daemon=True)

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(
                serve(self.config, self._started, self._bound, self._stop, self._metrics_bound)
            )
        except BaseException as error:
            self._error = error
            self._started.set()

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._started.wait(timeout=30)
        if self._error is not None:
            raise self._error
        self.port = self._bound[0]
        return self

    @property
    def metrics_port(self) -> int | None:
        """The metrics port (`VAULT_METRICS_LISTEN`), None when metrics are off."""
        return self._metrics_bound[0] if self._metrics_bound else None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
