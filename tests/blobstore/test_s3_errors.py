"""`map_s3_error` (vault/blobstore/s3/errors.py), for what no test server can produce:
every botocore failure as the right VaultError, and never S3's own words in a message.

What it stops: failures reported as the wrong kind (retryable versus operator-must-act),
and S3's message (which may echo keys or patient data) reaching callers or logs.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from vault.blobstore.s3.errors import map_s3_error
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    UnavailableError,
    VaultError,
)


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    message = "S3's own words: IRM lombaire 184127645108946"
    response: Any = {
        "Error": {"Code": code, "Message": message, "Key": "objects/IRM lombaire"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


MAPPING = [
    (client_error("SlowDown", 503, "PutObject"), UnavailableError),
    (client_error("503", 503, "HeadBucket"), UnavailableError),
    (client_error("ServiceUnavailable", 503), UnavailableError),
    (client_error("Throttling", 400), UnavailableError),
    (client_error("ThrottlingException", 400), UnavailableError),
    (client_error("RequestThrottled", 400), UnavailableError),
    (client_error("TooManyRequests", 429), UnavailableError),
    (client_error("InternalError", 500), UnavailableError),
    (client_error("RequestTimeout", 400, "UploadPart"), UnavailableError),
    (client_error("NoSuchUpload", 404, "UploadPart"), UnavailableError),
    (client_error("BadDigest", 400, "UploadPart"), UnavailableError),
    (client_error("InvalidAccessKeyId", 403), FailedPreconditionError),
    (client_error("SignatureDoesNotMatch", 403), FailedPreconditionError),
    (client_error("ExpiredToken", 400), FailedPreconditionError),
    (client_error("RequestTimeTooSkewed", 403), FailedPreconditionError),
    (client_error("AccessDenied", 403), FailedPreconditionError),
    (client_error("403", 403, "HeadBucket"), FailedPreconditionError),
    (client_error("NoSuchBucket", 404), FailedPreconditionError),
    (client_error("404", 404, "HeadBucket"), FailedPreconditionError),
    (client_error("PermanentRedirect", 301), FailedPreconditionError),
    (client_error("AuthorizationHeaderMalformed", 400), FailedPreconditionError),
    (client_error("NotImplemented", 501, "PutObject"), FailedPreconditionError),
    (client_error("NoSuchKey", 404), IntegrityError),
    (client_error("404", 404, "HeadObject"), IntegrityError),
    (client_error("PreconditionFailed", 412, "PutObject"), AlreadyExistsError),
    (client_error("ConditionalRequestConflict", 409, "PutObject"), AlreadyExistsError),
    (client_error("EntityTooSmall", 400, "CompleteMultipartUpload"), VaultError),
    (client_error("Bad\nCode <script>", 400), VaultError),
    (EndpointConnectionError(endpoint_url="http://s3"), UnavailableError),
    (ConnectTimeoutError(endpoint_url="http://s3"), UnavailableError),
    (ReadTimeoutError(endpoint_url="http://s3"), UnavailableError),
    (
        SSLError(endpoint_url="http://s3", error=ValueError("certificate verify failed")),
        FailedPreconditionError,
    ),
    (NoCredentialsError(), FailedPreconditionError),
]


def error_id(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error.operation_name}-{error.response.get('Error', {}).get('Code')}"
    return type(error).__name__


@pytest.mark.parametrize(("error", "expected"), MAPPING, ids=[error_id(e) for e, _ in MAPPING])
def test_each_failure_maps_to_its_vault_error(error: Exception, expected: type) -> None:
    assert type(map_s3_error(error, "vault-bucket", "GetObject")) is expected


CLIENT_ERRORS = [e for e, _ in MAPPING if isinstance(e, ClientError)]


@pytest.mark.parametrize("error", CLIENT_ERRORS, ids=[error_id(e) for e in CLIENT_ERRORS])
def test_mapped_messages_never_repeat_what_s3_said(error: ClientError) -> None:
    message = str(map_s3_error(error, "vault-bucket"))
    assert "IRM" not in message
    assert "184127645108946" not in message
    assert "S3's own words" not in message
    assert "<script>" not in message
