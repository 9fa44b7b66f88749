"""What the families of `VaultClient` calls share: the stub, the call metadata and the
mapping of gRPC errors to the vault's own `VaultError` subclasses, chosen by status code.

`vault.client.VaultClient` composes the families of this package (access, lifecycle) with
its own document calls and sets these attributes.
"""

from __future__ import annotations

from typing import Any

import grpc

from vault.errors import PermissionDeniedError, UnavailableError, VaultError, error_classes
from vault.v1 import vault_pb2_grpc

_ERROR_OF: dict[str, type[VaultError]] = {
    kind.grpc_status: kind for kind in reversed(error_classes()) if kind.grpc_status != "INTERNAL"
}
_ERROR_OF["DEADLINE_EXCEEDED"] = UnavailableError


def vault_error(error: grpc.RpcError) -> VaultError:
    code: grpc.StatusCode = error.code()
    details: str = error.details() or code.name
    if code is grpc.StatusCode.PERMISSION_DENIED:
        reason = details.partition("(")[2].rstrip(")") or "denied"
        return PermissionDeniedError(reason)
    return _ERROR_OF.get(code.name, VaultError)(details)


class CallsBase:
    _stub: vault_pb2_grpc.DossierVaultStub
    _metadata: tuple[tuple[str, str], ...]
    _timeout: float | None

    def _call(self, method: Any, request: Any) -> Any:
        """A unary or client-streaming call; gRPC errors become the vault's own."""
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as error:
            raise vault_error(error) from None
