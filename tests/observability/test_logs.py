"""Structured logs (issue #17 item 3): one JSON line per request, the same request id as
the `x-request-id` trailer, and no INS, RPPS, title or dossier id in any line.

A real `dossier-vault serve` process with `VAULT_LOG_FORMAT=json` is called (one call
through the raw stub to read its trailer), stopped, and every line it wrote is parsed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CLI, OTHER_INS, PATIENT_INS, free_port
from vault.auth import load_or_create_dev_issuer, mint_token
from vault.client import VaultClient
from vault.config import Config
from vault.domain.model import ActorKind, DocumentCategory, DocumentMetadata
from vault.errors import ConfigurationError, VaultError
from vault.observability.logs import JsonFormatter, TextFormatter
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

TITLE = "Bilan cardiologique confidentiel"
NOTE = DocumentMetadata(TITLE, DocumentCategory.TREATMENTS_AND_CARE, "text/plain")
REQUEST_FIELDS = {"request_id", "rpc", "code", "duration_ms", "actor_kind"}


def _serve(tmp_path: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "VAULT_DATA_DIR": str(tmp_path / "var"),
        "VAULT_LISTEN": listen,
        "VAULT_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        server = subprocess.Popen([*CLI, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "listening on" not in log.read_text():
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return server, listen


def _trailer_id(target: str, token: str) -> str:
    """The request id a CreateDossier call got back in its trailer."""
    with grpc.insecure_channel(target) as channel:
        stub = vault_pb2_grpc.DossierVaultStub(channel)
        _reply, call = stub.CreateDossier.with_call(
            pb.CreateDossierRequest(ins=PATIENT_INS),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30,
        )
    trailer = dict(call.trailing_metadata() or ())
    request_id = trailer["x-request-id"]
    assert isinstance(request_id, str)
    return request_id


def test_json_request_lines_carry_the_trailer_id_and_no_identifier(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server, target = _serve(tmp_path, log)
    try:
        issuer = load_or_create_dev_issuer(tmp_path / "var")
        token = mint_token(issuer, kind=ActorKind.PATIENT, subject=PATIENT_INS, ttl_seconds=600)
        request_id = _trailer_id(target, token)
        with VaultClient(target, token) as client:
            dossier = client.get_dossier(ins=PATIENT_INS)
            document = client.put_document(dossier.dossier_id, NOTE, b"note")
        stranger = mint_token(issuer, kind=ActorKind.PATIENT, subject=OTHER_INS, ttl_seconds=60)
        with VaultClient(target, stranger) as client, pytest.raises(VaultError):
            client.get_dossier(dossier_id=dossier.dossier_id)
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "vault.request"]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert all(set(line) >= REQUEST_FIELDS for line in requests)
    mine = [line for line in requests if line["request_id"] == request_id]
    assert len(mine) == 1
    assert mine[0]["rpc"] == "CreateDossier"
    assert mine[0]["code"] == "OK"
    assert mine[0]["actor_kind"] == "patient"
    assert {line["rpc"] for line in requests} >= {"CreateDossier", "PutDocument", "GetDossier"}
    assert [line["code"] for line in requests if line["rpc"] == "GetDossier"] != ["OK"]
    for identifier in (PATIENT_INS, OTHER_INS, TITLE, str(dossier.dossier_id)):
        assert identifier not in text
    assert str(document.document_id) not in text


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("vault.test", logging.ERROR, __file__, 1, message, (), None)


def test_a_traceback_stays_inside_its_one_json_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "vault.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc_info"]


def test_request_fields_cannot_overwrite_the_line_s_own_keys() -> None:
    record = _record("request")
    record.fields = {"rpc": "GetDossier", "level": "DEBUG", "message": "forged"}
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["message"], line["rpc"]) == ("ERROR", "request", "GetDossier")
    assert (
        TextFormatter().format(record).endswith("request rpc=GetDossier level=DEBUG message=forged")
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("VAULT_LOG_FORMAT", "xml"), ("VAULT_LOG_FORMAT", "JSONL")],
)
def test_an_unknown_log_format_is_refused_naming_the_setting(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Config.from_env({variable: value})


def test_log_format_is_text_unless_json_is_asked() -> None:
    assert Config.from_env({}).log_format == "text"
    assert Config.from_env({"VAULT_LOG_FORMAT": "JSON"}).log_format == "json"


@given(
    message=st.text(),
    fields=st.dictionaries(
        st.text(min_size=1).filter(lambda key: key not in {"time", "level", "logger"}),
        st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.text()),
    ),
)
def test_any_message_and_fields_make_one_json_line_that_reads_back(
    message: str, fields: dict[str, object]
) -> None:
    record = _record("%s")
    record.args = (message,)
    record.fields = fields
    line = JsonFormatter().format(record)
    assert line.splitlines() == [line]  # no \n, \r, \u2028... whatever the text
    parsed = json.loads(line)
    assert parsed["message"] == message
    assert {k: v for k, v in parsed.items() if k in fields and k != "message"} == {
        k: v for k, v in fields.items() if k not in {"message", "exc_info"}
    }
