"""`make_client`: a boto3 S3 client built from `S3Settings` (timeouts, retries, TLS,
addressing style, connection pool), its construction errors as ConfigurationError.

Signing: requests whose body carries its SHA-256 checksum (`PutObject`, `UploadPart`) are
signed with `UNSIGNED-PAYLOAD` (by a second client sharing the first one's session), so
their bytes are hashed once, not twice (SigV4 would hash them again, over HTTP and, for a
checksum the caller computed, over HTTPS too). Nothing is lost: the checksum header is
itself signed, so the signature still binds the body through SHA-256, and S3 refuses a
body that does not match it; botocore makes the same trade over HTTPS for the checksums
it computes. Every other request (`CompleteMultipartUpload`'s part list among them)
keeps SigV4 payload signing.

Deadlines: botocore retries a failed attempt (`max_attempts`); the client does not
start another attempt that could not finish before the current call's deadline
(`vault.deadlines`: fewer than `read_timeout` seconds left), it raises the attempt's
failure instead, so a stalled S3 gives the thread back within the call's deadline.

Sessions (`new_session`): every boto3 session of the process shares one botocore data
loader, so the S3 service model (a large JSON document) is read and parsed once per
process, not once per store (about 0.2 s each: a CLI command or a test that builds
several stores pays it once).

What it does not: send requests, or map their failures (errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from vault import deadlines
from vault.blobstore.s3.settings import S3Settings
from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from botocore.config import _S3Dict
    from types_boto3_s3.client import S3Client


_LOADER = botocore.loaders.create_loader()  # caches the service models it has parsed


def new_session() -> boto3.session.Session:
    """A boto3 session of its own (credentials, clients) whose data loader, and so
    parsed service models, is the process's shared one."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


def _no_retry_past_deadline(read_timeout: float) -> Callable[..., None]:
    """A `needs-retry` handler: re-raises a failed attempt's exception when the call has
    less than `read_timeout` seconds left (an error response is left to botocore)."""

    def handler(caught_exception: Exception | None = None, **_: Any) -> None:
        left = deadlines.remaining()
        if caught_exception is not None and left is not None and left < read_timeout:
            raise caught_exception

    return handler


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
        client = (session or new_session()).client(
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
    client.meta.events.register_first(
        "needs-retry.s3", _no_retry_past_deadline(settings.read_timeout)
    )
    return client
