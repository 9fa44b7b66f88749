"""Mapping of the grants a dossier's patient side or an operator makes beyond its access
list: care teams (issue 16, item 1) and a deceased holder's heirs (issue 15, item 4).
Generated types stop here, as in `vault.wire`, whose helpers this module shares.
"""

from __future__ import annotations

import uuid

from vault.domain.heirs import HeirGrant, HeirPurpose
from vault.domain.model import CareTeam, MatrixOverride
from vault.errors import InvalidArgumentError
from vault.v1 import vault_pb2 as pb
from vault.wire import category_from_proto, category_to_proto, known, numbering, timestamp_us

_PURPOSE_TO_PROTO, _PURPOSE_FROM_PROTO = numbering(HeirPurpose, pb.HeirPurpose, "HEIR_PURPOSE")


def care_team_to_proto(team: CareTeam) -> pb.CareTeam:
    return pb.CareTeam(
        id=str(team.team_id),
        name=team.name,
        members=list(team.members),
        created_at=timestamp_us(team.created_us),
        expires_at=timestamp_us(team.expires_us),
    )


def care_team_from_proto(dossier_id: uuid.UUID, message: pb.CareTeam) -> CareTeam:
    """A team the vault sent (its id and times set)."""
    return CareTeam(
        dossier_id,
        uuid.UUID(message.id),
        message.name,
        tuple(message.members),
        message.created_at.ToMicroseconds(),
        message.expires_at.ToMicroseconds(),
    )


def heir_purpose_from_proto(number: pb.HeirPurpose.ValueType) -> HeirPurpose:
    return known(_PURPOSE_FROM_PROTO, number, "heir purpose")


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
        granted_at=timestamp_us(grant.granted_us),
        expires_at=timestamp_us(grant.expires_us),
    )


def matrix_override_to_proto(override: MatrixOverride) -> pb.MatrixOverride:
    return pb.MatrixOverride(
        professional=override.subject,
        category=category_to_proto(override.category),
        opened=override.opened,
        created_at=timestamp_us(override.created_us),
    )


def matrix_override_from_proto(dossier_id: uuid.UUID, message: pb.MatrixOverride) -> MatrixOverride:
    return MatrixOverride(
        dossier_id,
        message.professional,
        category_from_proto(message.category),
        message.opened,
        message.created_at.ToMicroseconds(),
    )
