"""`DossierVaultServicer`: the grpc.aio implementation of `vault.v1.DossierVault`.

One handler per RPC of protos/vault/v1/vault.proto, grouped by concept in
`vault.server.rpcs` (dossiers, uploads, documents, access, journal, heirs,
notifications); this class composes
them and holds what they share. Each handler maps the request to domain values
(`vault.wire`), calls a use case of `vault.service.Vault` and maps its result back. Every
handler runs through `Calls` (vault/server/calls.py), which gives the call a request id,
authenticates its bearer token, journals the refusals the service did not, turns errors
into status codes and runs blocking work in the bounded thread pool. What the handlers
add is streaming: an upload writes each chunk in the pool while the next one arrives, a
download reads the next segment ahead, the journal export sends lines in batches.
"""

from __future__ import annotations

from concurrent.futures import Executor

from vault.auth import TokenVerifier
from vault.server.budget import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_CONNECTION_BUDGET_BYTES,
    DEFAULT_IDLE_SECONDS,
    DEFAULT_WAIT_SECONDS,
    UploadBudget,
)
from vault.server.calls import Calls
from vault.server.rpcs.access import AccessRpcs
from vault.server.rpcs.documents import DocumentRpcs
from vault.server.rpcs.dossiers import DossierRpcs
from vault.server.rpcs.heirs import HeirRpcs
from vault.server.rpcs.journal import JournalRpcs
from vault.server.rpcs.notifications import NotificationRpcs
from vault.server.rpcs.uploads import UploadRpcs
from vault.service import Vault
from vault.v1 import vault_pb2_grpc


class DossierVaultServicer(
    DossierRpcs,
    UploadRpcs,
    DocumentRpcs,
    AccessRpcs,
    JournalRpcs,
    HeirRpcs,
    NotificationRpcs,
    vault_pb2_grpc.DossierVaultServicer,
):
    def __init__(
        self,
        vault: Vault,
        verifier: TokenVerifier,
        executor: Executor,
        *,
        budget: UploadBudget | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self._vault = vault
        self._executor = executor
        self._budget = budget or UploadBudget(
            DEFAULT_BUDGET_BYTES, DEFAULT_CONNECTION_BUDGET_BYTES, DEFAULT_WAIT_SECONDS
        )
        self._idle_seconds = idle_seconds
        self._calls = Calls(vault.record_refusal, verifier, executor)
