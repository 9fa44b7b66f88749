"""Dossier Vault: encrypted, journaled storage for the French shared medical record (DMP).

Public entry points: `vault.client.VaultClient` (typed gRPC client), `vault.service.Vault`
(the application service that the gRPC edge drives), `vault.errors` (the one error tree).
"""

__version__ = "0.1.0"
