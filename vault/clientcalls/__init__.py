"""The families of `vault.client.VaultClient` calls, one module each."""
