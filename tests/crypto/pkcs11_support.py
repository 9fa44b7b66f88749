"""Helpers for the PKCS#11 tests (fixtures live in conftest.py): a dossier key and its
context, and planting keys whose value the test knows."""

from __future__ import annotations

import uuid
from typing import Any

from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.types import Session

from vault.crypto import sealed

DOSSIER_A, DOSSIER_B = uuid.UUID(int=10), uuid.UUID(int=11)
KEY = bytes(range(32))
CONTEXT = sealed.dossier_key_context(DOSSIER_A, 1)


def plant_secret_key(
    session: Session, label: str, key_type: KeyType, value: bytes, **flags: bool
) -> None:
    """Imports a key whose value the test knows (the provider never does this)."""
    template: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: key_type,
        Attribute.VALUE: value,
        Attribute.LABEL: label,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
    }
    template.update({getattr(Attribute, name.upper()): value for name, value in flags.items()})
    session.create_object(template)
