"""The vault's one error hierarchy.

Every failure the vault reports is a `VaultError`. Adapters re-raise library errors as
one of these (`raise ... from e`). Each class carries, as borg's errors do, the stable
gRPC status name and CLI exit code its kind of failure maps to; only the edges (gRPC
servicer, client, CLI) read them. Messages are shown to callers and written to logs, so
they must never contain health data, names, INS/NIR or document titles: only opaque
ids, sizes, and fixed wording.
"""

from __future__ import annotations

from typing import ClassVar


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""

    grpc_status: ClassVar[str] = "INTERNAL"
    exit_code: ClassVar[int] = 1


class InvalidArgumentError(VaultError):
    """The caller sent something malformed (bad INS, bad id, bad page token...)."""

    grpc_status = "INVALID_ARGUMENT"
    exit_code = 3


class UnauthenticatedError(VaultError):
    """The caller's actor assertion is missing, malformed, expired or badly signed."""

    grpc_status = "UNAUTHENTICATED"
    exit_code = 4


class PermissionDeniedError(VaultError):
    """The policy refused the access. Carries the stable reason code of the decision."""

    grpc_status = "PERMISSION_DENIED"
    exit_code = 5

    def __init__(self, reason: str) -> None:
        super().__init__(f"access denied ({reason})")
        self.reason = reason


class OutOfRangeError(InvalidArgumentError):
    """A well-formed position past the end (a byte range beyond the document)."""

    grpc_status = "OUT_OF_RANGE"
    exit_code = 3


class NotFoundError(VaultError):
    """The dossier or document does not exist (or is not visible to the caller)."""

    grpc_status = "NOT_FOUND"
    exit_code = 6


class AlreadyExistsError(VaultError):
    """The thing to create exists already (e.g. a second dossier for one patient)."""

    grpc_status = "ALREADY_EXISTS"
    exit_code = 7


class FailedPreconditionError(VaultError):
    """The request is well formed but the system is not in a state that allows it."""

    grpc_status = "FAILED_PRECONDITION"
    exit_code = 8


class ConflictError(VaultError):
    """A concurrent change won: the document moved on since the caller read it (a newer
    version, a visibility changed meanwhile). Read again, then retry."""

    grpc_status = "ABORTED"
    exit_code = 15


class IntegrityError(VaultError):
    """Stored data failed authentication: tampered, truncated, swapped or corrupt."""

    grpc_status = "DATA_LOSS"
    exit_code = 9


class UnavailableError(VaultError):
    """A dependency (blob store, database, key provider) cannot be reached right now."""

    grpc_status = "UNAVAILABLE"
    exit_code = 10


class StreamIdleError(VaultError):
    """A stream sent nothing for longer than the server waits (VAULT_STREAM_IDLE_SECONDS):
    the server ended it and kept nothing of it."""

    grpc_status = "DEADLINE_EXCEEDED"
    exit_code = 16


class ResourceExhaustedError(VaultError):
    """The server is at a bound it keeps (the memory of uploads in flight): retry later."""

    grpc_status = "RESOURCE_EXHAUSTED"
    exit_code = 17


class ConfigurationError(VaultError):
    """The vault's own configuration is wrong (unsafe key file, bad URL...)."""

    grpc_status = "INTERNAL"
    exit_code = 11


class SchemaVersionError(ConfigurationError):
    """A database's schema is not the one this vault needs: behind (run `dossier-vault db
    upgrade`), made by a newer vault, or differing from the models after an upgrade."""

    exit_code = 12


def error_classes() -> list[type[VaultError]]:
    """Every error class, base first (for exit-code listings and status lookups)."""
    found: list[type[VaultError]] = [VaultError]
    for kind in found:
        found.extend(kind.__subclasses__())
    return found
