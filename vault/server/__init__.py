"""The gRPC edge: the `vault.v1.DossierVault` service on grpc.aio, with health checking
and reflection. `servicer` authenticates each call, drives `vault.service.Vault` in a
thread pool and maps errors to status codes (messages through `vault.wire`); `app` runs
the server over what vault/composition.py builds from a `Config`.
"""
