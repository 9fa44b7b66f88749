"""The handlers of `vault.v1.DossierVault`, one module per family of RPCs."""
