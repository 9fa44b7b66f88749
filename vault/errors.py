"""The vault's one error hierarchy.

Every failure the vault reports is a `VaultError`. Adapters re-raise library errors as
one of these (`raise ... from e`); only the edges (gRPC servicer, CLI) turn them into
status codes and exit codes. Messages are shown to callers and written to logs, so they
must never contain health data, names, INS/NIR or document titles: only opaque ids,
sizes, and fixed wording.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""


class InvalidArgumentError(VaultError):
    """The caller sent something malformed (bad INS, bad id, bad page token...)."""


class UnauthenticatedError(VaultError):
    """The caller's actor assertion is missing, malformed, expired or badly signed."""


class PermissionDeniedError(VaultError):
    """The policy refused the access. Carries the stable reason code of the decision."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"access denied ({reason})")
        self.reason = reason


class NotFoundError(VaultError):
    """The dossier or document does not exist (or is not visible to the caller)."""


class AlreadyExistsError(VaultError):
    """The thing to create exists already (e.g. a second dossier for one patient)."""


class FailedPreconditionError(VaultError):
    """The request is well formed but the system is not in a state that allows it."""


class IntegrityError(VaultError):
    """Stored data failed authentication: tampered, truncated, swapped or corrupt."""


class UnavailableError(VaultError):
    """A dependency (blob store, database, key provider) cannot be reached right now."""


class ConfigurationError(VaultError):
    """The vault's own configuration is wrong (unsafe key file, bad URL...)."""
