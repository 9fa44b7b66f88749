"""The gRPC edge: the `vault.v1.DossierVault` service on grpc.aio, with health checking
and reflection. `servicer` authenticates each call, drives `vault.service.Vault` in a
thread pool and maps errors to status codes (messages through `vault.wire`); `app` wires
the adapters from a `Config` and runs the server.
"""
