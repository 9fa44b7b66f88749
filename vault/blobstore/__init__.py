"""Blob stores: where encrypted objects live, behind the `BlobStore` Protocol.

Blob stores see only ciphertext and opaque keys. `file.FileBlobStore` is the embedded
default (a local directory).
"""
