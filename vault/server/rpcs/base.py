"""`Rpcs`: what every family of handlers shares, the vault's use cases and the call runner.

The handlers of `vault.v1.DossierVault` are grouped by concept in this package (dossiers,
uploads, documents, access, journal), each family a mixin of `Rpcs`;
`vault.server.servicer.DossierVaultServicer` composes them and sets these attributes.
"""

from __future__ import annotations

from vault.server.calls import Calls
from vault.service import Vault


class Rpcs:
    _vault: Vault
    _calls: Calls
