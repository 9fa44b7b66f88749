"""`map_s3_error`: every botocore failure as the VaultError it means, in one place, and
`translated`, the context manager through which the other modules send their requests.

Nothing raw from botocore escapes, and messages carry only the operation, bucket, error
code and opaque keys, never S3's own message:

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
| AccessDenied or HTTP 403 on DeleteObject (a version under an   | ObjectProtected-    |
| Object Lock retention or legal hold; ADR 0024)                 | Error (a Failed-    |
|                                                                | PreconditionError)  |
| NoSuchKey, other HTTP 404 (an object the vault recorded is     | IntegrityError      |
| gone); a body that fails a checksum botocore checks            |                     |
| PreconditionFailed, ConditionalRequestConflict, HTTP 412       | AlreadyExistsError  |
| anything else (a defect, not an outage)                        | VaultError          |

What it does not: retry (botocore does, `max_attempts` times) or log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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

from vault.blobstore.base import ObjectProtectedError
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
    VaultError,
)


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
_PROTECTED = _Failure(
    ObjectProtectedError,
    "S3 refused {op} on bucket {bucket} ({code}): the object version is retained or held "
    "by Object Lock, or the credentials may not delete",
)
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
# What a conditional write (If-None-Match: *) answers when an object is already there.
CONFLICT_CODES = frozenset(("PreconditionFailed", "ConditionalRequestConflict", "412"))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _refused(code: str, status: int) -> bool:
    """AccessDenied, or a bare 403 that is not a credentials failure."""
    return code == "AccessDenied" or (status == 403 and code not in _BY_CODE)


def _client_failure(code: str, status: int, operation: str) -> _Failure:
    if operation == "DeleteObject" and _refused(code, status):
        return _PROTECTED  # what both servers answer for a locked version (ADR 0024)
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


def printable(code: str) -> str:
    """The error code if it looks like one: a hostile endpoint could put anything there."""
    return code if _PRINTABLE_CODE.fullmatch(code) else "unrecognized code"


def map_s3_error(error: Exception, bucket: str, operation: str = "") -> VaultError:
    """The VaultError for a botocore failure (table in the module docstring).

    `operation` names the call for errors that do not carry one (ClientError does)."""
    if isinstance(error, ClientError):
        operation = error.operation_name or operation
        code = error_code(error) or str(http_status(error))
        failure = _client_failure(code, http_status(error), operation)
    else:
        code = type(error).__name__
        failure = _botocore_failure(error)
    message = failure.sentence.format(
        op=operation or "a request", bucket=bucket, code=printable(code)
    )
    return failure.kind(message)


@contextmanager
def translated(bucket: str, operation: str) -> Iterator[None]:
    """Raises what `map_s3_error` makes of any botocore failure in the block."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise map_s3_error(e, bucket, operation) from e
