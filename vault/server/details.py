"""Status details: the `google.rpc.Status` a refused call carries in its
`grpc-status-details-bin` trailer (Google AIP-193), so a client in any language reads a
stable reason code instead of parsing a message.

Every status holds a `google.rpc.ErrorInfo` (domain `dossier-vault`, the error's reason
code: docs/api.md lists them); bad input (INVALID_ARGUMENT, OUT_OF_RANGE) also holds a
`google.rpc.BadRequest` with one field violation (the request field's path when known,
and the error's message, which never carries the value). The details are a function of
the error alone, with no request id (that is in the `x-request-id` metadata): two
refusals the access rules must make alike (a hidden document, a missing one) are
byte-identical.

What it does not: choose a reason (vault/errors.py, the policy's reason for a denial),
or send the status (vault/server/calls.py).
"""

from __future__ import annotations

import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
import grpc
from google.protobuf import any_pb2
from grpc_status import rpc_status

from vault.errors import ERROR_DOMAIN, InvalidArgumentError, VaultError

INTERNAL_REASON = VaultError.reason_code


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(code: grpc.StatusCode, message: str, error: VaultError | None) -> grpc.Status:
    """The status to answer with: `code` and `message`, and in its trailer the details
    of `error` (None for a failure that is not the vault's own: INTERNAL)."""
    reason = error.error_reason if error is not None else INTERNAL_REASON
    details = [_packed(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))]
    if isinstance(error, InvalidArgumentError):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=message
        )
        details.append(_packed(error_details_pb2.BadRequest(field_violations=[violation])))
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    return rpc_status.to_status(status)
