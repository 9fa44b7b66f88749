"""The pure domain: identifiers, the dossier and document model, the access policy.

Nothing in this package does I/O or imports boto3, SQLAlchemy or grpc; it is tested
with plain values. Adapters and the service translate to and from these types.
"""
