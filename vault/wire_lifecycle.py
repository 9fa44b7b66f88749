"""Wire mapping of the lifecycle's edges (issue 15, items 4 and 5): who opens a dossier
(`CreationMode`) and a deceased holder's heirs (`HeirPurpose`, `HeirGrant`). The rest of
the wire mapping is `vault.wire`; this module only adds these, the same way.
"""

from __future__ import annotations

from vault.domain.heirs import HeirGrant, HeirPurpose
from vault.domain.model import CreationMode
from vault.errors import InvalidArgumentError
from vault.v1 import vault_pb2 as pb
from vault.wire import _known, _numbering, _timestamp_us

_MODE_TO_PROTO, _MODE_FROM_PROTO = _numbering(CreationMode, pb.CreationMode, "CREATION_MODE")
_PURPOSE_TO_PROTO, _PURPOSE_FROM_PROTO = _numbering(HeirPurpose, pb.HeirPurpose, "HEIR_PURPOSE")


def creation_mode_from_proto(number: pb.CreationMode.ValueType) -> CreationMode:
    return _known(_MODE_FROM_PROTO, number, "creation mode")


def creation_mode_to_proto(mode: CreationMode) -> pb.CreationMode.ValueType:
    return _MODE_TO_PROTO[mode]


def heir_purpose_from_proto(number: pb.HeirPurpose.ValueType) -> HeirPurpose:
    return _known(_PURPOSE_FROM_PROTO, number, "heir purpose")


def heir_purpose_to_proto(purpose: HeirPurpose) -> pb.HeirPurpose.ValueType:
    return _PURPOSE_TO_PROTO[purpose]


def expiry_us(request: pb.GrantHeirAccessRequest) -> int:
    """A grant's expiry, required."""
    if not request.HasField("expires_at"):
        raise InvalidArgumentError("an heir's access needs its expiry")
    return int(request.expires_at.ToMicroseconds())


def heir_grant_to_proto(grant: HeirGrant) -> pb.HeirGrant:
    return pb.HeirGrant(
        grant_id=grant.grant_id,
        dossier_id=str(grant.dossier_id),
        heir=grant.heir,
        purpose=_PURPOSE_TO_PROTO[grant.purpose],
        request_reference=grant.request_reference,
        granted_at=_timestamp_us(grant.granted_us),
        expires_at=_timestamp_us(grant.expires_us),
    )
