"""`S3BlobStore`: objects in an S3 bucket (AWS S3, MinIO or another S3-compatible store).

Layout: `<prefix><k0k1>/<k2k3>/<key>` in one bucket (prefix default "objects/"); keys
are the vault's opaque ids, checked before any request.

Writes stream: the writer buffers one part (`part_size`, default 8 MiB). An object that
fits in one part is one `PutObject` at commit; a larger one becomes a multipart upload
whose parts are sent as they fill, each by a background thread while the writer fills the
next one. At most `parts_in_flight` parts (default 4) are on their way per writer (the
next full part waits for the oldest), so memory holds `parts_in_flight` + 1 parts
whatever the document size, and their buffers are reused from part to part. A part's
failure surfaces at the writer's next `write` or at `commit`.
Every `PutObject` and `UploadPart` carries a SHA-256 checksum of its bytes
(`x-amz-checksum-sha256`), which S3 verifies before storing. The final `PutObject` /
`CompleteMultipartUpload` is conditional (`If-None-Match: *`): an object is never
overwritten, and nothing is visible under the key before it succeeds. `abort()` waits
for the parts in flight, then aborts the multipart upload. If a commit is refused as a
conflict but the object under the key carries our very checksum, the commit was ours (a
retry after a lost response) and succeeds.

Signing: requests whose body carries its SHA-256 checksum (`PutObject`, `UploadPart`) are
signed with `UNSIGNED-PAYLOAD` (by a second client sharing the first one's session), so
their bytes are hashed once, not twice (SigV4 would hash them again, over HTTP and, for a
checksum the caller computed, over HTTPS too). Nothing is lost: the checksum header is
itself signed, so the signature still binds the body through SHA-256, and S3 refuses a
body that does not match it; botocore makes the same trade over HTTPS for the checksums
it computes. Every other request (`CompleteMultipartUpload`'s part list among them)
keeps SigV4 payload signing.

Reads stream the `GetObject` body; a range becomes an HTTP `Range` header. They do not
re-hash the body against S3's stored checksum: the object format authenticates every
segment (AES-GCM tags) before the vault releases it, which also covers ranged reads and
multipart objects, where S3's whole-object checksum could not be checked. `delete`
removes every version and delete marker of the key (versioned buckets too). `check`
verifies at startup that the bucket exists, that the vault may write, list versions and
delete under its prefix, and that the endpoint honours conditional writes.

Errors (see `map_s3_error`); nothing raw from botocore escapes, and messages carry only
the operation, bucket, error code and opaque keys, never S3's own message:

| botocore failure                                               | VaultError          |
|----------------------------------------------------------------|---------------------|
| connection refused / reset, DNS, proxy, timeouts, truncated    | UnavailableError    |
| body; codes SlowDown, Throttling, ThrottlingException,         |                     |
| RequestThrottled, RequestTimeout, ServiceUnavailable,          |                     |
| InternalError, OperationAborted, NoSuchUpload, BadDigest,      |                     |
| XAmzContentSHA256Mismatch, IncompleteBody; HTTP 429 and 5xx    |                     |
| no credentials found; codes InvalidAccessKeyId,                | FailedPrecondition- |
| SignatureDoesNotMatch, ExpiredToken, InvalidToken,             | Error (an operator  |
| TokenRefreshRequired, RequestTimeTooSkewed; AccessDenied,      | must act)           |
| AllAccessDisabled, AccountProblem, HTTP 403; NoSuchBucket,     |                     |
| InvalidBucketName, 404 on HeadBucket; PermanentRedirect,       |                     |
| AuthorizationHeaderMalformed, HTTP 301/307 (wrong region or    |                     |
| endpoint); NotImplemented (the store lacks a needed feature);  |                     |
| TLS certificate failure                                        |                     |
| NoSuchKey, other HTTP 404 (an object the vault recorded is     | IntegrityError      |
| gone); a body that fails a checksum botocore checks            |                     |
| PreconditionFailed, ConditionalRequestConflict, HTTP 412       | AlreadyExistsError  |
| anything else (a defect, not an outage)                        | VaultError          |

The vault needs s3:ListBucket (HeadBucket), s3:GetObject, s3:PutObject,
s3:AbortMultipartUpload, s3:ListBucketVersions, s3:DeleteObject and
s3:DeleteObjectVersion on the bucket and prefix. It does not create the bucket, set its
versioning or encryption, or sweep multipart uploads that a crash left pending: give the
bucket a lifecycle rule `AbortIncompleteMultipartUpload` (e.g. after 1 day).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from vault.blobstore.base import DeleteResult, check_range, shard_path
from vault.errors import (
    AlreadyExistsError,
    ConfigurationError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    UnavailableError,
    VaultError,
)

if TYPE_CHECKING:
    from botocore.config import _S3Dict
    from botocore.response import StreamingBody
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef

_log = logging.getLogger(__name__)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 8 * MIB
RetryMode = Literal["standard", "adaptive"]


# -- settings -----------------------------------------------------------------------


def _text(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = (_text(environ, name) or "").lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _text(environ, name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None


def _integer(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _text(environ, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer") from None


def _retry_mode(environ: Mapping[str, str]) -> RetryMode:
    value = (_text(environ, "VAULT_S3_RETRY_MODE") or "standard").lower()
    if value == "standard":
        return "standard"
    if value == "adaptive":
        return "adaptive"
    raise ConfigurationError("VAULT_S3_RETRY_MODE must be standard or adaptive")


@dataclass(frozen=True)
class S3Settings:
    """Where and how to reach the bucket; `from_env` documents the variables."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = "objects/"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool = False
    verify_tls: bool = True
    ca_bundle: Path | None = None
    part_size: int = DEFAULT_PART_SIZE
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    retry_mode: RetryMode = "standard"
    max_connections: int = 16
    parts_in_flight: int = 4

    def __post_init__(self) -> None:
        for problem in self._problems():
            raise ConfigurationError(problem)

    def _problems(self) -> Iterator[str]:
        if not self.bucket:
            yield "VAULT_S3_BUCKET is required"
        if self.prefix.startswith("/") or (self.prefix and not self.prefix.endswith("/")):
            yield "VAULT_S3_PREFIX must end with '/' and not start with one"
        if (self.access_key_id is None) != (self.secret_access_key is None):
            yield "VAULT_S3_ACCESS_KEY_ID and VAULT_S3_SECRET_ACCESS_KEY go together"
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            yield "VAULT_S3_ENDPOINT_URL must be an http:// or https:// URL"
        if self.ca_bundle is not None and not self.verify_tls:
            yield "VAULT_S3_CA_BUNDLE needs TLS verification (VAULT_S3_VERIFY_TLS)"
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            yield "VAULT_S3_PART_SIZE must be between 5 MiB and 5 GiB (in bytes)"
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            yield "VAULT_S3_CONNECT_TIMEOUT and VAULT_S3_READ_TIMEOUT must be positive"
        if self.max_attempts < 1:
            yield "VAULT_S3_MAX_ATTEMPTS must be at least 1"
        if self.max_connections < 1:
            yield "VAULT_S3_MAX_CONNECTIONS must be at least 1"
        if self.parts_in_flight < 1:
            yield "VAULT_S3_PARTS_IN_FLIGHT must be at least 1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Settings:
        """Reads the settings; ConfigurationError names the variable, never its value.

        | variable                     | default                                  |
        |------------------------------|------------------------------------------|
        | VAULT_S3_BUCKET              | (required)                               |
        | VAULT_S3_ENDPOINT_URL        | AWS S3 (set it for MinIO and others)     |
        | VAULT_S3_REGION              | the AWS configuration's region           |
        | VAULT_S3_PREFIX              | objects/                                 |
        | VAULT_S3_ACCESS_KEY_ID       | (both unset: the AWS credential chain)   |
        | VAULT_S3_SECRET_ACCESS_KEY   |                                          |
        | VAULT_S3_PATH_STYLE          | false (true for MinIO)                   |
        | VAULT_S3_VERIFY_TLS          | true                                     |
        | VAULT_S3_CA_BUNDLE           | the system's CA certificates             |
        | VAULT_S3_PART_SIZE           | 8388608 (8 MiB; at least 5 MiB)          |
        | VAULT_S3_CONNECT_TIMEOUT     | 5 seconds                                |
        | VAULT_S3_READ_TIMEOUT        | 30 seconds                               |
        | VAULT_S3_MAX_ATTEMPTS        | 5 (first try included)                   |
        | VAULT_S3_RETRY_MODE          | standard (or adaptive)                   |
        | VAULT_S3_MAX_CONNECTIONS     | 16 (keep it >= VAULT_WORKERS)            |
        | VAULT_S3_PARTS_IN_FLIGHT     | 4 (parts uploading at once per document) |
        """
        ca_bundle = _text(environ, "VAULT_S3_CA_BUNDLE")
        return cls(
            bucket=_text(environ, "VAULT_S3_BUCKET") or "",
            endpoint_url=_text(environ, "VAULT_S3_ENDPOINT_URL"),
            region=_text(environ, "VAULT_S3_REGION"),
            prefix=environ.get("VAULT_S3_PREFIX", "objects/").strip(),
            access_key_id=_text(environ, "VAULT_S3_ACCESS_KEY_ID"),
            secret_access_key=_text(environ, "VAULT_S3_SECRET_ACCESS_KEY"),
            path_style=_flag(environ, "VAULT_S3_PATH_STYLE", False),
            verify_tls=_flag(environ, "VAULT_S3_VERIFY_TLS", True),
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            part_size=_integer(environ, "VAULT_S3_PART_SIZE", DEFAULT_PART_SIZE),
            connect_timeout=_number(environ, "VAULT_S3_CONNECT_TIMEOUT", 5.0),
            read_timeout=_number(environ, "VAULT_S3_READ_TIMEOUT", 30.0),
            max_attempts=_integer(environ, "VAULT_S3_MAX_ATTEMPTS", 5),
            retry_mode=_retry_mode(environ),
            max_connections=_integer(environ, "VAULT_S3_MAX_CONNECTIONS", 16),
            parts_in_flight=_integer(environ, "VAULT_S3_PARTS_IN_FLIGHT", 4),
        )


def make_client(
    settings: S3Settings,
    *,
    sign_payloads: bool = True,
    session: boto3.session.Session | None = None,
) -> S3Client:
    """A thread-safe boto3 S3 client with the settings' retries, timeouts and TLS.

    `sign_payloads=False` signs every request with UNSIGNED-PAYLOAD: only for requests
    whose body carries its own, signed, SHA-256 checksum (see the module docstring).
    Clients made from one `session` share its parsed service model."""
    s3_options: _S3Dict = {"addressing_style": "path" if settings.path_style else "auto"}
    if not sign_payloads:
        s3_options["payload_signing_enabled"] = False
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
        s3=s3_options,
        max_pool_connections=settings.max_connections,
        request_checksum_calculation="when_required",  # we send SHA-256 ourselves
        response_checksum_validation="when_required",  # segments are authenticated (AEAD)
    )
    verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else settings.verify_tls
    try:
        return (session or boto3.session.Session()).client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            verify=verify,
            config=config,
        )
    except (BotoCoreError, ValueError) as e:
        raise ConfigurationError("cannot build an S3 client from the VAULT_S3_* settings") from e


# -- error mapping ------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    """What went wrong: the VaultError class and its fixed sentence."""

    kind: type[VaultError]
    sentence: str


_UNAVAILABLE = _Failure(UnavailableError, "S3 unavailable for {op} on bucket {bucket} ({code})")
_CREDENTIALS = _Failure(
    FailedPreconditionError,
    "S3 rejected the vault's credentials for {op} on bucket {bucket} ({code})",
)
_DENIED = _Failure(
    FailedPreconditionError,
    "S3 denied {op} on bucket {bucket} ({code}): check the credentials and bucket policy",
)
_NO_BUCKET = _Failure(FailedPreconditionError, "S3 bucket {bucket} does not exist ({code})")
_ELSEWHERE = _Failure(
    FailedPreconditionError,
    "S3 bucket {bucket} is in another region or behind another endpoint ({code})",
)
_UNSUPPORTED = _Failure(
    FailedPreconditionError,
    "the S3 endpoint does not support {op} as the vault uses it ({code})",
)
_TLS = _Failure(FailedPreconditionError, "TLS verification of the S3 endpoint failed ({code})")
_NO_OBJECT = _Failure(IntegrityError, "object missing from S3 bucket {bucket} ({code})")
_CORRUPT = _Failure(IntegrityError, "object in S3 bucket {bucket} fails its checksum ({code})")
_EXISTS = _Failure(AlreadyExistsError, "object key already in use in S3 bucket {bucket} ({code})")
_UNKNOWN = _Failure(VaultError, "S3 {op} on bucket {bucket} failed ({code})")


_BY_CODE = {
    **dict.fromkeys(
        (
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "RequestThrottled",
            "RequestTimeout",
            "ServiceUnavailable",
            "InternalError",
            "OperationAborted",
            "NoSuchUpload",
            "BadDigest",
            "XAmzContentSHA256Mismatch",
            "IncompleteBody",
        ),
        _UNAVAILABLE,
    ),
    **dict.fromkeys(
        (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "TokenRefreshRequired",
            "RequestTimeTooSkewed",
        ),
        _CREDENTIALS,
    ),
    **dict.fromkeys(("AccessDenied", "AllAccessDisabled", "AccountProblem"), _DENIED),
    **dict.fromkeys(("NoSuchBucket", "InvalidBucketName"), _NO_BUCKET),
    **dict.fromkeys(("PermanentRedirect", "AuthorizationHeaderMalformed"), _ELSEWHERE),
    "NotImplemented": _UNSUPPORTED,
    "NoSuchKey": _NO_OBJECT,
    **dict.fromkeys(("PreconditionFailed", "ConditionalRequestConflict"), _EXISTS),
}
_CONFLICTS = frozenset(("PreconditionFailed", "ConditionalRequestConflict", "412"))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _client_failure(code: str, status: int, operation: str) -> _Failure:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status == 404:
        return _NO_BUCKET if operation == "HeadBucket" else _NO_OBJECT
    if status == 403:
        return _DENIED
    if status in (301, 307):
        return _ELSEWHERE
    if status == 412:
        return _EXISTS
    if status == 429 or status >= 500:
        return _UNAVAILABLE
    return _UNKNOWN


def _botocore_failure(error: Exception) -> _Failure:
    if isinstance(error, SSLError):
        return _TLS
    if isinstance(error, FlexibleChecksumError):
        return _CORRUPT
    if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
        return _UNAVAILABLE
    credentials = (
        NoCredentialsError,
        PartialCredentialsError,
        CredentialRetrievalError,
        TokenRetrievalError,
    )
    if isinstance(error, credentials):
        return _CREDENTIALS
    return _UNKNOWN


_PRINTABLE_CODE = re.compile(r"[A-Za-z0-9.]{1,64}")


def _printable(code: str) -> str:
    """The error code if it looks like one: a hostile endpoint could put anything there."""
    return code if _PRINTABLE_CODE.fullmatch(code) else "unrecognized code"


def map_s3_error(error: Exception, bucket: str, operation: str = "") -> VaultError:
    """The VaultError for a botocore failure (table in the module docstring).

    `operation` names the call for errors that do not carry one (ClientError does)."""
    if isinstance(error, ClientError):
        operation = error.operation_name or operation
        code = _code(error) or str(_status(error))
        failure = _client_failure(code, _status(error), operation)
    else:
        code = type(error).__name__
        failure = _botocore_failure(error)
    message = failure.sentence.format(
        op=operation or "a request", bucket=bucket, code=_printable(code)
    )
    return failure.kind(message)


@contextmanager
def _translated(bucket: str, operation: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise map_s3_error(e, bucket, operation) from e


def _sha256(data: bytes | bytearray) -> bytes:
    return hashlib.sha256(data).digest()


def _body(buffer: bytearray) -> bytes:
    """A part's buffer as a request body, without a copy: botocore takes a bytearray as
    it is (and sends it in one piece), though the type stubs only say bytes."""
    return cast(bytes, buffer)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


# -- writer -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What every writer of one store shares."""

    client: S3Client  # signs payloads
    uploads: S3Client  # UNSIGNED-PAYLOAD: only for bodies sent with their SHA-256
    bucket: str
    part_size: int
    parts_in_flight: int  # per writer
    background: Executor  # sends full parts while their writer fills the next one


class _S3Writer:
    """Fills one part while earlier ones upload in the background (at most
    `parts_in_flight`); starts a multipart upload only when a second part is needed."""

    def __init__(self, target: _Target, s3_key: str) -> None:
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
        with _translated(self._bucket, "CreateMultipartUpload"):
            created = self._target.client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ChecksumAlgorithm="SHA256"
            )
        self._upload_id = created["UploadId"]
        return self._upload_id

    def _upload_part(self, upload_id: str, number: int, body: bytearray) -> bytearray:
        """Sends one part (in the background but for the last); returns its buffer."""
        digest = _sha256(body)
        with _translated(self._bucket, "UploadPart"):
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
        conflict = isinstance(error, ClientError) and _code(error) in _CONFLICTS
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
            if _code(e) != "NoSuchUpload":
                _log.warning(
                    "S3 multipart abort failed for %s (%s)", self._key, _printable(_code(e))
                )
        except BotoCoreError as e:
            _log.warning("S3 multipart abort failed for %s (%s)", self._key, type(e).__name__)


def _stored_checksum(client: S3Client, bucket: str, s3_key: str) -> str | None:
    """The SHA-256 checksum S3 holds for the object (without a composite's `-N`)."""
    try:
        head = client.head_object(Bucket=bucket, Key=s3_key, ChecksumMode="ENABLED")
    except ClientError as e:
        if _status(e) == 404:
            return None
        raise map_s3_error(e, bucket) from e
    except BotoCoreError as e:
        raise map_s3_error(e, bucket, "HeadObject") from e
    stored = head.get("ChecksumSHA256")
    return stored.split("-")[0] if stored else None


# -- reader -------------------------------------------------------------------------


class _S3Reader:
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
        with _translated(self._bucket, "GetObject"):
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


# -- store --------------------------------------------------------------------------


class S3BlobStore:
    """A `BlobStore` in an S3 bucket, under a key prefix."""

    def __init__(self, settings: S3Settings) -> None:
        session = boto3.session.Session()
        self._client = make_client(settings, session=session)
        self._uploads = make_client(settings, sign_payloads=False, session=session)
        self._bucket = settings.bucket
        self._prefix = settings.prefix
        self._target = _Target(
            self._client,
            self._uploads,
            settings.bucket,
            settings.part_size,
            settings.parts_in_flight,
            ThreadPoolExecutor(settings.max_connections, thread_name_prefix="s3-part"),
        )

    def _s3_key(self, key: str) -> str:
        return self._prefix + shard_path(key)

    def create(self, key: str) -> _S3Writer:
        return _S3Writer(self._target, self._s3_key(key))

    def open(self, key: str, offset: int = 0, length: int | None = None) -> _S3Reader:
        s3_key = self._s3_key(key)
        check_range(offset, length)
        if length == 0:  # no HTTP range is empty: ask whether the object exists
            self._require_object(s3_key)
            return _S3Reader(None, self._bucket)
        return self._get(s3_key, offset, length)

    def _require_object(self, s3_key: str) -> None:
        with _translated(self._bucket, "HeadObject"):
            self._client.head_object(Bucket=self._bucket, Key=s3_key)

    def _get(self, s3_key: str, offset: int, length: int | None) -> _S3Reader:
        wanted = _range_header(offset, length)
        try:
            if wanted is None:
                response = self._client.get_object(Bucket=self._bucket, Key=s3_key)
            else:
                response = self._client.get_object(Bucket=self._bucket, Key=s3_key, Range=wanted)
        except ClientError as e:
            if _code(e) == "InvalidRange":  # the range starts at or past the end
                return _S3Reader(None, self._bucket)
            raise map_s3_error(e, self._bucket) from e
        except BotoCoreError as e:
            raise map_s3_error(e, self._bucket, "GetObject") from e
        body = response["Body"]
        if wanted is not None and not _honours_range(
            response.get("ContentRange", ""), offset, length
        ):
            body.close()
            raise FailedPreconditionError("the S3 endpoint ignored a Range request")
        return _S3Reader(body, self._bucket)

    def delete(self, key: str) -> DeleteResult:
        return self._delete_every_version(self._s3_key(key))

    def _delete_every_version(self, s3_key: str) -> DeleteResult:
        versions, markers, existed = self._versions(s3_key)
        with _translated(self._bucket, "DeleteObject"):
            for version_id in versions + markers:
                self._client.delete_object(Bucket=self._bucket, Key=s3_key, VersionId=version_id)
        return DeleteResult(existed=existed, versions_deleted=len(versions))

    def stored_keys(self, older_than: datetime) -> Iterator[str]:
        """Every key with a version or delete marker older than `older_than`, once (so a
        key whose latest version was deleted behind our back is still found)."""
        seen: set[str] = set()
        pages = self._client.get_paginator("list_object_versions")
        with _translated(self._bucket, "ListObjectVersions"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    name = self._key_of(item.get("Key", ""))
                    modified = item.get("LastModified")
                    if name and name not in seen and modified and modified < older_than:
                        seen.add(name)
                        yield name

    def _key_of(self, s3_key: str) -> str | None:
        """The vault key stored under `s3_key`, or None for anything else (probes...)."""
        name = s3_key.rsplit("/", 1)[-1]
        try:
            return name if self._s3_key(name) == s3_key else None
        except InvalidArgumentError:
            return None

    def sweep_incomplete(self, older_than: datetime, dry_run: bool = False) -> int:
        """Aborts multipart uploads begun before `older_than` and never completed."""
        swept = 0
        pages = self._client.get_paginator("list_multipart_uploads")
        with _translated(self._bucket, "ListMultipartUploads"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for upload in page.get("Uploads", []):
                    initiated = upload.get("Initiated")
                    if initiated is None or initiated >= older_than:
                        continue
                    swept += 1
                    if not dry_run:
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
        return swept

    def _versions(self, s3_key: str) -> tuple[list[str], list[str], bool]:
        """Version ids and delete-marker ids of exactly `s3_key`, and whether its latest
        version is readable ("null" is the id in an unversioned bucket)."""
        versions: list[str] = []
        markers: list[str] = []
        existed = False
        pages = self._client.get_paginator("list_object_versions")
        with _translated(self._bucket, "ListObjectVersions"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=s3_key):
                for version in page.get("Versions", []):
                    if version.get("Key") == s3_key:
                        versions.append(version.get("VersionId") or "null")
                        existed = existed or bool(version.get("IsLatest"))
                for marker in page.get("DeleteMarkers", []):
                    if marker.get("Key") == s3_key:
                        markers.append(marker.get("VersionId") or "null")
        return versions, markers, existed

    def check(self) -> None:
        """The bucket exists; the vault can write (with checksums and the no-overwrite
        condition), list versions and delete under its prefix. Leaves nothing behind."""
        with _translated(self._bucket, "HeadBucket"):
            self._client.head_bucket(Bucket=self._bucket)
        probe = f"{self._prefix}probe/{secrets.token_hex(16)}"
        self._write(probe, b"probe")
        try:
            self._require_conditional_writes(probe)
        finally:
            self._delete_every_version(probe)

    def _write(self, s3_key: str, data: bytes) -> None:
        writer = _S3Writer(self._target, s3_key)
        writer.write(data)
        writer.commit()

    def _require_conditional_writes(self, probe: str) -> None:
        try:
            self._write(probe, b"second probe")
        except AlreadyExistsError:
            return
        raise FailedPreconditionError(
            f"the S3 endpoint of bucket {self._bucket} ignores If-None-Match: the vault "
            "needs conditional writes never to overwrite an object"
        )
