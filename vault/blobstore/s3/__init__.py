"""The S3 blob store: objects in an S3 bucket (AWS S3, MinIO or another S3-compatible
store), behind the `BlobStore` Protocol (vault/blobstore/base.py).

| module      | what it holds                                            | boto3 |
|-------------|----------------------------------------------------------|-------|
| settings.py | `S3Settings`: the VAULT_S3_* variables, read and checked | no    |
| client.py   | `make_client`: boto3 clients with retries, TLS, signing  | yes   |
| errors.py   | `map_s3_error`: every botocore failure as a VaultError   | yes   |
| writer.py   | `S3Writer`: streamed, checksummed, conditional uploads   | yes   |
| reader.py   | `S3Reader`, `open_object`: whole and ranged reads        | yes   |
| store.py    | `S3BlobStore`: layout, delete, listings, startup check   | yes   |
| retention.py| `S3Retainer`: Object Lock retention, holds, bypass purge | yes   |

This package imports none of them, so `vault.config` reads `settings` without loading
boto3; callers import the store from `vault.blobstore.s3.store`.
"""
