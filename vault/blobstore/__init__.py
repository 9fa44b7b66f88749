"""Blob stores: where encrypted objects live, behind the `BlobStore` Protocol.

Blob stores see only ciphertext and opaque keys. `file.FileBlobStore` is the embedded
default (a local directory); `s3.store.S3BlobStore` speaks the S3 API (MinIO, Ceph RGW, AWS).
Both pass one conformance suite (tests/blobstore/test_conformance.py).
"""
