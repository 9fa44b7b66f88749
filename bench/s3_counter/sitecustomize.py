"""Counts a benchmarked process's S3 requests (bench/s3_costs.py puts this directory on
the vault server's PYTHONPATH; Python imports `sitecustomize` at start).

With VAULT_BENCH_S3_REQUESTS set to a file, every botocore session of the process
appends one line per HTTP request it sends (`before-send`, so a retried attempt counts
again): the operation's name. Without it, this module does nothing. It costs one small
write per request, a few microseconds against a request's milliseconds.
"""

from __future__ import annotations

import os
from typing import Any

_LOG = os.environ.get("VAULT_BENCH_S3_REQUESTS")

if _LOG:
    import botocore.session

    _fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    _init = botocore.session.Session.__init__

    def _record(event_name: str = "", **_: Any) -> None:
        os.write(_fd, f"{event_name.rsplit('.', 1)[-1]}\n".encode())

    def _counting_init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        _init(self, *args, **kwargs)
        self.register("before-send.s3", _record)

    botocore.session.Session.__init__ = _counting_init  # type: ignore[method-assign]
