"""`S3Writer`: one object's upload, streamed in parts, checksummed and never overwriting.

The writer buffers one part (`part_size`, default 8 MiB). An object that fits in one part
is one `PutObject` at commit; a larger one becomes a multipart upload whose parts are
sent as they fill, each by a background thread while the writer fills the next one. At
most `parts_in_flight` parts (default 4) are on their way per writer (the next full part
waits for the oldest), so memory holds `parts_in_flight` + 1 parts whatever the document
size, and their buffers are reused from part to part. A part's failure surfaces at the
writer's next `write` or at `commit`.
Every `PutObject` and `UploadPart` carries a SHA-256 checksum of its bytes
(`x-amz-checksum-sha256`), which S3 verifies before storing; those requests go through
the UNSIGNED-PAYLOAD client (client.py). The final `PutObject` /
`CompleteMultipartUpload` is conditional (`If-None-Match: *`): an object is never
overwritten, and nothing is visible under the key before it succeeds. `abort()` waits
for the parts in flight, then aborts the multipart upload. If a commit is refused as a
conflict but the object under the key carries our very checksum, the commit was ours (a
retry after a lost response) and succeeds.

What it does not: sweep multipart uploads a crash left pending (the bucket's lifecycle
rule, or `S3BlobStore.sweep_incomplete`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from vault.blobstore.s3.errors import (
    CONFLICT_CODES,
    error_code,
    http_status,
    map_s3_error,
    printable,
    translated,
)
from vault.errors import FailedPreconditionError, InvalidArgumentError

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

_log = logging.getLogger(__name__)

MAX_PARTS = 10_000


def _sha256(data: bytes | bytearray) -> bytes:
    return hashlib.sha256(data).digest()


def _body(buffer: bytearray) -> bytes:
    """A part's buffer as a request body, without a copy: botocore takes a bytearray as
    it is (and sends it in one piece), though the type stubs only say bytes."""
    return cast(bytes, buffer)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class WriteTarget:
    """What every writer of one store shares."""

    client: S3Client  # signs payloads
    uploads: S3Client  # UNSIGNED-PAYLOAD: only for bodies sent with their SHA-256
    bucket: str
    part_size: int
    parts_in_flight: int  # per writer
    background: Executor  # sends full parts while their writer fills the next one


class S3Writer:
    """Fills one part while earlier ones upload in the background (at most
    `parts_in_flight`); starts a multipart upload only when a second part is needed."""

    def __init__(self, target: WriteTarget, s3_key: str) -> None:
        self._target = target
        self._bucket = target.bucket
        self._key = s3_key
        self._buffer = bytearray()
        self._filled = 0
        self._spares: list[bytearray] = []  # buffers of parts sent, for reuse
        self._in_flight: deque[Future[bytearray]] = deque()  # oldest first
        self._upload_id: str | None = None
        self._sent = 0  # parts handed over, in flight or done
        self._parts: dict[int, tuple[str, bytes]] = {}  # number: ETag, SHA-256
        self._finished = False

    def write(self, data: bytes | memoryview) -> None:
        self._require_open()
        if self._in_flight and self._in_flight[0].done():
            self._guarded(self._collect_oldest)  # a failed part stops the writer now
        view = memoryview(data).cast("B")
        part_size = self._target.part_size
        while view:
            if self._filled == part_size:
                self._guarded(self._send_full_part)  # only once more bytes follow
            take = min(part_size - self._filled, len(view))
            end = self._filled + take
            self._buffer[self._filled : end] = view[:take]  # grows a new buffer, or refills
            self._filled = end
            view = view[take:]

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException:
            self._finished = True  # a part is lost: only abort() makes sense now
            raise

    def _send_full_part(self) -> None:
        if len(self._in_flight) == self._target.parts_in_flight:
            self._collect_oldest()
        if self._sent == MAX_PARTS - 1:  # the last part is still to come
            raise InvalidArgumentError("object larger than the blob store accepts")
        upload_id = self._upload_id or self._create_upload()  # before any part
        self._sent += 1
        body = self._take_buffer()
        part = self._target.background.submit(self._upload_part, upload_id, self._sent, body)
        self._in_flight.append(part)

    def _collect_oldest(self) -> None:
        """Waits for the oldest part in flight (raising its error); keeps its buffer."""
        body = self._in_flight.popleft().result()
        if len(body) == self._target.part_size:
            self._spares.append(body)

    def _wait_for_parts(self) -> None:
        while self._in_flight:
            self._collect_oldest()

    def commit(self) -> None:
        self._require_open()
        self._finished = True
        try:
            self._wait_for_parts()
            if self._upload_id is None:
                self._put_whole()
            else:
                self._complete()
        except BaseException:
            self._abort_upload()
            raise
        self._upload_id = None

    def abort(self) -> None:
        self._finished = True
        while self._in_flight:  # no part may land after the abort
            with suppress(Exception):  # its error is moot: everything is discarded
                self._collect_oldest()
        self._buffer, self._spares, self._filled = bytearray(), [], 0
        self._abort_upload()

    def _require_open(self) -> None:
        if self._finished:
            raise FailedPreconditionError("blob writer already committed, aborted or failed")

    def _take_buffer(self) -> bytearray:
        """The filled bytes, handed over without a copy; a spare buffer (if any) is next."""
        body, self._buffer = self._buffer, self._spares.pop() if self._spares else bytearray()
        del body[self._filled :]  # a reused buffer may be longer than its last part
        self._filled = 0
        return body

    def _create_upload(self) -> str:
        with translated(self._bucket, "CreateMultipartUpload"):
            created = self._target.client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ChecksumAlgorithm="SHA256"
            )
        self._upload_id = created["UploadId"]
        return self._upload_id

    def _upload_part(self, upload_id: str, number: int, body: bytearray) -> bytearray:
        """Sends one part (in the background but for the last); returns its buffer."""
        digest = _sha256(body)
        with translated(self._bucket, "UploadPart"):
            uploaded = self._target.uploads.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=upload_id,
                PartNumber=number,
                Body=_body(body),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(digest),
            )
        self._parts[number] = (uploaded["ETag"], digest)
        return body

    def _put_whole(self) -> None:
        body = self._take_buffer()
        checksum = _b64(_sha256(body))
        try:
            self._target.uploads.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=_body(body),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
            )
        except (ClientError, BotoCoreError) as e:
            self._unless_ours(e, checksum, "PutObject")

    def _complete(self) -> None:
        assert self._upload_id is not None
        self._sent += 1
        self._upload_part(self._upload_id, self._sent, self._take_buffer())  # the last part
        numbers = sorted(self._parts)
        parts: list[CompletedPartTypeDef] = [
            {"PartNumber": n, "ETag": self._parts[n][0], "ChecksumSHA256": _b64(self._parts[n][1])}
            for n in numbers
        ]
        digests = b"".join(self._parts[n][1] for n in numbers)
        checksum = _b64(_sha256(digests))  # S3's composite checksum
        try:
            self._target.client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except (ClientError, BotoCoreError) as e:
            self._unless_ours(e, checksum, "CompleteMultipartUpload")

    def _unless_ours(
        self, error: ClientError | BotoCoreError, checksum: str, operation: str
    ) -> None:
        """Raises the mapped error, unless it is a conflict with the object we just wrote
        (a retried request whose first attempt succeeded)."""
        conflict = isinstance(error, ClientError) and error_code(error) in CONFLICT_CODES
        if conflict and _stored_checksum(self._target.client, self._bucket, self._key) == checksum:
            return
        raise map_s3_error(error, self._bucket, operation) from error

    def _abort_upload(self) -> None:
        """Best effort: a failure is logged, since this runs while another error unwinds."""
        if self._upload_id is None:
            return
        upload_id, self._upload_id = self._upload_id, None
        try:
            self._target.client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id
            )
        except ClientError as e:
            if error_code(e) != "NoSuchUpload":
                _log.warning(
                    "S3 multipart abort failed for %s (%s)", self._key, printable(error_code(e))
                )
        except BotoCoreError as e:
            _log.warning("S3 multipart abort failed for %s (%s)", self._key, type(e).__name__)


def _stored_checksum(client: S3Client, bucket: str, s3_key: str) -> str | None:
    """The SHA-256 checksum S3 holds for the object (without a composite's `-N`)."""
    try:
        head = client.head_object(Bucket=bucket, Key=s3_key, ChecksumMode="ENABLED")
    except ClientError as e:
        if http_status(e) == 404:
            return None
        raise map_s3_error(e, bucket) from e
    except BotoCoreError as e:
        raise map_s3_error(e, bucket, "HeadObject") from e
    stored = head.get("ChecksumSHA256")
    return stored.split("-")[0] if stored else None
