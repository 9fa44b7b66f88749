"""Generated wire types of protos/vault/v1 (do not edit; `make proto` rewrites them).

Nothing outside `vault.grpc_edge` and `vault.client` imports this package: generated
messages stop at the gRPC boundary and are mapped to the domain's frozen dataclasses.
"""
