"""The gRPC edge: the `vault.v1.DossierVault` service on grpc.aio, with health checking
and reflection. `servicer` has one handler per RPC, mapping messages through `vault.wire`
to `vault.service.Vault`; `calls` runs each of them: request id, bearer token, journaled
edge refusals, status codes, the thread pool; `app` runs the server over what
vault/composition.py builds from a `Config`.
"""
