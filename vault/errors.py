"""The vault's one error hierarchy.

Every failure the vault reports is a `VaultError`. Adapters re-raise library errors as
one of these (`raise ... from e`). Each class carries, as borg's errors do, the stable
gRPC status name and CLI exit code its kind of failure maps to; only the edges (gRPC
servicer, client, CLI) read them. Messages are shown to callers and written to logs, so
they must never contain health data, names, INS/NIR or document titles: only opaque
ids, sizes, and fixed wording.

Each class also carries the stable reason code the gRPC edge puts in the
`google.rpc.ErrorInfo` of its status (docs/api.md lists them all): a kind of failure,
never a fact the access rules hide (a document hidden from the caller is NOT_FOUND,
like one that does not exist). `PermissionDeniedError` carries the policy's reason.
"""

from __future__ import annotations

from typing import ClassVar

ERROR_DOMAIN = "dossier-vault"
"""The `google.rpc.ErrorInfo` domain of every reason code below."""


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""

    grpc_status: ClassVar[str] = "INTERNAL"
    exit_code: ClassVar[int] = 1
    reason_code: ClassVar[str] = "INTERNAL"

    @property
    def error_reason(self) -> str:
        """The stable reason code of this failure (`ErrorInfo.reason`)."""
        return self.reason_code


class InvalidArgumentError(VaultError):
    """The caller sent something malformed (bad INS, bad id, bad page token...).
    `field`, when known, is the path of the request field at fault (`header.size`)."""

    grpc_status = "INVALID_ARGUMENT"
    exit_code = 3
    reason_code = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class UndecodableError(InvalidArgumentError):
    """The request's bytes are not a message of its type (vault/server/decoding.py)."""

    reason_code = "UNDECODABLE"


class OutOfBoundsError(InvalidArgumentError):
    """A request field holds a value past the vault's storage bounds (a 64-bit integer
    above 2^63-1, a NUL character, a timestamp past year 9999)."""

    reason_code = "FIELD_OUT_OF_BOUNDS"


class UnauthenticatedError(VaultError):
    """The caller's actor assertion is missing, malformed, expired or badly signed."""

    grpc_status = "UNAUTHENTICATED"
    exit_code = 4
    reason_code = "UNAUTHENTICATED"


class PermissionDeniedError(VaultError):
    """The policy refused the access. Carries the stable reason code of the decision."""

    grpc_status = "PERMISSION_DENIED"
    exit_code = 5

    reason_code = "PERMISSION_DENIED"

    def __init__(self, reason: str) -> None:
        super().__init__(f"access denied ({reason})")
        self.reason = reason

    @property
    def error_reason(self) -> str:
        """The policy's reason (`no-authorisation`) as a reason code (NO_AUTHORISATION)."""
        return self.reason.upper().replace("-", "_") or self.reason_code


class OutOfRangeError(InvalidArgumentError):
    """A well-formed position past the end (a byte range beyond the document)."""

    grpc_status = "OUT_OF_RANGE"
    exit_code = 3
    reason_code = "OUT_OF_RANGE"


class NotFoundError(VaultError):
    """The dossier or document does not exist (or is not visible to the caller). One
    reason code for all: which of the two it was is what the access rules hide."""

    grpc_status = "NOT_FOUND"
    exit_code = 6
    reason_code = "NOT_FOUND"


class AlreadyExistsError(VaultError):
    """The thing to create exists already (e.g. a second dossier for one patient)."""

    grpc_status = "ALREADY_EXISTS"
    exit_code = 7
    reason_code = "ALREADY_EXISTS"


class FailedPreconditionError(VaultError):
    """The request is well formed but the system is not in a state that allows it."""

    grpc_status = "FAILED_PRECONDITION"
    exit_code = 8
    reason_code = "FAILED_PRECONDITION"


class ConflictError(VaultError):
    """A concurrent change won: the document moved on since the caller read it (a newer
    version, a visibility changed meanwhile). Read again, then retry."""

    grpc_status = "ABORTED"
    exit_code = 15
    reason_code = "CONFLICT"


class IntegrityError(VaultError):
    """Stored data failed authentication: tampered, truncated, swapped or corrupt."""

    grpc_status = "DATA_LOSS"
    exit_code = 9
    reason_code = "DATA_LOSS"


class JournalEntryTooLargeError(VaultError):
    """A journal event whose entry would exceed the format's maximum size (docs/format.md,
    "Journal entry v1"): a bug in whoever built it (entries are bounded by construction),
    never written; INTERNAL."""


class UnavailableError(VaultError):
    """A dependency (blob store, database, key provider) cannot be reached right now."""

    grpc_status = "UNAVAILABLE"
    exit_code = 10
    reason_code = "UNAVAILABLE"


class StreamIdleError(VaultError):
    """A stream sent nothing for longer than the server waits (VAULT_STREAM_IDLE_SECONDS):
    the server ended it and kept nothing of it."""

    grpc_status = "DEADLINE_EXCEEDED"
    exit_code = 16
    reason_code = "STREAM_IDLE"


class ResourceExhaustedError(VaultError):
    """The server is at a bound it keeps (the memory of uploads in flight): retry later."""

    grpc_status = "RESOURCE_EXHAUSTED"
    exit_code = 17
    reason_code = "RESOURCE_EXHAUSTED"


class DocumentTooLargeError(ResourceExhaustedError):
    """A document version's content is past `VAULT_MAX_DOCUMENT_MIB`: refused as the
    stream crosses it, nothing kept. Retrying does not help."""

    reason_code = "DOCUMENT_TOO_LARGE"


class DossierQuotaExceededError(ResourceExhaustedError):
    """A dossier's live versions would hold more than `VAULT_MAX_DOSSIER_GIB` of content:
    the upload is refused, nothing kept. Retrying does not help until space is freed."""

    reason_code = "DOSSIER_QUOTA_EXCEEDED"


class ConfigurationError(VaultError):
    """The vault's own configuration is wrong (unsafe key file, bad URL...)."""

    grpc_status = "INTERNAL"
    exit_code = 11


class SchemaVersionError(ConfigurationError):
    """A database's schema is not the one this vault needs: behind (run `dossier-vault db
    upgrade`), made by a newer vault, or differing from the models after an upgrade."""

    exit_code = 12


def reason_codes() -> frozenset[str]:
    """Every reason code an error class gives (the policy's, through
    `PermissionDeniedError`, are listed by vault.domain.policy.Reason)."""
    return frozenset(kind.reason_code for kind in error_classes())


def error_classes() -> list[type[VaultError]]:
    """Every error class, base first (for exit-code listings and status lookups)."""
    found: list[type[VaultError]] = [VaultError]
    for kind in found:
        found.extend(kind.__subclasses__())
    return found
