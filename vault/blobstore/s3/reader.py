"""Reads: `open_object` streams a `GetObject` body through an `S3Reader`; a range
becomes an HTTP `Range` header, and an endpoint that ignores it is refused.

Reads do not re-hash the body against S3's stored checksum: the object format
authenticates every segment (AES-GCM tags) before the vault releases it, which also
covers ranged reads and multipart objects, where S3's whole-object checksum could not be
checked. What it does not: retry a body that breaks off mid-read (UnavailableError).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vault.blobstore.base import check_range
from vault.blobstore.s3.errors import error_code, map_s3_error, translated
from vault.errors import FailedPreconditionError, InvalidArgumentError

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3.client import S3Client


def open_object(
    client: S3Client, bucket: str, s3_key: str, offset: int = 0, length: int | None = None
) -> S3Reader:
    """A reader of `length` bytes (None: to the end) of the object from `offset`.

    A range at or past the end reads as empty; a missing object is an IntegrityError."""
    check_range(offset, length)
    if length == 0:  # no HTTP range is empty: ask whether the object exists
        with translated(bucket, "HeadObject"):
            client.head_object(Bucket=bucket, Key=s3_key)
        return S3Reader(None, bucket)
    wanted = _range_header(offset, length)
    try:
        if wanted is None:
            response = client.get_object(Bucket=bucket, Key=s3_key)
        else:
            response = client.get_object(Bucket=bucket, Key=s3_key, Range=wanted)
    except ClientError as e:
        if error_code(e) == "InvalidRange":  # the range starts at or past the end
            return S3Reader(None, bucket)
        raise map_s3_error(e, bucket) from e
    except BotoCoreError as e:
        raise map_s3_error(e, bucket, "GetObject") from e
    body = response["Body"]
    if wanted is not None and not _honours_range(response.get("ContentRange", ""), offset, length):
        body.close()
        raise FailedPreconditionError("the S3 endpoint ignored a Range request")
    return S3Reader(body, bucket)


class S3Reader:
    """Reads a `GetObject` body (None: an empty range) to its end."""

    def __init__(self, body: StreamingBody | None, bucket: str) -> None:
        self._body = body
        self._bucket = bucket

    def read(self, size: int) -> bytes:
        if size < 0:
            raise InvalidArgumentError("negative read size")
        if self._body is None:
            return b""
        chunks = []
        with translated(self._bucket, "GetObject"):
            while size > 0:
                chunk = self._body.read(size)
                if not chunk:
                    break
                chunks.append(chunk)
                size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._body is not None:
            self._body.close()


def _range_header(offset: int, length: int | None) -> str | None:
    if length is None:
        return f"bytes={offset}-" if offset else None
    return f"bytes={offset}-{offset + length - 1}"


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _honours_range(content_range: str, offset: int, length: int | None) -> bool:
    match = _CONTENT_RANGE.fullmatch(content_range)
    if not match:
        return False
    first, last = int(match[1]), int(match[2])
    return first == offset and (length is None or last < offset + length)
