"""The bearer tokens' default issuer and audience, apart from vault/auth.py so that
`vault.config` reads them without loading PyJWT (or gRPC, through vault/tls_material.py).

What it does not: verify or mint tokens (vault/auth.py).
"""

DEFAULT_AUDIENCE = "dossier-vault"
DEV_ISSUER = "dossier-vault-dev"
