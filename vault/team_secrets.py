"""A care team's name under its dossier key: a sealed box (docs/format.md, "Sealed box
v1", use "care team name") whose associated data binds it to its dossier, team and
dossier key version, so a name moved to another team or dossier fails to open. The
plaintext is the name in UTF-8, nothing else. A team's name says what care the patient
gets (a psychiatry service, an addiction centre): it dies with the dossier key and is
never in clear in the index.
"""

from __future__ import annotations

import uuid

from vault.crypto import sealed
from vault.errors import IntegrityError


def _aad(dossier_id: uuid.UUID, team_id: uuid.UUID, key_version: int) -> bytes:
    return sealed.CARE_TEAM_NAME_LABEL + sealed.care_team_context(dossier_id, team_id, key_version)


def seal_team_name(
    dossier_key: bytes, dossier_id: uuid.UUID, team_id: uuid.UUID, key_version: int, name: str
) -> bytes:
    return sealed.seal(dossier_key, name.encode(), _aad(dossier_id, team_id, key_version))


def open_team_name(
    dossier_key: bytes, dossier_id: uuid.UUID, team_id: uuid.UUID, key_version: int, box: bytes
) -> str:
    plaintext = sealed.open_sealed(dossier_key, box, _aad(dossier_id, team_id, key_version))
    try:
        return plaintext.decode()
    except UnicodeDecodeError:
        raise IntegrityError("a sealed care team name is not UTF-8") from None
