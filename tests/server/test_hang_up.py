"""A client hanging up mid-download is no server ERROR: grpc's ExecuteBatchError log
record (a write to a call already gone) becomes one INFO line without a traceback."""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from vault.server.calls import Calls

GRPC_LOGGER = "grpc._cython.cygrpc"
cygrpc = importlib.import_module(GRPC_LOGGER)  # grpc's core binding: no stubs


def _log_as_grpc_does(error: Exception) -> None:
    try:
        raise error
    except Exception:
        logging.getLogger(GRPC_LOGGER).exception(
            "ExecuteBatchError raised in core by servicer method [%s]",
            "/vault.v1.DossierVault/GetDocument",
        )


def test_a_client_hanging_up_mid_download_logs_no_error_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with ThreadPoolExecutor(1) as pool:
        Calls(lambda *_: None, None, pool)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger=GRPC_LOGGER):
        _log_as_grpc_does(cygrpc.ExecuteBatchError("Failed execute_batch"))
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert "hung up" in record.getMessage()
    assert "GetDocument" in record.getMessage()


def test_other_grpc_errors_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with ThreadPoolExecutor(1) as pool:
        Calls(lambda *_: None, None, pool)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger=GRPC_LOGGER):
        _log_as_grpc_does(RuntimeError("something else"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
