"""Log lines as text (for a terminal) or as JSON objects, one per line (for a collector).

`install(format)` puts one handler on the root logger, on stderr, with `TextFormatter`
(`2026-12-07T17:31:57.123Z INFO vault.request request request_id=... rpc=GetDossier`)
or `JsonFormatter` (`{"time": ..., "level": ..., "logger": ..., "message": ...}`). A
record's structured fields (`extra={"fields": {...}}`, as the request line of
vault/observability/interceptor.py has) become `key=value` pairs in text and keys of
the object in JSON; an exception's traceback becomes `exc_info` in JSON, so a line is
always one line. What goes in a message is its caller's affair (no module logs an
identifier: docs/security.md); this module only formats.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
_RESERVED = frozenset(("time", "level", "logger", "message", "exc_info"))


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value...`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={value}" for key, value in fields_of(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            if key not in _RESERVED:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)  # ASCII: no character any reader splits on


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def install(log_format: str, level: int = logging.INFO) -> None:
    """Replaces the root logger's handlers with one on stderr in `log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
